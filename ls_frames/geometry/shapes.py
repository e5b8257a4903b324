"""Region geometry: Label Studio percentages to pixels, xyxy, COCO and YOLO.

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
value is missing). Pure numpy, no I/O.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from ls_frames.reading.controls import KEYPOINT_TYPES

__all__ = ["box_corners", "to_coco", "to_pixels", "to_xyxy", "to_yolo"]

Arrays = dict[str, NDArray[Any]]


def _f(values: Any) -> NDArray[Any]:
    if isinstance(values, np.ndarray) and values.dtype.kind in "fiu":
        return values.astype("float64")
    numbers = pd.to_numeric(pd.Series(values, dtype=object), errors="coerce")
    result: NDArray[Any] = numbers.to_numpy(dtype="float64", na_value=np.nan)
    return result


def _columns(regions: Any, image_size: tuple[float, float] | None) -> Arrays:
    n = len(regions["x"] if "x" in regions else regions["points"])
    cols = {
        k: _f(regions[k]) if k in regions else np.full(n, np.nan)
        for k in ("x", "y", "width", "height")
    }
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


def points_box(points: Any, ow: NDArray[Any], oh: NDArray[Any]) -> NDArray[Any]:
    """``(n, 4)`` pixel ``x_min, y_min, x_max, y_max`` of each row's points (NaN when
    the row has none)."""
    out = np.full((len(ow), 4), np.nan)
    for i, pts in enumerate(points):
        if not isinstance(pts, (list, tuple, np.ndarray)) or len(pts) == 0:
            continue  # missing (None, NaN, pd.NA) or empty
        try:
            xy = np.asarray([np.asarray(p, dtype=np.float64)[:2] for p in pts])
        except (TypeError, ValueError):
            continue  # not a list of [x, y]
        if xy.ndim != 2 or xy.shape[1] != 2:
            continue
        out[i] = (
            xy[:, 0].min() * ow[i] / 100.0,
            xy[:, 1].min() * oh[i] / 100.0,
            xy[:, 0].max() * ow[i] / 100.0,
            xy[:, 1].max() * oh[i] / 100.0,
        )
    return out


def to_xyxy(regions: Any, image_size: tuple[float, float] | None = None) -> Arrays:
    """Enclosing axis-aligned box in pixels: ``x_min, y_min, x_max, y_max``.

    Rectangles (rotation included), polygons and polylines, ellipses and keypoints: see
    the module docstring.
    """
    c = _columns(regions, image_size)
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
        rx = _f(regions["radius_x"]) * c["ow"] / 100.0
        ry = _f(regions["radius_y"]) * c["oh"] / 100.0
        ellipse = ~(np.isnan(rx) | np.isnan(ry))
        theta = np.deg2rad(c["rotation"])
        hx = np.hypot(rx * np.cos(theta), ry * np.sin(theta))
        hy = np.hypot(rx * np.sin(theta), ry * np.cos(theta))
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
    from ls_frames.geometry.coco import segmentations  # masks build on this module

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
