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
from numpy.typing import NDArray

from ls_frames.errors import ConfigurationError
from ls_frames.evaluation.reference import reference_annotations
from ls_frames.evaluation.results import region_geometry, region_values, require_from_name
from ls_frames.geometry.overlap import paired_box_iou, paired_span_iou
from ls_frames.reading.controls import CHOICE_TYPES, POLYGON_TYPES, RECTANGLE_TYPES, SPAN_TYPES
from ls_frames.tables.frames import Frames

__all__ = ["COCO_IOU_THRESHOLDS", "confusion", "evaluate"]

COCO_IOU_THRESHOLDS: tuple[float, ...] = tuple(np.linspace(0.5, 0.95, 10).tolist())
_RECALL_POINTS = np.linspace(0.0, 1.00, 101)
_MAX_DETECTIONS = 100
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
            table = _choices(gt, dt, tasks)
        else:
            table = _detections(gt, dt, pred_score, kind, thresholds, geo, span_key)
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


def _counts(tp: int, fp: int, fn: int) -> dict[str, Any]:
    precision = tp / (tp + fp) if tp + fp else np.nan
    recall = tp / (tp + fn) if tp + fn else np.nan
    f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else np.nan
    return {"tp": tp, "fp": fp, "fn": fn, "precision": precision, "recall": recall, "f1": f1}


def _labels(frame: pd.DataFrame) -> NDArray[Any]:
    return np.array([v[0] if v else "" for v in region_values(frame)], dtype=object)


def _choices(gt: pd.DataFrame, dt: pd.DataFrame, tasks: NDArray[np.int64]) -> pd.DataFrame:
    def sets(frame: pd.DataFrame) -> dict[int, frozenset[str]]:
        out: dict[int, set[str]] = {}
        for task, values in zip(
            frame["task_id"].to_numpy(np.int64), region_values(frame), strict=True
        ):
            out.setdefault(int(task), set()).update(values)
        return {k: frozenset(v) for k, v in out.items()}

    ref, pred = sets(gt), sets(dt)
    compared = [int(t) for t in tasks if int(t) in ref or int(t) in pred]
    labels = sorted(set().union(*ref.values(), *pred.values()))
    rows = []
    empty: frozenset[str] = frozenset()
    for label in labels:
        has_r = np.array([label in ref.get(t, empty) for t in compared], bool)
        has_p = np.array([label in pred.get(t, empty) for t in compared], bool)
        row = {
            "label": label,
            **_counts(
                int((has_r & has_p).sum()), int((~has_r & has_p).sum()), int((has_r & ~has_p).sum())
            ),
        }
        row["accuracy"] = float((has_r == has_p).mean()) if compared else np.nan
        rows.append(row)
    total = _counts(
        sum(r["tp"] for r in rows), sum(r["fp"] for r in rows), sum(r["fn"] for r in rows)
    )
    exact = [ref.get(t, empty) == pred.get(t, empty) for t in compared]
    total["accuracy"] = float(np.mean(exact)) if compared else np.nan
    rows.append({"label": "all", **total})
    result: pd.DataFrame = pd.DataFrame(rows)
    return result


