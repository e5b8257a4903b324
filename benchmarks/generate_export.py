"""Generate a real-shape Label Studio snapshot for benchmarks.

Single-line JSON array like the server writes (``json.dumps`` separators), full-object
serialization (``completed_by`` objects, expanded predictions and drafts), with the config
of the corpus project: image boxes with a per-region choice, a task-level choice, a text
area, relations, skipped and ground-truth annotations, predictions and drafts.
Deterministic for a seed; written streaming, task by task.

    python benchmarks/generate_export.py --size-mb 300 --out /tmp/export-300.json
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path
from typing import Any

LABELS = ["cat", "dog", "bird", "car"]
WORDS = [
    "a",
    "photo",
    "of",
    "cat",
    "dog",
    "bird",
    "car",
    "on",
    "the",
    "road",
    "in",
    "a",
    "park",
    "near",
    "tree",
    "with",
    "sky",
]
USERS = [
    {"id": i, "email": f"user{i}@example.com", "first_name": f"User{i}", "last_name": "Test"}
    for i in range(1, 9)
]


def _ts(rng: random.Random) -> str:
    return (
        f"2026-{rng.randint(1, 11):02d}-{rng.randint(1, 28):02d}T"
        f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}."
        f"{rng.randint(0, 999999):06d}Z"
    )


def _rid(rng: random.Random) -> str:
    return f"{rng.getrandbits(40):010x}"


def _boxes(rng: random.Random, n: int, with_choice: bool) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    ow, oh = rng.choice([(640, 480), (800, 600), (1920, 1080)])
    for _ in range(n):
        rid = _rid(rng)
        x, y = rng.uniform(0, 80), rng.uniform(0, 80)
        box = {
            "id": rid,
            "type": "rectanglelabels",
            "from_name": "label",
            "to_name": "image",
            "original_width": ow,
            "original_height": oh,
            "image_rotation": 0,
            "value": {
                "x": x,
                "y": y,
                "width": rng.uniform(1, 100 - x),
                "height": rng.uniform(1, 100 - y),
                "rotation": rng.choice([0, 0, 0, rng.uniform(0, 30)]),
                "rectanglelabels": [rng.choice(LABELS)],
            },
        }
        out.append(box)
        if with_choice:
            out.append(
                {
                    "id": rid,
                    "type": "choices",
                    "from_name": "occluded",
                    "to_name": "image",
                    "original_width": ow,
                    "original_height": oh,
                    "image_rotation": 0,
                    "value": {
                        "x": 1,
                        "y": 1,
                        "width": 1,
                        "height": 1,
                        "rotation": 0,
                        "choices": [rng.choice(["yes", "no"])],
                    },
                }
            )
    return out


def _annotation(rng: random.Random, task_id: int, ann_id: int, skipped: bool) -> dict[str, Any]:
    result: list[dict[str, Any]] = []
    if not skipped:
        result = _boxes(rng, rng.randint(1, 4), with_choice=True)
        result.append(
            {
                "id": _rid(rng),
                "type": "choices",
                "from_name": "quality",
                "to_name": "image",
                "value": {"choices": [rng.choice(["good", "bad"])]},
            }
        )
        if rng.random() < 0.7:
            text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 12)))
            result.append(
                {
                    "id": _rid(rng),
                    "type": "textarea",
                    "from_name": "caption",
                    "to_name": "image",
                    "value": {"text": [text]},
                }
            )
        ids = [r["id"] for r in result if r["type"] == "rectanglelabels"]
        if len(ids) >= 2 and rng.random() < 0.5:
            result.append(
                {
                    "from_id": ids[0],
                    "to_id": ids[1],
                    "type": "relation",
                    "direction": "right",
                    "labels": ["near"],
                }
            )
    created = _ts(rng)
    return {
        "id": ann_id,
        "completed_by": rng.choice(USERS),
        "result": result,
        "was_cancelled": skipped,
        "ground_truth": (not skipped) and rng.random() < 0.1,
        "created_at": created,
        "updated_at": created,
        "draft_created_at": None,
        "lead_time": round(rng.uniform(1, 300), 3),
        "prediction": {},
        "result_count": 0,
        "unique_id": f"{rng.getrandbits(128):032x}",
        "import_id": None,
        "last_action": None,
        "bulk_created": False,
        "task": task_id,
        "project": 3,
        "updated_by": None,
        "parent_prediction": None,
        "parent_annotation": None,
        "last_created_by": None,
    }


def _like(rng: random.Random, boxes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A model's guess at these boxes: each found most of the time, moved a little, its
    label sometimes wrong, a score per box, and a stray box now and then."""
    out: list[dict[str, Any]] = []
    for box in boxes:
        if box["type"] != "rectanglelabels" or rng.random() < 0.15:
            continue
        v = dict(box["value"])
        for k in ("x", "y", "width", "height"):
            v[k] = (
                max(0.5, v[k] + rng.gauss(0, 2.0))
                if k in ("width", "height")
                else v[k] + rng.gauss(0, 2.0)
            )
        if rng.random() < 0.1:
            v["rectanglelabels"] = [rng.choice(LABELS)]
        out.append({**box, "id": _rid(rng), "value": v, "score": round(rng.random(), 4)})
    if rng.random() < 0.5:
        stray = _boxes(rng, 1, with_choice=False)[0]
        stray["score"] = round(rng.random() * 0.5, 4)
        out.append(stray)
    return out


