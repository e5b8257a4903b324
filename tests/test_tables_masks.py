"""``region_masks``, the numpy rasterisers and ``to_coco(segmentation=True)``.

References: pycocotools (``mask.encode`` / ``decode`` / ``frPyObjects``, test extra) for
COCO RLE and polygon rasterisation, the official SDK's decoder for brushes (through
``rle_to_mask``, tested in test_tables_brush.py), and Label Studio's geometry conventions
written out by hand (rotation clockwise around a rectangle's top-left corner and an
ellipse's centre).
"""

from __future__ import annotations

import json
import types
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import ls_frames
from ls_frames.errors import RegionError
from ls_frames.geometry.brush import rle_to_mask
from ls_frames.geometry.coco import mask_to_coco_rle
from ls_frames.geometry.masks import ellipse_mask, polygon_mask, region_masks
from ls_frames.geometry.shapes import box_corners, to_coco
from tests.needs import missing

CORPUS = Path(__file__).parent / "corpus" / "label-studio-1.23.2" / "masks_export.json"
# pycocotools' decode warns under numpy 2 (its own code, not ours)
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")


@pytest.fixture(scope="module")
def coco() -> Any:
    try:
        from pycocotools import mask
    except ImportError:
        missing("pycocotools (test extra)")
    return mask


@pytest.fixture(scope="module")
def frames() -> ls_frames.Frames:
    return ls_frames.read_export(CORPUS, progress=False)


def _edge_distance(points: np.ndarray, h: int, w: int) -> np.ndarray:
    """Distance of every pixel centre to the polygon's boundary, ``(h, w)``."""
    cy, cx = np.mgrid[:h, :w] + 0.5
    p = np.stack([cx.ravel(), cy.ravel()], axis=1)[:, None, :]
    a, b = points[None, :, :], np.roll(points, -1, axis=0)[None, :, :]
    ab = b - a
    t = np.clip(((p - a) * ab).sum(-1) / np.maximum((ab * ab).sum(-1), 1e-12), 0, 1)
    d: np.ndarray = np.linalg.norm(p - (a + t[..., None] * ab), axis=-1).min(axis=1)
    return d.reshape(h, w)


def _against_coco_polygon(coco: Any, mask: np.ndarray, points: np.ndarray) -> None:
    """Our raster vs pycocotools' (different sampling rules): they may differ only on
    pixels whose centre is within a pixel of the boundary, and rarely."""
    h, w = mask.shape
    ref = coco.decode(coco.frPyObjects([points.ravel().tolist()], h, w))[:, :, 0]
    differ = (mask > 0) != (ref > 0)
    assert (_edge_distance(points, h, w)[differ] <= 1.0).all()
    assert differ.sum() <= max(4, 0.1 * int((ref > 0).sum()))


def test_random_polygons_match_pycocotools_inside_the_boundary(coco: Any) -> None:
    rng = np.random.default_rng(2)
    for _ in range(60):
        h, w = (int(v) for v in rng.integers(20, 120, 2))
        n = int(rng.integers(3, 12))
        angles = np.sort(rng.uniform(0, 2 * np.pi, n))
        radius = rng.uniform(0.2, 0.6, n) * min(h, w)
        centre = rng.uniform(0.2, 0.8, 2) * (w, h)
        pts = centre + np.stack([np.cos(angles), np.sin(angles)], 1) * radius[:, None]
        mask = polygon_mask(pts, h, w)
        assert mask.dtype == np.uint8 and set(np.unique(mask)) <= {0, 255}
        _against_coco_polygon(coco, mask, pts)


def test_corpus_shapes_match_pycocotools(coco: Any, frames: ls_frames.Frames) -> None:
    regions = frames.regions
    masks = {(m.task_id, m.source, m.region_id): m for m in region_masks(regions)}
    assert len(masks) == len(regions) == 28
    seen = set()
    rows: list[Any] = list(regions.itertuples())
    for row in rows:
        m = masks[row.task_id, row.source, row.region_id]
        h, w = int(row.original_height), int(row.original_width)
        assert m.mask.shape == (h, w) and m.type == row.type and m.index == row.Index
        seen.add(row.type)
        if row.type == "polygonlabels":
            pts = np.array([list(p) for p in row.points]) * (w / 100, h / 100)
        elif row.type == "rectanglelabels":
            pts = box_corners(regions.loc[[row.Index]])[0]
        elif row.type == "ellipselabels":
            t = np.linspace(0, 2 * np.pi, 720, endpoint=False)
            rx, ry = row.radius_x * w / 100, row.radius_y * h / 100
            th = np.deg2rad(row.rotation)
            u, v = rx * np.cos(t), ry * np.sin(t)
            pts = np.stack(
                [
                    row.x * w / 100 + u * np.cos(th) - v * np.sin(th),
                    row.y * h / 100 + u * np.sin(th) + v * np.cos(th),
                ],
                1,
            )
        else:
            want = rle_to_mask(json.loads(row.value_json)["rle"], h, w)
            np.testing.assert_array_equal(m.mask, want)
            continue
        assert m.mask.any()
        _against_coco_polygon(coco, m.mask, pts)
    assert seen == {"brushlabels", "polygonlabels", "rectanglelabels", "ellipselabels"}


