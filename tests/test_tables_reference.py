"""The one reference-annotation chooser (ls_frames.evaluation.reference): each policy,
ties, skipped and annotator-less annotations, the public ``reference=`` values, and the
same default in every caller."""

from __future__ import annotations

import importlib.util
import json
from typing import Any

import pandas as pd
import pytest

import ls_frames
from ls_frames.errors import ConfigurationError
from ls_frames.evaluation.reference import (
    POLICIES,
    choose_annotations,
    reference_ids,
    usable_annotations,
)
from ls_frames.training.hf import training_annotations
from tests.needs import missing

CONFIG = """<View><Text name="text" value="$text"/>
<Choices name="sentiment" toName="text"><Choice value="pos"/><Choice value="neg"/></Choices>
</View>"""


def _ann(
    aid: int,
    choice: str,
    updated: str | None,
    *,
    who: str = "a@x",
    user: int = 1,
    gt: bool = False,
    skipped: bool = False,
) -> dict[str, Any]:
    return {
        "id": aid,
        "completed_by": {"id": user, "email": who},
        "result": [
            {
                "from_name": "sentiment",
                "to_name": "text",
                "type": "choices",
                "value": {"choices": [choice]},
            }
        ],
        "was_cancelled": skipped,
        "ground_truth": gt,
        "updated_at": updated,
    }


def _frames(tasks: list[dict[str, Any]]) -> ls_frames.Frames:
    return ls_frames.read_export(json.dumps(tasks).encode(), label_config=CONFIG, progress=False)


def _task(tid: int, *annotations: dict[str, Any]) -> dict[str, Any]:
    return {"id": tid, "data": {"text": f"t{tid}"}, "annotations": list(annotations)}


PREDICTION = {
    "id": 900,
    "model_version": "m",
    "result": [
        {
            "from_name": "sentiment",
            "to_name": "text",
            "type": "choices",
            "value": {"choices": ["pos"]},
        }
    ],
}


@pytest.fixture()
def frames() -> ls_frames.Frames:
    return _frames(
        [
            # 1: a ground truth older than a plain annotation, and a later skipped one
            {
                **_task(
                    1,
                    _ann(11, "pos", "2024-01-01T00:00:00Z", gt=True),
                    _ann(12, "neg", "2024-01-02T00:00:00Z", who="b@x", user=2),
                    _ann(13, "neg", "2024-01-03T00:00:00Z", skipped=True),
                ),
                "predictions": [PREDICTION],
            },
            # 2: no ground truth; a tie on updated_at goes to the higher id
            _task(
                2,
                _ann(22, "pos", "2024-01-05T00:00:00Z"),
                _ann(21, "neg", "2024-01-05T00:00:00Z", who="b@x", user=2),
            ),
            # 3: a missing updated_at counts as the earliest
            _task(3, _ann(31, "pos", None), _ann(32, "neg", "2020-01-01T00:00:00Z")),
            # 4: only a skipped annotation
            _task(4, _ann(41, "pos", "2024-01-01T00:00:00Z", skipped=True)),
            # 5: two ground truths: the later one
            _task(
                5,
                _ann(51, "pos", "2024-01-02T00:00:00Z", gt=True),
                _ann(52, "neg", "2024-01-01T00:00:00Z", gt=True),
                _ann(53, "neg", "2024-01-09T00:00:00Z"),
            ),
        ]
    )


def _as_dict(chosen: pd.Series) -> dict[Any, int]:
    return {k: int(v) for k, v in chosen.items()}


def test_latest_takes_the_last_updated_and_never_a_skipped_one(
    frames: ls_frames.Frames,
) -> None:
    chosen = choose_annotations(frames, "latest")
    assert _as_dict(chosen) == {1: 12, 2: 22, 3: 32, 5: 53}
    assert chosen.name == "annotation_id" and chosen.index.name == "task_id"
    assert chosen.index.is_monotonic_increasing


