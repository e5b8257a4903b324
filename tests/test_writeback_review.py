"""Choosing tasks for review from the tables: lowest scores, most disagreement, prediction
errors (pure functions, no server)."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
import pytest

import ls_frames
from ls_frames.errors import ConfigurationError
from ls_frames.evaluation import review
from tests.image_tasks import scene

CONFIG = """<View><Image name="image" value="$image"/>
<RectangleLabels name="box" toName="image"><Label value="cat"/><Label value="dog"/></RectangleLabels>
<Choices name="scene" toName="image"><Choice value="in"/><Choice value="out"/></Choices></View>"""


def box(rid: str, x: float, label: str) -> dict[str, Any]:
    return {
        "id": rid,
        "from_name": "box",
        "to_name": "image",
        "type": "rectanglelabels",
        "original_width": 100,
        "original_height": 100,
        "value": {
            "x": x,
            "y": 10,
            "width": 20,
            "height": 20,
            "rotation": 0,
            "rectanglelabels": [label],
        },
    }


def ann(aid: int, user: int, result: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": aid,
        "completed_by": {"id": user, "email": f"u{user}@x.org"},
        "result": result,
        "was_cancelled": False,
        "ground_truth": False,
        "updated_at": f"2024-01-0{user}T00:00:00Z",
    }


def pred(
    pid: int, score: float | None, result: list[dict[str, Any]], mv: str = "m1"
) -> dict[str, Any]:
    return {"id": pid, "model_version": mv, "score": score, "result": result}


TASKS = [
    {
        "id": 1,
        "data": {"image": "a"},
        "annotations": [ann(11, 1, [scene("in")]), ann(12, 2, [box("a", 10, "cat"), scene("in")])],
        "predictions": [pred(101, 0.9, [box("p", 10, "cat")])],
    },
    {
        "id": 2,
        "data": {"image": "b"},
        "annotations": [ann(21, 1, [scene("out")]), ann(22, 2, [box("a", 10, "cat"), scene("in")])],
        "predictions": [pred(201, 0.2, [box("p", 60, "cat")]), pred(202, 0.5, [], "m2")],
    },
    {
        "id": 3,
        "data": {"image": "c"},
        "annotations": [
            ann(31, 1, [scene("in")]),
            ann(32, 2, [scene("out")]),
            ann(33, 3, [box("a", 10, "cat"), scene("in")]),
        ],
        "predictions": [pred(301, 0.4, [box("p", 10, "dog")])],
    },
    {
        "id": 4,
        "data": {"image": "d"},
        "annotations": [ann(41, 1, [scene("out")])],
        "predictions": [pred(401, None, [])],
    },
]


@pytest.fixture(scope="module")
def frames() -> ls_frames.Frames:
    return ls_frames.read_export(json.dumps(TASKS).encode(), label_config=CONFIG, progress=False)


def test_lowest_scores(frames: ls_frames.Frames) -> None:
    assert review.lowest_scores(frames) == [2, 3, 1]  # task 2 by its lowest score, 4 unscored
    assert review.lowest_scores(frames, 1) == [2]
    assert review.lowest_scores(frames, model_version="m1", below=0.5) == [2, 3]
    assert review.lowest_scores(frames, model_version="m2") == [2]
    with pytest.raises(ConfigurationError, match="there are: m1, m2"):
        review.lowest_scores(frames, model_version="m3")
    with pytest.raises(ConfigurationError, match="n must be"):
        review.lowest_scores(frames, 0)


def test_most_disagreement(frames: ls_frames.Frames) -> None:
    assert review.most_disagreement(frames, "scene") == [2, 3, 1]  # 1/2, 2/3, 2/2
    assert review.most_disagreement(frames, "scene", below=1.0) == [2, 3]
    assert review.most_disagreement(frames, "scene", 2, min_annotators=1) == [2, 3]
    assert review.most_disagreement(frames, "scene", min_annotators=1)[-1] == 4
    with pytest.raises(ConfigurationError):
        review.most_disagreement(frames, "nothing")


def test_prediction_errors(frames: ls_frames.Frames) -> None:
    table = ls_frames.compare_predictions(frames, "box", reference="latest")
    assert review.prediction_errors(table, ["false_positive"]) == [2]  # the box is elsewhere
    assert review.prediction_errors(table, ["false_negative"]) == [2]
    assert review.prediction_errors(table, ["mismatch"]) == [3]  # dog for cat
    assert review.prediction_errors(table) == [2, 3]
    assert review.prediction_errors(table, model_version="m1") == [2, 3]
    assert review.prediction_errors(table, model_version="m2") == []
    with pytest.raises(ConfigurationError, match="kinds must be"):
        review.prediction_errors(table, ["wrong"])  # type: ignore[list-item]
    with pytest.raises(ConfigurationError, match="missing"):
        review.prediction_errors(pd.DataFrame({"task_id": [1]}))
