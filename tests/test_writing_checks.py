"""``check_results``: every kind of mistake against the label config is refused, naming the
rows, and nothing is produced; the corpus's own lists pass against their config."""

from __future__ import annotations

import copy
from typing import Any

import pandas as pd
import pytest

import ls_frames
from ls_frames.errors import ConfigurationError
from ls_frames.writing import check_results
from tests.test_reading_corpus import LS

CONFIG = (LS / "label_config.xml").read_text()


def _results() -> tuple[ls_frames.Frames, pd.DataFrame]:
    frames = ls_frames.read_export(LS / "snapshot_full_objects.json", progress=False)
    return frames, ls_frames.to_results(frames)


def test_a_real_export_passes() -> None:
    frames, results = _results()
    check_results(results, CONFIG, task_ids=frames)
    check_results(results, ls_frames.reading.parse_label_config(CONFIG))
    check_results(results, None, task_ids=frames.tasks["task_id"].tolist())


def _first(results: pd.DataFrame, type_: str) -> tuple[int, dict[str, Any]]:
    for row, items in enumerate(results["result"]):
        for item in items:
            if item.get("type") == type_:
                return row, item
    raise AssertionError(type_)


def _broken(change: Any, type_: str = "rectanglelabels") -> tuple[pd.DataFrame, int]:
    _, results = _results()
    results = results.copy()
    results["result"] = [copy.deepcopy(r) for r in results["result"]]
    row, item = _first(results, type_)
    change(item)
    return results, row


@pytest.mark.parametrize(
    ("change", "type_", "match"),
    [
        (lambda it: it.update(from_name="boxes"), "rectanglelabels", "from_name 'boxes' is not"),
        (lambda it: it.update(to_name="video"), "rectanglelabels", "to_name 'video' is not"),
        (lambda it: it.update(type="polygonlabels"), "rectanglelabels", "type 'polygonlabels'"),
        (
            lambda it: it["value"].update(rectanglelabels=["zebra"]),
            "rectanglelabels",
            "rectanglelabel 'zebra' is not one of 'label'",
        ),
        (lambda it: it["value"].update(choices=["maybe"]), "choices", "choice 'maybe' is not"),
        (lambda it: it["value"].update(x=101.0), "rectanglelabels", "x 101.0 is outside 0-100"),
        (lambda it: it["value"].update(width=-2), "rectanglelabels", "width -2 is outside"),
        (lambda it: it.update(to_id="nowhere"), "relation", "to_id 'nowhere' is no region"),
    ],
)
def test_each_mistake_is_named_with_its_row(change: Any, type_: str, match: str) -> None:
    results, row = _broken(change, type_)
    with pytest.raises(ConfigurationError, match=match) as info:
        check_results(results, CONFIG)
    assert f"row {row} " in str(info.value)
    assert "nothing was produced" in str(info.value)


def test_the_plain_form_of_a_labels_tag_is_accepted() -> None:
    results, _ = _broken(lambda it: it.update(type="rectangle"))
    check_results(results, CONFIG)


def test_points_outside_the_image() -> None:
    results = pd.DataFrame(
        {
            "task_id": [1],
            "result": [
                [
                    {
                        "from_name": "label",
                        "to_name": "image",
                        "type": "rectangle",
                        "value": {"points": [[10, 10], [120, 5]]},
                    }
                ]
            ],
        }
    )
    with pytest.raises(ConfigurationError, match=r"point \[120, 5\] is outside"):
        check_results(results, CONFIG)


def test_unknown_tasks() -> None:
    frames, results = _results()
    known = set(frames.tasks["task_id"]) - {int(results["task_id"].iloc[0])}
    with pytest.raises(ConfigurationError, match=r"row 0 .*is not a task of the project"):
        check_results(results, CONFIG, task_ids=known)


def test_many_mistakes_are_counted_and_the_first_few_named() -> None:
    _, results = _results()
    results = results.copy()
    results["result"] = [
        [{**it, "from_name": "nope"} if "from_name" in it else it for it in r]
        for r in results["result"]
    ]
    with pytest.raises(ConfigurationError, match=r"^\d+ result items .*\(and \d+ more\)$"):
        check_results(results, CONFIG)


def test_to_results_checks_before_returning() -> None:
    frames = ls_frames.read_export(LS / "snapshot_full_objects.json", progress=False)
    regions = frames.regions.copy()
    regions.loc[regions["type"] == "rectanglelabels", "label"] = "zebra"
    with pytest.raises(ConfigurationError, match="'zebra'"):
        ls_frames.to_results(regions, label_config=CONFIG)
    assert len(ls_frames.to_results(frames, label_config=CONFIG, task_ids=frames))
