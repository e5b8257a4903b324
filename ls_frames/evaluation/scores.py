"""Model evaluation: predictions scored against a reference annotation per task.

:func:`evaluate` gives one row per label (plus ``"all"``) and model version: counts at an
IoU threshold and, for scored regions, COCO's average precision and recall, computed the
way pycocotools' ``COCOeval`` computes them (greedy matching by score, 101-point
interpolated precision, at most 100 detections per image and label). :func:`confusion`
(:mod:`~ls_frames.evaluation.matrix`) cross-tabulates a control, and :func:`pr_curve`
(:mod:`~ls_frames.evaluation.curves`) gives the points of the precision-recall curves.

What is compared, per task:

* the **reference** is chosen by ``reference=`` (:mod:`~ls_frames.evaluation.reference`):
  by default the ground-truth annotation, else the latest one not skipped (latest
  ``updated_at``, then highest id); ``"latest"``, ``"consensus"`` or one annotator on
  request (:func:`~ls_frames.evaluation.truth.reference_regions`);
* what is **evaluated** are the predictions, per ``model_version`` (``""`` when the
  prediction has none); a task counts for a model version when it has a reference and a
  prediction of that version (a prediction without results for this control predicted
  nothing: its reference regions are misses).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from ls_frames.errors import ConfigurationError
from ls_frames.evaluation.matching import choice_rows, detection_rows
from ls_frames.evaluation.reference import Reference
from ls_frames.evaluation.results import region_geometry, require_from_name
from ls_frames.evaluation.truth import reference_regions, resolve_reference
from ls_frames.reading.controls import CHOICE_TYPES, POLYGON_TYPES, RECTANGLE_TYPES, SPAN_TYPES
from ls_frames.tables.frames import Frames

__all__ = [
    "COCO_IOU_THRESHOLDS",
    "Compared",
    "compared_rows",
    "control_kind",
    "evaluate",
    "result_kind",
    "stack_rows",
]

COCO_IOU_THRESHOLDS: tuple[float, ...] = tuple(np.linspace(0.5, 0.95, 10).tolist())
_COLUMNS = (
    "model_version",
    "label",
    "tasks",
    "tp",
    "fp",
    "fn",
    "precision",
    "recall",
    "f1",
    "accuracy",
    "ap",
    "ap50",
    "ap75",
    "ar",
)


def _versions(frames: Frames, model_version: str | Iterable[str] | None) -> pd.DataFrame:
    """prediction_id, task_id, model_version, score of the predictions to evaluate."""
    pred = frames.predictions[["prediction_id", "task_id", "model_version", "score"]].copy()
    pred["model_version"] = (
        pred["model_version"].astype(object).where(pred["model_version"].notna(), "").astype(str)
    )
    pred = pred[pred["task_id"].notna().to_numpy(bool)]
    if model_version is not None:
        wanted = [model_version] if isinstance(model_version, str) else list(model_version)
        held = sorted(set(pred["model_version"]))
        missing = [v for v in wanted if v not in held]
        if missing:
            raise ConfigurationError(
                f"no predictions of model_version {missing}; the frames hold {held}"
            )
        pred = pred[pred["model_version"].isin(wanted).to_numpy(bool)]
    chosen: pd.DataFrame = pred
    return chosen


def control_kind(frames: Frames, from_name: str, rows: pd.DataFrame) -> str:
    """:func:`result_kind` of ``rows`` (results of ``from_name``), else of the control's
    type in the label config (``"choice"`` when neither says)."""
    kind = result_kind(pd.unique(rows["type"].astype(object)), from_name) if len(rows) else "choice"
    if kind == "choice" and frames.label_config is not None:
        control = frames.label_config.by_name().get(from_name)
        if control is not None and control.type not in CHOICE_TYPES:
            kind = result_kind([control.type], from_name)
    return kind


def result_kind(types: Iterable[Any], from_name: str) -> str:
    """``"box"``, ``"polygon"``, ``"span"`` or ``"choice"`` for these result types."""
    found = {str(t) for t in types if t is not None and t is not pd.NA}
    for kind, allowed in (
        ("box", RECTANGLE_TYPES),
        ("polygon", POLYGON_TYPES),
        ("span", SPAN_TYPES),
        ("choice", CHOICE_TYPES),
    ):
        if found and found <= allowed:
            return kind
    raise ConfigurationError(
        f"evaluate handles rectangles, polygons, spans and choices; {from_name!r} has "
        f"results of type {sorted(found)}"
    )


@dataclass(frozen=True)
class Compared:
    """The rows one control is scored on: the reference rows first, then the predictions'.

    ``rows`` has the columns of ``frames.regions`` (index 0..n-1), ``is_ref`` marks the
    reference rows, ``tasks`` holds the task ids that have a reference, ``predictions``
    the predictions evaluated (``prediction_id, task_id, model_version, score``), ``kind``
    is :func:`result_kind`'s, ``geo`` and ``span_key`` are
    :func:`~ls_frames.evaluation.results.region_geometry`'s for ``rows``."""

    rows: pd.DataFrame
    is_ref: NDArray[np.bool_]
    tasks: NDArray[np.int64]
    predictions: pd.DataFrame
    kind: str
    geo: NDArray[np.float64]
    span_key: NDArray[Any]

    def version(self, preds: pd.DataFrame) -> tuple[NDArray[np.int64], pd.DataFrame, pd.DataFrame]:
        """The tasks compared for one model version's predictions ``preds``, their reference
        rows and their predicted rows."""
        tasks = np.intersect1d(preds["task_id"].to_numpy(np.int64), self.tasks)
        pred_ids = preds.loc[preds["task_id"].isin(tasks), "prediction_id"].to_numpy(np.int64)
        task = self.rows["task_id"].to_numpy(np.int64)
        sid = self.rows["source_id"].to_numpy(np.int64)
        gt = self.rows[self.is_ref & np.isin(task, tasks)]
        dt = self.rows[~self.is_ref & np.isin(sid, pred_ids)]
        return tasks, gt, dt


