"""compare_predictions and evaluate on a 20,000-task project, side by side with what a user
would otherwise run, in one run.

The export is generated (``generate_export.py --matched``: boxes with a per-region choice,
a task-level choice, skipped and ground-truth annotations, one model version whose boxes
are noisy copies of the annotations', with scores)
and read with ``ls_frames.read_export``; no server is needed. Each job runs in a fresh
process, so its peak RSS is its own:

* ``compare_predictions`` now, and the implementation of commit 4fe3994 (loaded from git);
* a plain json + Python loop that pairs prediction and annotation boxes greedily by IoU;
* ``evaluate`` (COCO AP of the boxes) and the same numbers from json.load + pycocotools
  ``COCOeval`` (its ``test`` extra), which is what a user would otherwise write.

    python benchmarks/bench_analysis.py [--tasks 20000] [--no-baseline]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import multiprocessing as mp
import resource
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from generate_export import generate

ROOT = Path(__file__).resolve().parent.parent
BASELINE = "4fe3994"


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _frames(path: str) -> Any:
    import ls_frames

    frames = ls_frames.read_export(path, progress=False)
    for name in ("regions", "annotations", "predictions"):
        frames[name]  # the pandas conversion is not the job being timed
    return frames


def _baseline_module() -> types.ModuleType:
    source = subprocess.run(
        ["git", "show", f"{BASELINE}:ls_frames/tables/analysis.py"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    module = types.ModuleType("baseline_analysis")
    exec(compile(source, f"{BASELINE}:analysis.py", "exec"), module.__dict__)
    return module


def _iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    iw = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    ih = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    if iw <= 0 or ih <= 0:
        return 0.0
    inter = iw * ih
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


def user_compare(path: str) -> int:
    """What a user writes: json.load, then per task, prediction and annotation, every box
    pair's IoU and a greedy match, best first."""
    with open(path, encoding="utf-8") as fh:
        tasks = json.load(fh)
    rows = 0
    for task in tasks:
        for pred in task.get("predictions") or []:
            p_boxes = [r for r in pred["result"] if r.get("type") == "rectanglelabels"]
            for ann in task.get("annotations") or []:
                if ann.get("was_cancelled"):
                    continue
                a_boxes = [r for r in ann["result"] if r.get("type") == "rectanglelabels"]
                pairs = sorted(
                    (
                        (
                            -_iou(
                                *(
                                    tuple(r["value"][k] for k in ("x", "y", "width", "height"))
                                    for r in (p, a)
                                )
                            ),
                            i,
                            j,
                        )
                        for i, p in enumerate(p_boxes)
                        for j, a in enumerate(a_boxes)
                    )
                )
                used_p: set[int] = set()
                used_a: set[int] = set()
                for neg, i, j in pairs:
                    if neg < -0.5 and i not in used_p and j not in used_a:
                        used_p.add(i)
                        used_a.add(j)
                        rows += 1
                rows += len(p_boxes) - len(used_p) + len(a_boxes) - len(used_a)
    return rows


