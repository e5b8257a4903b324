"""COCO segmentations: polygons as they are, other masks as compressed RLE.

COCO's compressed RLE (what ``pycocotools.mask.encode`` writes): the mask read column by
column (Fortran order), run lengths starting with a run of zeros, each length stored as
the difference to the length two runs back (from the third on) in 5-bit groups of a
signed little-endian varint, each group + 48 as one ASCII character.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from ls_frames.errors import ConfigurationError, RegionError
from ls_frames.geometry.masks import mask_kinds, region_masks, region_name
from ls_frames.geometry.pixels import box_corners

__all__ = ["mask_to_coco_rle", "segmentations"]


def _compress(counts: list[int]) -> str:
    out = []
    for i, count in enumerate(counts):
        x = count - counts[i - 2] if i > 2 else count
        more = True
        while more:
            c = x & 0x1F
            x >>= 5
            more = x != -1 if c & 0x10 else x != 0
            out.append(chr((c | 0x20 if more else c) + 48))
    return "".join(out)


def mask_to_coco_rle(mask: NDArray[Any]) -> dict[str, Any]:
    """COCO compressed RLE of ``mask > 0``.

    Parameters
    ----------
    mask:
        a 2-d array (``height x width``); any non-zero pixel is inside.

    Returns
    -------
    dict
        ``{"size": [height, width], "counts": str}``, equal to ``pycocotools.mask.encode``
        of the same binary mask (with ``counts`` decoded to ``str``).
    """
    if mask.ndim != 2:
        raise ConfigurationError(f"a mask is 2-d, got shape {mask.shape}")
    flat = (np.asarray(mask) > 0).T.ravel()
    n = flat.size
    changes = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    bounds = np.concatenate(([0], changes, [n]))
    counts = np.diff(bounds).tolist()
    if n and flat[0]:
        counts = [0, *counts]
    if not n:
        counts = [0]
    return {"size": [int(mask.shape[0]), int(mask.shape[1])], "counts": _compress(counts)}


def segmentations(
    regions: pd.DataFrame, image_size: tuple[float, float] | None = None
) -> NDArray[Any]:
    """The COCO ``segmentation`` of each row (``None`` for rows that are not areas).

    Polygons and rectangles become one polygon ``[[x1, y1, x2, y2, ...]]`` in pixels (exact,
    rotation included); brushes and ellipses compressed RLE (:func:`mask_to_coco_rle`).
    ``image_size=(width, height)`` overrides ``original_width``/``original_height``.
    """
    out = np.empty(len(regions), dtype=object)
    kinds = mask_kinds(regions["type"])
    if regions.index.has_duplicates:
        raise ConfigurationError("segmentations needs a regions table with a unique index")
    position = {label: k for k, label in enumerate(regions.index)}
    shape = None if image_size is None else (int(image_size[1]), int(image_size[0]))
    is_polygon = kinds.eq("polygon").to_numpy(dtype=bool)
    is_box = kinds.eq("rectangle").to_numpy(dtype=bool)
    if is_box.any():
        boxes = regions[is_box]
        corners = box_corners(boxes, image_size)
        for j, (label, c) in enumerate(zip(boxes.index, corners, strict=True)):
            if not np.isfinite(c).all():
                raise RegionError(
                    "a rectangle without its geometry or image size",
                    region=region_name(boxes.iloc[j]),
                )
            out[position[label]] = [[float(v) for v in c.ravel()]]
    for k in np.flatnonzero(is_polygon):
        row = regions.iloc[k]
        points = row.get("points")
        if points is None or points is pd.NA or len(points) < 3:
            raise RegionError("a polygon with fewer than 3 points", region=region_name(row))
        if image_size is None and pd.isna(row.get("original_width")):
            raise RegionError(
                "no original_width/original_height: pass image_size", region=region_name(row)
            )
        w, h = (
            image_size
            if image_size is not None
            else (row["original_width"], row["original_height"])
        )
        scale = (float(w) / 100.0, float(h) / 100.0)
        out[k] = [[float(v) * scale[j] for p in points for j, v in enumerate(list(p)[:2])]]
    drawn = regions[(kinds.isin(["brush", "ellipse"])).to_numpy(dtype=bool)]
    for m in region_masks(drawn, shape=shape):
        out[position[m.index]] = mask_to_coco_rle(m.mask)
    return out
