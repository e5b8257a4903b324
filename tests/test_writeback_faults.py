"""import_predictions and the review tabs against the fake server: every check before any
request, no blind retry of a bulk import, a run cut midway completed by a rerun."""

from __future__ import annotations

import json
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest

import ls_frames
from ls_frames.errors import ConfigurationError, ServerError
from ls_frames.exports.imports import id_ranges, id_set_filters
from tests.fake_label_studio import client_for
from tests.fake_writeback import FakeWriteback

BOX = {
    "from_name": "box",
    "to_name": "image",
    "type": "rectanglelabels",
    "value": {"x": 1, "y": 2, "width": 3, "height": 4, "rectanglelabels": ["cat"]},
}


@pytest.fixture
def fake() -> FakeWriteback:
    fake = FakeWriteback()
    for tid in range(1, 11):
        fake.put_task(tid)
    return fake


def _frame(tids: list[int]) -> pd.DataFrame:
    frame: pd.DataFrame = pd.DataFrame(
        {"task_id": tids, "result": [[BOX]] * len(tids), "score": [0.5] * len(tids)}
    )
    return frame


def _writes(fake: FakeWriteback) -> list[str]:
    return [f"{r.method} {r.url.path}" for r in fake.requests if r.method != "GET"]


@pytest.mark.parametrize(
    ("predictions", "kwargs", "match"),
    [
        (_frame([1]), {"model_version": ""}, "model_version"),
        (_frame([1]), {"model_version": "m", "batch_size": 0}, "batch_size"),
        (_frame([1]), {"model_version": "m", "batch_size": True}, "batch_size"),
        ({"task": 1, "result": []}, {"model_version": "m"}, "DataFrame or a list"),
        ([{"task": "1", "result": []}], {"model_version": "m"}, "prediction 0: task"),
        ([{"task": 1, "result": {"x": 1}}], {"model_version": "m"}, "list of result items"),
        ([{"task": 1, "result": "not json"}], {"model_version": "m"}, "not JSON"),
        ([{"task": 1, "result": [], "score": "high"}], {"model_version": "m"}, "score"),
        ([{"task": 1, "result": [], "score": float("inf")}], {"model_version": "m"}, "score"),
        ([{"task": 1, "result": [], "extra": 1}], {"model_version": "m"}, "unknown keys"),
        (
            [{"task": 1, "result": [], "model_version": "other"}],
            {"model_version": "m"},
            "one model version per call",
        ),
        (pd.DataFrame({"task_id": [1]}), {"model_version": "m"}, "missing: result"),
    ],
)
def test_every_mistake_is_named_before_any_request(
    fake: FakeWriteback, predictions: Any, kwargs: dict[str, Any], match: str
) -> None:
    with client_for(fake) as client, pytest.raises(ConfigurationError, match=match):
        ls_frames.import_predictions(1, predictions, client=client, progress=False, **kwargs)
    assert fake.requests == []


def test_region_rows_go_through_to_results_and_the_label_config(fake: FakeWriteback) -> None:
    """Region rows become one result list per task; an item the project's config does not
    allow is refused after reading the project, and nothing is written."""
    fake.put_task(1)
    regions = pd.DataFrame(
        {
            "task_id": [1, 1],
            "region_id": ["a", "b"],
            "from_name": ["box", "box"],
            "to_name": ["image", "image"],
            "type": ["rectanglelabels", "rectanglelabels"],
            "x": [1.0, 5.0],
            "y": [1.0, 5.0],
            "width": [2.0, 2.0],
            "height": [2.0, 2.0],
            "labels": [["cat"], ["car"]],
        }
    )
    with client_for(fake) as client:
        with pytest.raises(ConfigurationError, match="'car'"):
            ls_frames.import_predictions(
                1, regions, model_version="m", client=client, progress=False
            )
        assert all(r.method == "GET" for r in fake.requests)
        done = ls_frames.import_predictions(
            1, regions.iloc[:1], model_version="m", client=client, progress=False
        )
    assert done.created == 1
    (sent,) = fake.tasks[1]["predictions"]
    assert [item["value"]["rectanglelabels"] for item in sent["result"]] == [["cat"]]


