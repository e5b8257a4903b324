"""A project to review: the demo project plus a model version whose every outcome is known.

``review-v1`` predicts on the demo tasks with index 2..10 (one reference annotation each,
two boxes): the first box copied (a true positive), the second moved a little (even
index: IoU 0.90) or more (odd index: IoU 0.54, a true positive with a low IoU), and a
``bird`` box where no reference box is (a false positive, score ``0.2 + index / 100``).
The demo's own ``demo-model-v1`` predictions (even tasks) are each one box overlapping a
reference box at IoU 0.25: false positives.
"""

from __future__ import annotations

from typing import Any

import ls_frames
from ls_frames.testing.seed import seed_demo_project

__all__ = ["REVIEW_TASKS", "fp_score", "seed_review_project"]

#: the demo task indexes review-v1 predicts on
REVIEW_TASKS = tuple(range(2, 11))
_LABELS = ("cat", "dog", "bird")


def fp_score(index: int) -> float:
    """The score of review-v1's false positive on the task of this index."""
    return round(0.2 + index / 100, 2)


def _box(x: float, y: float, w: float, h: float, label: str, score: float) -> dict[str, Any]:
    return {
        "from_name": "box",
        "to_name": "image",
        "type": "rectanglelabels",
        "original_width": 640,
        "original_height": 480,
        "score": score,
        "value": {
            "x": x,
            "y": y,
            "width": w,
            "height": h,
            "rotation": 0,
            "rectanglelabels": [label],
        },
    }


def review_predictions(task_ids: list[int]) -> list[dict[str, Any]]:
    """review-v1's predictions for the demo tasks ``task_ids`` (in index order)."""
    out = []
    for i in REVIEW_TASKS:
        shift = 1.0 if i % 2 == 0 else 6.0
        result = [
            _box(5.0, 10.0, 20.0, 25.5, _LABELS[i % 3], 0.9),
            _box(15.0 + shift, 15.0, 20.0, 25.5, _LABELS[(i + 1) % 3], 0.6),
            _box(70.0, 60.0, 15.0, 15.0, "bird", fp_score(i)),
        ]
        out.append({"task": task_ids[i], "result": result, "score": 0.5})
    return out


def seed_review_project(label_studio: Any, client: ls_frames.Client, title: str) -> dict[str, Any]:
    """The demo project with review-v1's predictions; seed_demo_project's dict."""
    demo = seed_demo_project(label_studio.url, label_studio.admin_key, title=title)
    ls_frames.import_predictions(
        demo["project_id"],
        review_predictions(demo["task_ids"]),
        model_version="review-v1",
        client=client,
        progress=False,
    )
    return demo
