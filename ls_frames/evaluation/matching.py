"""Scoring one control's predicted results against the reference ones, label by label.

:func:`detection_rows` matches predicted regions (boxes, polygons by their enclosing
boxes, spans) to reference regions per task and label the way pycocotools' ``COCOeval``
does (greedy by score, at most 100 detections per image and label) and gives the counts
and COCO's average precision and recall; :func:`choice_rows` compares sets of choices
per task. Used by :func:`~ls_frames.evaluate`; numpy and pandas in, a DataFrame out.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from ls_frames.evaluation.results import region_values
from ls_frames.geometry.overlap import paired_box_iou, paired_span_iou

__all__ = ["choice_rows", "detection_rows", "label_counts"]

_RECALL_POINTS = np.linspace(0.0, 1.00, 101)
_MAX_DETECTIONS = 100


def label_counts(tp: int, fp: int, fn: int) -> dict[str, Any]:
    """``tp, fp, fn`` and the precision, recall and F1 they give (NaN where undefined)."""
    precision = tp / (tp + fp) if tp + fp else np.nan
    recall = tp / (tp + fn) if tp + fn else np.nan
    f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else np.nan
    return {"tp": tp, "fp": fp, "fn": fn, "precision": precision, "recall": recall, "f1": f1}


def _labels(frame: pd.DataFrame) -> NDArray[Any]:
    return np.array([v[0] if v else "" for v in region_values(frame)], dtype=object)


def choice_rows(gt: pd.DataFrame, dt: pd.DataFrame, tasks: NDArray[np.int64]) -> pd.DataFrame:
    """Rows per label and ``all`` for a choice control: reference rows ``gt`` against
    predicted rows ``dt``, per task of ``tasks`` that either side answered."""

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
            **label_counts(
                int((has_r & has_p).sum()), int((~has_r & has_p).sum()), int((has_r & ~has_p).sum())
            ),
        }
        row["accuracy"] = float((has_r == has_p).mean()) if compared else np.nan
        rows.append(row)
    total = label_counts(
        sum(r["tp"] for r in rows), sum(r["fp"] for r in rows), sum(r["fn"] for r in rows)
    )
    exact = [ref.get(t, empty) == pred.get(t, empty) for t in compared]
    total["accuracy"] = float(np.mean(exact)) if compared else np.nan
    rows.append({"label": "all", **total})
    result: pd.DataFrame = pd.DataFrame(rows)
    return result


def detection_rows(
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
        row: dict[str, Any] = {"label": label, **label_counts(tp, int(d_in.sum()) - tp, g_n - tp)}
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
        **label_counts(
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
