"""What is computed from the tables to judge labels and models.

Public functions (also at the top level, ``ls_frames.evaluate`` and so on):
:func:`evaluate`, :func:`confusion` and :func:`pr_curve` (predictions scored against a
reference), :func:`reference_annotations` (the annotations used as the truth),
:func:`compare_predictions` (each prediction's results next to the reference's),
:func:`annotator_pivot`, :func:`agreement`, :func:`consensus` and :func:`annotator_quality`
(annotators), :func:`iou`.

Modules: :mod:`~ls_frames.evaluation.reference` (which annotation counts: the one chooser
every function here and the training sets use, and the ``reference=`` values),
:mod:`~ls_frames.evaluation.truth` (the reference's regions, the consensus included),
:mod:`~ls_frames.evaluation.merging` (box consensus), :mod:`~ls_frames.evaluation.results`
(a result row's values and geometry), :mod:`~ls_frames.evaluation.matching` (COCO-style
matching and average precision), :mod:`~ls_frames.evaluation.scores` (:func:`evaluate`),
:mod:`~ls_frames.evaluation.matrix` (:func:`confusion`), :mod:`~ls_frames.evaluation.curves`
(:func:`pr_curve`), :mod:`~ls_frames.evaluation.quality` (:func:`annotator_quality`),
:mod:`~ls_frames.evaluation.comparison`,
:mod:`~ls_frames.evaluation.pivot` (:func:`annotator_pivot`, :func:`iou`),
:mod:`~ls_frames.evaluation.kappa` (Cohen, Fleiss, Krippendorff),
:mod:`~ls_frames.evaluation.agreement` and :mod:`~ls_frames.evaluation.review` (task ids
to review: lowest scores, disagreement, prediction errors). They read tables
(:mod:`ls_frames.tables`) and geometry (:mod:`ls_frames.geometry`), never the training
layer.
"""

from typing import TYPE_CHECKING as _TYPE_CHECKING

from ls_frames._lazy import attach as _attach

if _TYPE_CHECKING:
    from ls_frames.evaluation.agreement import agreement, consensus
    from ls_frames.evaluation.comparison import compare_predictions
    from ls_frames.evaluation.curves import pr_curve
    from ls_frames.evaluation.matrix import confusion
    from ls_frames.evaluation.pivot import annotator_pivot, iou
    from ls_frames.evaluation.quality import annotator_quality
    from ls_frames.evaluation.reference import reference_annotations
    from ls_frames.evaluation.scores import COCO_IOU_THRESHOLDS, evaluate

_LAZY = {
    "agreement": "ls_frames.evaluation.agreement",
    "consensus": "ls_frames.evaluation.agreement",
    "compare_predictions": "ls_frames.evaluation.comparison",
    "annotator_pivot": "ls_frames.evaluation.pivot",
    "iou": "ls_frames.evaluation.pivot",
    "COCO_IOU_THRESHOLDS": "ls_frames.evaluation.scores",
    "annotator_quality": "ls_frames.evaluation.quality",
    "confusion": "ls_frames.evaluation.matrix",
    "evaluate": "ls_frames.evaluation.scores",
    "pr_curve": "ls_frames.evaluation.curves",
    "reference_annotations": "ls_frames.evaluation.reference",
}


__getattr__, __dir__ = _attach(__name__, _LAZY)


__all__ = [
    "COCO_IOU_THRESHOLDS",
    "agreement",
    "annotator_pivot",
    "annotator_quality",
    "compare_predictions",
    "confusion",
    "consensus",
    "evaluate",
    "iou",
    "pr_curve",
    "reference_annotations",
]