def test_ground_truth_only_leaves_out_tasks_without_one(frames: ls_frames.Frames) -> None:
    assert _as_dict(choose_annotations(frames, "ground_truth_only")) == {1: 11, 5: 51}


def test_ground_truth_else_latest(frames: ls_frames.Frames) -> None:
    chosen = choose_annotations(frames, "ground_truth")
    assert _as_dict(chosen) == {1: 11, 2: 22, 3: 32, 5: 51}


def test_ties_go_to_the_higher_id_whatever_the_row_order(frames: ls_frames.Frames) -> None:
    table = frames.annotations
    for shuffled in (table, table.iloc[::-1], table.sample(frac=1.0, random_state=3)):
        for policy in POLICIES:
            assert _as_dict(choose_annotations(shuffled, policy)) == _as_dict(
                choose_annotations(frames, policy)
            )
    assert int(choose_annotations(table, "latest").loc[2]) == 22


def test_per_annotator_keeps_each_annotators_last(frames: ls_frames.Frames) -> None:
    chosen = choose_annotations(frames, "latest", annotator="completed_by_email")
    assert chosen.index.names == ["task_id", "completed_by_email"]
    assert _as_dict(chosen) == {
        (1, "a@x"): 11,
        (1, "b@x"): 12,
        (2, "a@x"): 22,
        (2, "b@x"): 21,
        (3, "a@x"): 32,
        (5, "a@x"): 53,
    }


def test_usable_annotations(frames: ls_frames.Frames) -> None:
    ids = set(usable_annotations(frames)["annotation_id"].astype(int))
    assert ids == {11, 12, 21, 22, 31, 32, 51, 52, 53}
    gt = set(usable_annotations(frames.annotations, ground_truth_only=True)["annotation_id"])
    assert gt == {11, 51, 52}


def test_unknown_policy_or_column_is_a_configuration_error(frames: ls_frames.Frames) -> None:
    with pytest.raises(ConfigurationError, match="policy must be one of"):
        choose_annotations(frames, "first")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="no column 'who'"):
        choose_annotations(frames, "latest", annotator="who")


def test_reference_annotations_shows_the_choice_and_the_reason(frames: ls_frames.Frames) -> None:
    shown = ls_frames.reference_annotations(frames)
    assert shown["annotation_id"].tolist() == [11, 22, 32, 51]
    assert shown["task_id"].tolist() == [1, 2, 3, 5]
    assert shown["reason"].tolist() == ["ground_truth", "latest", "latest", "ground_truth"]
    assert str(shown["reason"].dtype) == "string"
    assert list(shown.columns) == [*frames.annotations.columns, "reason"]
    latest = ls_frames.reference_annotations(frames, "latest")
    assert latest["annotation_id"].tolist() == [12, 22, 32, 53]
    assert set(latest["reason"]) == {"latest"}
    # one annotator, by email or by user id: their latest annotation of each task
    by_email = ls_frames.reference_annotations(frames, "b@x")
    assert by_email["annotation_id"].tolist() == [12, 21]
    assert set(by_email["reason"]) == {"annotator"}
    by_id = ls_frames.reference_annotations(frames, 1)
    assert by_id["annotation_id"].tolist() == [11, 22, 32, 53]
    assert _as_dict(reference_ids(frames, "ground_truth", strict=True)) == {1: 11, 5: 51}