def make_task(
    rng: random.Random, task_id: int, counters: dict[str, int], matched: bool = False
) -> dict[str, Any]:
    annotations = []
    for _ in range(rng.choice([1, 1, 2, 2, 3])):
        counters["annotation"] += 1
        annotations.append(_annotation(rng, task_id, counters["annotation"], rng.random() < 0.08))
    predictions = []
    if rng.random() < 0.7:
        counters["prediction"] += 1
        kept = [a for a in annotations if not a["was_cancelled"]]
        latest = max(kept, key=lambda a: (a["updated_at"], a["id"])) if kept else None
        result = (
            _like(rng, latest["result"])
            if matched and latest
            else _boxes(rng, rng.randint(1, 3), with_choice=True)
        )
        created = _ts(rng)
        predictions.append(
            {
                "id": counters["prediction"],
                "result": result,
                "model_version": "yolo-v1",
                "created_ago": "0 minutes",
                "score": rng.random(),
                "cluster": None,
                "neighbors": None,
                "mislabeling": 0.0,
                "created_at": created,
                "updated_at": created,
                "model": None,
                "model_run": None,
                "task": task_id,
                "project": 3,
            }
        )
    drafts = []
    if rng.random() < 0.1:
        counters["draft"] += 1
        user = rng.choice(USERS)
        created = _ts(rng)
        drafts.append(
            {
                "id": counters["draft"],
                "user": user["email"],
                "created_username": f"{user['email']}, {user['id']}",
                "created_ago": "0 minutes",
                "result": [
                    {
                        "type": "choices",
                        "from_name": "quality",
                        "to_name": "image",
                        "value": {"choices": [rng.choice(["good", "bad"])]},
                    }
                ],
                "lead_time": 1.5,
                "was_postponed": False,
                "import_id": None,
                "created_at": created,
                "updated_at": created,
                "task": task_id,
                "annotation": None,
            }
        )
    created = _ts(rng)
    cancelled = sum(a["was_cancelled"] for a in annotations)
    return {
        "id": task_id,
        "annotations": annotations,
        "drafts": drafts,
        "predictions": predictions,
        "data": {
            "image": f"https://example.com/images/{task_id:07d}.jpg",
            "split": rng.choice(["train", "val", "test"]),
        },
        "meta": {"source": "bench"},
        "created_at": created,
        "updated_at": created,
        "allow_skip": True,
        "inner_id": task_id,
        "total_annotations": len(annotations) - cancelled,
        "cancelled_annotations": cancelled,
        "total_predictions": len(predictions),
        "comment_count": 0,
        "unresolved_comment_count": 0,
        "last_comment_updated_at": None,
        "project": 3,
        "updated_by": 1,
        "comment_authors": [],
    }


def generate(
    out: Path, size_mb: float, seed: int = 0, max_tasks: int | None = None, matched: bool = False
) -> dict[str, int]:
    """Write the export; ``matched`` makes each prediction a noisy copy of the task's last
    kept annotation's boxes (with a score per box) instead of random boxes."""
    rng = random.Random(seed)
    target = int(size_mb * 1_000_000)
    counters = {"annotation": 0, "prediction": 0, "draft": 0}
    written, tasks = 0, 0
    encode = json.JSONEncoder().encode
    with open(out, "w", encoding="utf-8") as fh:
        fh.write("[")
        written += 1
        parts: list[str] = []
        while written < target and (max_tasks is None or tasks < max_tasks):
            text = encode(make_task(rng, 1 + tasks, counters, matched))
            if tasks:
                text = ", " + text
            parts.append(text)
            written += len(text)
            tasks += 1
            if len(parts) >= 2000:
                fh.write("".join(parts))
                parts.clear()
        fh.write("".join(parts))
        fh.write("]")
    return {"tasks": tasks, "bytes": written + 1, **counters}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--size-mb", type=float, default=300.0)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--tasks", type=int, default=None, help="stop after this many tasks")
    p.add_argument(
        "--matched",
        action="store_true",
        help="predictions as noisy copies of the annotations' boxes",
    )
    args = p.parse_args(argv)
    t0 = time.perf_counter()
    stats = generate(args.out, args.size_mb, args.seed, args.tasks, args.matched)
    print(f"wrote {args.out}: {stats} in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
