"""Regions drawn on a PIL image, in its pixels. Pure: an image and region rows in, the
same image drawn on.

Geometry is Label Studio's (percent of the image; a rectangle turned about its top-left
corner, an ellipse about its centre: :mod:`ls_frames.geometry.rotation` does the turning).
Each region is drawn in its label's colour; annotations with solid lines, predictions with
dashed ones (a predicted mask: a dotted edge); a brush mask is a tinted overlay pasted
through the mask's bounding box only (Pillow's ``paste`` with the mask as alpha), so a
small mask on a large image costs little.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from typing import Any

import msgspec
import numpy as np
from numpy.typing import NDArray

from ls_frames.drawing.colors import RGB, stable_color
from ls_frames.drawing.extras import pillow
from ls_frames.errors import RegionError
from ls_frames.geometry.brush import rle_to_mask
from ls_frames.geometry.rotation import ellipse_outline, rectangle_corners
from ls_frames.reading.controls import kind_of

__all__ = ["DRAWN_KINDS", "draw_legend", "draw_regions", "line_width"]

#: the region kinds drawn on images
DRAWN_KINDS = frozenset({"rectangle", "polygon", "polyline", "ellipse", "keypoint", "brush"})
_MASK_OPACITY = {False: 0.45, True: 0.3}  # annotation, prediction


def line_width(size: tuple[int, int]) -> int:
    """The outline width for an image of this ``(width, height)``: 2 px up to 720 px, then
    one more per 360 px of the shorter side."""
    return max(2, round(min(size) / 360))


@lru_cache(maxsize=16)
def font(size: int) -> Any:
    """Pillow's default font at ``size`` px (its bitmap font where FreeType is missing)."""
    image_font = pillow().ImageFont
    try:
        return image_font.load_default(size=size)
    except (TypeError, ImportError, OSError):  # pragma: no cover - Pillow built without FreeType
        return image_font.load_default()


