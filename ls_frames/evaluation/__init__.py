"""What is computed from the tables to judge labels and models: :func:`evaluate` and
:func:`confusion` (predictions against annotations), :func:`compare_predictions`,
:func:`annotator_pivot`, :func:`agreement` and :func:`consensus` (annotators).
"""

import importlib as _importlib
from typing import TYPE_CHECKING as _TYPE_CHECKING
from typing import Any as _Any

if _TYPE_CHECKING:
    from ls_frames.evaluation.agreement import agreement, consensus
    from ls_frames.evaluation.comparison import compare_predictions
    from ls_frames.evaluation.pivot import annotator_pivot, iou
    from ls_frames.evaluation.scores import COCO_IOU_THRESHOLDS, confusion, evaluate

_LAZY = {
    "agreement": "ls_frames.evaluation.agreement",
    "consensus": "ls_frames.evaluation.agreement",
    "compare_predictions": "ls_frames.evaluation.comparison",
    "annotator_pivot": "ls_frames.evaluation.pivot",
    "iou": "ls_frames.evaluation.pivot",
    "COCO_IOU_THRESHOLDS": "ls_frames.evaluation.scores",
    "confusion": "ls_frames.evaluation.scores",
    "evaluate": "ls_frames.evaluation.scores",
}


def __getattr__(name: str) -> _Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'ls_frames.evaluation' has no attribute {name!r}")
    value = getattr(_importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "COCO_IOU_THRESHOLDS",
    "agreement",
    "annotator_pivot",
    "compare_predictions",
    "confusion",
    "consensus",
    "evaluate",
    "iou",
]
