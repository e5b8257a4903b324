"""Enclosing boxes of every shape (rectangles, polygons, ellipses, keypoints) and the
reading layer's shape columns: ``points_px``, integer ``start``/``end``, ``label`` and
``choice`` in the Parquet files. Expectations are worked out from the inputs."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import ls_frames
from ls_frames.geometry.shapes import to_coco, to_xyxy, to_yolo
from tests.needs import missing

W, H = 200, 100


def _item(typ: str, value: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "from_name": typ,
        "to_name": "image",
        "type": typ,
        "original_width": W,
        "original_height": H,
        "value": value,
        **extra,
    }


def _frames(items: list[dict[str, Any]]) -> ls_frames.Frames:
    tasks = [{"id": 1, "data": {}, "annotations": [{"id": 1, "result": items}]}]
    return ls_frames.read_export(json.dumps(tasks).encode(), progress=False)


def _ellipse_box(cx: float, cy: float, rx: float, ry: float, deg: float) -> list[float]:
    """By sampling the turned ellipse's outline (pixels)."""
    t = np.linspace(0, 2 * math.pi, 200_001)
    a = math.radians(deg)
    xs = cx + rx * np.cos(t) * math.cos(a) - ry * np.sin(t) * math.sin(a)
    ys = cy + rx * np.cos(t) * math.sin(a) + ry * np.sin(t) * math.cos(a)
    return [xs.min(), ys.min(), xs.max(), ys.max()]


def test_every_shape_has_an_enclosing_box() -> None:
    points = [[10.0, 20.0], [50.0, 5.0], [30.0, 60.0], [12.5, 40.0]]
    items = [
        _item("polygonlabels", {"points": points, "polygonlabels": ["lake"]}),
        _item("polylinelabels", {"points": points[:2], "polylinelabels": ["road"]}),
        _item(
            "ellipselabels",
            {
                "x": 50,
                "y": 50,
                "radiusX": 10,
                "radiusY": 20,
                "rotation": 30,
                "ellipselabels": ["ball"],
            },
        ),
        _item("keypointlabels", {"x": 25, "y": 40, "width": 0.8, "keypointlabels": ["eye"]}),
        _item(
            "rectanglelabels",
            {
                "x": 10,
                "y": 10,
                "width": 20,
                "height": 30,
                "rotation": 45,
                "rectanglelabels": ["car"],
            },
        ),
    ]
    regions = _frames(items).regions
    box = to_xyxy(regions)
    got = np.column_stack([box[k] for k in ("x_min", "y_min", "x_max", "y_max")])
    assert not np.isnan(got).any()
    xs, ys = [p[0] * W / 100 for p in points], [p[1] * H / 100 for p in points]
    assert got[0] == pytest.approx([min(xs), min(ys), max(xs), max(ys)])
    assert got[1] == pytest.approx([10 * W / 100, 5 * H / 100, 50 * W / 100, 20 * H / 100])
    assert got[2] == pytest.approx(_ellipse_box(100, 50, 20, 20, 30), abs=1e-6)
    assert got[3] == pytest.approx([50, 40, 50, 40])
    # the rotated rectangle: its corners turned 45 degrees clockwise around (x, y)
    x0, y0, w, h, a = 20.0, 10.0, 40.0, 30.0, math.radians(45)
    cx = [x0 + dx * math.cos(a) - dy * math.sin(a) for dx, dy in ((0, 0), (w, 0), (w, h), (0, h))]
    cy = [y0 + dx * math.sin(a) + dy * math.cos(a) for dx, dy in ((0, 0), (w, 0), (w, h), (0, h))]
    assert got[4] == pytest.approx([min(cx), min(cy), max(cx), max(cy)])
    coco = to_coco(regions)
    assert coco["width"][0] == pytest.approx(max(xs) - min(xs))
    yolo = to_yolo(regions)
    assert yolo["x_center"][0] == pytest.approx((min(xs) + max(xs)) / 2 / W)
    # an ellipse turned by 90 degrees swaps its extents
    turned = _frames(
        [
            _item(
                "ellipselabels",
                {
                    "x": 50,
                    "y": 50,
                    "radiusX": 10,
                    "radiusY": 20,
                    "rotation": 90,
                    "ellipselabels": ["b"],
                },
            )
        ]
    ).regions
    assert to_coco(turned)["width"][0] == pytest.approx(2 * 20 * H / 100)