def test_shapes_accepted_and_what_is_sent(fake: FakeWriteback) -> None:
    rows = [
        {
            "task_id": np.int64(1),
            "result": np.array([BOX], dtype=object),
            "score": np.float32(0.25),
        },
        {"task_id": 2, "result": json.dumps([BOX]), "score": None, "model_version": "m"},
        {"task_id": 3, "result": [BOX], "score": float("nan"), "model_version": None},
    ]
    with client_for(fake) as client:
        done = ls_frames.import_predictions(
            1, pd.DataFrame(rows), model_version="m", client=client, progress=False
        )
    assert (done.created, done.replaced, done.refused) == (3, 0, 0)
    assert str(done) == "project 1, model version 'm': 3 created, 0 replaced, 0 refused"
    sent = [json.loads(r.content) for r in fake.requests if r.method == "POST"]
    assert sent == [
        [
            {"task": 1, "result": [BOX], "score": 0.25, "model_version": "m"},
            {"task": 2, "result": [BOX], "model_version": "m"},
            {"task": 3, "result": [BOX], "model_version": "m"},
        ]
    ]


def test_tasks_not_in_the_project_refused_before_any_write(fake: FakeWriteback) -> None:
    with client_for(fake) as client:
        with pytest.raises(ConfigurationError, match=r"2 task id\(s\) .*: 98, 99; nothing"):
            ls_frames.import_predictions(
                1, _frame([1, 99, 98, 99]), model_version="m", client=client, progress=False
            )
        assert _writes(fake) == []
        done = ls_frames.import_predictions(
            1,
            _frame([1, 99, 98, 99]),
            model_version="m",
            client=client,
            progress=False,
            skip_missing=True,
        )
    assert (done.created, done.refused, done.refused_tasks) == (1, 3, (98, 99))
    assert "tasks not in the project: 98, 99" in str(done)
    assert fake.versions() == [(1, "m")]


def test_a_failed_batch_is_not_retried_and_a_rerun_completes_the_run(
    fake: FakeWriteback,
) -> None:
    frame = _frame(list(range(1, 11)))
    fake.fail_import_at = 2
    with client_for(fake) as client:
        with pytest.raises(ServerError):
            ls_frames.import_predictions(
                1, frame, model_version="m", client=client, progress=False, batch_size=4
            )
        assert fake.import_calls == 2  # the failed create was not repeated
        assert fake.versions() == [(t, "m") for t in range(1, 5)]
        fake.tasks[5]["predictions"].append({"id": 1, "model_version": "x", "result": []})
        done = ls_frames.import_predictions(
            1, frame, model_version="m2", client=client, progress=False, batch_size=4
        )
        assert done.replaced == 0
        again = ls_frames.import_predictions(
            1, frame, model_version="m", client=client, progress=False, replace=True
        )
    assert (again.created, again.replaced) == (10, 4)
    versions = fake.versions()
    assert [t for t, v in versions if v == "m"] == list(range(1, 11))
    assert [t for t, v in versions if v == "m2"] == list(range(1, 11))
    assert [t for t, v in versions if v == "x"] == [5]
    # every "m" prediction was on the run's tasks: removed in one request
    assert "DELETE /api/projects/1/model-versions/" in _writes(fake)
    assert not any(w.startswith("DELETE /api/predictions/") for w in _writes(fake))


def test_replace_on_some_tasks_deletes_only_theirs(fake: FakeWriteback) -> None:
    with client_for(fake) as client:
        ls_frames.import_predictions(
            1, _frame([1, 2, 3]), model_version="m", client=client, progress=False
        )
        done = ls_frames.import_predictions(
            1, _frame([2]), model_version="m", client=client, progress=False, replace=True
        )
    assert (done.created, done.replaced) == (1, 1)
    assert fake.versions() == [(1, "m"), (2, "m"), (3, "m")]
    deletes = [w for w in _writes(fake) if w.startswith("DELETE")]
    assert len(deletes) == 1 and deletes[0].startswith("DELETE /api/predictions/")


