"""What is computed from the tables to judge labels and models.

Public functions (also at the top level, ``ls_frames.evaluate`` and so on):
:func:`evaluate` and :func:`confusion` (predictions scored against a reference annotation),
:func:`compare_predictions` (each prediction's results next to the annotations'),
:func:`annotator_pivot`, :func:`agreement` and :func:`consensus` (annotators), :func:`iou`.

Modules: :mod:`~ls_frames.evaluation.reference` (which annotation counts: the one chooser
every function here and the training sets use), :mod:`~ls_frames.evaluation.results`
(a result row's values and geometry), :mod:`~ls_frames.evaluation.matching` (COCO-style
matching and average precision), :mod:`~ls_frames.evaluation.scores` (:func:`evaluate`,
:func:`confusion`), :mod:`~ls_frames.evaluation.comparison`,
:mod:`~ls_frames.evaluation.pivot` (:func:`annotator_pivot`, :func:`iou`),
:mod:`~ls_frames.evaluation.kappa` (Cohen, Fleiss, Krippendorff) and
:mod:`~ls_frames.evaluation.agreement`. They read tables (:mod:`ls_frames.tables`) and
geometry (:mod:`ls_frames.geometry`), never the training layer.
"""

from typing import TYPE_CHECKING as _TYPE_CHECKING

from ls_frames._lazy import attach

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


__getattr__, __dir__ = attach(__name__, _LAZY)


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