def test_a_bad_reference_is_refused_before_any_work(frames: ls_frames.Frames) -> None:
    with pytest.raises(ConfigurationError, match=r"'ground_truth' \(the default\), 'latest'"):
        ls_frames.reference_annotations(frames, "truth")
    with pytest.raises(ConfigurationError, match=r"no annotator 'c@x'.*\['a@x', 'b@x'\]"):
        ls_frames.reference_annotations(frames, "c@x")
    with pytest.raises(ConfigurationError, match=r"no annotator 7.*\[1, 2\]"):
        ls_frames.evaluate(frames, "sentiment", reference=7)
    with pytest.raises(ConfigurationError, match="not one annotation"):
        ls_frames.reference_annotations(frames, "consensus")
    for call in (
        lambda: ls_frames.evaluate(frames, "sentiment", reference="gt"),
        lambda: ls_frames.confusion(frames, "sentiment", reference="gt"),
        lambda: ls_frames.compare_predictions(frames, reference="gt"),
        lambda: ls_frames.split(frames, {"a": 1.0}, stratify="sentiment", reference="gt"),
        lambda: ls_frames.annotator_quality(frames, "sentiment", reference="gt"),
        lambda: ls_frames.pr_curve(frames, "sentiment", reference="gt"),
    ):
        with pytest.raises(ConfigurationError, match="reference must be"):
            call()


def test_every_caller_has_the_same_default(frames: ls_frames.Frames) -> None:
    import inspect

    for name in (
        "evaluate",
        "confusion",
        "compare_predictions",
        "split",
        "to_hf_dataset",
        "annotator_quality",
        "pr_curve",
    ):
        default = inspect.signature(getattr(ls_frames, name)).parameters["reference"].default
        assert default == "ground_truth", name
    # training and evaluation use the same annotation: task 1 is judged by its ground
    # truth (11, "pos", as predicted), not by the later annotation 12 ("neg")
    assert _as_dict(training_annotations(frames)) == {1: 11, 2: 22, 3: 32, 5: 51}
    default = ls_frames.evaluate(frames, "sentiment")
    latest = ls_frames.evaluate(frames, "sentiment", reference="latest")
    all_default = default[default["label"] == "all"].iloc[0]
    all_latest = latest[latest["label"] == "all"].iloc[0]
    assert int(all_default["tp"]) == 1 and int(all_default["fp"]) == 0
    assert int(all_latest["tp"]) == 0 and int(all_latest["fp"]) == 1
    pairs = ls_frames.compare_predictions(frames)
    assert pairs["annotation_id"].tolist() == [11]
    # the annotator b@x said "neg" on task 1
    by_b = ls_frames.evaluate(frames, "sentiment", reference="b@x")
    assert int(by_b[by_b["label"] == "all"].iloc[0]["fp"]) == 1


def test_stratify_uses_the_reference_label(frames: ls_frames.Frames) -> None:
    from ls_frames.training.splits import _reference_labels

    assert _reference_labels(frames, "sentiment", "ground_truth") == {
        1: "pos",
        2: "pos",
        3: "neg",
        5: "pos",
    }
    assert _reference_labels(frames, "sentiment", "latest")[1] == "neg"
    # a: task 1 pos, 2 pos, 3 pos; b: task 1 neg, 2 neg: ties leave 1 and 2 without one
    assert _reference_labels(frames, "sentiment", "consensus") == {3: "neg", 5: "neg"}


def test_training_sets_take_the_same_reference(frames: ls_frames.Frames) -> None:
    if importlib.util.find_spec("datasets") is None:
        missing("datasets (the train extra)")
    default = ls_frames.to_hf_dataset(frames, task="classification")
    names = default.features["label"].names
    # task 1: the ground truth 11 says pos; the latest annotation 12 says neg
    assert default["task_id"] == [1, 2, 3, 5]
    assert [names[i] for i in default["label"]] == ["pos", "pos", "neg", "pos"]
    latest = ls_frames.to_hf_dataset(frames, task="classification", reference="latest")
    assert [names[i] for i in latest["label"]] == ["neg", "pos", "neg", "neg"]
    by_b = ls_frames.to_hf_dataset(frames, task="classification", reference=2)
    assert by_b["task_id"] == [1, 2] and [names[i] for i in by_b["label"]] == ["neg", "neg"]
    with pytest.raises(ConfigurationError, match="no annotator 'z@x'"):
        ls_frames.to_hf_dataset(frames, task="classification", reference="z@x")
