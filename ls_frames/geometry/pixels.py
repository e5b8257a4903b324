"""Label Studio's percent coordinates as image pixels: positions, sizes, rotated corners.

Label Studio stores a rectangle as ``x, y, width, height`` in percent of the original
image (0-100) and ``rotation`` in degrees, clockwise, around the box's top-left corner
``(x, y)``; a polygon as ``points``, a list of ``[x, y]`` in percent. Rotation happens in
pixel space, so percentages are turned into pixels first (the turn itself is
:func:`~ls_frames.geometry.rotation.rectangle_corners`).

Every function takes a regions DataFrame (columns ``x, y, width, height``, optional
``rotation``, ``points``, ``original_width``, ``original_height``) or the same arrays and
returns float64 numpy arrays (NaN where a value is missing). No I/O.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from ls_frames.geometry.rotation import rectangle_corners

__all__ = ["box_corners", "floats", "pixel_columns", "points_box", "to_pixels"]

Arrays = dict[str, NDArray[Any]]


def floats(values: Any) -> NDArray[Any]:
    """``values`` as float64, NaN where a value is missing or not a number."""
    if isinstance(values, np.ndarray) and values.dtype.kind in "fiu":
        return values.astype("float64")
    numbers = pd.to_numeric(pd.Series(values, dtype=object), errors="coerce")
    result: NDArray[Any] = numbers.to_numpy(dtype="float64", na_value=np.nan)
    return result


def pixel_columns(regions: Any, image_size: tuple[float, float] | None) -> Arrays:
    """``x, y, width, height`` (percent), ``rotation`` (degrees, 0 where missing) and the
    image size ``ow, oh`` (``image_size`` or ``original_width`` / ``original_height``)
    of each row, as float64 arrays."""
    n = len(regions["x"] if "x" in regions else regions["points"])
    cols = {
        k: floats(regions[k]) if k in regions else np.full(n, np.nan)
        for k in ("x", "y", "width", "height")
    }
    rotation = regions["rotation"] if "rotation" in regions else np.zeros(n)
    cols["rotation"] = np.nan_to_num(floats(rotation))
    if image_size is not None:
        cols["ow"] = np.full(n, float(image_size[0]))
        cols["oh"] = np.full(n, float(image_size[1]))
    else:
        cols["ow"] = floats(regions["original_width"])
        cols["oh"] = floats(regions["original_height"])
    return cols


def to_pixels(regions: Any, image_size: tuple[float, float] | None = None) -> Arrays:
    """``x, y, width, height`` in pixels plus ``rotation`` (degrees), unrotated.

    ``image_size=(width, height)`` overrides ``original_width``/``original_height``.
    """
    c = pixel_columns(regions, image_size)
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
    return rectangle_corners(p["x"], p["y"], p["width"], p["height"], p["rotation"])


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
