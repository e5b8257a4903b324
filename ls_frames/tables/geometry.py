"""Box geometry: Label Studio percentages to pixels, xyxy, COCO and YOLO.

Label Studio stores a rectangle as ``x, y, width, height`` in percent of the original
image (0-100) and ``rotation`` in degrees, clockwise, around the box's top-left corner
``(x, y)``. Rotation happens in pixel space, so percentages are turned into pixels first.
For a rotated box, ``to_xyxy``/``to_coco``/``to_yolo`` give the axis-aligned box that
encloses it. Every function takes a regions DataFrame (columns ``x, y, width, height``,
optional ``rotation``, ``original_width``, ``original_height``) or the same arrays and
returns float64 numpy arrays (NaN where a value is missing). Pure numpy, no I/O.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

__all__ = ["box_corners", "to_coco", "to_pixels", "to_xyxy", "to_yolo"]

Arrays = dict[str, NDArray[Any]]


def _f(values: Any) -> NDArray[Any]:
    if isinstance(values, np.ndarray) and values.dtype.kind in "fiu":
        return values.astype("float64")
    numbers = pd.to_numeric(pd.Series(values, dtype=object), errors="coerce")
    result: NDArray[Any] = numbers.to_numpy(dtype="float64", na_value=np.nan)
    return result


def _columns(regions: Any, image_size: tuple[float, float] | None) -> Arrays:
    n = len(regions["x"])
    cols = {k: _f(regions[k]) for k in ("x", "y", "width", "height")}
    rotation = regions["rotation"] if "rotation" in regions else np.zeros(n)
    cols["rotation"] = np.nan_to_num(_f(rotation))
    if image_size is not None:
        cols["ow"] = np.full(n, float(image_size[0]))
        cols["oh"] = np.full(n, float(image_size[1]))
    else:
        cols["ow"] = _f(regions["original_width"])
        cols["oh"] = _f(regions["original_height"])
    return cols


def to_pixels(regions: Any, image_size: tuple[float, float] | None = None) -> Arrays:
    """``x, y, width, height`` in pixels plus ``rotation`` (degrees), unrotated.

    ``image_size=(width, height)`` overrides ``original_width``/``original_height``.
    """
    c = _columns(regions, image_size)
    return {
        "x": c["x"] * c["ow"] / 100.0,
        "y": c["y"] * c["oh"] / 100.0,
        "width": c["width"] * c["ow"] / 100.0,
        "height": c["height"] * c["oh"] / 100.0,
        "rotation": c["rotation"],
    }


def box_corners(regions: Any, image_size: tuple[float, float] | None = None) -> NDArray[Any]:
    """Pixel corners of each (rotated) box: shape ``(n, 4, 2)``, clockwise from (x, y)."""
    p = to_pixels(regions, image_size)
    theta = np.deg2rad(p["rotation"])
    cos, sin = np.cos(theta), np.sin(theta)
    w, h = p["width"], p["height"]
    dx = np.stack([np.zeros_like(w), w, w, np.zeros_like(w)], axis=1)
    dy = np.stack([np.zeros_like(h), np.zeros_like(h), h, h], axis=1)
    xs = p["x"][:, None] + dx * cos[:, None] - dy * sin[:, None]
    ys = p["y"][:, None] + dx * sin[:, None] + dy * cos[:, None]
    return np.stack([xs, ys], axis=2)


def to_xyxy(regions: Any, image_size: tuple[float, float] | None = None) -> Arrays:
    """Enclosing axis-aligned box in pixels: ``x_min, y_min, x_max, y_max``."""
    corners = box_corners(regions, image_size)
    return {
        "x_min": corners[:, :, 0].min(axis=1),
        "y_min": corners[:, :, 1].min(axis=1),
        "x_max": corners[:, :, 0].max(axis=1),
        "y_max": corners[:, :, 1].max(axis=1),
    }


def to_coco(regions: Any, image_size: tuple[float, float] | None = None, *,
            segmentation: bool = False) -> Arrays:  # fmt: skip
    """COCO ``bbox``: top-left ``x, y`` and ``width, height`` in pixels (enclosing box).

    With ``segmentation=True`` (``regions`` a regions DataFrame) a ``segmentation`` array
    is added (``object``, one entry per row): ``[[x1, y1, x2, y2, ...]]`` in pixels for
    polygons and rectangles (rotation included), COCO compressed RLE
    ``{"size": [h, w], "counts": str}`` (as ``pycocotools.mask.encode`` writes it) for
    brushes and ellipses, ``None`` for rows that are not areas. Raises
    :class:`~ls_frames.errors.RegionError` naming a region whose mask cannot be made.
    """
    b = to_xyxy(regions, image_size)
    return {
        "x": b["x_min"],
        "y": b["y_min"],
        "width": b["x_max"] - b["x_min"],
        "height": b["y_max"] - b["y_min"],
        **_segmentation(regions, image_size, segmentation),
    }


def _segmentation(regions: Any, image_size: tuple[float, float] | None, wanted: bool) -> Arrays:
    if not wanted:
        return {}
    from ls_frames.tables.coco import segmentations  # masks build on this module

    return {"segmentation": segmentations(regions, image_size)}


def to_yolo(regions: Any, image_size: tuple[float, float] | None = None) -> Arrays:
    """YOLO: ``x_center, y_center, width, height`` normalised to 0-1 (enclosing box)."""
    c = _columns(regions, image_size)
    b = to_xyxy(regions, image_size)
    return {
        "x_center": (b["x_min"] + b["x_max"]) / 2.0 / c["ow"],
        "y_center": (b["y_min"] + b["y_max"]) / 2.0 / c["oh"],
        "width": (b["x_max"] - b["x_min"]) / c["ow"],
        "height": (b["y_max"] - b["y_min"]) / c["oh"],
    }
