"""Pairwise overlap of regions: IoU matrices for boxes and spans, and greedy matching.

Boxes are compared by the IoU of their axis-aligned ``x, y, width, height`` (percent of
the image; the ratio is the same in pixels, rotation ignored); spans by the IoU of
``start_offset, end_offset`` (text), else of numeric ``start, end`` (audio, video, time
series). Pure numpy over regions DataFrames.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__ = ["box_iou_matrix", "match_regions", "region_geometry", "span_iou_matrix"]


def _numbers(regions: pd.DataFrame, column: str) -> np.ndarray:
    if column not in regions.columns:
        return np.full(len(regions), np.nan)
    values = pd.to_numeric(regions[column].astype(object), errors="coerce")
    return np.asarray(values.astype("float64"), dtype=float)


def region_geometry(regions: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """``(boxes, spans)``: an ``n x 4`` array of ``x, y, width, height`` and an ``n x 2``
    array of ``start, end`` (offsets where present, else numeric start/end); NaN rows
    where a region has no such geometry."""
    boxes = np.column_stack([_numbers(regions, c) for c in ("x", "y", "width", "height")])
    offsets = np.column_stack([_numbers(regions, c) for c in ("start_offset", "end_offset")])
    times = np.column_stack([_numbers(regions, c) for c in ("start", "end")])
    use_times = np.isnan(offsets).any(1)
    spans = np.where(use_times[:, None], times, offsets)
    spans[~np.isnan(boxes).any(1)] = np.nan  # a box is not a span
    return boxes.reshape(len(regions), 4), spans.reshape(len(regions), 2)


def box_iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box in ``a`` (``n x 4``, ``x, y, width, height``) with every box in
    ``b``; 0 where they do not overlap, NaN where either has no geometry."""
    ax0, ay0 = a[:, 0:1], a[:, 1:2]
    ax1, ay1 = ax0 + a[:, 2:3], ay0 + a[:, 3:4]
    bx0, by0 = b[:, 0], b[:, 1]
    bx1, by1 = bx0 + b[:, 2], by0 + b[:, 3]
    iw = np.clip(np.minimum(ax1, bx1) - np.maximum(ax0, bx0), 0, None)
    ih = np.clip(np.minimum(ay1, by1) - np.maximum(ay0, by0), 0, None)
    inter = iw * ih
    union = a[:, 2:3] * a[:, 3:4] + b[:, 2] * b[:, 3] - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)
    missing = np.isnan(a).any(1)[:, None] | np.isnan(b).any(1)[None, :]
    return np.where(missing, np.nan, out)


def span_iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every span in ``a`` (``n x 2``, ``start, end``) with every span in ``b``."""
    inter = np.clip(np.minimum(a[:, 1:2], b[:, 1]) - np.maximum(a[:, 0:1], b[:, 0]), 0, None)
    union = np.maximum(a[:, 1:2], b[:, 1]) - np.minimum(a[:, 0:1], b[:, 0])
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)
    missing = np.isnan(a).any(1)[:, None] | np.isnan(b).any(1)[None, :]
    return np.where(missing, np.nan, out)


def match_regions(a: pd.DataFrame, b: pd.DataFrame,
                  min_iou: float = 0.0) -> list[tuple[int, int, float]]:  # fmt: skip
    """Greedy one-to-one matching of the regions of ``a`` and ``b`` (positions), best IoU
    first; a pair needs ``IoU > min_iou``. Boxes match boxes, spans match spans."""
    boxes_a, spans_a = region_geometry(a)
    boxes_b, spans_b = region_geometry(b)
    box = box_iou_matrix(boxes_a, boxes_b)
    span = span_iou_matrix(spans_a, spans_b)
    scores = np.where(np.isnan(box), span, box)
    scores = np.where(np.isnan(scores), -1.0, scores)
    order = np.argsort(-scores, axis=None, kind="stable")
    used_a: set[int] = set()
    used_b: set[int] = set()
    out: list[tuple[int, int, float]] = []
    for flat in order:
        i, j = divmod(int(flat), scores.shape[1])
        value: Any = scores[i, j]
        if value <= min_iou:
            break
        if i in used_a or j in used_b:
            continue
        used_a.add(i)
        used_b.add(j)
        out.append((i, j, float(value)))
    return out
