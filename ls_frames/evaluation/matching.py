"""Scoring one control's predicted results against the reference ones, label by label.

:func:`detection_rows` matches predicted regions (boxes, polygons by their enclosing
boxes, spans) to reference regions per task and label the way pycocotools' ``COCOeval``
does (greedy by score, at most 100 detections per image and label) and gives the counts
and COCO's average precision and recall; :func:`choice_rows` compares sets of choices
per task. Used by :func:`~ls_frames.evaluate`; numpy and pandas in, a DataFrame out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from ls_frames.evaluation.results import region_values
from ls_frames.geometry.overlap import paired_box_iou, paired_span_iou

__all__ = [
    "choice_rows",
    "curve_points",
    "detection_rows",
    "detection_scores",
    "greedy_pairs",
    "label_counts",
    "region_labels",
]

_RECALL_POINTS = np.linspace(0.0, 1.00, 101)
_MAX_DETECTIONS = 100


def label_counts(tp: int, fp: int, fn: int) -> dict[str, Any]:
    """``tp, fp, fn`` and the precision, recall and F1 they give (NaN where undefined)."""
    precision = tp / (tp + fp) if tp + fp else np.nan
    recall = tp / (tp + fn) if tp + fn else np.nan
    f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else np.nan
    return {"tp": tp, "fp": fp, "fn": fn, "precision": precision, "recall": recall, "f1": f1}


def region_labels(frame: pd.DataFrame) -> NDArray[Any]:
    """The first label (choice, ...) of each row, ``""`` for none."""
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


def detection_scores(dt: pd.DataFrame, pred_score: pd.Series | None) -> NDArray[np.float64]:
    """Each predicted row's ``score``, else its prediction's (``pred_score``, indexed by
    ``prediction_id``); NaN where neither is known."""
    score = dt["score"].to_numpy(np.float64, na_value=np.nan)
    if pred_score is None or not len(dt):
        return score
    fallback = pred_score.reindex(dt["source_id"].to_numpy(np.int64)).to_numpy(
        np.float64, na_value=np.nan
    )
    return np.where(np.isnan(score), fallback, score)


def _overlaps(
    kind: str,
    geo: NDArray[np.float64],
    span_key: NDArray[Any],
    left: NDArray[np.int64],
    right: NDArray[np.int64],
) -> NDArray[np.float64]:
    """IoU of rows ``left[k]`` and ``right[k]`` of ``geo`` (spans only within one key)."""
    if kind == "span":
        overlap = paired_span_iou(geo[left, :2], geo[right, :2])
        return np.where(span_key[left] == span_key[right], overlap, 0.0)
    return paired_box_iou(geo[left], geo[right])


def greedy_pairs(
    gt: pd.DataFrame,
    dt: pd.DataFrame,
    score: NDArray[np.float64],
    kind: str,
    geo: NDArray[np.float64],
    span_key: NDArray[Any],
    threshold: float,
    *,
    same_label: bool = False,
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]:
    """Predicted rows ``dt`` matched to reference rows ``gt`` of the same task as COCO
    matches: by descending ``score`` (NaN last, then in source and result order), each
    takes the free reference row of highest IoU at or above ``threshold`` (and above 0);
    with ``same_label``, only a reference of its label. ``geo`` and ``span_key`` are
    indexed by the frames' index. Returns the positions in ``dt`` and ``gt`` of each pair,
    and its IoU."""
    d_pos, g_pos = np.arange(len(dt)), np.arange(len(gt))
    left = pd.DataFrame({"task": dt["task_id"].to_numpy(np.int64), "d": d_pos})
    right = pd.DataFrame({"task": gt["task_id"].to_numpy(np.int64), "g": g_pos})
    keys = ["task"]
    if same_label:
        left["label"], right["label"] = region_labels(dt), region_labels(gt)
        keys.append("label")
    cand = left.merge(right, on=keys)
    d, g = cand["d"].to_numpy(np.int64), cand["g"].to_numpy(np.int64)
    overlap = _overlaps(kind, geo, span_key, dt.index.to_numpy()[d], gt.index.to_numpy()[g])
    rank = np.empty(len(dt), np.int64)
    rank[
        np.lexsort(
            (
                dt["result_index"].to_numpy(np.int64, na_value=0),
                dt["source_id"].to_numpy(np.int64),
                np.nan_to_num(-score, nan=np.inf),
            )
        )
    ] = d_pos
    ok = (overlap > 0) & (overlap >= min(threshold, 1 - 1e-10))
    d, g, overlap = d[ok], g[ok], overlap[ok]
    order = np.lexsort((g, -overlap, rank[d]))
    used_d: set[int] = set()
    used_g: set[int] = set()
    picked: list[int] = []
    for k, i, j in zip(order.tolist(), d[order].tolist(), g[order].tolist(), strict=True):
        if i in used_d or j in used_g:
            continue
        used_d.add(i)
        used_g.add(j)
        picked.append(k)
    chosen = np.asarray(picked, np.int64)
    return d[chosen], g[chosen], overlap[chosen]


@dataclass(frozen=True)
class _Matched:
    """Detections in (task, label, score) order and whether each is matched per threshold."""

    d_task: NDArray[np.int64]
    d_label: NDArray[Any]
    score: NDArray[np.float64]
    rank: NDArray[np.int64]
    g_label: NDArray[Any]
    matched: dict[float, NDArray[np.bool_]]
    scored: bool

    def ranked(self, label: str) -> tuple[NDArray[np.bool_], NDArray[np.int64]]:
        """The detections of ``label`` COCO ranks (at most 100 per task), and their order
        by descending score (then task, then rank): a mask and positions into it."""
        keep = (self.d_label == label) & (self.rank < _MAX_DETECTIONS)
        order = np.lexsort((self.rank[keep], self.d_task[keep], -self.score[keep]))
        return keep, order


def _match(
    gt: pd.DataFrame,
    dt: pd.DataFrame,
    pred_score: pd.Series,
    kind: str,
    thresholds: tuple[float, ...],
    geo: NDArray[np.float64],
    span_key: NDArray[Any],
) -> _Matched:
    """COCO matching per task and label at each threshold (see :func:`detection_rows`)."""
    g_task, d_task = gt["task_id"].to_numpy(np.int64), dt["task_id"].to_numpy(np.int64)
    g_label, d_label = region_labels(gt), region_labels(dt)
    score = detection_scores(dt, pred_score)
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
    codes = {lab: i for i, lab in enumerate(sorted(set(g_label.tolist()) | set(d_label.tolist())))}
    d_key = _key(d_task, d_label, codes)
    rank = np.arange(len(d_key)) - np.searchsorted(d_key, d_key, side="left")
    g_key = _key(g_task, g_label, codes)
    # candidate pairs: same image and label
    g_sort = np.argsort(g_key, kind="stable")
    lo = np.searchsorted(g_key[g_sort], d_key, side="left")
    hi = np.searchsorted(g_key[g_sort], d_key, side="right")
    c_det = np.repeat(np.arange(len(d_key)), hi - lo)
    c_gt = g_sort[
        np.concatenate([np.arange(a, b) for a, b in zip(lo, hi, strict=True)])
        if len(lo)
        else np.zeros(0, np.int64)
    ].astype(np.int64)
    overlap = _overlaps(
        kind, geo, span_key, dt.index.to_numpy()[d_order][c_det], gt.index.to_numpy()[c_gt]
    )
    matched = {
        t: _greedy(c_det, c_gt, overlap, rank, t, len(d_key), len(g_key)) for t in thresholds
    }
    return _Matched(d_task, d_label, score, rank, g_label, matched, scored)


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
    m = _match(gt, dt, pred_score, kind, all_t, geo, span_key)
    labels = sorted(set(m.g_label.tolist()) | set(m.d_label.tolist()))
    rows = []
    for label in labels:
        d_in, g_n = m.d_label == label, int((m.g_label == label).sum())
        tp = int(m.matched[thresholds[0]][d_in].sum())
        row: dict[str, Any] = {"label": label, **label_counts(tp, int(d_in.sum()) - tp, g_n - tp)}
        if m.scored and g_n:
            keep, order = m.ranked(label)
            ap = {t: _precision_recall(m.matched[t][keep][order], g_n) for t in all_t}
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
    if m.scored:
        for column in ("ap", "ap50", "ap75", "ar"):
            total[column] = float(np.mean([r[column] for r in valid])) if valid else np.nan
    rows.append(total)
    result: pd.DataFrame = pd.DataFrame(rows)
    return result


def curve_points(
    gt: pd.DataFrame,
    dt: pd.DataFrame,
    pred_score: pd.Series,
    kind: str,
    threshold: float,
    geo: NDArray[np.float64],
    span_key: NDArray[Any],
) -> pd.DataFrame:
    """COCO's 101 interpolated precision-recall points per label that reference regions
    hold: ``label, recall, precision, score`` (pycocotools' ``eval["precision"]`` and
    ``eval["scores"]`` at one IoU threshold, area "all", 100 detections). Empty when a
    region has no score."""
    m = _match(gt, dt, pred_score, kind, (threshold,), geo, span_key)
    frames = []
    for label in sorted(set(m.g_label.tolist())) if m.scored else []:
        keep, order = m.ranked(label)
        q, ss = _interpolated(
            m.matched[threshold][keep][order], m.score[keep][order], int((m.g_label == label).sum())
        )
        frames.append(
            pd.DataFrame({"label": label, "recall": _RECALL_POINTS, "precision": q, "score": ss})
        )
    if not frames:
        empty: pd.DataFrame = pd.DataFrame(columns=["label", "recall", "precision", "score"])
        return empty
    out: pd.DataFrame = pd.concat(frames, ignore_index=True)
    return out


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


def _interpolated(
    tps: NDArray[np.bool_], scores: NDArray[np.float64], n_gt: int
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """COCO's precision and score at its 101 recall points, for detections in score order
    (``tps`` telling which are matched): precision made monotone from the right, 0 past
    the highest recall reached."""
    q, ss = np.zeros(len(_RECALL_POINTS)), np.zeros(len(_RECALL_POINTS))
    if not len(tps):
        return q, ss
    tp = np.cumsum(tps).astype(np.float64)
    fp = np.cumsum(~tps).astype(np.float64)
    recall = tp / n_gt
    precision = tp / (fp + tp + np.spacing(1))
    precision = np.maximum.accumulate(precision[::-1])[::-1]
    at = np.searchsorted(recall, _RECALL_POINTS, side="left")
    inside = at < len(precision)
    q[inside], ss[inside] = precision[at[inside]], scores[at[inside]]
    return q, ss


def _precision_recall(tps: NDArray[np.bool_], n_gt: int) -> tuple[float, float]:
    """COCO's 101-point interpolated precision (mean) and recall of detections in score
    order, ``tps`` telling which are matched."""
    if not len(tps):
        return 0.0, 0.0
    q, _ = _interpolated(tps, np.zeros(len(tps)), n_gt)
    return float(q.mean()), float(np.cumsum(tps)[-1] / n_gt)
