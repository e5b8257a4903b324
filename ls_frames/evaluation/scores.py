"""Model evaluation: predictions scored against a reference annotation per task.

:func:`evaluate` gives one row per label (plus ``"all"``) and model version: counts at an
IoU threshold and, for scored regions, COCO's average precision and recall, computed the
way pycocotools' ``COCOeval`` computes them (greedy matching by score, 101-point
interpolated precision, at most 100 detections per image and label). :func:`confusion`
cross-tabulates a choice control.

What is compared, per task:

* the **reference** is one annotation: the last one not skipped (latest ``updated_at``,
  then highest id), or with ``ground_truth_only=True`` the last ground-truth one (tasks
  without one are left out): :func:`~ls_frames.evaluation.reference.reference_annotations`
  with the policy ``"latest"`` or ``"ground_truth"``;
* what is **evaluated** are the predictions, per ``model_version`` (``""`` when the
  prediction has none); a task counts for a model version when it has a reference and a
  prediction of that version (a prediction without results for this control predicted
  nothing: its reference regions are misses).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ls_frames.errors import ConfigurationError
from ls_frames.evaluation.matching import choice_rows, detection_rows
from ls_frames.evaluation.reference import reference_annotations
from ls_frames.evaluation.results import region_geometry, region_values, require_from_name
from ls_frames.reading.controls import CHOICE_TYPES, POLYGON_TYPES, RECTANGLE_TYPES, SPAN_TYPES
from ls_frames.tables.frames import Frames

__all__ = ["COCO_IOU_THRESHOLDS", "confusion", "evaluate"]

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


def _reference(frames: Frames, ground_truth_only: bool) -> pd.Series:
    """annotation_id of the reference annotation, indexed by task_id: the one updated
    last (of the ground-truth ones with ``ground_truth_only``)."""
    return reference_annotations(frames, "ground_truth" if ground_truth_only else "latest")


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


def _kind(types: Iterable[Any], from_name: str) -> str:
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


def evaluate(
    frames: Frames,
    from_name: str,
    *,
    iou_thresholds: Sequence[float] | None = None,
    ground_truth_only: bool = False,
    model_version: str | Iterable[str] | None = None,
) -> pd.DataFrame:
    """Score the predictions of one control against the annotations, per model version.

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
    ground_truth_only
        Take the reference from ground-truth annotations only.
    model_version
        Evaluate only these model versions (all by default).

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
        ``from_name`` is not a control of the frames, a ``model_version`` has no
        predictions, the control's results are of a type evaluate does not handle, or a
        threshold is outside (0, 1].
    """
    require_from_name(frames, from_name)
    thresholds = tuple(COCO_IOU_THRESHOLDS if iou_thresholds is None else iou_thresholds)
    if not thresholds or not all(0 < t <= 1 for t in thresholds):
        raise ConfigurationError(f"iou_thresholds must be in (0, 1], not {thresholds!r}")
    reference = _reference(frames, ground_truth_only)
    predictions = _versions(frames, model_version)
    regions = frames.regions
    mask = (regions["from_name"].astype(object) == from_name).to_numpy(bool).copy()
    mask &= regions["task_id"].notna().to_numpy(bool) & regions["source_id"].notna().to_numpy(bool)
    source = regions["source"].astype(object).to_numpy(object)
    is_ref = (
        mask
        & (source == "annotation")
        & regions["source_id"].isin(reference.to_numpy()).to_numpy(bool)
    )
    is_pred = (
        mask
        & (source == "prediction")
        & regions["source_id"].isin(predictions["prediction_id"]).to_numpy(bool)
    )
    used = regions[is_ref | is_pred].reset_index(drop=True)
    kind = _kind(pd.unique(used["type"].astype(object)), from_name) if len(used) else "choice"
    if kind == "choice" and frames.label_config is not None:
        control = frames.label_config.by_name().get(from_name)
        if control is not None and control.type not in CHOICE_TYPES:
            kind = _kind([control.type], from_name)
    _, geo, span_key = region_geometry(used)
    rows = []
    for version, preds in predictions.groupby("model_version", sort=True):
        tasks = np.intersect1d(
            preds["task_id"].to_numpy(np.int64), reference.index.to_numpy(np.int64)
        )
        ref_ids = reference.reindex(tasks).to_numpy(np.int64)
        pred_score = preds.set_index("prediction_id")["score"]
        pred_ids = preds.loc[preds["task_id"].isin(tasks), "prediction_id"].to_numpy(np.int64)
        src = used["source"].astype(object).to_numpy(object)
        sid = used["source_id"].to_numpy(np.int64)
        gt = used[(src == "annotation") & np.isin(sid, ref_ids)]
        dt = used[(src == "prediction") & np.isin(sid, pred_ids)]
        if kind == "choice":
            table = choice_rows(gt, dt, tasks)
        else:
            table = detection_rows(gt, dt, pred_score, kind, thresholds, geo, span_key)
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


def confusion(
    frames: Frames,
    from_name: str,
    *,
    ground_truth_only: bool = False,
    model_version: str | None = None,
) -> pd.DataFrame:
    """Confusion matrix of a choice control: reference (rows, ``annotated``) against
    prediction (columns, ``predicted``), counting tasks.

    The reference and the tasks compared are those of :func:`evaluate`. A cell label is
    the task's choice (several sorted and joined with ``"|"``), ``"(none)"`` when one side
    has no result for the control. Labels follow the label config's order when known.

    Parameters
    ----------
    frames
        The tables of an export.
    from_name
        A ``Choices`` (or ``Taxonomy``) control.
    ground_truth_only
        Take the reference from ground-truth annotations only.
    model_version
        The model version (needed when the predictions hold several).

    Returns
    -------
    pandas.DataFrame
        A DataFrame of counts (``int64``), every label on both axes.

    Raises
    ------
    ConfigurationError
        ``from_name`` is not a control of the frames or not a choice control, or several
        model versions are present and none was chosen.
    """
    require_from_name(frames, from_name)
    predictions = _versions(frames, model_version)
    held = sorted(set(predictions["model_version"]))
    if len(held) > 1:
        raise ConfigurationError(
            f"the predictions hold several model versions {held}; pass model_version="
        )
    reference = _reference(frames, ground_truth_only)
    regions = frames.regions
    mine = regions[(regions["from_name"].astype(object) == from_name).to_numpy(bool)]
    if len(mine) and _kind(pd.unique(mine["type"].astype(object)), from_name) != "choice":
        raise ConfigurationError(f"confusion needs a choice control; {from_name!r} has regions")
    tasks = np.intersect1d(
        predictions["task_id"].to_numpy(np.int64), reference.index.to_numpy(np.int64)
    )
    source = mine["source"].astype(object).to_numpy(object)
    gt = mine[
        (source == "annotation") & mine["source_id"].isin(reference.reindex(tasks)).to_numpy(bool)
    ]
    dt = mine[
        (source == "prediction")
        & mine["source_id"].isin(predictions["prediction_id"]).to_numpy(bool)
        & mine["task_id"].isin(tasks).to_numpy(bool)
    ]

    def cells(frame: pd.DataFrame) -> dict[int, str]:
        out: dict[int, set[str]] = {}
        for task, values in zip(
            frame["task_id"].to_numpy(np.int64), region_values(frame), strict=True
        ):
            out.setdefault(int(task), set()).update(values)
        return {k: "|".join(sorted(v)) for k, v in out.items()}

    ref, pred = cells(gt), cells(dt)
    compared = [int(t) for t in tasks if int(t) in ref or int(t) in pred]
    actual = [ref.get(t, "(none)") for t in compared]
    guessed = [pred.get(t, "(none)") for t in compared]
    config = frames.label_config
    control = config.by_name().get(from_name) if config is not None else None
    known = list(control.values) if control is not None else []
    seen = sorted(set(actual) | set(guessed) - set(known) - {"(none)"})
    labels = [*known, *[s for s in seen if s not in known]]
    if "(none)" in actual or "(none)" in guessed:
        labels.append("(none)")
    table = pd.crosstab(
        pd.Categorical(actual, categories=labels),
        pd.Categorical(guessed, categories=labels),
        dropna=False,
    )
    table = table.reindex(index=labels, columns=labels, fill_value=0).astype("int64")
    table.index.name, table.columns.name = "annotated", "predicted"
    matrix: pd.DataFrame = table
    return matrix