def stack_rows(first: pd.DataFrame, second: pd.DataFrame) -> pd.DataFrame:
    """``first`` then ``second``, index 0..n-1 (no concatenation with an empty frame)."""
    if not len(first) or not len(second):
        alone: pd.DataFrame = second if len(second) or not len(first) else first
        reset: pd.DataFrame = alone.reset_index(drop=True)
        return reset
    stacked: pd.DataFrame = pd.concat([first, second], ignore_index=True)
    return stacked


def compared_rows(
    frames: Frames,
    from_name: str,
    reference: Reference,
    *,
    strict: bool = False,
    model_version: str | Iterable[str] | None = None,
) -> Compared:
    """The reference and predicted rows of ``from_name`` (:class:`Compared`)."""
    tasks, ref_rows = reference_regions(frames, from_name, reference, strict=strict)
    predictions = _versions(frames, model_version)
    regions = frames.regions
    mask = (regions["from_name"].astype(object) == from_name).to_numpy(bool).copy()
    mask &= regions["task_id"].notna().to_numpy(bool) & regions["source_id"].notna().to_numpy(bool)
    mask &= (regions["source"].astype(object) == "prediction").to_numpy(bool)
    mask &= regions["source_id"].isin(predictions["prediction_id"]).to_numpy(bool)
    ref_rows = ref_rows[ref_rows["task_id"].notna().to_numpy(bool)]
    used = stack_rows(ref_rows, regions[mask])
    is_ref = np.arange(len(used)) < len(ref_rows)
    kind = control_kind(frames, from_name, used)
    _, geo, span_key = region_geometry(used)
    return Compared(used, is_ref, tasks.to_numpy(np.int64), predictions, kind, geo, span_key)


