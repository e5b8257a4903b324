"""Pairwise overlap of regions: boxes (rotation aware) and spans, in numpy.

Every function takes two arrays of regions and returns the ``(n, m)`` matrix of their
intersection over union; :func:`paired_box_iou` and :func:`paired_span_iou` take ``n``
pairs and return ``n`` values. No pandas, no loops over pairs: one call covers a whole
task (or a whole project, pair by pair).

Boxes are rows ``x, y, width, height[, rotation]`` as Label Studio stores them: the
top-left corner, the size, and a rotation in degrees, clockwise around ``(x, y)``. Label
Studio's coordinates are percent of the image. For boxes without rotation the IoU in
percent equals the IoU in pixels; a rotated box turns in pixel space, so pass pixel
coordinates (``x * original_width / 100`` ...) when any box is rotated and the image is not
square. Rotated pairs are intersected exactly as convex quadrilaterals (Sutherland-Hodgman
clipping, vectorised over the pairs).

Spans are rows ``start, end`` (character offsets, seconds, ...). An empty or reversed box
or span has no area and overlaps nothing (IoU 0).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ls_frames.errors import ConfigurationError
from ls_frames.geometry.rotation import rectangle_corners

__all__ = ["box_iou", "paired_box_iou", "paired_span_iou", "span_iou"]

Floats = NDArray[np.float64]


def _boxes(boxes: ArrayLike) -> Floats:
    arr = np.asarray(boxes, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] not in (4, 5):
        raise ConfigurationError(f"boxes must have shape (n, 4) or (n, 5), not {arr.shape}")
    if arr.shape[1] == 4:
        arr = np.concatenate([arr, np.zeros((len(arr), 1))], axis=1)
    arr[:, 4] = np.nan_to_num(arr[:, 4])
    return arr


def _spans(spans: ArrayLike) -> Floats:
    arr = np.asarray(spans, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise ConfigurationError(f"spans must have shape (n, 2), not {arr.shape}")
    return arr


def _ratio(inter: Floats, union: Floats) -> Floats:
    # below 1e-12 of the union, an intersection is rounding noise (boxes that only touch)
    ok = (inter > 1e-12 * union) & (union > 0)
    return np.divide(inter, union, out=np.zeros_like(inter), where=ok)


def paired_span_iou(a: ArrayLike, b: ArrayLike) -> Floats:
    """IoU of ``a[i]`` and ``b[i]``, spans given as rows ``start, end``."""
    sa, sb = _spans(a), _spans(b)
    inter = np.minimum(sa[:, 1], sb[:, 1]) - np.maximum(sa[:, 0], sb[:, 0])
    union = (sa[:, 1] - sa[:, 0]) + (sb[:, 1] - sb[:, 0]) - inter
    ok = (sa[:, 1] > sa[:, 0]) & (sb[:, 1] > sb[:, 0])
    return np.where(ok, _ratio(inter, union), 0.0)


def span_iou(a: ArrayLike, b: ArrayLike) -> Floats:
    """``(n, m)`` IoU of every span of ``a`` with every span of ``b`` (rows ``start, end``)."""
    sa, sb = _spans(a), _spans(b)
    i, j = np.meshgrid(np.arange(len(sa)), np.arange(len(sb)), indexing="ij")
    return paired_span_iou(sa[i.ravel()], sb[j.ravel()]).reshape(len(sa), len(sb))


def corners(boxes: ArrayLike) -> Floats:
    """Corners of boxes ``x, y, width, height[, rotation]``: shape ``(n, 4, 2)``, clockwise
    (on screen) from ``(x, y)``."""
    b = _boxes(boxes)
    return rectangle_corners(b[:, 0], b[:, 1], b[:, 2], b[:, 3], b[:, 4])


def _area(poly: Floats) -> Floats:
    """Absolute shoelace area of polygons ``(n, k, 2)`` (repeated vertices add nothing)."""
    x, y = poly[:, :, 0], poly[:, :, 1]
    twice: Floats = np.sum(x * np.roll(y, -1, axis=1) - np.roll(x, -1, axis=1) * y, axis=1)
    return np.abs(twice) / 2


def _clip(subject: Floats, clip: Floats) -> Floats:
    """Intersections of convex polygons ``subject[i]`` and ``clip[i]`` (``(n, k, 2)``,
    counter-clockwise in a y-up sense), as ``(n, 10, 2)`` polygons padded by repeating
    their last vertex (zeros when empty)."""
    size = 10  # two convex quadrilaterals meet in at most 8 vertices
    n = len(subject)
    poly = np.zeros((n, size, 2))
    poly[:, : subject.shape[1]] = subject
    count = np.full(n, subject.shape[1])
    slots = np.arange(size)[None, :]
    for e in range(clip.shape[1]):
        p0, p1 = clip[:, e, :], clip[:, (e + 1) % clip.shape[1], :]
        edge = p1 - p0

        def side(pts: Floats, p0: Floats = p0, edge: Floats = edge) -> Floats:
            rel = pts - p0[:, None, :]
            return edge[:, None, 0] * rel[:, :, 1] - edge[:, None, 1] * rel[:, :, 0]

        live = slots < count[:, None]
        nxt_index = np.where(slots + 1 < count[:, None], slots + 1, 0)
        cur = poly
        nxt = np.take_along_axis(poly, nxt_index[:, :, None].repeat(2, axis=2), axis=1)
        s_cur, s_nxt = side(cur), side(nxt)
        # a crossing only where the edge strictly changes side: a vertex on the line is
        # emitted once, as itself, so the vertex count never grows past 4 + 4
        crossing = live & (s_cur * s_nxt < 0)
        t = np.divide(s_cur, s_cur - s_nxt, out=np.zeros_like(s_cur), where=crossing)
        cross = cur + t[:, :, None] * (nxt - cur)
        points = np.stack([cur, cross], axis=2).reshape(n, -1, 2)
        valid = np.stack([live & (s_cur >= 0), crossing], axis=2).reshape(n, -1)
        order = np.argsort(~valid, axis=1, kind="stable")[:, :size]
        poly = np.take_along_axis(points, order[:, :, None], axis=1)
        count = np.minimum(valid.sum(axis=1), size)
    last = np.take_along_axis(
        poly, np.maximum(count - 1, 0)[:, None, None].repeat(2, axis=2), axis=1
    )
    poly = np.where((slots < count[:, None])[:, :, None], poly, last)
    poly[count == 0] = 0.0
    return poly


def paired_box_iou(a: ArrayLike, b: ArrayLike) -> Floats:
    """IoU of ``a[i]`` and ``b[i]``, boxes given as rows ``x, y, width, height[, rotation]``."""
    ba, bb = _boxes(a), _boxes(b)
    area_a, area_b = ba[:, 2] * ba[:, 3], bb[:, 2] * bb[:, 3]
    ok = (ba[:, 2] > 0) & (ba[:, 3] > 0) & (bb[:, 2] > 0) & (bb[:, 3] > 0)
    iw = np.minimum(ba[:, 0] + ba[:, 2], bb[:, 0] + bb[:, 2]) - np.maximum(ba[:, 0], bb[:, 0])
    ih = np.minimum(ba[:, 1] + ba[:, 3], bb[:, 1] + bb[:, 3]) - np.maximum(ba[:, 1], bb[:, 1])
    inter = np.where((iw > 0) & (ih > 0), iw * ih, 0.0)
    rotated = ok & ((ba[:, 4] % 360 != 0) | (bb[:, 4] % 360 != 0))
    if rotated.any():
        which = np.flatnonzero(rotated)
        ca, cb = corners(ba[which]), corners(bb[which])
        inter[which] = 0.0
        # only pairs whose enclosing boxes overlap can meet
        lo = np.maximum(ca.min(axis=1), cb.min(axis=1))
        hi = np.minimum(ca.max(axis=1), cb.max(axis=1))
        near = (hi > lo).all(axis=1)
        # corners go clockwise on screen (y down), i.e. counter-clockwise with y up
        if near.any():
            inter[which[near]] = _area(_clip(ca[near], cb[near]))
    out = _ratio(inter, area_a + area_b - inter)
    return np.where(ok, out, 0.0)


def box_iou(a: ArrayLike, b: ArrayLike) -> Floats:
    """``(n, m)`` IoU of every box of ``a`` with every box of ``b``.

    Boxes are rows ``x, y, width, height`` or ``x, y, width, height, rotation`` (degrees,
    clockwise around ``(x, y)``; see the module docstring for units).
    """
    ba, bb = _boxes(a), _boxes(b)
    i, j = np.meshgrid(np.arange(len(ba)), np.arange(len(bb)), indexing="ij")
    return paired_box_iou(ba[i.ravel()], bb[j.ravel()]).reshape(len(ba), len(bb))