def test_a_project_named_by_title(fake: FakeWriteback) -> None:
    fake.project_titles = {1: "Street detection"}
    with client_for(fake) as client:
        done = ls_frames.import_predictions(
            "Street detection", _frame([1]), model_version="m", client=client, progress=False
        )
    assert done.project == 1


def test_id_ranges_and_filters() -> None:
    assert id_ranges([5, 1, 2, 3, 3, 7, 8]) == [(1, 3), (5, 5), (7, 8)]
    (only,) = id_set_filters([1, 2, 3, 5])
    assert only["conjunction"] == "or"
    assert [i["value"] for i in only["items"]] == [{"min": 1, "max": 3}, 5]
    assert [i["operator"] for i in only["items"]] == ["in", "equal"]
    assert len(id_set_filters(list(range(0, 20, 2)), max_items=4)) == 3


def test_review_tab_checks_and_url(fake: FakeWriteback) -> None:
    with client_for(fake) as client:
        for bad, match in [([], "empty"), (["1"], "task ids"), ("12", "list of task ids")]:
            with pytest.raises(ConfigurationError, match=match):
                ls_frames.review_tab(1, bad, title="t", client=client)  # type: ignore[arg-type]
        with pytest.raises(ConfigurationError, match="title"):
            ls_frames.review_tab(1, [1], title=" ", client=client)
        with pytest.raises(ConfigurationError, match="need 2 tabs"):
            ls_frames.review_tab(1, range(0, 802, 2), title="t", client=client)
        assert fake.requests == []
        url = ls_frames.review_tab(1, np.array([3, 1, 2]), title="low scores", client=client)
    assert url == "https://ls.test/projects/1/data?tab=1"
    assert fake.views[1]["title"] == "low scores"
    assert fake.views[1]["filters"]["items"][0]["value"] == {"min": 1, "max": 3}


def test_import_tasks_checks_and_what_is_sent(fake: FakeWriteback, tmp_path: Any) -> None:
    image = tmp_path / "a.png"
    image.write_bytes(b"png")
    with client_for(fake) as client:
        cases: list[tuple[Any, dict[str, Any], str]] = [
            (pd.DataFrame({"img": ["x"]}), {}, "not data keys .*image"),
            (pd.DataFrame({"image": ["x"]}), {"key": "ref"}, "key 'ref'"),
            (
                pd.DataFrame({"image": ["x"], "k": [None]}),
                {"key": "k"},
                "missing",
            ),
            (
                pd.DataFrame({"image": [str(tmp_path / "none.png")]}),
                {"files": "image"},
                "not a file",
            ),
            (pd.DataFrame({"image": ["x"], "predictions": [{"a": 1}]}), {}, "list of result items"),
            ([{"image": "x"}], {}, "DataFrame"),
        ]
        for table, kwargs, match in cases:
            with pytest.raises(ConfigurationError, match=match):
                ls_frames.import_tasks(1, table, client=client, progress=False, **kwargs)
        assert _writes(fake) == []
        table = pd.DataFrame(
            {
                "image": ["/a.png", "/b.png"],
                "data.n": [np.int64(1), np.nan],
                "k": ["a", "b"],
                "annotations": [[BOX], None],
                "predictions": [None, [BOX]],
            },
            index=[10, 20],
        )
        ids = ls_frames.import_tasks(
            1, table, client=client, key="k", model_version="m", progress=False
        )
        assert ids.to_dict() == {10: 11, 20: 12}
        assert fake.tasks[11]["sent"] == {
            "data": {"image": "/a.png", "n": 1, "k": "a"},
            "annotations": [{"result": [BOX], "ground_truth": False}],
        }
        assert fake.tasks[12]["sent"] == {
            "data": {"image": "/b.png", "n": None, "k": "b"},
            "predictions": [{"result": [BOX], "model_version": "m"}],
        }
        posts = len(_writes(fake))
        again = ls_frames.import_tasks(1, table, client=client, key="k", progress=False)
        assert again.to_dict() == {10: 11, 20: 12} and len(_writes(fake)) == posts