def evaluate(
    frames: Frames,
    from_name: str,
    *,
    iou_thresholds: Sequence[float] | None = None,
    reference: Reference = "ground_truth",
    model_version: str | Iterable[str] | None = None,
    ground_truth_only: bool | None = None,
) -> pd.DataFrame:
    """Score the predictions of one control against the reference, per model version.

    Regions (rectangles, polygons, text and other spans) are matched like pycocotools'
    ``COCOeval`` matches detections: per task and label, predicted regions by descending
    score each take the unmatched reference region of highest IoU at or above the
    threshold (IoU > 0 always). Rectangles are compared with their rotation, in pixels
    when the image size is known; polygons by the boxes that enclose them; spans by their
    offsets. A region's score is its own ``score``, else its prediction's. Choices (and
    taxonomy) are compared per task, label by label.

    Parameters
    ----------
    frames
        The tables of an export.
    from_name
        The control to evaluate.
    iou_thresholds
        The IoU thresholds ``ap`` and ``ar`` average over (COCO's 0.50, 0.55, ..., 0.95 by
        default). ``tp``, ``fp``, ``fn``, ``precision``, ``recall`` and ``f1`` are counted
        at the first (0.5 by default).
    reference
        What each task is judged by: ``"ground_truth"`` (the default: the ground-truth
        annotation, else the latest), ``"latest"``, ``"consensus"`` (the majority choice;
        for rectangles the merged boxes more than half the annotators drew, label not
        tied) or one annotator by email or user id
        (:func:`~ls_frames.reference_annotations` shows the annotations chosen).
    model_version
        Evaluate only these model versions (all by default).
    ground_truth_only
        Deprecated: use ``reference``. ``True`` keeps only the tasks that have a
        ground-truth annotation and judges them by it.

    Returns
    -------
    pandas.DataFrame
        One row per model version and label, then ``label == "all"`` for the version:
        ``model_version, label, tasks`` (tasks evaluated), ``tp, fp, fn, precision,
        recall, f1``; ``accuracy`` for choices (per label: tasks where the label is rightly
        present or absent; ``all``: tasks whose whole set of choices is right); for
        scored regions ``ap`` (mean over ``iou_thresholds``), ``ap50``, ``ap75``, ``ar``
        (COCO's average recall at 100 detections). For rectangles these equal
        ``COCOeval``'s stats on the same boxes (``all``: its overall stats, a label:
        ``COCOeval`` restricted to that category). ``ap`` is missing for a label no
        reference holds, and for all labels when a region has no score. ``all`` sums the
        counts over labels; its ``ap`` and ``ar`` average the labels that have reference
        regions, as COCO does.

    Raises
    ------
    ConfigurationError
        ``from_name`` is not a control of the frames, an unknown ``reference`` (or an
        annotator nobody is), a ``model_version`` without predictions, results of a type
        evaluate does not handle, or a threshold outside (0, 1].
    """
    require_from_name(frames, from_name)
    reference, strict = resolve_reference(frames, reference, ground_truth_only, "evaluate")
    thresholds = tuple(COCO_IOU_THRESHOLDS if iou_thresholds is None else iou_thresholds)
    if not thresholds or not all(0 < t <= 1 for t in thresholds):
        raise ConfigurationError(f"iou_thresholds must be in (0, 1], not {thresholds!r}")
    seen = compared_rows(frames, from_name, reference, strict=strict, model_version=model_version)
    rows = []
    for version, preds in seen.predictions.groupby("model_version", sort=True):
        tasks, gt, dt = seen.version(preds)
        if seen.kind == "choice":
            table = choice_rows(gt, dt, tasks)
        else:
            pred_score = preds.set_index("prediction_id")["score"]
            table = detection_rows(
                gt, dt, pred_score, seen.kind, thresholds, seen.geo, seen.span_key
            )
        table.insert(0, "model_version", str(version))
        table.insert(2, "tasks", len(tasks))
        rows.append(table)
    out = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=list(_COLUMNS))
    return _typed(out, frames, from_name)


def _typed(out: pd.DataFrame, frames: Frames, from_name: str) -> pd.DataFrame:
    out = out.reindex(columns=list(_COLUMNS))
    for column in ("tasks", "tp", "fp", "fn"):
        out[column] = pd.array(
            out[column].astype(object).where(out[column].notna(), None), dtype="Int64"
        )
    for column in ("precision", "recall", "f1", "accuracy", "ap", "ap50", "ap75", "ar"):
        out[column] = pd.to_numeric(out[column].astype(object), errors="coerce").astype("Float64")
    out["model_version"] = out["model_version"].astype("string")
    # labels in config order, then the others sorted, "all" last
    config = frames.label_config
    control = config.by_name().get(from_name) if config is not None else None
    known = list(control.values) if control is not None else []
    rank = {label: i for i, label in enumerate(known)}
    order = [
        (str(v), 2 if lab == "all" else 1 if lab not in rank else 0, rank.get(lab, 0), lab)
        for v, lab in zip(out["model_version"], out["label"].astype(str), strict=True)
    ]
    out = out.iloc[sorted(range(len(out)), key=order.__getitem__)].reset_index(drop=True)
    out["label"] = out["label"].astype("string")
    return out
