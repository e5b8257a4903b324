"""compare_predictions and annotator_pivot: on hand-made exports, the corpus and the real
server's demo project. Expectations come from the inputs, never from the output."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

import ls_frames
from ls_frames.evaluation import annotator_pivot, compare_predictions, iou
from ls_frames.testing.seed import demo_tasks
from tests.image_tasks import scene

CORPUS = Path(__file__).parent / "corpus" / "label-studio-1.23.2"
CONFIG = """<View><Image name="image" value="$image"/>
<RectangleLabels name="box" toName="image"><Label value="cat"/><Label value="dog"/></RectangleLabels>
<Choices name="scene" toName="image"><Choice value="out"/><Choice value="in"/></Choices>
</View>"""


def _box(rid: str, x: float, y: float, w: float, h: float, label: str) -> dict[str, Any]:
    return {
        "id": rid,
        "from_name": "box",
        "to_name": "image",
        "type": "rectanglelabels",
        "value": {"x": x, "y": y, "width": w, "height": h, "rectanglelabels": [label]},
    }


def _ann(aid: int, user: int, result: list[dict[str, Any]], **flags: Any) -> dict[str, Any]:
    return {
        "id": aid,
        "completed_by": {"id": user, "email": f"u{user}@x.org"},
        "result": result,
        "was_cancelled": False,
        "ground_truth": False,
        "updated_at": f"2024-01-0{aid % 9 + 1}T00:00:00Z",
        **flags,
    }


def _export(tasks: list[dict[str, Any]]) -> bytes:
    return json.dumps(tasks).encode()


PRED = [
    _box("p1", 10, 10, 20, 20, "cat"),
    _box("p2", 60, 60, 10, 10, "dog"),
    _box("same", 0, 80, 5, 5, "dog"),
    scene("in", "ps"),
]
ANN = [
    _box("a1", 12, 11, 20, 20, "cat"),  # overlaps p1 well
    _box("a2", 62, 62, 10, 10, "cat"),  # overlaps p2 (IoU ~0.47), other label
    _box("same", 50, 0, 5, 5, "dog"),  # same id as a prediction: matched by id
    _box("a4", 90, 90, 5, 5, "cat"),  # nothing near: missed by the model
    scene("in", "as"),
]
TASKS = [
    {
        "id": 1,
        "data": {"image": "a.jpg"},
        "annotations": [_ann(11, 1, ANN), _ann(12, 2, [], was_cancelled=True)],
        "predictions": [{"id": 21, "model_version": "m", "score": 0.5, "result": PRED}],
    },
    {
        "id": 2,
        "data": {"image": "b.jpg"},
        "annotations": [],
        "predictions": [{"id": 22, "model_version": "m", "result": PRED}],
    },
]


def test_iou() -> None:
    assert iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert iou((0, 0, 10, 10), (5, 0, 10, 10)) == pytest.approx(50 / 150)
    assert iou((0, 0, 10, 10), (10, 0, 10, 10)) == 0.0
    assert iou((0, 0, 0, 10), (0, 0, 0, 10)) == 0.0


def _geom(items: list[dict[str, Any]], rid: str) -> tuple[float, float, float, float]:
    v = next(it["value"] for it in items if it["id"] == rid)
    return (v["x"], v["y"], v["width"], v["height"])


@pytest.mark.parametrize("min_iou", [0.5, 0.4])
def test_compare_predictions_matching_rule(min_iou: float) -> None:
    frames = ls_frames.read_export(_export(TASKS), label_config=CONFIG, progress=False)
    out = compare_predictions(frames, min_iou=min_iou)
    # task 2 has no annotation; the skipped annotation 12 is left out
    assert set(out["task_id"]) == {1} and set(out["annotation_id"]) == {11}
    boxes = out[out["from_name"] == "box"]
    pairs = {
        (p, a): (how, ov)
        for p, a, how, ov in boxes[
            ["pred_region_id", "ann_region_id", "matched_by", "iou"]
        ].itertuples(index=False)
    }
    iou_11 = iou(_geom(PRED, "p1"), _geom(ANN, "a1"))
    iou_22 = iou(_geom(PRED, "p2"), _geom(ANN, "a2"))
    assert pairs["p1", "a1"] == ("iou", pytest.approx(iou_11))
    assert pairs["same", "same"][0] == "region_id"
    if iou_22 >= min_iou:
        assert pairs["p2", "a2"] == ("iou", pytest.approx(iou_22))
    else:
        assert pairs["p2", pd.NA][0] == "unmatched" and pairs[pd.NA, "a2"][0] == "unmatched"
    assert pairs[pd.NA, "a4"][0] == "unmatched"
    for row in boxes.itertuples():
        both = not pd.isna(row.pred_label) and not pd.isna(row.ann_label)
        assert row.match == (both and row.pred_label == row.ann_label)
    scene = out[out["from_name"] == "scene"]
    assert list(scene["matched_by"]) == ["order"] and scene["match"].all()
    # every sent item of the pair appears exactly once on its side
    assert sorted(out["pred_region_id"].dropna()) == sorted(it["id"] for it in PRED)
    assert sorted(out["ann_region_id"].dropna()) == sorted(it["id"] for it in ANN)
    assert out["prediction_score"].dropna().eq(0.5).all()
    assert str(out["iou"].dtype) == "Float64" and str(out["task_id"].dtype) == "Int64"
    only_scene = compare_predictions(frames, "scene")
    assert set(only_scene["from_name"]) == {"scene"}
    assert_frame_equal(compare_predictions(frames, min_iou=min_iou, reference="latest"), out)
    with pytest.warns(DeprecationWarning, match="use reference="):
        assert compare_predictions(frames, ground_truth_only=True).empty


@pytest.mark.parametrize(
    "name", ["snapshot_full_objects.json", "../sdk-converter-tests/test_export_csv__csv_test.json"]
)
def test_compare_predictions_on_corpus(name: str) -> None:
    frames = ls_frames.read_export(CORPUS / name, progress=False)
    out = compare_predictions(frames)
    assert len(out)
    regions = frames.regions
    annotations = frames.annotations
    live = set(annotations.loc[~annotations["was_cancelled"].fillna(False), "annotation_id"])
    ann_regions = regions[(regions["source"] == "annotation") & regions["source_id"].isin(live)]
    pred_regions = regions[regions["source"] == "prediction"]
    # each (prediction, annotation) pair of a task and control shows each item exactly once
    for (tid, ctrl), group in out.groupby(["task_id", "from_name"]):
        p_items = pred_regions[
            (pred_regions["task_id"] == tid) & (pred_regions["from_name"].astype(str) == ctrl)
        ]
        a_items = ann_regions[
            (ann_regions["task_id"] == tid) & (ann_regions["from_name"].astype(str) == ctrl)
        ]
        for (pid, aid), pair in group.groupby(["prediction_id", "annotation_id"]):
            n_p = int((p_items["source_id"] == pid).sum())
            n_a = int((a_items["source_id"] == aid).sum())
            assert pair["pred_type"].notna().sum() == n_p
            assert pair["ann_type"].notna().sum() == n_a
    row: Any  # a row's fields are scalars of any type
    for row in out[out["matched_by"] == "iou"].itertuples():
        got = iou(
            (row.pred_x, row.pred_y, row.pred_width, row.pred_height),
            (row.ann_x, row.ann_y, row.ann_width, row.ann_height),
        )
        assert row.iou == pytest.approx(got) and got >= 0.5
    for row in out.itertuples():
        if row.match:
            assert sorted(row.pred_value) == sorted(row.ann_value)


def test_ids_only_and_import_files_give_typed_empty_comparisons() -> None:
    full = compare_predictions(
        ls_frames.read_export(CORPUS / "snapshot_full_objects.json", progress=False)
    )
    for name in ("snapshot_default_options.json", "tasks_annotations_predictions.json"):
        # ids-only predictions carry no results; an import file has no ids to match on
        out = compare_predictions(ls_frames.read_export(CORPUS / name, progress=False))
        assert out.empty
        assert list(out.dtypes.astype(str)) == list(full.dtypes.astype(str))


def test_annotator_pivot_by_task_and_region() -> None:
    tasks = [
        {
            "id": 1,
            "data": {},
            "annotations": [
                _ann(1, 1, [scene("in", "s"), _box("r", 1, 1, 5, 5, "cat")]),
                _ann(2, 2, [scene("out", "s"), _box("r", 1, 1, 5, 5, "dog")]),
                _ann(3, 3, [], was_cancelled=True),
            ],
        },
        {
            "id": 2,
            "data": {},
            "annotations": [_ann(4, 1, [scene("out", "s")]), _ann(5, 1, [scene("in", "s")])],
        },  # later annotation of the same user wins
    ]
    frames = ls_frames.read_export(_export(tasks), label_config=CONFIG, progress=False)
    pivot = annotator_pivot(frames, "scene")
    assert list(pivot.columns) == ["u1@x.org", "u2@x.org"]
    assert pivot.loc[1, "u1@x.org"] == "in" and pivot.loc[1, "u2@x.org"] == "out"
    unanswered: Any = pivot.loc[2, "u2@x.org"]
    assert pivot.loc[2, "u1@x.org"] == "in" and pd.isna(unanswered)
    assert list(pivot["u1@x.org"].cat.categories) == ["out", "in"]  # config order
    by_region = annotator_pivot(frames, "box", by="region", annotator="id")
    user_ids: list[object] = list(by_region.columns)
    assert user_ids == [1, 2]
    assert by_region.loc[[(1, "r")]].iloc[0].tolist() == ["cat", "dog"]
    with pytest.raises(ls_frames.ConfigurationError):
        annotator_pivot(frames, "box", by="annotation")  # type: ignore[arg-type]


@pytest.mark.server
def test_analysis_on_the_demo_project(demo_project: dict[str, Any], label_studio: Any) -> None:
    with ls_frames.Client(label_studio.url, label_studio.admin_key) as client:
        frames = ls_frames.load_project(demo_project["project_id"], client=client, progress=False)
    sent = demo_tasks(len(demo_project["task_ids"]))
    by_id = dict(zip(demo_project["task_ids"], sent, strict=True))
    scene = compare_predictions(frames, "scene")
    expected: dict[int, list[bool]] = {}
    for tid, task in by_id.items():
        pred_scene = [
            it["value"]["choices"]
            for p in task.get("predictions", [])
            for it in p["result"]
            if it.get("from_name") == "scene"
        ]
        for a in task.get("annotations", []):
            if a["was_cancelled"] or not pred_scene:
                continue
            ann_scene = [
                it["value"]["choices"] for it in a["result"] if it.get("from_name") == "scene"
            ]
            expected.setdefault(tid, []).append(pred_scene[0] == ann_scene[0])
    # the default compares with the reference annotation only: the ground truth, else the
    # latest (annotation ids follow the order the annotations were sent in)
    chosen = ls_frames.reference_annotations(frames).set_index("task_id")["annotation_id"]
    ann = frames.annotations[~frames.annotations["was_cancelled"].fillna(False)]
    sent_order = {t: sorted(g["annotation_id"]) for t, g in ann.groupby("task_id")}
    want = {t: [v[sent_order[t].index(chosen[t])]] for t, v in expected.items()}
    got = {
        tid: list(g.sort_values("annotation_id")["match"]) for tid, g in scene.groupby("task_id")
    }
    assert got == want
    assert set(scene["annotation_id"]) <= set(chosen)
    boxes = compare_predictions(frames, "box", min_iou=0.0)
    matched = boxes[boxes["matched_by"] == "iou"]
    assert len(matched) and matched["iou"].gt(0).all()
    pivot = annotator_pivot(frames, "scene")
    for tid, task in by_id.items():
        live = [a for a in task.get("annotations", []) if not a["was_cancelled"]]
        if not live:
            assert tid not in pivot.index
            continue
        last = [it for it in live[-1]["result"] if it.get("from_name") == "scene"]
        assert pivot.loc[tid].iloc[0] == last[0]["value"]["choices"][0]


def _idless(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in it.items() if k != "id"} for it in items]


def test_results_without_ids_match_by_geometry_not_by_a_missing_id() -> None:
    # Label Studio does not require ids on imported predictions (nor annotations)
    ann = _idless([_box("x", 0, 0, 20, 20, "cat"), _box("x", 50, 50, 20, 20, "dog")])
    pred = _idless([_box("x", 50, 50, 20, 20, "dog"), _box("x", 0, 0, 20, 20, "cat")])
    tasks = [
        {
            "id": 1,
            "data": {},
            "annotations": [_ann(11, 1, ann)],
            "predictions": [{"id": 21, "model_version": "m", "result": pred}],
        }
    ]
    frames = ls_frames.read_export(_export(tasks), label_config=CONFIG, progress=False)
    assert frames.regions["region_id"].isna().all()
    out = compare_predictions(frames, "box")
    assert len(out) == 2
    assert list(out["matched_by"]) == ["iou", "iou"]
    assert out["iou"].eq(1.0).all() and out["match"].all()
    assert sorted(zip(out["pred_label"], out["ann_label"], strict=True)) == [
        ("cat", "cat"),
        ("dog", "dog"),
    ]


NER_CONFIG = """<View><Text name="text" value="$text"/>
<Labels name="ner" toName="text"><Label value="PER"/><Label value="ORG"/></Labels></View>"""


def _span(start: int, end: int, label: str) -> dict[str, Any]:
    return {
        "from_name": "ner",
        "to_name": "text",
        "type": "labels",
        "value": {"start": start, "end": end, "text": "w" * (end - start), "labels": [label]},
    }


def test_ner_spans_without_ids() -> None:
    ann = [_span(0, 5, "PER"), _span(10, 20, "ORG"), _span(30, 34, "PER")]
    pred = [_span(11, 20, "ORG"), _span(0, 5, "ORG"), _span(40, 44, "PER")]
    tasks = [
        {
            "id": 1,
            "data": {"text": "x" * 50},
            "annotations": [_ann(11, 1, ann)],
            "predictions": [{"id": 21, "model_version": "m", "result": pred}],
        }
    ]
    frames = ls_frames.read_export(_export(tasks), label_config=NER_CONFIG, progress=False)
    out = compare_predictions(frames, "ner", min_iou=0.0)
    by_iou = out[out["matched_by"] == "iou"]
    got = {(int(r.pred_start), int(r.ann_start)): (r.iou, r.match) for r in by_iou.itertuples()}
    assert got == {(11, 10): (pytest.approx(9 / 10), True), (0, 0): (1.0, False)}
    unmatched = out[out["matched_by"] == "unmatched"]
    assert sorted(unmatched["pred_start"].dropna().astype(int)) == [40]
    assert sorted(unmatched["ann_start"].dropna().astype(int)) == [30]


def test_min_iou_zero_never_matches_regions_that_do_not_overlap() -> None:
    ann = [_box("a", 0, 0, 10, 10, "cat")]
    pred = [_box("p", 50, 50, 10, 10, "cat"), _box("q", 10, 0, 10, 10, "cat")]  # apart, touching
    tasks = [
        {
            "id": 1,
            "data": {},
            "annotations": [_ann(11, 1, ann)],
            "predictions": [{"id": 21, "model_version": "m", "result": pred}],
        }
    ]
    frames = ls_frames.read_export(_export(tasks), label_config=CONFIG, progress=False)
    out = compare_predictions(frames, "box", min_iou=0.0)
    assert set(out["matched_by"]) == {"unmatched"} and len(out) == 3
    assert out["iou"].isna().all()


def test_rotated_boxes_are_compared_with_their_rotation() -> None:
    # the same square, one turned 90 degrees around its corner: they only touch
    ann = [{**_box("a", 20, 20, 10, 10, "cat"), "original_width": 100, "original_height": 100}]
    turned = _box("p", 20, 20, 10, 10, "cat")
    turned["value"]["rotation"] = 90
    tasks = [
        {
            "id": 1,
            "data": {},
            "annotations": [_ann(11, 1, ann)],
            "predictions": [
                {
                    "id": 21,
                    "model_version": "m",
                    "result": [{**turned, "original_width": 100, "original_height": 100}],
                }
            ],
        }
    ]
    frames = ls_frames.read_export(_export(tasks), label_config=CONFIG, progress=False)
    out = compare_predictions(frames, "box", min_iou=0.0)
    assert set(out["matched_by"]) == {"unmatched"}


def test_a_from_name_the_frames_do_not_have_is_an_error() -> None:
    frames = ls_frames.read_export(_export(TASKS), label_config=CONFIG, progress=False)
    with pytest.raises(ls_frames.ConfigurationError, match="'sceen'") as info:
        annotator_pivot(frames, "sceen")
    assert "['box', 'scene']" in str(info.value)
    assert isinstance(info.value, ValueError)
    with pytest.raises(ls_frames.ConfigurationError, match="'label'"):
        compare_predictions(frames, "label")
    # without a config, the message names what the regions hold
    bare = ls_frames.read_export(_export(TASKS), progress=False)
    with pytest.raises(ls_frames.ConfigurationError, match=r"regions have \['box', 'scene'\]$"):
        compare_predictions(bare, "boxes")
    # a control of the config that no one used yet: an empty comparison, not an error
    config = CONFIG.replace("</View>", '<TextArea name="notes" toName="image"/></View>')
    frames = ls_frames.read_export(_export(TASKS), label_config=config, progress=False)
    assert compare_predictions(frames, "notes").empty
    assert annotator_pivot(frames, "notes").empty


def test_a_prediction_without_image_size_meets_an_annotation_with_one() -> None:
    # predictions imported from a model often carry no original_width / original_height
    ann = [{**_box("a", 10, 10, 20, 20, "cat"), "original_width": 640, "original_height": 480}]
    turned = _box("p", 10, 10, 20, 20, "cat")
    turned["value"]["rotation"] = 10
    ann_turned = {**_box("b", 50, 50, 20, 20, "dog"), "original_width": 640, "original_height": 480}
    ann_turned["value"]["rotation"] = 10
    pred = [_box("q", 10, 10, 20, 20, "cat"), {**_box("r", 50, 50, 20, 20, "dog")}]
    pred[1]["value"]["rotation"] = 10
    tasks = [
        {
            "id": 1,
            "data": {},
            "annotations": [_ann(11, 1, [*ann, ann_turned])],
            "predictions": [{"id": 21, "model_version": "m", "result": pred}],
        }
    ]
    frames = ls_frames.read_export(_export(tasks), label_config=CONFIG, progress=False)
    out = compare_predictions(frames, "box")
    assert list(out["matched_by"]) == ["iou", "iou"]
    assert out["iou"].to_numpy(float) == pytest.approx([1.0, 1.0])


def test_polygons_match_by_their_enclosing_boxes() -> None:
    config = """<View><Image name="image" value="$image"/>
<PolygonLabels name="poly" toName="image"><Label value="lake"/></PolygonLabels></View>"""

    def poly(points: list[list[float]]) -> dict[str, Any]:
        return {
            "from_name": "poly",
            "to_name": "image",
            "type": "polygonlabels",
            "value": {"points": points, "polygonlabels": ["lake"]},
        }

    ann = [poly([[0, 0], [10, 0], [10, 10]]), poly([[50, 50], [60, 50], [60, 60]])]
    pred = [poly([[51, 50], [61, 50], [61, 60]]), poly([[0, 0], [10, 0], [0, 10]])]
    tasks = [
        {
            "id": 1,
            "data": {},
            "annotations": [_ann(11, 1, ann)],
            "predictions": [{"id": 21, "model_version": "m", "result": pred}],
        }
    ]
    frames = ls_frames.read_export(_export(tasks), label_config=config, progress=False)
    out = compare_predictions(frames, "poly")
    assert list(out["matched_by"]) == ["iou", "iou"]
    assert sorted(out["iou"].to_numpy(float)) == pytest.approx([90 / 110, 1.0])