def test_the_prediction_list_is_read_item_by_item() -> None:
    from ls_frames.exports.imports import _items

    items = [{"id": i, "task": 1, "result": [BOX], "s": 'a]b,c"}'} for i in range(5)]
    text = json.dumps(items)
    for size in (1, 2, 7, 64, len(text)):
        pieces = [text[i : i + size] for i in range(0, len(text), size)]
        assert list(_items(pieces)) == items
    assert list(_items(["[]"])) == [] and list(_items([" [ ] "])) == []
    with pytest.raises(ValueError, match="ends with"):
        list(_items(['[{"id": 1}, {"id"']))


def test_a_prediction_list_that_is_not_one_is_refused(fake: FakeWriteback) -> None:
    from ls_frames.errors import ExportFormatError
    from ls_frames.exports.imports import list_predictions

    with client_for(fake) as client:
        fake.fail_next = [httpx.Response(200, json={"results": []})]
        with pytest.raises(ExportFormatError, match="not a list"):
            list_predictions(client, 1)
        fake.fail_next = [httpx.Response(200, text='[{"id": 1}, {"id"')]
        with pytest.raises(ExportFormatError, match="not JSON"):
            list_predictions(client, 1)


def test_the_task_check_is_one_count_when_the_ids_are_all_there(fake: FakeWriteback) -> None:
    with client_for(fake) as client:
        ls_frames.import_predictions(
            1, _frame([1, 2, 3, 5]), model_version="m", client=client, progress=False
        )
        listings = [r for r in fake.requests if r.url.path == "/api/tasks/"]
        assert [r.url.params["page_size"] for r in listings] == ["1"]  # a count, no listing
        with pytest.raises(ConfigurationError, match="99"):
            ls_frames.import_predictions(
                1, _frame([1, 99]), model_version="m", client=client, progress=False
            )


def test_replace_of_a_version_the_project_lacks_lists_no_prediction(fake: FakeWriteback) -> None:
    with client_for(fake) as client:
        ls_frames.import_predictions(
            1, _frame([1, 2]), model_version="old", client=client, progress=False
        )
        done = ls_frames.import_predictions(
            1, _frame([1, 2]), model_version="new", client=client, progress=False, replace=True
        )
        assert (done.created, done.replaced) == (2, 0)
        assert not [r for r in fake.requests if r.url.path == "/api/predictions/"]
        again = ls_frames.import_predictions(
            1, _frame([1, 2]), model_version="new", client=client, progress=False, replace=True
        )
    assert (again.created, again.replaced) == (2, 2)  # the version is there: listed, replaced
    assert fake.versions() == [(1, "new"), (1, "old"), (2, "new"), (2, "old")]


def test_a_body_is_json_even_with_numpy_values(fake: FakeWriteback) -> None:
    value = {"x": np.float64(1.5), "y": np.int64(2), "width": 3, "height": 4}
    item = {**BOX, "value": {**value, "rectanglelabels": np.array(["cat"])}}
    with client_for(fake) as client:
        ls_frames.import_predictions(
            1,
            [{"task": 1, "result": [item], "score": 0.5}],
            model_version="m",
            client=client,
            progress=False,
        )
    sent = next(r for r in fake.requests if r.url.path.endswith("/import/predictions"))
    body = json.loads(sent.content)  # numpy values as JSON numbers and lists
    assert body[0]["result"][0]["value"] == {
        "x": 1.5,
        "y": 2,
        "width": 3,
        "height": 4,
        "rectanglelabels": ["cat"],
    }
    assert sent.headers["content-type"] == "application/json"