def test_points_px_beside_points() -> None:
    points = [[10.0, 20.0], [50.0, 5.0]]
    items = [
        _item("polygonlabels", {"points": points, "polygonlabels": ["a"]}),
        {
            "from_name": "p",
            "to_name": "image",
            "type": "polygonlabels",
            "value": {"points": points, "polygonlabels": ["a"]},
        },
    ]  # no image size
    regions = _frames(items).regions
    assert [list(p) for p in regions["points_px"].iloc[0]] == [[20.0, 20.0], [100.0, 5.0]]
    assert regions["points_px"].iloc[1] is None
    assert list(regions.columns).index("points_px") == list(regions.columns).index("points") + 1


def test_ner_offsets_are_integers_and_xpaths_stay_text() -> None:
    items = [
        {
            "from_name": "ner",
            "to_name": "text",
            "type": "labels",
            "value": {"start": 4, "end": 9, "text": "Alice", "labels": ["PER"]},
        },
        {
            "from_name": "para",
            "to_name": "dialogue",
            "type": "paragraphlabels",
            "value": {
                "start": "0",
                "end": "2",
                "startOffset": 3,
                "endOffset": 7,
                "paragraphlabels": ["Q"],
            },
        },
        {
            "from_name": "html",
            "to_name": "page",
            "type": "hypertextlabels",
            "value": {
                "start": "/p[1]/text()[1]",
                "end": "/p[2]/text()[1]",
                "startOffset": 0,
                "endOffset": 5,
                "hypertextlabels": ["X"],
            },
        },
        {
            "from_name": "speaker",
            "to_name": "audio",
            "type": "labels",
            "value": {"start": 0.5, "end": 2.25, "labels": ["bob"]},
        },
    ]
    regions = _frames(items).regions
    assert str(regions["start"].dtype) == "Int64" and str(regions["end"].dtype) == "Int64"
    assert regions["start"].iloc[0] == 4 and regions["end"].iloc[0] == 9
    assert regions["start"].iloc[1:].isna().all()
    assert list(regions["start_text"]) == ["4", "0", "/p[1]/text()[1]", "0.5"]
    assert list(regions["end_text"]) == ["9", "2", "/p[2]/text()[1]", "2.25"]
    assert list(regions["start_offset"].iloc[1:3]) == [3, 0]


def test_label_and_choice_are_columns_of_the_parquet_files(tmp_path: Path) -> None:
    try:
        import duckdb
    except ImportError:
        missing("duckdb")
    items = [
        _item(
            "rectanglelabels",
            {"x": 1, "y": 1, "width": 5, "height": 5, "rectanglelabels": ["cat", "pet"]},
        ),
        {
            "from_name": "scene",
            "to_name": "image",
            "type": "choices",
            "value": {"choices": ["indoor", "day"]},
        },
    ]
    tasks = [{"id": 1, "data": {}, "annotations": [{"id": 1, "result": items}]}]
    source = tmp_path / "export.json"
    source.write_text(json.dumps(tasks))
    out = ls_frames.to_parquet(source, tmp_path / "ds", progress=False)
    relation = duckdb.sql(
        f"SELECT label, choice FROM read_parquet('{out}/regions/*.parquet') ORDER BY result_index"
    )
    assert relation is not None
    rows = relation.fetchall()
    assert rows == [("cat", None), (None, "indoor")]
    back = ls_frames.read_parquet(out).regions
    assert list(back["label"].astype(object).where(back["label"].notna(), None)) == ["cat", None]
