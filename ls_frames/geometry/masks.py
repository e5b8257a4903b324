"""One mask per image region: brush, polygon, rectangle and ellipse, in image pixels.

:func:`region_masks` is a generator of :class:`RegionMask` (the region's keys and its
mask), one region at a time: a 1920x1080 mask is 2 MB, so 10,000 regions held at once (a
DataFrame column of masks) would take 20 GB, while a loop that saves, encodes or scores
each mask in turn never holds more than one. Collect them yourself when they are
few (``{m.region_id: m.mask for m in region_masks(regions)}``).

Shapes are drawn with numpy alone by sampling pixel centres: pixel ``(row, col)`` is inside
when its centre ``(col + 0.5, row + 0.5)`` is (even-odd rule for polygons; rectangles are
their four rotated corners; ellipses by their rotated equation). Geometry is Label
Studio's: percent of the original image; a rectangle turns by ``rotation`` degrees
clockwise around its top-left corner, an ellipse around its centre.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any, NamedTuple

import msgspec
import numpy as np
import pandas as pd
from numpy.typing import NDArray

from ls_frames.errors import RegionError
from ls_frames.geometry.brush import rle_to_mask
from ls_frames.geometry.pixels import box_corners
from ls_frames.geometry.rotation import ellipse_extent
from ls_frames.reading.controls import MASK_KINDS

__all__ = [
    "MASK_TYPES",
    "RegionMask",
    "ellipse_mask",
    "mask_kinds",
    "polygon_mask",
    "region_masks",
    "region_name",
]

#: result types :func:`region_masks` draws, by kind (the control registry's ``MASK_KINDS``)
MASK_TYPES = MASK_KINDS
_KEYS = ("task_id", "source", "source_id", "region_id", "from_name", "type", "label")


class RegionMask(NamedTuple):
    """A region's keys and its mask (``uint8``, ``height x width``).

    ``index`` is the row's label in the regions table (to join back); ``mask`` holds the
    brush's alpha (0-255, as the official SDK decodes it) or 255 inside a shape, 0 outside:
    ``mask > 0`` is the region either way.
    """

    index: Any
    task_id: Any
    source: Any
    source_id: Any
    region_id: Any
    from_name: Any
    type: str
    label: Any
    mask: NDArray[np.uint8]


def polygon_mask(points: Any, height: int, width: int) -> NDArray[np.uint8]:
    """A polygon filled (even-odd rule, pixel centres), 255 inside.

    Parameters
    ----------
    points:
        ``(n, 2)`` vertices ``(x, y)`` in pixels, in order; the polygon is closed.
    height, width:
        the mask's size.

    Returns
    -------
    numpy.ndarray
        ``uint8`` of shape ``(height, width)``.
    """
    mask = np.zeros((height, width), dtype=np.uint8)
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    if len(pts) < 3 or not np.isfinite(pts).all() or height == 0 or width == 0:
        return mask
    x0, y0 = pts[:, 0], pts[:, 1]
    x1, y1 = np.roll(x0, -1), np.roll(y0, -1)
    r_lo = max(0, math.floor(float(y0.min()) - 0.5))
    r_hi = min(height, math.ceil(float(y0.max()) + 0.5))
    if r_lo >= r_hi:
        return mask
    yc = np.arange(r_lo, r_hi, dtype=np.float64)[:, None] + 0.5  # (rows, 1)
    crosses = ((y0 <= yc) & (yc < y1)) | ((y1 <= yc) & (yc < y0))  # (rows, edges)
    with np.errstate(divide="ignore", invalid="ignore"):
        xs = x0 + (yc - y0) * (x1 - x0) / (y1 - y0)
    rows, edges = np.nonzero(crosses)
    # the crossing toggles every pixel whose centre lies to its right
    cols = np.clip(np.floor(xs[rows, edges] + 0.5), 0, width).astype(np.int64)
    toggles = np.bincount(rows * (width + 1) + cols, minlength=(r_hi - r_lo) * (width + 1))
    inside = (np.cumsum(toggles.reshape(r_hi - r_lo, width + 1), axis=1) & 1)[:, :width]
    mask[r_lo:r_hi] = inside.astype(np.uint8) * 255
    return mask


def ellipse_mask(
    cx: float, cy: float, rx: float, ry: float, rotation: float, height: int, width: int
) -> NDArray[np.uint8]:
    """An ellipse filled (pixel centres), 255 inside.

    Parameters
    ----------
    cx, cy, rx, ry:
        centre and radii in pixels.
    rotation:
        degrees, clockwise on the image, around the centre.
    height, width:
        the mask's size.

    Returns
    -------
    numpy.ndarray
        ``uint8`` of shape ``(height, width)``.
    """
    mask = np.zeros((height, width), dtype=np.uint8)
    if not all(map(math.isfinite, (cx, cy, rx, ry, rotation))) or rx <= 0 or ry <= 0:
        return mask
    theta = math.radians(rotation)
    cos, sin = math.cos(theta), math.sin(theta)
    ex, ey = (float(v) for v in ellipse_extent(rx, ry, rotation))
    c_lo, c_hi = max(0, math.floor(cx - ex)), min(width, math.ceil(cx + ex) + 1)
    r_lo, r_hi = max(0, math.floor(cy - ey)), min(height, math.ceil(cy + ey) + 1)
    if c_lo >= c_hi or r_lo >= r_hi:
        return mask
    dx = np.arange(c_lo, c_hi, dtype=np.float64)[None, :] + 0.5 - cx
    dy = np.arange(r_lo, r_hi, dtype=np.float64)[:, None] + 0.5 - cy
    u = (dx * cos + dy * sin) / rx
    v = (dy * cos - dx * sin) / ry
    mask[r_lo:r_hi, c_lo:c_hi] = (u * u + v * v <= 1.0).astype(np.uint8) * 255
    return mask


def mask_kinds(types: pd.Series) -> pd.Series:
    """The mask kind (``brush``, ``polygon``, ``rectangle``, ``ellipse``) of each result
    type, ``None`` for types without an area."""
    kinds: pd.Series = types.astype(object).map(
        lambda t: MASK_KINDS.get(t.lower()) if isinstance(t, str) else None
    )
    return kinds


def region_name(row: Any) -> str:
    """``task_id=.., source=.., source_id=.., region_id=..`` of a regions row (for errors)."""
    return ", ".join(f"{k}={row[k]}" for k in _KEYS[:4] if k in row.index)


def _value(row: Any, name: str) -> Any:
    try:
        return msgspec.json.decode(row["value_json"])
    except (msgspec.DecodeError, TypeError, KeyError) as exc:
        raise RegionError(f"value_json is not JSON: {exc}", region=name) from None


def _number(row: Any, key: str, name: str) -> float:
    value = row.get(key)
    if value is None or value is pd.NA or not math.isfinite(float(value)):
        raise RegionError(f"no {key}", region=name)
    return float(value)


def _mask(kind: str, row: Any, height: int, width: int, name: str) -> NDArray[np.uint8]:
    if kind == "brush":
        value = _value(row, name)
        if not isinstance(value, dict) or "rle" not in value:
            raise RegionError("a brush region without an rle list", region=name)
        try:
            return rle_to_mask(value["rle"], height, width)
        except RegionError as exc:
            raise RegionError(str(exc), region=name) from None
    if kind == "polygon":
        points = row.get("points")
        if points is None or points is pd.NA or len(points) < 3:
            raise RegionError("a polygon with fewer than 3 points", region=name)
        pts = np.array([list(p)[:2] for p in points], dtype=np.float64)
        if pts.shape[1:] != (2,) or not np.isfinite(pts).all():
            raise RegionError("a polygon point is not a number pair", region=name)
        pts *= (width / 100.0, height / 100.0)
        return polygon_mask(pts, height, width)
    if kind == "rectangle":
        geo = {k: [_number(row, k, name)] for k in ("x", "y", "width", "height")}
        rotation = row.get("rotation")
        geo["rotation"] = [0.0 if rotation is None or rotation is pd.NA else float(rotation)]
        corners = box_corners(geo, (float(width), float(height)))[0]
        return polygon_mask(corners, height, width)
    rotation = row.get("rotation")
    return ellipse_mask(
        _number(row, "x", name) * width / 100.0,
        _number(row, "y", name) * height / 100.0,
        _number(row, "radius_x", name) * width / 100.0,
        _number(row, "radius_y", name) * height / 100.0,
        0.0 if rotation is None or rotation is pd.NA else float(rotation),
        height,
        width,
    )


def _size(row: Any, shape: tuple[int, int] | None, name: str) -> tuple[int, int]:
    if shape is not None:
        return int(shape[0]), int(shape[1])
    h, w = row.get("original_height"), row.get("original_width")
    if h is None or w is None or h is pd.NA or w is pd.NA:
        raise RegionError(
            "no original_width/original_height: pass shape=(height, width)", region=name
        )
    return int(h), int(w)


def region_masks(
    regions: pd.DataFrame, *, shape: tuple[int, int] | None = None
) -> Iterator[RegionMask]:
    """One mask per brush, polygon, rectangle (rotated or not) and ellipse region, lazily.

    Parameters
    ----------
    regions:
        a regions table (``Frames.regions`` or a filtered part of it). Rows of other types
        (choices, keypoints, text spans, video, ...) are passed over: they have no area.
    shape:
        ``(height, width)`` of the masks, for tables without ``original_width`` /
        ``original_height`` (predictions imported without them, for instance). A brush
        RLE must match it.

    Yields
    ------
    RegionMask
        in table order: ``index`` (the row's label), the region's keys and ``mask``
        (``uint8``, ``height x width`` pixels of the original image).

    Raises
    ------
    ls_frames.errors.RegionError
        naming the region: malformed brush RLE or one of another size, a shape without its
        geometry, no image size and no ``shape``.
    """
    if "type" not in regions.columns:
        raise RegionError("a regions table needs a 'type' column")
    kinds = mask_kinds(regions["type"])
    picked = regions[kinds.notna().to_numpy(dtype=bool)]
    for (index, row), kind in zip(picked.iterrows(), kinds[kinds.notna()], strict=True):
        name = region_name(row)
        height, width = _size(row, shape, name)
        yield RegionMask(
            index,
            row.get("task_id"),
            row.get("source"),
            row.get("source_id"),
            row.get("region_id"),
            row.get("from_name"),
            str(row["type"]),
            row.get("label"),
            _mask(kind, row, height, width, name),
        )
