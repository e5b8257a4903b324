"""ls_frames.evaluate and ls_frames.confusion: COCO numbers against pycocotools on generated
detections, counts worked out from the inputs, the reference rule, and the errors."""

from __future__ import annotations

import contextlib
import io
import json
import random
from typing import Any

import numpy as np
import pandas as pd
import pytest

import ls_frames
from tests.image_tasks import annotation, scene
from tests.needs import missing
from tests.text_tasks import NER, span

W, H = 640, 480
LABELS = ["cat", "dog", "bird"]
CONFIG = """<View><Image name="image" value="$image"/>
<RectangleLabels name="label" toName="image"><Label value="cat"/><Label value="dog"/><Label value="bird"/><Label value="fish"/></RectangleLabels>
<Choices name="scene" toName="image"><Choice value="indoor"/><Choice value="outdoor"/></Choices>
</View>"""


def _box(
    x: float,
    y: float,
    w: float,
    h: float,
    label: str,
    score: float | None = None,
    rid: str | None = None,
) -> dict[str, Any]:
    item: dict[str, Any] = {
        "from_name": "label",
        "to_name": "image",
        "type": "rectanglelabels",
        "original_width": W,
        "original_height": H,
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
    if rid is not None:
        item["id"] = rid
    return item


def _ann(aid: int, result: list[dict[str, Any]], updated: str, **flags: Any) -> dict[str, Any]:
    return annotation(aid, result, updated_at=updated, **flags)


def _generated(seed: int, n_tasks: int = 60) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Tasks with one reference annotation (plus an older one and a later skipped one
    here and there) and predictions of two model versions with scores."""
    rng = random.Random(seed)
    tasks: list[dict[str, Any]] = []
    truth: dict[str, Any] = {"ref": {}, "pred": {"m1": {}, "m2": {}}}
    aid, pid = 1000, 5000
    for t in range(1, n_tasks + 1):
        gts = []
        for _ in range(rng.randint(0, 5)):
            x, y = rng.uniform(0, 80), rng.uniform(0, 80)
            gts.append(
                _box(x, y, rng.uniform(3, 100 - x), rng.uniform(3, 100 - y), rng.choice(LABELS))
            )
        annotations = []
        if rng.random() < 0.3:  # an older annotation: not the reference
            aid += 1
            annotations.append(_ann(aid, [_box(1, 1, 50, 50, "cat")], "2024-01-01T00:00:00Z"))
        aid += 1
        annotations.append(_ann(aid, gts, "2024-06-01T00:00:00Z"))
        if rng.random() < 0.2:  # skipped later: not the reference either
            aid += 1
            annotations.append(
                _ann(aid, [_box(5, 5, 20, 20, "dog")], "2024-09-01T00:00:00Z", was_cancelled=True)
            )
        truth["ref"][t] = gts
        predictions = []
        for version, noise in (("m1", 2.0), ("m2", 6.0)):
            if rng.random() < 0.1:
                continue  # this model did not run on the task
            dets = []
            for g in gts:
                if rng.random() < 0.15:
                    continue  # a miss
                v = g["value"]
                label = v["rectanglelabels"][0] if rng.random() < 0.85 else rng.choice(LABELS)
                dets.append(
                    _box(
                        v["x"] + rng.gauss(0, noise),
                        v["y"] + rng.gauss(0, noise),
                        max(0.5, v["width"] + rng.gauss(0, noise)),
                        max(0.5, v["height"] + rng.gauss(0, noise)),
                        label,
                        score=round(rng.random(), 6),
                    )
                )
            for _ in range(rng.randint(0, 2)):  # false positives
                dets.append(
                    _box(
                        rng.uniform(0, 80),
                        rng.uniform(0, 80),
                        rng.uniform(2, 20),
                        rng.uniform(2, 20),
                        rng.choice(LABELS),
                        score=round(rng.random() * 0.6, 6),
                    )
                )
            pid += 1
            predictions.append({"id": pid, "model_version": version, "result": dets})
            truth["pred"][version][t] = dets
        tasks.append(
            {
                "id": t,
                "data": {"image": f"{t}.jpg"},
                "annotations": annotations,
                "predictions": predictions,
            }
        )
    return tasks, truth


def _coco(truth: dict[str, Any], version: str, cat: str | None) -> list[float]:
    return [float(s) for s in _coco_eval(truth, version, cat).stats]


def _coco_eval(truth: dict[str, Any], version: str, cat: str | None) -> Any:
    try:
        from pycocotools.coco import COCO
        from pycocotools.cocoeval import COCOeval
    except ImportError:
        missing("pycocotools")
    cats = {name: i + 1 for i, name in enumerate(LABELS)}
    images = sorted(truth["pred"][version])  # tasks with a reference and a prediction

    def bbox(item: dict[str, Any]) -> list[float]:
        v = item["value"]
        return [v["x"] * W / 100, v["y"] * H / 100, v["width"] * W / 100, v["height"] * H / 100]

    gt: Any = {
        "images": [{"id": t, "width": W, "height": H} for t in images],
        "categories": [{"id": i, "name": n} for n, i in cats.items()],
        "annotations": [],
    }
    for t in images:
        for g in truth["ref"][t]:
            b = bbox(g)
            gt["annotations"].append(
                {
                    "id": len(gt["annotations"]) + 1,
                    "image_id": t,
                    "category_id": cats[g["value"]["rectanglelabels"][0]],
                    "bbox": b,
                    "area": b[2] * b[3],
                    "iscrowd": 0,
                }
            )
    dets = [
        {
            "image_id": t,
            "category_id": cats[d["value"]["rectanglelabels"][0]],
            "bbox": bbox(d),
            "score": d["score"],
        }
        for t in images
        for d in truth["pred"][version][t]
    ]
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = gt
        coco_gt.createIndex()
        coco_dt = coco_gt.loadRes(dets)
        ev = COCOeval(coco_gt, coco_dt, "bbox")
        if cat is not None:
            ev.params.catIds = [cats[cat]]
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return ev


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_box_ap_equals_pycocotools(seed: int) -> None:
    tasks, truth = _generated(seed)
    frames = ls_frames.read_export(json.dumps(tasks).encode(), label_config=CONFIG, progress=False)
    out = ls_frames.evaluate(frames, "label")
    assert set(out["model_version"]) == {"m1", "m2"}
    for version in ("m1", "m2"):
        mine = out[out["model_version"] == version].set_index("label")
        assert list(mine.index) == [*LABELS, "all"]  # config order, unused "fish" left out
        for label in [*LABELS, "all"]:
            stats = _coco(truth, version, None if label == "all" else label)
            row = mine.loc[label]
            got = [row["ap"], row["ap50"], row["ap75"], row["ar"]]
            want = [stats[0], stats[1], stats[2], stats[8]]
            assert got == pytest.approx(want, abs=1e-6), (version, label)
        assert mine.loc["all", "tasks"] == len(truth["pred"][version])


def _plain_counts(truth: dict[str, Any], version: str, threshold: float) -> dict[str, int]:
    """tp / fp / fn by a plain greedy match, per task and label, best score first."""
    tp = fp = fn = 0
    for t, dets in truth["pred"][version].items():
        for label in LABELS:
            g = [x["value"] for x in truth["ref"][t] if x["value"]["rectanglelabels"][0] == label]
            d = sorted(
                (x for x in dets if x["value"]["rectanglelabels"][0] == label),
                key=lambda x: -x["score"],
            )
            free = list(range(len(g)))
            for det in d:
                v = det["value"]
                best, best_iou = None, threshold
                for j in free:
                    ix = min(v["x"] + v["width"], g[j]["x"] + g[j]["width"]) - max(
                        v["x"], g[j]["x"]
                    )
                    iy = min(v["y"] + v["height"], g[j]["y"] + g[j]["height"]) - max(
                        v["y"], g[j]["y"]
                    )
                    inter = max(ix, 0) * max(iy, 0)
                    iou = inter / (
                        v["width"] * v["height"] + g[j]["width"] * g[j]["height"] - inter
                    )
                    if inter > 0 and iou >= best_iou:
                        best, best_iou = j, iou
                if best is None:
                    fp += 1
                else:
                    tp += 1
                    free.remove(best)
            fn += len(free)
    return {"tp": tp, "fp": fp, "fn": fn}


def test_counts_at_the_first_threshold() -> None:
    tasks, truth = _generated(5)
    frames = ls_frames.read_export(json.dumps(tasks).encode(), label_config=CONFIG, progress=False)
    for threshold in (0.5, 0.3):
        out = ls_frames.evaluate(
            frames, "label", iou_thresholds=[threshold, 0.9], model_version="m2"
        )
        assert set(out["model_version"]) == {"m2"}
        row = out.set_index("label").loc["all"]
        want = _plain_counts(truth, "m2", threshold)
        assert {k: int(row[k]) for k in ("tp", "fp", "fn")} == want
        assert row["precision"] == pytest.approx(want["tp"] / (want["tp"] + want["fp"]))
        assert row["recall"] == pytest.approx(want["tp"] / (want["tp"] + want["fn"]))
        assert str(out["tp"].dtype) == "Int64" and str(out["ap"].dtype) == "Float64"


def test_ids_and_order_do_not_matter_and_unscored_regions_have_no_ap() -> None:
    gts = [_box(0, 0, 20, 20, "cat"), _box(50, 50, 20, 20, "dog")]
    dets = [_box(80, 0, 5, 5, "cat"), _box(50, 50, 20, 20, "dog"), _box(0, 0, 20, 20, "cat")]
    tasks: list[dict[str, Any]] = [
        {
            "id": 1,
            "data": {},
            "annotations": [_ann(1, gts, "2024-01-01T00:00:00Z")],
            "predictions": [{"id": 2, "model_version": "v", "result": dets}],
        }
    ]
    frames = ls_frames.read_export(json.dumps(tasks).encode(), label_config=CONFIG, progress=False)
    out = ls_frames.evaluate(frames, "label").set_index("label")
    assert out.loc["cat", ["tp", "fp", "fn"]].tolist() == [1, 1, 0]
    assert out.loc["dog", ["tp", "fp", "fn"]].tolist() == [1, 0, 0]
    assert out["ap"].isna().all()  # no scores: no ranking to average precision over
    # the prediction's score stands in for its regions'
    tasks[0]["predictions"][0]["score"] = 0.7
    frames = ls_frames.read_export(json.dumps(tasks).encode(), label_config=CONFIG, progress=False)
    out = ls_frames.evaluate(frames, "label").set_index("label")
    assert out.loc["dog", "ap"] == pytest.approx(1.0)
    # equal scores keep result order: the stray cat comes first, so the one right cat is
    # found at precision 1/2, and every recall point up to 1 reads 1/2
    assert out.loc["cat", "ap"] == pytest.approx(0.5)
    assert out.loc["cat", "ap50"] == pytest.approx(0.5) and out.loc["cat", "ar"] == 1.0


def _scene(choice: str) -> dict[str, Any]:
    return scene(choice, rid=None)


def test_choices_accuracy_and_confusion() -> None:
    pairs = [
        ("indoor", "indoor"),
        ("indoor", "outdoor"),
        ("outdoor", "outdoor"),
        ("outdoor", "outdoor"),
        ("indoor", None),
    ]
    tasks = []
    for i, (ref, pred) in enumerate(pairs, start=1):
        tasks.append(
            {
                "id": i,
                "data": {},
                "annotations": [_ann(10 + i, [_scene(ref)], "2024-01-01T00:00:00Z")],
                "predictions": [
                    {"id": 100 + i, "model_version": "v", "result": [_scene(pred)] if pred else []}
                ],
            }
        )
    frames = ls_frames.read_export(json.dumps(tasks).encode(), label_config=CONFIG, progress=False)
    out = ls_frames.evaluate(frames, "scene").set_index("label")
    assert out.loc["all", "accuracy"] == pytest.approx(3 / 5)
    assert out.loc["indoor", ["tp", "fp", "fn"]].tolist() == [1, 0, 2]
    assert out.loc["outdoor", ["tp", "fp", "fn"]].tolist() == [2, 1, 0]
    assert out["ap"].isna().all()
    matrix = ls_frames.confusion(frames, "scene")
    assert list(matrix.index) == ["indoor", "outdoor", "(none)"]
    assert matrix.loc["indoor"].tolist() == [1, 1, 1]
    assert matrix.loc["outdoor"].tolist() == [0, 2, 0]
    assert matrix.to_numpy().sum() == len(pairs)


def test_the_reference_is_the_ground_truth_else_the_latest() -> None:
    tasks = [
        {
            "id": 1,
            "data": {},
            "annotations": [
                _ann(1, [_scene("indoor")], "2024-01-01T00:00:00Z", ground_truth=True),
                _ann(2, [_scene("outdoor")], "2024-05-01T00:00:00Z"),
            ],
            "predictions": [{"id": 3, "model_version": "v", "result": [_scene("indoor")]}],
        },
        {
            "id": 2,
            "data": {},
            "annotations": [_ann(4, [_scene("indoor")], "2024-01-01T00:00:00Z")],
            "predictions": [{"id": 5, "model_version": "v", "result": [_scene("indoor")]}],
        },
    ]
    frames = ls_frames.read_export(json.dumps(tasks).encode(), label_config=CONFIG, progress=False)
    # task 1: the ground truth says indoor (as predicted), the later annotation outdoor
    default = ls_frames.evaluate(frames, "scene").set_index("label").loc["all"]
    assert default["tasks"] == 2 and default["accuracy"] == 1.0
    last = ls_frames.evaluate(frames, "scene", reference="latest").set_index("label").loc["all"]
    assert last["tasks"] == 2 and last["accuracy"] == pytest.approx(0.5)
    with pytest.warns(DeprecationWarning, match="use reference="):
        gt = ls_frames.evaluate(frames, "scene", ground_truth_only=True)
    assert gt.set_index("label").loc["all", "tasks"] == 1
    assert gt.set_index("label").loc["all", "accuracy"] == 1.0
    with pytest.warns(DeprecationWarning, match="use reference="):
        old_default = ls_frames.evaluate(frames, "scene", ground_truth_only=False)
    pd.testing.assert_frame_equal(old_default, ls_frames.evaluate(frames, "scene"))


def test_errors() -> None:
    tasks, _ = _generated(1, n_tasks=5)
    frames = ls_frames.read_export(json.dumps(tasks).encode(), label_config=CONFIG, progress=False)
    with pytest.raises(ls_frames.ConfigurationError, match=r"'box'.*\['label', 'scene'\]"):
        ls_frames.evaluate(frames, "box")
    with pytest.raises(ls_frames.ConfigurationError, match=r"m3.*\['m1', 'm2'\]"):
        ls_frames.evaluate(frames, "label", model_version="m3")
    with pytest.raises(ls_frames.ConfigurationError, match="iou_thresholds"):
        ls_frames.evaluate(frames, "label", iou_thresholds=[0.0])
    with pytest.raises(ls_frames.ConfigurationError, match="several model versions"):
        ls_frames.confusion(frames, "scene")
    with pytest.raises(ls_frames.ConfigurationError, match=r"'ground_truth' .*'consensus'"):
        ls_frames.evaluate(frames, "label", reference="truth")
    with pytest.raises(ls_frames.ConfigurationError, match=r"no annotator 'x@y'.*emails"):
        ls_frames.confusion(frames, "label", reference="x@y", model_version="m1")
    with pytest.raises(ls_frames.ConfigurationError, match=r"no annotator 999.*user ids"):
        ls_frames.evaluate(frames, "label", reference=999)
    text = [
        {
            "id": 1,
            "data": {},
            "annotations": [
                _ann(
                    1,
                    [
                        {
                            "from_name": "note",
                            "to_name": "image",
                            "type": "textarea",
                            "value": {"text": ["hi"]},
                        }
                    ],
                    "2024-01-01T00:00:00Z",
                )
            ],
            "predictions": [{"id": 2, "model_version": "v", "result": []}],
        }
    ]
    frames = ls_frames.read_export(json.dumps(text).encode(), progress=False)
    with pytest.raises(ls_frames.ConfigurationError, match="textarea"):
        ls_frames.evaluate(frames, "note")


def test_empty_when_nothing_to_compare() -> None:
    tasks = [{"id": 1, "data": {}, "annotations": [], "predictions": []}]
    frames = ls_frames.read_export(json.dumps(tasks).encode(), label_config=CONFIG, progress=False)
    out = ls_frames.evaluate(frames, "label")
    assert out.empty and str(out["tp"].dtype) == "Int64"
    assert isinstance(np.asarray(out.columns), np.ndarray) and "ap50" in out.columns
    assert isinstance(out, pd.DataFrame)


@pytest.mark.server
def test_evaluate_a_project_on_the_real_server(label_studio: Any) -> None:
    """A project created on the server with id-less scored predictions of two model
    versions: the COCO numbers equal pycocotools' on what was sent, the choice accuracy
    is what was sent."""
    import httpx

    from ls_frames.testing.seed import auth_headers

    tasks, truth = _generated(11, n_tasks=25)
    truth = {"ref": {}, "pred": {"m1": {}, "m2": {}}}
    scenes = {}
    for i, task in enumerate(tasks):
        task.pop("id")
        for a in task["annotations"]:
            a.pop("id")
            a.pop("completed_by")
            a.pop("updated_at")
        # one annotation per task (the server stamps them all at once), a skipped one more
        kept = [a for a in task["annotations"] if not a["was_cancelled"]][-1]
        kept["result"].append(_scene("indoor" if i % 3 else "outdoor"))
        task["annotations"] = [kept, {"result": [], "was_cancelled": True, "ground_truth": False}][
            : 1 + i % 2
        ]
        for p in task["predictions"]:
            p.pop("id")
            p["result"].append(_scene("indoor"))
        scenes[i] = "indoor" if i % 3 else "outdoor"
    headers = auth_headers(label_studio.url, label_studio.legacy_token)
    with httpx.Client(base_url=label_studio.url, headers=headers, timeout=120) as http:
        created = http.post(
            "/api/projects", json={"title": "ls_frames evaluate", "label_config": CONFIG}
        )
        assert created.status_code < 400, created.text
        pid = created.json()["id"]
        answer = http.post(f"/api/projects/{pid}/import?return_task_ids=true", json=tasks)
        assert answer.status_code < 400, answer.text
        task_ids = sorted(answer.json()["task_ids"])
    for tid, task in zip(task_ids, tasks, strict=True):
        truth["ref"][tid] = [
            r for r in task["annotations"][0]["result"] if r["from_name"] == "label"
        ]
        for p in task["predictions"]:
            truth["pred"][p["model_version"]][tid] = [
                r for r in p["result"] if r["from_name"] == "label"
            ]
    with ls_frames.Client(label_studio.url, label_studio.legacy_token) as client:
        frames = ls_frames.load_project(pid, client=client, progress=False)
    out = ls_frames.evaluate(frames, "label")
    for version in ("m1", "m2"):
        mine = out[out["model_version"] == version].set_index("label")
        for label in [*LABELS, "all"]:
            stats = _coco(truth, version, None if label == "all" else label)
            got = [mine.loc[label, c] for c in ("ap", "ap50", "ap75", "ar")]
            assert got == pytest.approx([stats[0], stats[1], stats[2], stats[8]], abs=1e-6)
    scene = ls_frames.evaluate(frames, "scene", model_version="m1").set_index("label")
    m1_tasks = [
        i for i, t in enumerate(tasks) if any(p["model_version"] == "m1" for p in t["predictions"])
    ]
    want = sum(scenes[i] == "indoor" for i in m1_tasks) / len(m1_tasks)
    assert scene.loc["all", "accuracy"] == pytest.approx(want)
    matrix = ls_frames.confusion(frames, "scene", model_version="m1")
    assert matrix.loc["outdoor", "indoor"] == sum(scenes[i] == "outdoor" for i in m1_tasks)


def test_spans_average_precision() -> None:
    ann = [span(0, 5, "PER"), span(10, 60, "ORG")]
    pred = [span(30, 35, "PER", 0.95), span(0, 5, "PER", 0.9), span(10, 51, "ORG", 0.8)]
    tasks = [
        {
            "id": 1,
            "data": {"text": "x" * 80},
            "annotations": [_ann(1, ann, "2024-01-01T00:00:00Z")],
            "predictions": [{"id": 2, "model_version": "v", "result": pred}],
        }
    ]
    frames = ls_frames.read_export(json.dumps(tasks).encode(), label_config=NER, progress=False)
    out = ls_frames.evaluate(frames, "ner").set_index("label")
    assert out.loc["PER", ["tp", "fp", "fn"]].tolist() == [1, 1, 0]
    assert out.loc["ORG", ["tp", "fp", "fn"]].tolist() == [1, 0, 0]
    # PER: the stray span scores higher, so precision is 1/2 at every recall and threshold
    assert out.loc["PER", "ap"] == pytest.approx(0.5)
    # ORG: IoU 41/50 = 0.82 passes 7 of the 10 thresholds 0.50 ... 0.95
    assert out.loc["ORG", "ap"] == pytest.approx(0.7)
    assert out.loc["ORG", "ap75"] == pytest.approx(1.0) and out.loc["ORG", "ar"] == pytest.approx(
        0.7
    )
    assert out.loc["all", "ap"] == pytest.approx(0.6)


@pytest.mark.parametrize("seed", [1, 4])
def test_pr_curve_points_equal_pycocotools(seed: int) -> None:
    tasks, truth = _generated(seed)
    frames = ls_frames.read_export(json.dumps(tasks).encode(), label_config=CONFIG, progress=False)
    curves = ls_frames.pr_curve(frames, "label")
    assert list(curves.columns) == ["model_version", "label", "recall", "precision", "score"]
    assert [str(t) for t in curves.dtypes] == ["string", "string", "float64", "float64", "float64"]
    scores = ls_frames.evaluate(frames, "label")
    for version in ("m1", "m2"):
        ev = _coco_eval(truth, version, None)
        for k, label in enumerate(LABELS):  # category ids follow LABELS
            mine = curves[(curves["model_version"] == version) & (curves["label"] == label)]
            assert mine["recall"].to_numpy() == pytest.approx(np.linspace(0, 1, 101))
            # eval["precision"][T, R, K, A, M]: IoU 0.5, every recall point, area all, 100
            want_p = ev.eval["precision"][0, :, k, 0, 2]
            want_s = ev.eval["scores"][0, :, k, 0, 2]
            assert mine["precision"].to_numpy() == pytest.approx(want_p, abs=1e-9)
            assert mine["score"].to_numpy() == pytest.approx(want_s, abs=1e-9)
            ap50 = scores.set_index(["model_version", "label"]).loc[(version, label), "ap50"]
            assert mine["precision"].mean() == pytest.approx(ap50, abs=1e-9)


def test_pr_curve_by_hand_and_errors() -> None:
    # one task, two reference cats; detections 0.9 (hit), 0.8 (a false positive), 0.7 (hit)
    tasks = [
        {
            "id": 1,
            "data": {},
            "annotations": [
                _ann(1, [_box(0, 0, 10, 10, "cat"), _box(50, 50, 10, 10, "cat")], "2024-01-01")
            ],
            "predictions": [
                {
                    "id": 2,
                    "model_version": "m",
                    "result": [
                        _box(0, 0, 10, 10, "cat", score=0.9),
                        _box(80, 80, 10, 10, "cat", score=0.8),
                        _box(50, 50, 10, 10, "cat", score=0.7),
                    ],
                }
            ],
        }
    ]
    frames = ls_frames.read_export(json.dumps(tasks).encode(), label_config=CONFIG, progress=False)
    curve = ls_frames.pr_curve(frames, "label")
    # recall 0.5 at precision 1 (score 0.9), recall 1 at precision 2/3 (score 0.7)
    precision = curve["precision"].to_numpy()
    score = curve["score"].to_numpy()
    assert precision[:51] == pytest.approx(np.ones(51))
    assert precision[51:] == pytest.approx(np.full(50, 2 / 3))
    assert score[:51] == pytest.approx(np.full(51, 0.9))
    assert score[51:] == pytest.approx(np.full(50, 0.7))
    assert set(curve["label"]) == {"cat"}
    with pytest.raises(ls_frames.ConfigurationError, match="choice control"):
        ls_frames.pr_curve(frames, "scene")
    with pytest.raises(ls_frames.ConfigurationError, match="iou_threshold"):
        ls_frames.pr_curve(frames, "label", iou_threshold=1.5)
