"""Label Studio's rotations, computed once: a rectangle turned about its top-left corner
and an ellipse turned about its centre.

Label Studio turns a rectangle by ``rotation`` degrees, clockwise on screen (y pointing
down), around its top-left corner ``(x, y)``; an ellipse around its centre. Rotation
happens in pixel space: pass pixels (or percent of a square image). Pure numpy: every
module that turns a shape (:mod:`~ls_frames.geometry.pixels`,
:mod:`~ls_frames.geometry.overlap`, :mod:`~ls_frames.geometry.masks`, the drawings of
:mod:`ls_frames.drawing`) calls these.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["ellipse_extent", "ellipse_outline", "rectangle_corners"]


def rectangle_corners(
    x: ArrayLike, y: ArrayLike, width: ArrayLike, height: ArrayLike, rotation: ArrayLike
) -> NDArray[np.float64]:
    """Corners of rectangles turned about their top-left corner.

    Parameters
    ----------
    x, y, width, height
        The top-left corner and the size, one value per rectangle.
    rotation
        Degrees, clockwise on screen, around ``(x, y)``.

    Returns
    -------
    numpy.ndarray
        ``(n, 4, 2)`` float64: ``(x, y)`` of the corners, clockwise on screen from the
        top-left one (NaN where an input is).
    """
    x0, y0 = np.asarray(x, np.float64), np.asarray(y, np.float64)
    w, h = np.asarray(width, np.float64), np.asarray(height, np.float64)
    theta = np.deg2rad(np.asarray(rotation, np.float64))
    cos, sin = np.cos(theta)[:, None], np.sin(theta)[:, None]
    zero = np.zeros_like(w)
    dx = np.stack([zero, w, w, zero], axis=1)
    dy = np.stack([zero, zero, h, h], axis=1)
    xs = x0[:, None] + dx * cos - dy * sin
    ys = y0[:, None] + dx * sin + dy * cos
    return np.stack([xs, ys], axis=2)


def ellipse_extent(rx: Any, ry: Any, rotation: Any) -> tuple[Any, Any]:
    """Half width and half height of the box enclosing ellipses turned about their centre.

    Parameters
    ----------
    rx, ry
        The radii (numbers or arrays).
    rotation
        Degrees, clockwise on screen, around the centre.

    Returns
    -------
    tuple
        ``(half_width, half_height)``: floats for numbers, arrays for arrays.
    """
    theta = np.deg2rad(rotation)
    cos, sin = np.cos(theta), np.sin(theta)
    return np.hypot(rx * cos, ry * sin), np.hypot(rx * sin, ry * cos)


def ellipse_outline(
    cx: float, cy: float, rx: float, ry: float, rotation: float, points: int = 72
) -> NDArray[np.float64]:
    """Points around an ellipse turned about its centre.

    Parameters
    ----------
    cx, cy
        The centre.
    rx, ry
        The radii.
    rotation
        Degrees, clockwise on screen, around the centre.
    points
        How many points (evenly spaced in the ellipse's angle).

    Returns
    -------
    numpy.ndarray
        ``(points, 2)`` float64 ``(x, y)``, clockwise on screen.
    """
    t = np.linspace(0.0, 2.0 * np.pi, points, endpoint=False)
    dx, dy = rx * np.cos(t), ry * np.sin(t)
    theta = np.deg2rad(rotation)
    cos, sin = np.cos(theta), np.sin(theta)
    return np.stack([cx + dx * cos - dy * sin, cy + dx * sin + dy * cos], axis=1)
