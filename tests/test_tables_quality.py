"""Detection analysis and annotators against the reference, on hand-drawn boxes: the
region confusion matrix, box consensus (and scoring against it), annotator_quality for
boxes and choices, and agreement's refusal of kappa on regions. Every expected value is
worked out in the comments from the boxes given (image 100 x 100 px, so percent = px)."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import pytest

import ls_frames
from ls_frames.errors import ConfigurationError

CONFIG = """<View><Image name="image" value="$image"/>
<RectangleLabels name="box" toName="image"><Label value="cat"/><Label value="dog"/></RectangleLabels>
</View>"""
CHOICES = """<View><Text name="text" value="$text"/>
<Choices name="sentiment" toName="text"><Choice value="pos"/><Choice value="neg"/></Choices>
</View>"""
PEOPLE = {"a@x": 1, "b@x": 2, "c@x": 3}


def _box(x: float, y: float, w: float, h: float, label: str, score: float | None = None) -> Any:
    item: dict[str, Any] = {
        "from_name": "box",
        "to_name": "image",
        "type": "rectanglelabels",
        "original_width": 100,
        "original_height": 100,
        "value": {
            "x": x,
            "y": y,
            "width": w,
            "height": h,
            "rotation": 0,
            "rectanglelabels": [label],
        },
    }
    if score is not None:
        item["score"] = score
    return item


def _ann(aid: int, who: str, result: list[Any], updated: str, gt: bool = False) -> Any:
    return {
        "id": aid,
        "completed_by": {"id": PEOPLE[who], "email": who},
        "result": result,
        "was_cancelled": False,
        "ground_truth": gt,
        "updated_at": f"2024-01-0{updated}T00:00:00Z",
    }


def _boxes() -> ls_frames.Frames:
    tasks = _boxes_tasks()
    return ls_frames.read_export(json.dumps(tasks).encode(), label_config=CONFIG, progress=False)


def _boxes_tasks() -> list[Any]:
    return [
        {
            "id": 1,
            "data": {"image": "1.jpg"},
            "annotations": [
                _ann(
                    11,
                    "a@x",
                    [_box(0, 0, 10, 10, "cat"), _box(50, 50, 10, 10, "dog")],
                    "1",
                    gt=True,
                ),
                _ann(12, "b@x", [_box(1, 0, 10, 10, "cat"), _box(50, 50, 10, 10, "dog")], "2"),
                _ann(13, "c@x", [_box(0, 1, 10, 10, "cat"), _box(80, 80, 10, 10, "dog")], "3"),
            ],
            "predictions": [
                {
                    "id": 91,
                    "model_version": "m",
                    "result": [
                        _box(0, 0, 10, 10, "cat", 0.9),
                        _box(50, 50, 10, 10, "cat", 0.8),
                        _box(30, 30, 5, 5, "dog", 0.7),
                    ],
                }
            ],
        },
        {
            "id": 2,
            "data": {"image": "2.jpg"},
            "annotations": [
                _ann(21, "a@x", [_box(20, 20, 10, 10, "cat")], "1"),
                _ann(22, "b@x", [_box(20, 20, 10, 20, "cat")], "2", gt=True),
            ],
            "predictions": [{"id": 92, "model_version": "m", "result": []}],
        },
        {
            "id": 3,
            "data": {"image": "3.jpg"},
            "annotations": [
                _ann(31, "a@x", [_box(70, 0, 10, 10, "cat")], "1"),
                _ann(32, "b@x", [_box(70, 0, 10, 10, "dog")], "2"),
            ],
        },
    ]


def test_region_confusion_pairs_by_iou_whatever_the_label() -> None:
    frames = _boxes()
    matrix = ls_frames.confusion(frames, "box")
    # reference: task 1 a's (ground truth), task 2 b's (ground truth); task 3 has no
    # prediction. 0.9 cat hits a's cat; 0.8 cat sits on a's dog (IoU 1): dog -> cat;
    # 0.7 dog overlaps nothing: background -> dog; task 2's cat is missed: cat -> background
    assert list(matrix.index) == ["cat", "dog", "background"]
    assert list(matrix.columns) == ["cat", "dog", "background"]
    assert matrix.to_numpy().tolist() == [[1, 0, 1], [1, 0, 0], [0, 1, 0]]
    assert (matrix.index.name, matrix.columns.name) == ("annotated", "predicted")
    assert str(matrix.dtypes.iloc[0]) == "int64"
    # at IoU 1.0 only the exact pairs count: the same cells
    assert ls_frames.confusion(frames, "box", iou_threshold=1.0).equals(matrix)
    with pytest.raises(ConfigurationError, match="iou_threshold"):
        ls_frames.confusion(frames, "box", iou_threshold=0)


def test_box_consensus_merges_by_iou() -> None:
    merged = ls_frames.consensus(_boxes(), "box")
    assert list(merged.columns) == [
        "task_id", "region", "label", "votes", "annotators", "agreement", "tie",
        "x", "y", "width", "height", "rotation", "original_width", "original_height",
        "low_agreement",
    ]  # fmt: skip
    got = merged[["task_id", "region", "label", "votes", "annotators", "tie"]]
    rows = [tuple(None if pd.isna(v) else v for v in r) for r in got.itertuples(index=False)]
    # task 1: a's cat, b's cat (IoU 90/110) and c's cat (IoU with their mean box 85.5/114.5)
    # merge; a's and b's dogs (IoU 1) merge; c's dog at 80,80 stands alone.
    # task 2: IoU 100/200 = 0.5 merges at the threshold; task 3: a cat and a dog, a tie
    assert rows == [
        (1, 0, "cat", 3, 3, False),
        (1, 1, "dog", 2, 3, False),
        (1, 2, "dog", 1, 3, False),
        (2, 0, "cat", 2, 2, False),
        (3, 0, None, 2, 2, True),
    ]
    first = merged.iloc[0]
    assert [first[c] for c in ("x", "y", "width", "height", "rotation")] == pytest.approx(
        [1 / 3, 1 / 3, 10, 10, 0]
    )
    assert [merged.iloc[3][c] for c in ("x", "y", "width", "height")] == pytest.approx(
        [20, 20, 10, 15]
    )
    assert merged["agreement"].tolist() == pytest.approx([1, 2 / 3, 1 / 3, 1, 1])
    assert str(merged["votes"].dtype) == "Int64" and str(merged["x"].dtype) == "Float64"
    # a stricter threshold splits task 2 (IoU 0.5 < 0.6)
    strict = ls_frames.consensus(_boxes(), "box", iou_threshold=0.6, min_agreement=0.6)
    assert strict[strict["task_id"] == 2]["votes"].tolist() == [1, 1]
    assert strict["low_agreement"].tolist() == [False, False, True, True, True, False]
    with pytest.raises(ConfigurationError, match="rectangle control"):
        ls_frames.consensus(_choices(), "sentiment", method="boxes")


def test_evaluate_against_the_consensus_boxes() -> None:
    out = ls_frames.evaluate(_boxes(), "box", reference="consensus").set_index("label")
    # reference: the merged boxes more than half the annotators drew: task 1 the cat
    # (1/3, 1/3) and the dog (50, 50); task 2 the cat. 0.9 cat hits the cat, 0.8 cat lies
    # on the dog (other label: fp, and the dog is missed), 0.7 dog hits nothing, task 2's
    # cat is missed.
    assert out.loc["cat", ["tp", "fp", "fn"]].tolist() == [1, 1, 1]
    assert out.loc["dog", ["tp", "fp", "fn"]].tolist() == [0, 1, 1]
    assert out.loc["all", ["tasks", "tp", "fp", "fn"]].tolist() == [2, 1, 2, 2]


def test_annotator_quality_for_boxes() -> None:
    quality = ls_frames.annotator_quality(_boxes(), "box").set_index("annotator")
    # references: task 1 a's (ground truth), task 2 b's (ground truth), task 3 b's (latest).
    # a: tasks 2 (IoU 0.5, a hit) and 3 (cat against dog: fp and fn); b: task 1 (cat IoU
    # 9/11, dog IoU 1); c: task 1 (cat IoU 9/11; the dog at 80,80 misses a's dog)
    assert quality.loc["a@x", ["tasks_annotated", "tasks_compared"]].tolist() == [3, 2]
    assert quality.loc["b@x", ["tasks_annotated", "tasks_compared"]].tolist() == [3, 1]
    assert quality.loc["c@x", ["tasks_annotated", "tasks_compared"]].tolist() == [1, 1]
    assert quality.loc["a@x", ["tp", "fp", "fn"]].tolist() == [1, 1, 1]
    assert quality.loc["b@x", ["tp", "fp", "fn"]].tolist() == [2, 0, 0]
    assert quality.loc["c@x", ["tp", "fp", "fn"]].tolist() == [1, 1, 1]
    assert quality.loc["a@x", ["precision", "recall", "f1", "mean_iou"]].tolist() == (
        pytest.approx([0.5, 0.5, 0.5, 0.5])
    )
    assert quality.loc["b@x", ["precision", "recall", "f1"]].tolist() == [1.0, 1.0, 1.0]
    assert quality.loc["b@x", "mean_iou"] == pytest.approx((9 / 11 + 1) / 2)
    assert quality.loc["c@x", "mean_iou"] == pytest.approx(9 / 11)
    assert str(quality["tp"].dtype) == "Int64" and str(quality["mean_iou"].dtype) == "Float64"
    # one annotator as the reference: never compared with themselves
    by_a = ls_frames.annotator_quality(_boxes(), "box", reference="a@x").set_index("annotator")
    assert by_a["tasks_compared"].tolist() == [0, 3, 1]
    assert pd.isna(by_a.loc["a@x", "precision"])


def _choices() -> ls_frames.Frames:
    def ann(aid: int, who: str, choice: str, day: str, gt: bool = False) -> Any:
        item = {
            "from_name": "sentiment",
            "to_name": "text",
            "type": "choices",
            "value": {"choices": [choice]},
        }
        return _ann(aid, who, [item], day, gt)

    tasks = [
        {"id": 1, "data": {"text": "1"}, "annotations": [ann(11, "a@x", "pos", "1", True),
                                                         ann(12, "b@x", "pos", "2")]},
        {"id": 2, "data": {"text": "2"}, "annotations": [ann(21, "a@x", "neg", "1"),
                                                         ann(22, "b@x", "pos", "2")]},
        {"id": 3, "data": {"text": "3"}, "annotations": [ann(31, "a@x", "neg", "1", True),
                                                         ann(32, "b@x", "neg", "2")]},
        {"id": 4, "data": {"text": "4"}, "annotations": [ann(41, "a@x", "pos", "3"),
                                                         ann(42, "b@x", "neg", "2")]},
    ]  # fmt: skip
    return ls_frames.read_export(json.dumps(tasks).encode(), label_config=CHOICES, progress=False)


def test_annotator_quality_for_choices() -> None:
    from sklearn.metrics import cohen_kappa_score

    quality = ls_frames.annotator_quality(_choices(), "sentiment").set_index("annotator")
    assert list(quality.columns) == ["tasks_annotated", "tasks_compared", "accuracy", "kappa"]
    # references: 1 a (ground truth), 2 b (latest), 3 a (ground truth), 4 a (latest).
    # a is compared on task 2 only; b on 1, 3 and 4: pos/pos, neg/neg, neg/pos
    assert quality.loc["a@x", ["tasks_annotated", "tasks_compared"]].tolist() == [4, 1]
    assert quality.loc["b@x", ["tasks_annotated", "tasks_compared"]].tolist() == [4, 3]
    assert quality.loc["a@x", "accuracy"] == 0.0
    assert quality.loc["b@x", "accuracy"] == pytest.approx(2 / 3)
    # p_o = 2/3, p_e = 1/3 * 2/3 + 2/3 * 1/3 = 4/9: kappa = (2/9) / (5/9) = 0.4
    assert quality.loc["b@x", "kappa"] == pytest.approx(0.4)
    assert quality.loc["b@x", "kappa"] == pytest.approx(
        cohen_kappa_score(["pos", "neg", "neg"], ["pos", "neg", "pos"])
    )
    latest = ls_frames.annotator_quality(_choices(), "sentiment", reference="latest")
    # latest: 1 b, 2 b, 3 b, 4 a: a compared on 1, 2, 3 (pos/pos, neg/pos, neg/neg)
    assert latest.set_index("annotator").loc["a@x", "accuracy"] == pytest.approx(2 / 3)
    # consensus: tasks 1 (pos) and 3 (neg) agree; 2 and 4 are ties and have none
    agreed = ls_frames.annotator_quality(_choices(), "sentiment", reference="consensus")
    assert agreed["tasks_compared"].tolist() == [2, 2]
    assert agreed["accuracy"].tolist() == [1.0, 1.0]


def test_kappa_on_a_region_control_names_the_region_methods() -> None:
    frames = _boxes()
    for method in ("cohen", "percent", "fleiss", "krippendorff"):
        with pytest.raises(ConfigurationError, match=r"draws regions.*method='iou'"):
            ls_frames.agreement(frames, "box", method=method)
    assert len(ls_frames.agreement(frames, "box", method="iou")) == 3
    assert np.isfinite(ls_frames.agreement(_choices(), "sentiment")["score"].astype(float)).all()


def test_a_tied_merged_box_is_no_reference() -> None:
    # task 3: a's cat and b's dog merge (IoU 1) with a tied label: no consensus region,
    # so a prediction there is a false positive and the task has nothing to find
    tasks = json.loads(json.dumps(_boxes_tasks()))
    tasks[2]["predictions"] = [
        {"id": 93, "model_version": "m", "result": [_box(70, 0, 10, 10, "cat", 0.9)]}
    ]
    frames = ls_frames.read_export(json.dumps(tasks).encode(), label_config=CONFIG, progress=False)
    out = ls_frames.evaluate(frames, "box", reference="consensus").set_index("label")
    assert "" not in out.index
    assert out.loc["all", ["tasks", "tp", "fp", "fn"]].tolist() == [3, 1, 3, 2]