def user_coco(path: str) -> dict[str, float]:
    """What a user writes for COCO AP: json.load, the last kept annotation per task as
    ground truth, the predictions as detections (the prediction's score for each box),
    pycocotools COCOeval."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with open(path, encoding="utf-8") as fh:
        tasks = json.load(fh)
    cats: dict[str, int] = {}
    images: list[dict[str, Any]] = []
    gts: list[dict[str, Any]] = []
    dets: list[dict[str, Any]] = []
    for task in tasks:
        kept = [a for a in task.get("annotations") or [] if not a.get("was_cancelled")]
        preds = task.get("predictions") or []
        if not kept or not preds:
            continue
        ref = max(kept, key=lambda a: (a["updated_at"], a["id"]))
        images.append({"id": task["id"]})

        def bbox(r: dict[str, Any]) -> list[float]:
            v, w, h = r["value"], r["original_width"], r["original_height"]
            return [v["x"] * w / 100, v["y"] * h / 100, v["width"] * w / 100, v["height"] * h / 100]

        for r in ref["result"]:
            if r.get("type") == "rectanglelabels":
                b = bbox(r)
                cat = cats.setdefault(r["value"]["rectanglelabels"][0], len(cats) + 1)
                gts.append(
                    {
                        "id": len(gts) + 1,
                        "image_id": task["id"],
                        "category_id": cat,
                        "bbox": b,
                        "area": b[2] * b[3],
                        "iscrowd": 0,
                    }
                )
        for p in preds:
            for r in p["result"]:
                if r.get("type") == "rectanglelabels":
                    cat = cats.setdefault(r["value"]["rectanglelabels"][0], len(cats) + 1)
                    dets.append(
                        {
                            "image_id": task["id"],
                            "category_id": cat,
                            "bbox": bbox(r),
                            "score": r.get("score", p.get("score")),
                        }
                    )
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO()
        dataset: Any = {
            "images": images,
            "annotations": gts,
            "categories": [{"id": i} for i in cats.values()],
        }
        gt.dataset = dataset
        gt.createIndex()
        ev = COCOeval(gt, gt.loadRes(dets), "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return {"ap": float(ev.stats[0]), "ap50": float(ev.stats[1]), "ar": float(ev.stats[8])}


def _job(name: str, path: str, queue: Any) -> None:
    import ls_frames

    frames = None if name.startswith("user") else _frames(path)
    before = _rss_mb()
    t0 = time.perf_counter()
    detail: Any
    if name == "compare":
        assert frames is not None
        detail = len(ls_frames.compare_predictions(frames))
    elif name == "compare_gt":
        assert frames is not None
        detail = len(ls_frames.compare_predictions(frames, reference="ground_truth"))
    elif name == "baseline_compare":
        detail = len(_baseline_module().compare_predictions(frames))
    elif name == "baseline_compare_gt":
        detail = len(_baseline_module().compare_predictions(frames, ground_truth_only=True))
    elif name == "evaluate":
        assert frames is not None
        out = ls_frames.evaluate(frames, "label")
        row = out[out["label"] == "all"].iloc[0]
        detail = {
            "ap": round(float(row["ap"]), 4),
            "ap50": round(float(row["ap50"]), 4),
            "ar": round(float(row["ar"]), 4),
        }
    elif name == "user_compare":
        detail = user_compare(path)
    elif name == "user_coco":
        detail = {k: round(v, 4) for k, v in user_coco(path).items()}
    else:
        raise ValueError(name)
    seconds = time.perf_counter() - t0
    queue.put((name, seconds, before, _rss_mb(), detail))


def run(name: str, path: str) -> tuple[str, float, float, float, Any]:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_job, args=(name, path, queue))
    proc.start()
    got = queue.get()
    proc.join()
    return got  # type: ignore[no-any-return]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--tasks", type=int, default=20_000)
    p.add_argument("--no-baseline", action="store_true", help="skip the 4fe3994 runs")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-analysis-") as tmp:
        path = str(Path(tmp) / "export.json")
        stats = generate(Path(path), 10_000, seed=0, max_tasks=args.tasks, matched=True)
        print(
            f"export: {stats['tasks']:,} tasks, {stats['annotation']:,} annotations, "
            f"{stats['prediction']:,} predictions, {stats['bytes'] / 1e6:.0f} MB"
        )
        jobs = [
            ("compare", "baseline_compare", "user_compare"),
            ("compare_gt", "baseline_compare_gt", None),
            ("evaluate", None, "user_coco"),
        ]
        print(
            "| job | ls_frames | previous (4fe3994) | user loop | ratio prev/now | ratio user/now |"
        )
        print("| --- | --- | --- | --- | --- | --- |")
        for now, before, user in jobs:
            mine = run(now, path)
            prev = run(before, path) if before and not args.no_baseline else None
            theirs = run(user, path) if user else None

            def cell(r: tuple[str, float, float, float, Any] | None) -> str:
                if r is None:
                    return "-"
                return f"{r[1]:.2f} s, peak {r[3]:.0f} MB (+{r[3] - r[2]:.0f}), {r[4]}"

            ratio_prev = f"{prev[1] / mine[1]:.1f}x" if prev else "-"
            ratio_user = f"{theirs[1] / mine[1]:.1f}x" if theirs else "-"
            print(
                f"| {now} | {cell(mine)} | {cell(prev)} | {cell(theirs)} | {ratio_prev} | "
                f"{ratio_user} |",
                flush=True,
            )
    print(
        "peak = the job's process peak RSS (the frames included for ls_frames jobs; "
        "+ = what the job added)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