def test_rotation_is_clockwise_around_the_corner_and_the_centre() -> None:
    # a 40x10 px box at (50, 20) turned 90 degrees clockwise covers x 40-50, y 20-60
    box = pd.DataFrame(
        {
            "type": ["rectanglelabels"],
            "x": [50.0],
            "y": [20.0],
            "width": [40.0],
            "height": [10.0],
            "rotation": [90.0],
            "original_width": [100],
            "original_height": [100],
        }
    )
    [m] = region_masks(box)
    ys, xs = np.nonzero(m.mask)
    assert (xs.min(), xs.max(), ys.min(), ys.max()) == (40, 49, 20, 59)
    # an ellipse 30 wide, 10 high, turned 90 degrees: 10 wide, 30 high
    oval = pd.DataFrame(
        {
            "type": ["ellipselabels"],
            "x": [50.0],
            "y": [50.0],
            "radius_x": [30.0],
            "radius_y": [10.0],
            "rotation": [90.0],
            "original_width": [100],
            "original_height": [100],
        }
    )
    [e] = region_masks(oval)
    ys, xs = np.nonzero(e.mask)
    assert (xs.min(), xs.max(), ys.min(), ys.max()) == (40, 59, 20, 79)
    np.testing.assert_array_equal(e.mask, ellipse_mask(50, 50, 10, 30, 0, 100, 100))
    # 30 degrees: the box's far corner is (x + w cos - h sin, y + w sin + h cos)
    turned = box.assign(rotation=30.0, x=20.0)
    [t] = region_masks(turned)
    far = (
        20 + 40 * np.cos(np.pi / 6) - 10 * np.sin(np.pi / 6),
        20 + 40 * np.sin(np.pi / 6) + 10 * np.cos(np.pi / 6),
    )
    assert t.mask[int(far[1]) - 1, int(far[0]) - 1] == 255 and t.mask[25, 55] == 0


def test_coco_rle_equals_pycocotools(coco: Any) -> None:
    rng = np.random.default_rng(8)
    shapes = [(1, 1), (1, 9), (9, 1), (7, 5), (64, 48), (200, 300)]
    for h, w in shapes:
        for fill in (0.0, 1.0, 0.03, 0.5, 0.97):
            mask = (rng.random((h, w)) < fill).astype(np.uint8)
            if fill == 0.5 and h > 10:
                mask[h // 4 : h // 2, w // 3 :] = 1  # long runs: multi-group lengths
            ours = mask_to_coco_rle(mask * 255)
            ref = coco.encode(np.asfortranarray(mask))
            assert ours["counts"] == ref["counts"].decode() and ours["size"] == ref["size"]
            decoded = coco.decode({"size": ours["size"], "counts": ours["counts"].encode()})
            np.testing.assert_array_equal(decoded, mask)


def test_to_coco_segmentation(coco: Any, frames: ls_frames.Frames) -> None:
    regions = frames.regions
    out = to_coco(regions, segmentation=True)
    assert list(out) == ["x", "y", "width", "height", "segmentation"]
    masks = {m.index: m.mask for m in region_masks(regions)}
    for k, (label, row) in enumerate(regions.iterrows()):
        seg = out["segmentation"][k]
        h, w = int(row["original_height"]), int(row["original_width"])
        if row["type"] in ("polygonlabels", "rectanglelabels"):
            assert isinstance(seg, list) and len(seg) == 1 and all(type(v) is float for v in seg[0])
            n = len(row["points"]) if row["type"] == "polygonlabels" else 4
            assert len(seg[0]) == 2 * n
            _against_coco_polygon(coco, masks[label], np.array(seg[0]).reshape(-1, 2))
        else:
            decoded = coco.decode({"size": seg["size"], "counts": seg["counts"].encode()})
            np.testing.assert_array_equal(decoded, masks[label] > 0)
            assert seg["size"] == [h, w]
            assert coco.area({"size": seg["size"], "counts": seg["counts"].encode()}) == int(
                (masks[label] > 0).sum()
            )
    assert "segmentation" not in to_coco(regions)


def test_other_rows_are_passed_over_and_masks_come_one_at_a_time(frames: ls_frames.Frames) -> None:
    regions = frames.regions
    extra = regions.iloc[:1].assign(type="choices")
    broken = (
        regions[regions["type"] == "brushlabels"]
        .iloc[:1]
        .assign(value_json='{"format": "rle", "rle": [0, 0, 0, 4, 7, 0, 0, 0, 0]}')
    )
    table = pd.concat([regions.iloc[:2], extra, broken], ignore_index=True)
    it = region_masks(table)
    assert isinstance(it, types.GeneratorType)
    assert next(it).mask.shape == next(it).mask.shape  # two good ones before the bad
    with pytest.raises(
        RegionError,
        match=r"region task_id=\d+, source=annotation, "
        r"source_id=\d+, region_id=b0sdk: brush RLE holds 4 values",
    ):
        next(it)


def test_missing_geometry_and_size_name_the_region(frames: ls_frames.Frames) -> None:
    regions = frames.regions
    poly = regions[regions["type"] == "polygonlabels"].iloc[:1]
    with pytest.raises(RegionError, match="region_id=p0: a polygon with fewer than 3"):
        list(region_masks(poly.assign(points=[[[1.0, 2.0]]])))
    with pytest.raises(RegionError, match="region_id=p0: a polygon point is not a number"):
        list(region_masks(poly.assign(points=[[[1.0, 2.0], [np.nan, 1.0], [3.0, 4.0]]])))
    no_size = poly.assign(original_width=pd.NA, original_height=pd.NA)
    with pytest.raises(RegionError, match="region_id=p0: no original_width"):
        list(region_masks(no_size))
    [m] = region_masks(no_size, shape=(30, 40))
    assert m.mask.shape == (30, 40) and m.mask.any()
    with pytest.raises(RegionError, match="region_id=p0: a polygon with fewer than 3"):
        to_coco(poly.assign(points=[[[1.0, 2.0]]]), segmentation=True)
    box = regions[regions["type"] == "rectanglelabels"].iloc[:1]
    with pytest.raises(RegionError, match="region_id=r0"):
        to_coco(box.assign(original_width=pd.NA), segmentation=True)
