"""The one reference-annotation chooser (ls_frames.evaluation.reference): each policy,
ties, skipped and annotator-less annotations, and the policy each caller states."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
import pytest

import ls_frames
from ls_frames.errors import ConfigurationError
from ls_frames.evaluation.reference import (
    POLICIES,
    reference_annotations,
    usable_annotations,
)
from ls_frames.training.hf import training_annotations

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
    chosen = reference_annotations(frames, "latest")
    assert _as_dict(chosen) == {1: 12, 2: 22, 3: 32, 5: 53}
    assert chosen.name == "annotation_id" and chosen.index.name == "task_id"
    assert chosen.index.is_monotonic_increasing


def test_ground_truth_leaves_out_tasks_without_one(frames: ls_frames.Frames) -> None:
    assert _as_dict(reference_annotations(frames, "ground_truth")) == {1: 11, 5: 51}


def test_ground_truth_else_latest(frames: ls_frames.Frames) -> None:
    chosen = reference_annotations(frames, "ground_truth_else_latest")
    assert _as_dict(chosen) == {1: 11, 2: 22, 3: 32, 5: 51}


def test_ties_go_to_the_higher_id_whatever_the_row_order(frames: ls_frames.Frames) -> None:
    table = frames.annotations
    for shuffled in (table, table.iloc[::-1], table.sample(frac=1.0, random_state=3)):
        for policy in POLICIES:
            assert _as_dict(reference_annotations(shuffled, policy)) == _as_dict(
                reference_annotations(frames, policy)
            )
    assert int(reference_annotations(table, "latest").loc[2]) == 22


def test_per_annotator_keeps_each_annotators_last(frames: ls_frames.Frames) -> None:
    chosen = reference_annotations(frames, "latest", annotator="completed_by_email")
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
        reference_annotations(frames, "first")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="no column 'who'"):
        reference_annotations(frames, "latest", annotator="who")


def test_each_caller_keeps_its_own_policy(frames: ls_frames.Frames) -> None:
    # training prefers the ground truth ...
    assert _as_dict(training_annotations(frames)) == {1: 11, 2: 22, 3: 32, 5: 51}
    # ... evaluation scores against the latest unless told to use ground truth
    latest = ls_frames.evaluate(frames, "sentiment")
    truth = ls_frames.evaluate(frames, "sentiment", ground_truth_only=True)
    all_latest = latest[latest["label"] == "all"].iloc[0]
    all_truth = truth[truth["label"] == "all"].iloc[0]
    # task 1: the latest annotation (12) says "neg", the ground truth (11) "pos"
    assert int(all_latest["tp"]) == 0 and int(all_latest["fp"]) == 1
    assert int(all_truth["tp"]) == 1 and int(all_truth["fp"]) == 0
