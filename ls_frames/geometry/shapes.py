"""Enclosing boxes of regions in pixels, as xyxy, COCO and YOLO boxes.

Label Studio stores a rectangle as ``x, y, width, height`` in percent of the original
image (0-100) and ``rotation`` in degrees, clockwise, around the box's top-left corner
``(x, y)``. Rotation happens in pixel space, so percentages are turned into pixels first.
``to_xyxy``/``to_coco``/``to_yolo`` give the axis-aligned box that encloses each region:

* a rectangle, rotated or not: its four corners;
* a polygon or polyline (``points``, a list of ``[x, y]`` in percent): its points;
* an ellipse (``x, y`` its centre, ``radius_x, radius_y``, ``rotation`` around the
  centre): the exact enclosing box of the turned ellipse;
* a keypoint (``type`` ``keypointlabels`` / ``keypoint``): the point itself, a box of no
  size (its ``width`` is how large the tool draws it, not an extent).

Every function takes a regions DataFrame (columns ``x, y, width, height``, optional
``rotation``, ``points``, ``radius_x``, ``radius_y``, ``type``, ``original_width``,
``original_height``) or the same arrays and returns float64 numpy arrays (NaN where a
value is missing). No I/O. ``to_coco(..., segmentation=True)`` adds the COCO
segmentations of :mod:`~ls_frames.geometry.coco`; the percent-to-pixel conversion is
:mod:`~ls_frames.geometry.pixels`, the rotation maths :mod:`~ls_frames.geometry.rotation`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ls_frames.geometry.coco import segmentations
from ls_frames.geometry.pixels import (
    Arrays,
    box_corners,
    floats,
    pixel_columns,
    points_box,
    to_pixels,
)
from ls_frames.geometry.rotation import ellipse_extent
from ls_frames.reading.controls import KEYPOINT_TYPES

# box_corners and to_pixels live in pixels.py; still importable from here
__all__ = ["box_corners", "to_coco", "to_pixels", "to_xyxy", "to_yolo"]


def to_xyxy(regions: Any, image_size: tuple[float, float] | None = None) -> Arrays:
    """Enclosing axis-aligned box in pixels: ``x_min, y_min, x_max, y_max``.

    Rectangles (rotation included), polygons and polylines, ellipses and keypoints: see
    the module docstring.
    """
    c = pixel_columns(regions, image_size)
    corners = box_corners(regions, image_size)
    with np.errstate(invalid="ignore"):
        box = np.stack(
            [
                corners[:, :, 0].min(axis=1),
                corners[:, :, 1].min(axis=1),
                corners[:, :, 0].max(axis=1),
                corners[:, :, 1].max(axis=1),
            ],
            axis=1,
        )
    n = len(box)
    if "type" in regions:
        kinds = pd.Series(regions["type"], dtype=object).to_numpy(object)
        point = np.fromiter((k in KEYPOINT_TYPES for k in kinds), bool, n)
        px, py = c["x"] * c["ow"] / 100.0, c["y"] * c["oh"] / 100.0
        box[point] = np.column_stack([px, py, px, py])[point]
    if "radius_x" in regions and "radius_y" in regions:
        rx = floats(regions["radius_x"]) * c["ow"] / 100.0
        ry = floats(regions["radius_y"]) * c["oh"] / 100.0
        ellipse = ~(np.isnan(rx) | np.isnan(ry))
        hx, hy = ellipse_extent(rx, ry, c["rotation"])
        cx, cy = c["x"] * c["ow"] / 100.0, c["y"] * c["oh"] / 100.0
        box[ellipse] = np.column_stack([cx - hx, cy - hy, cx + hx, cy + hy])[ellipse]
    if "points" in regions:
        from_points = points_box(list(regions["points"]), c["ow"], c["oh"])
        has = ~np.isnan(from_points).any(axis=1)
        box[has] = from_points[has]
    return {"x_min": box[:, 0], "y_min": box[:, 1], "x_max": box[:, 2], "y_max": box[:, 3]}


def to_coco(
    regions: Any, image_size: tuple[float, float] | None = None, *, segmentation: bool = False
) -> Arrays:
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
    return {"segmentation": segmentations(regions, image_size)}


def to_yolo(regions: Any, image_size: tuple[float, float] | None = None) -> Arrays:
    """YOLO: ``x_center, y_center, width, height`` normalised to 0-1 (enclosing box)."""
    c = pixel_columns(regions, image_size)
    b = to_xyxy(regions, image_size)
    return {
        "x_center": (b["x_min"] + b["x_max"]) / 2.0 / c["ow"],
        "y_center": (b["y_min"] + b["y_max"]) / 2.0 / c["oh"],
        "width": (b["x_max"] - b["x_min"]) / c["ow"],
        "height": (b["y_max"] - b["y_min"]) / c["oh"],
    }