def _detections(
    gt: pd.DataFrame,
    dt: pd.DataFrame,
    pred_score: pd.Series,
    kind: str,
    thresholds: tuple[float, ...],
    geo: NDArray[np.float64],
    span_key: NDArray[Any],
) -> pd.DataFrame:
    """Rows per label and ``all``; ``geo`` and ``span_key`` (of :func:`region_geometry`)
    are indexed by the frames' index."""
    all_t = tuple(dict.fromkeys((*thresholds, 0.5, 0.75)))
    g_task, d_task = gt["task_id"].to_numpy(np.int64), dt["task_id"].to_numpy(np.int64)
    g_label, d_label = _labels(gt), _labels(dt)
    score = dt["score"].to_numpy(np.float64, na_value=np.nan)
    fallback = pred_score.reindex(dt["source_id"].to_numpy(np.int64)).to_numpy(
        np.float64, na_value=np.nan
    )
    score = np.where(np.isnan(score), fallback, score)
    scored = not np.isnan(score).any()
    score = np.nan_to_num(score, nan=0.0)
    # detections by image and label, best score first, then in result order
    d_order = np.lexsort(
        (
            dt["result_index"].to_numpy(np.int64, na_value=0),
            dt["source_id"].to_numpy(np.int64),
            -score,
            d_label,
            d_task,
        )
    )
    d_task, d_label, score = d_task[d_order], d_label[d_order], score[d_order]
    d_geo = geo[dt.index.to_numpy()][d_order]
    codes = {lab: i for i, lab in enumerate(sorted(set(g_label.tolist()) | set(d_label.tolist())))}
    d_key = _key(d_task, d_label, codes)
    rank = np.arange(len(d_key)) - np.searchsorted(d_key, d_key, side="left")
    g_geo = geo[gt.index.to_numpy()]
    g_key = _key(g_task, g_label, codes)
    # candidate pairs: same image and label
    g_sort = np.argsort(g_key, kind="stable")
    lo = np.searchsorted(g_key[g_sort], d_key, side="left")
    hi = np.searchsorted(g_key[g_sort], d_key, side="right")
    counts = hi - lo
    c_det = np.repeat(np.arange(len(d_key)), counts)
    c_gt = g_sort[
        np.concatenate([np.arange(a, b) for a, b in zip(lo, hi, strict=True)])
        if len(lo)
        else np.zeros(0, np.int64)
    ].astype(np.int64)
    if kind == "span":
        overlap = paired_span_iou(d_geo[c_det, :2], g_geo[c_gt, :2])
        dk, gk = span_key[dt.index.to_numpy()][d_order], span_key[gt.index.to_numpy()]
        overlap = np.where(dk[c_det] == gk[c_gt], overlap, 0.0)
    else:
        overlap = paired_box_iou(d_geo[c_det], g_geo[c_gt])
    matched = {t: _greedy(c_det, c_gt, overlap, rank, t, len(d_key), len(g_key)) for t in all_t}
    labels = sorted(set(g_label.tolist()) | set(d_label.tolist()))
    rows = []
    for label in labels:
        d_in, g_n = d_label == label, int((g_label == label).sum())
        tp = int(matched[thresholds[0]][d_in].sum())
        row: dict[str, Any] = {"label": label, **_counts(tp, int(d_in.sum()) - tp, g_n - tp)}
        if scored and g_n:
            keep = d_in & (rank < _MAX_DETECTIONS)
            order = np.lexsort((rank[keep], d_task[keep], -score[keep]))
            ap = {t: _precision_recall(matched[t][keep][order], g_n) for t in all_t}
            row["ap"] = float(np.mean([ap[t][0] for t in thresholds]))
            row["ar"] = float(np.mean([ap[t][1] for t in thresholds]))
            row["ap50"], row["ap75"] = ap[0.5][0], ap[0.75][0]
        rows.append(row)
    total: dict[str, Any] = {
        "label": "all",
        **_counts(
            sum(r["tp"] for r in rows), sum(r["fp"] for r in rows), sum(r["fn"] for r in rows)
        ),
    }
    valid = [r for r in rows if "ap" in r]
    if scored:
        for column in ("ap", "ap50", "ap75", "ar"):
            total[column] = float(np.mean([r[column] for r in valid])) if valid else np.nan
    rows.append(total)
    result: pd.DataFrame = pd.DataFrame(rows)
    return result


def _key(task: NDArray[np.int64], label: NDArray[Any], codes: dict[str, int]) -> NDArray[np.int64]:
    """One integer per (task, label), ordered like the pairs."""
    code = np.fromiter((codes[lab] for lab in label.tolist()), np.int64, len(label))
    return task * max(len(codes), 1) + code


def _greedy(
    c_det: NDArray[np.int64],
    c_gt: NDArray[np.int64],
    overlap: NDArray[np.float64],
    rank: NDArray[np.int64],
    threshold: float,
    n_det: int,
    n_gt: int,
) -> NDArray[np.bool_]:
    """Whether each detection is matched at ``threshold``: detections in rank order each
    take the free reference of highest IoU (the last one on a tie, as COCOeval does)."""
    matched = np.zeros(n_det, bool)
    used = np.zeros(n_gt, bool)
    ok = (overlap >= min(threshold, 1 - 1e-10)) & (overlap > 0)
    c_det, c_gt, overlap = c_det[ok], c_gt[ok], overlap[ok]
    c_rank = rank[c_det]
    by_rank = np.argsort(c_rank, kind="stable")
    bounds = np.searchsorted(
        c_rank[by_rank], np.arange(int(c_rank.max()) + 2 if len(c_rank) else 1)
    )
    for r in range(len(bounds) - 1):
        sel = by_rank[bounds[r] : bounds[r + 1]]
        sel = sel[~used[c_gt[sel]]]
        if not len(sel):
            continue
        order = np.lexsort((c_gt[sel], overlap[sel], c_det[sel]))
        sel = sel[order]
        last = np.r_[c_det[sel][1:] != c_det[sel][:-1], True]
        used[c_gt[sel[last]]] = True
        matched[c_det[sel[last]]] = True
    return matched


def _precision_recall(tps: NDArray[np.bool_], n_gt: int) -> tuple[float, float]:
    """COCO's 101-point interpolated precision (mean) and recall of detections in score
    order, ``tps`` telling which are matched."""
    if not len(tps):
        return 0.0, 0.0
    tp = np.cumsum(tps).astype(np.float64)
    fp = np.cumsum(~tps).astype(np.float64)
    recall = tp / n_gt
    precision = tp / (fp + tp + np.spacing(1))
    precision = np.maximum.accumulate(precision[::-1])[::-1]
    at = np.searchsorted(recall, _RECALL_POINTS, side="left")
    q = np.where(at < len(precision), precision[np.minimum(at, len(precision) - 1)], 0.0)
    return float(q.mean()), float(recall[-1])


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
