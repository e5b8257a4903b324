"""Agreement, consensus and splits side by side with what a user writes today, in one run.

A generated export (``--tasks`` tasks, five annotators answering 80% of them, a choice and
one or two boxes each) is read once; then each side runs in a forked child (which shares
the tables already built), timed, with the growth of its peak resident memory over what it
started with:

* Cohen's kappa for every annotator pair: ``ls_frames.agreement`` versus
  ``annotator_pivot`` + scikit-learn's ``cohen_kappa_score`` pair by pair;
* Krippendorff's alpha: ``ls_frames.agreement`` versus ``annotator_pivot`` + the
  ``krippendorff`` package;
* mean IoU of matched boxes per pair: ``ls_frames.agreement(method="iou")`` versus a loop
  over tasks and pairs with the IoU of every two boxes and a greedy match in Python;
* majority vote: ``ls_frames.consensus`` versus ``annotator_pivot`` + ``mode`` per row;
* a grouped split: ``ls_frames.split`` versus scikit-learn's ``GroupShuffleSplit`` (which
  is not stable when the project grows).

Usage::

    python benchmarks/bench_agreement.py --tasks 5000
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import random
import time
from collections.abc import Callable
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import ls_frames

LABELS = ("pos", "neg", "neutral")
CONFIG = """<View><Image name="image" value="$image"/>
<Choices name="sentiment" toName="image"><Choice value="pos"/><Choice value="neg"/>
<Choice value="neutral"/></Choices>
<RectangleLabels name="box" toName="image"><Label value="cat"/></RectangleLabels></View>"""


def export(n_tasks: int, seed: int = 0) -> bytes:
    rng = random.Random(seed)
    tasks, aid = [], 0
    for tid in range(1, n_tasks + 1):
        truth = rng.choice(LABELS)
        x, y = rng.uniform(0, 60), rng.uniform(0, 60)
        annotations = []
        for user in range(1, 6):
            if rng.random() < 0.2:
                continue
            aid += 1
            label = truth if rng.random() < 0.7 else rng.choice(LABELS)
            boxes = [
                {
                    "id": f"b{k}",
                    "from_name": "box",
                    "to_name": "image",
                    "type": "rectanglelabels",
                    "value": {
                        "x": x + 30 * k + rng.uniform(-3, 3),
                        "y": y + rng.uniform(-3, 3),
                        "width": 20,
                        "height": 20,
                        "rectanglelabels": ["cat"],
                    },
                }
                for k in range(rng.choice((1, 2)))
            ]
            annotations.append(
                {
                    "id": aid,
                    "completed_by": {"id": user, "email": f"u{user}@example.org"},
                    "was_cancelled": False,
                    "ground_truth": False,
                    "result": [
                        {
                            "id": "c",
                            "from_name": "sentiment",
                            "to_name": "image",
                            "type": "choices",
                            "value": {"choices": [label]},
                        },
                        *boxes,
                    ],
                }
            )
        tasks.append(
            {
                "id": tid,
                "data": {"image": f"{tid}.png", "site": f"s{tid % 400}"},
                "annotations": annotations,
            }
        )
    return json.dumps(tasks).encode()


def _status(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024  # kB -> MiB
    return float("nan")


def _child(fn: Callable[[], Any], queue: Any) -> None:
    before = _status("VmRSS")
    started = time.perf_counter()
    result = fn()
    seconds = time.perf_counter() - started
    queue.put((seconds, _status("VmHWM") - before, result))


def measure(fn: Callable[[], Any]) -> tuple[float, float, Any]:
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    process = context.Process(target=_child, args=(fn, queue))
    process.start()
    got = queue.get()
    process.join()
    return got  # type: ignore[no-any-return]


# -- what a user writes today -------------------------------------------------------------
def user_cohen(frames: ls_frames.Frames) -> dict[tuple[str, str], float]:
    from sklearn.metrics import cohen_kappa_score

    pivot = ls_frames.annotator_pivot(frames, "sentiment").astype(object)
    out = {}
    for a, b in combinations(pivot.columns, 2):
        both = pivot[[a, b]].dropna()
        out[(a, b)] = cohen_kappa_score(both[a].astype(str), both[b].astype(str))
    return out


def user_alpha(frames: ls_frames.Frames) -> float:
    import krippendorff

    pivot = ls_frames.annotator_pivot(frames, "sentiment").astype(object)
    codes = {label: i for i, label in enumerate(LABELS)}
    data = pivot.apply(lambda col: col.map(codes)).to_numpy(float).T
    return float(krippendorff.alpha(reliability_data=data, level_of_measurement="nominal"))


def _iou(a: Any, b: Any) -> float:
    iw = min(a.x + a.width, b.x + b.width) - max(a.x, b.x)
    ih = min(a.y + a.height, b.y + b.height) - max(a.y, b.y)
    if iw <= 0 or ih <= 0:
        return 0.0
    inter = iw * ih
    iou: float = inter / (a.width * a.height + b.width * b.height - inter)
    return iou


def user_iou(frames: ls_frames.Frames) -> dict[tuple[str, str], float]:
    ann = frames.annotations.set_index("annotation_id")["completed_by_email"]
    boxes = frames.regions[frames.regions["from_name"] == "box"]
    sums: dict[tuple[str, str], list[float]] = {}
    for _, task in boxes.groupby("task_id"):
        people = {ann[s]: list(g.itertuples()) for s, g in task.groupby("source_id")}
        for a, b in combinations(sorted(people), 2):
            scored = sorted(
                (
                    (_iou(p, q), i, j)
                    for i, p in enumerate(people[a])
                    for j, q in enumerate(people[b])
                ),
                reverse=True,
            )
            used_a, used_b = set(), set()
            for score, i, j in scored:
                if score > 0 and i not in used_a and j not in used_b:
                    used_a.add(i)
                    used_b.add(j)
                    sums.setdefault((a, b), []).append(score)
    return {k: float(np.mean(v)) for k, v in sums.items()}


def user_majority(frames: ls_frames.Frames) -> pd.Series:
    pivot = ls_frames.annotator_pivot(frames, "sentiment").astype(object)
    majority: pd.Series = pivot.apply(lambda row: row.dropna().mode().tolist(), axis=1)
    return majority


def user_split(frames: ls_frames.Frames) -> Any:
    from sklearn.model_selection import GroupShuffleSplit

    tasks = frames.tasks
    splitter = GroupShuffleSplit(n_splits=1, test_size=0.2, random_state=0)
    return next(splitter.split(tasks, groups=tasks["data.site"].to_numpy()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=5_000)
    args = parser.parse_args()
    # the reference libraries are imported before the sides fork: imports are not timed
    import krippendorff  # noqa: F401
    import sklearn.metrics
    import sklearn.model_selection  # noqa: F401

    raw = export(args.tasks)
    frames = ls_frames.read_export(raw, label_config=CONFIG, progress=False)
    for table in ("tasks", "annotations", "regions"):
        frames[table]  # built once, outside the timings
    print(
        f"{args.tasks:,} tasks, {len(frames.annotations):,} annotations, "
        f"{len(frames.regions):,} regions, 5 annotators\n"
    )
    sides = [
        (
            "cohen, every pair",
            lambda: ls_frames.agreement(frames, "sentiment"),
            lambda: user_cohen(frames),
            "pivot + sklearn per pair",
        ),
        (
            "krippendorff alpha",
            lambda: ls_frames.agreement(frames, "sentiment", method="krippendorff"),
            lambda: user_alpha(frames),
            "pivot + krippendorff",
        ),
        (
            "box IoU per pair",
            lambda: ls_frames.agreement(frames, "box", method="iou"),
            lambda: user_iou(frames),
            "Python loop per task and pair",
        ),
        (
            "majority vote",
            lambda: ls_frames.consensus(frames, "sentiment"),
            lambda: user_majority(frames),
            "pivot + mode per row",
        ),
        (
            "grouped split",
            lambda: ls_frames.split(frames, {"train": 0.8, "test": 0.2}, by="data.site"),
            lambda: user_split(frames),
            "sklearn GroupShuffleSplit",
        ),
    ]
    print(
        f"{'what':<20} {'ls_frames s':>11} {'+MiB':>7} {'user s':>8} {'+MiB':>7} {'ratio':>6}  user side"
    )
    for what, ours, theirs, label in sides:
        t_ours, m_ours, got = measure(ours)
        t_user, m_user, want = measure(theirs)
        if what == "cohen, every pair":
            for row in got.itertuples():
                assert abs(row.score - want[(row.annotator_a, row.annotator_b)]) < 1e-9
        if what == "krippendorff alpha":
            assert abs(got["score"].iloc[0] - want) < 1e-9
        if what == "box IoU per pair":
            for row in got.itertuples():
                assert abs(row.score - want[(row.annotator_a, row.annotator_b)]) < 1e-9
        print(
            f"{what:<20} {t_ours:>11.2f} {m_ours:>7.1f} {t_user:>8.2f} {m_user:>7.1f} "
            f"{t_user / t_ours:>5.1f}x  {label}"
        )


if __name__ == "__main__":
    main()