def _number(value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return math.nan
    return number


def _dashed(draw: Any, xy: NDArray[np.float64], closed: bool, fill: RGB, width: int) -> None:
    """A dashed line through the points ``xy`` (closed: back to the first)."""
    points = np.vstack([xy, xy[:1]]) if closed else xy
    dash, gap = 4.0 * width, 3.0 * width
    period = dash + gap
    offset = 0.0  # where the pattern stands at the start of each segment
    for (x0, y0), (x1, y1) in itertools.pairwise(points):
        length = math.hypot(x1 - x0, y1 - y0)
        if length == 0:
            continue
        ux, uy = (x1 - x0) / length, (y1 - y0) / length
        start = -offset
        while start < length:
            a, b = max(start, 0.0), min(start + dash, length)
            if b > a:
                draw.line([(x0 + ux * a, y0 + uy * a), (x0 + ux * b, y0 + uy * b)], fill, width)
            start += period
        offset = (offset + length) % period


def _outline(
    draw: Any, xy: NDArray[np.float64], closed: bool, fill: RGB, width: int, dashed: bool
) -> None:
    if not np.isfinite(xy).all() or len(xy) < 2:
        return
    if dashed:
        _dashed(draw, xy, closed, fill, width)
        return
    points = [(float(x), float(y)) for x, y in xy]
    if closed:
        points.append(points[0])
    draw.line(points, fill=fill, width=width, joint="curve")


def _points(row: Mapping[str, Any], sx: float, sy: float) -> NDArray[np.float64]:
    raw = row.get("points")
    if raw is None or not hasattr(raw, "__len__") or len(raw) == 0:
        return np.empty((0, 2))
    try:
        xy = np.array([[float(p[0]), float(p[1])] for p in raw], dtype=np.float64)
    except (TypeError, ValueError, IndexError):
        return np.empty((0, 2))
    return xy * (sx, sy)


def _mask(
    image: Any, row: Mapping[str, Any], color: RGB, dashed: bool, width: int
) -> tuple[float, float] | None:
    """A brush region as a tinted overlay, with its edge (dotted for a prediction); the
    top-left corner of the mask's bounding box (``None`` for an empty mask)."""
    pil = pillow()
    try:
        value = msgspec.json.decode(row.get("value_json") or "{}")
        height = int(_number(row.get("original_height")))
        wide = int(_number(row.get("original_width")))
        mask = rle_to_mask(value["rle"], height, wide)
    except (msgspec.DecodeError, KeyError, TypeError, ValueError) as exc:
        raise RegionError(
            f"a brush region that cannot be drawn: {exc}", region=str(row.get("region_id"))
        ) from None
    if mask.shape != (image.height, image.width):
        mask = np.asarray(
            pil.Image.fromarray(mask).resize(image.size, pil.Image.Resampling.NEAREST)
        )
    rows = np.flatnonzero(mask.any(axis=1))
    if not len(rows):
        return None
    cols = np.flatnonzero(mask.any(axis=0))
    r0, r1, c0, c1 = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
    part = mask[r0:r1, c0:c1]
    alpha = (part.astype(np.uint16) * int(255 * _MASK_OPACITY[dashed]) // 255).astype(np.uint8)
    inside = part > 0
    edge = inside.copy()  # inside, with a neighbour outside (or the crop's border)
    edge[1:-1, 1:-1] &= ~(
        inside[:-2, 1:-1] & inside[2:, 1:-1] & inside[1:-1, :-2] & inside[1:-1, 2:]
    )
    if width > 2:  # a thicker edge on large images: grow it by one pixel inward
        grown = edge.copy()
        grown[1:, :] |= edge[:-1, :]
        grown[:-1, :] |= edge[1:, :]
        grown[:, 1:] |= edge[:, :-1]
        grown[:, :-1] |= edge[:, 1:]
        edge = grown & inside
    if dashed:
        rr, cc = np.indices(edge.shape, sparse=True)
        edge &= ((rr + r0 + cc + c0) // (2 * width)) % 2 == 0
    alpha[edge] = 255
    image.paste(color, (c0, r0, c1, r1), pil.Image.fromarray(alpha, "L"))
    return float(c0), float(r0)


@lru_cache(maxsize=2048)
def _label_box(text: str, px: int, color: RGB) -> Any:
    """``text`` written on a box of ``color`` (black or white ink, whichever reads), made
    once per text, size and colour: a page repeats the same captions."""
    pil = pillow()
    face = font(px)
    left, top, right, bottom = face.getbbox(text)
    box = pil.Image.new("RGB", (right - left + 6, bottom - top + 4), color)
    luma = 0.299 * color[0] + 0.587 * color[1] + 0.114 * color[2]
    ink = (0, 0, 0) if luma > 150 else (255, 255, 255)
    pil.ImageDraw.Draw(box).text((3 - left, 2 - top), text, fill=ink, font=face)
    return box


def _caption(
    image: Any,
    text: str,
    at: tuple[float, float],
    color: RGB,
    placed: list[tuple[int, int, int, int]],
) -> None:
    """``text`` on a box of ``color`` just above ``at``, else just below it, inside the
    image and clear of the captions ``placed`` already; nowhere when it fits in neither
    (a caption that would hide another is left out)."""
    if not text:
        return
    size = image.size
    box = _label_box(text, max(11, round(min(size) / 60)), color)
    tw, th = box.size
    if tw > size[0] or th > size[1]:
        return
    x = round(min(max(at[0], 0.0), size[0] - tw))
    for y in (at[1] - th, at[1]):
        top = round(min(max(y, 0.0), size[1] - th))
        rect = (x, top, x + tw, top + th)
        if not any(
            rect[0] < r[2] and r[0] < rect[2] and rect[1] < r[3] and r[1] < rect[3] for r in placed
        ):
            image.paste(box, (x, top))
            placed.append(rect)
            return


def _shape(
    row: Mapping[str, Any], kind: str, size: tuple[int, int]
) -> tuple[NDArray[np.float64], bool]:
    """The outline points of a region in pixels and whether the outline is closed."""
    sx, sy = size[0] / 100.0, size[1] / 100.0
    x, y = _number(row.get("x")) * sx, _number(row.get("y")) * sy
    rotation = _number(row.get("rotation"))
    rotation = 0.0 if math.isnan(rotation) else rotation
    if kind == "rectangle":
        w, h = _number(row.get("width")) * sx, _number(row.get("height")) * sy
        return rectangle_corners([x], [y], [w], [h], [rotation])[0], True
    if kind == "ellipse":
        rx, ry = _number(row.get("radius_x")) * sx, _number(row.get("radius_y")) * sy
        return ellipse_outline(x, y, rx, ry, rotation), True
    closed = kind == "polygon"
    return _points(row, sx, sy), closed


def draw_regions(
    image: Any,
    rows: Iterable[Mapping[str, Any]],
    *,
    colors: Mapping[str, RGB],
    emphasis: Sequence[bool] | None = None,
) -> set[str]:
    """Draw region rows (``frames.regions`` rows as dicts, plus ``caption``) on ``image``.

    Masks go first so the outlines and captions of other regions stay on top. A row of a
    kind not in :data:`DRAWN_KINDS` is passed over. Returns the kinds of lines drawn
    (``"annotation"``, ``"prediction"``) for the legend.
    """
    pil = pillow()
    draw = pil.ImageDraw.Draw(image)
    size = image.size
    width = line_width(size)
    items = [
        (dict(r), False if emphasis is None else bool(emphasis[i])) for i, r in enumerate(rows)
    ]
    items.sort(key=lambda item: kind_of(item[0].get("type")) != "brush")
    sources: set[str] = set()
    placed: list[tuple[int, int, int, int]] = []  # the captions' boxes
    for row, strong in items:
        kind = kind_of(row.get("type"))
        if kind not in DRAWN_KINDS:
            continue
        label = row.get("label")
        color = colors.get(str(label)) or stable_color(label)
        dashed = row.get("source") == "prediction"
        sources.add("prediction" if dashed else "annotation")
        lw = width * 2 if strong else width
        rows_at: tuple[float, float] | None
        if kind == "brush":
            rows_at = _mask(image, row, color, dashed, lw)
        elif kind == "keypoint":
            cx, cy = _number(row.get("x")) * size[0] / 100, _number(row.get("y")) * size[1] / 100
            if not (math.isfinite(cx) and math.isfinite(cy)):
                continue
            r = max(
                lw * 2.0, _number(row.get("width")) * size[0] / 100 if row.get("width") else 0.0
            )
            box = [cx - r, cy - r, cx + r, cy + r]
            draw.ellipse(box, outline=color, width=lw, fill=None if dashed else color)
            rows_at = (cx - r, cy - r)
        else:
            xy, closed = _shape(row, kind, size)
            _outline(draw, xy, closed, color, lw, dashed)
            finite = xy[np.isfinite(xy).all(axis=1)] if len(xy) else xy
            rows_at = (
                (float(finite[:, 0].min()), float(finite[:, 1].min())) if len(finite) else None
            )
        if rows_at is not None:
            _caption(image, str(row.get("caption") or ""), rows_at, color, placed)
    return sources


@lru_cache(maxsize=256)
def _key(lines: tuple[tuple[str, RGB | None], ...], px: int, width: int) -> Any:
    """The key's picture, made once per set of lines and size."""
    pil = pillow()
    face = font(px)
    boxes = [face.getbbox(text) for text, _ in lines]
    line_h = max(b[3] - b[1] for b in boxes) + 6
    sample = 8 * width + 6
    w = max(b[2] - b[0] for b in boxes) + sample + 14
    h = line_h * len(lines) + 8
    key = pil.Image.new("RGB", (w + 1, h + 1), (255, 255, 255))
    draw = pil.ImageDraw.Draw(key)
    draw.rectangle([0, 0, w, h], outline=(0, 0, 0))
    for i, ((text, color), box) in enumerate(zip(lines, boxes, strict=True)):
        y = 4 + i * line_h
        mid = y + line_h / 2
        if color is None:
            xy = np.array([[6, mid], [6 + sample - 4, mid]])
            _outline(draw, xy, False, (0, 0, 0), width, text == "prediction")
        else:
            draw.rectangle([6, y + 3, 2 + sample, y + line_h - 3], fill=color)
        draw.text((10 + sample - box[0], y + 3 - box[1]), text, fill=(0, 0, 0), font=face)
    return key


def draw_legend(image: Any, sources: set[str], labels: Mapping[str, RGB]) -> None:
    """A key in the bottom-left corner: solid = annotation, dashed = prediction, then one
    swatch per label drawn (nothing when the image is too small for it)."""
    if not sources and not labels:
        return
    size = image.size
    lines: list[tuple[str, RGB | None]] = [
        (s, None) for s in ("annotation", "prediction") if s in sources
    ]
    lines += [(label, color) for label, color in labels.items()]
    key = _key(tuple(lines), max(11, round(min(size) / 60)), line_width(size))
    if key.width + 4 > size[0] or key.height + 4 > size[1]:
        return  # no room: a tile too small for a key
    image.paste(key, (4, size[1] - key.height - 4))
