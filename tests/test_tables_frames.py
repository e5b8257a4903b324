"""read_export: dtypes, empty exports, label config categoricals, regions_wide, geometry."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ls_frames.errors import ConfigurationError, ExportFormatError
from ls_frames.geometry.shapes import box_corners, to_coco, to_pixels, to_xyxy, to_yolo
from ls_frames.reading import SCHEMAS, parse_label_config
from ls_frames.tables import Frames, read_export

LS = Path(__file__).resolve().parent / "corpus" / "label-studio-1.23.2"
FULL = LS / "snapshot_full_objects.json"
CONFIG = (LS / "label_config.xml").read_text() if LS.is_dir() else ""
TABLES = ["tasks", "annotations", "predictions", "drafts", "regions", "relations"]


def test_empty_export_has_typed_tables() -> None:
    frames = read_export(b"[]", progress=False)
    assert list(frames) == TABLES
    for name in TABLES:
        df = frames[name]
        assert len(df) == 0
        assert list(df.columns)[: len(SCHEMAS[name])] == SCHEMAS[name].names
    assert str(frames.tasks["task_id"].dtype) == "Int64"
    assert str(frames.tasks["created_at"].dtype).startswith("datetime64[")
    assert str(frames.tasks["created_at"].dtype).endswith(", UTC]")
    assert str(frames.annotations["was_cancelled"].dtype) == "boolean"
    assert str(frames.annotations["lead_time"].dtype) == "Float64"
    assert str(frames.regions["from_name"].dtype) == "string"
    assert str(frames.regions["labels"].dtype) == "object"


def test_nullable_dtypes() -> None:
    frames = read_export(FULL, progress=False)
    dtypes = {c: str(t) for c, t in frames.annotations.dtypes.items()}
    assert dtypes["annotation_id"] == "Int64"
    assert dtypes["completed_by_email"] == "string"
    assert dtypes["ground_truth"] == "boolean"
    assert dtypes["created_at"] in ("datetime64[us, UTC]", "datetime64[ns, UTC]")
    regions = frames.regions
    assert str(regions["x"].dtype) == "Float64"
    assert str(regions["original_width"].dtype) == "Int64"
    assert str(regions["label"].dtype) == "string"
    assert regions["x"].isna().any()  # textarea rows: <NA>, not NaN


def test_pyarrow_backend() -> None:
    frames = read_export(FULL, dtype_backend="pyarrow", progress=False)
    assert str(frames.tasks["task_id"].dtype) == "int64[pyarrow]"
    assert str(frames.regions["labels"].dtype) == "list<item: string>[pyarrow]"
    assert str(frames.annotations["created_at"].dtype) == "timestamp[us, tz=UTC][pyarrow]"
    with pytest.raises(ConfigurationError):
        read_export(FULL, dtype_backend="numpy", progress=False)  # type: ignore[arg-type]


def test_sources_path_bytes_and_file_object() -> None:
    data = FULL.read_bytes()
    a = read_export(FULL, progress=False)
    b = read_export(data, progress=False)
    c = read_export(io.BytesIO(data), progress=False)
    for name in TABLES:
        pd.testing.assert_frame_equal(a[name], b[name])
        pd.testing.assert_frame_equal(a[name], c[name])


def test_repr_and_counts() -> None:
    frames = read_export(FULL, progress=False)
    raw = json.loads(FULL.read_text())
    n_ann = sum(len(t["annotations"]) for t in raw)
    assert f"annotations={n_ann}" in repr(frames)
    assert f"tasks={len(raw)}" in repr(frames)
    assert isinstance(frames, Frames) and len(frames) == 6


def test_tables_subset() -> None:
    frames = read_export(FULL, tables=["regions"], progress=False)
    assert list(frames) == ["regions"]
    with pytest.raises(ValueError, match="unknown tables"):
        read_export(FULL, tables=["nope"], progress=False)


def test_label_config_categoricals_in_config_order() -> None:
    frames = read_export(FULL, label_config=CONFIG, progress=False)
    regions = frames.regions
    label = regions["label"]
    assert isinstance(label.dtype, pd.CategoricalDtype)
    assert list(label.cat.categories[:4]) == ["cat", "dog", "bird", "car"]  # config order
    assert list(regions["from_name"].cat.categories[:4]) == [
        "label",
        "occluded",
        "quality",
        "caption",
    ]
    assert list(regions["choice"].cat.categories[:4]) == ["yes", "no", "good", "bad"]
    first = [None if v is None or len(v) == 0 else v[0] for v in regions["labels"]]
    assert [None if pd.isna(x) else x for x in label] == first


def test_parse_label_config() -> None:
    config = parse_label_config(CONFIG)
    names = [(c.name, c.type) for c in config.controls]
    assert names == [
        ("label", "rectanglelabels"),
        ("occluded", "choices"),
        ("quality", "choices"),
        ("caption", "textarea"),
    ]
    assert config.by_name()["label"].values == ("cat", "dog", "bird", "car")
    assert config.by_name()["occluded"].per_region
    assert config.relation_labels == ("near",)
    with pytest.raises(ConfigurationError):
        parse_label_config("<View>")


def test_regions_wide_attaches_per_region_attributes() -> None:
    frames = read_export(FULL, label_config=CONFIG, progress=False)
    wide = frames.regions_wide()
    regions = frames.regions
    boxes = regions[regions["type"] == "rectanglelabels"]
    wide_boxes = wide[wide["type"] == "rectanglelabels"]
    assert len(wide_boxes) == len(boxes)
    occ = regions[regions["from_name"] == "occluded"]
    for _, row in occ.iterrows():
        match = wide_boxes[
            (wide_boxes["source_id"] == row["source_id"])
            & (wide_boxes["region_id"] == row["region_id"])
        ]
        assert len(match) == 1
        assert match["occluded"].iloc[0] == row["choices"][0]
    assert list(wide["occluded"].cat.categories) == ["yes", "no"]
    # per-region choices are folded into their box; nothing else disappears
    assert len(wide) == len(regions) - len(occ)


def test_geometry_helpers() -> None:
    df = pd.DataFrame(
        {
            "x": [10.0, 50.0],
            "y": [20.0, 0.0],
            "width": [30.0, 10.0],
            "height": [40.0, 10.0],
            "rotation": [0.0, 90.0],
            "original_width": [200, 100],
            "original_height": [100, 100],
        }
    )
    px = to_pixels(df)
    assert px["x"][0] == pytest.approx(20.0) and px["height"][0] == pytest.approx(40.0)
    xyxy = to_xyxy(df)
    assert [xyxy[k][0] for k in ("x_min", "y_min", "x_max", "y_max")] == pytest.approx(
        [20.0, 20.0, 80.0, 60.0]
    )
    # 90 degrees clockwise around the top-left corner (50, 0): the box swings left
    assert [xyxy[k][1] for k in ("x_min", "y_min", "x_max", "y_max")] == pytest.approx(
        [40.0, 0.0, 50.0, 10.0]
    )
    coco = to_coco(df)
    assert [coco[k][0] for k in ("x", "y", "width", "height")] == pytest.approx(
        [20.0, 20.0, 60.0, 40.0]
    )
    yolo = to_yolo(df)
    assert [yolo[k][0] for k in ("x_center", "y_center", "width", "height")] == pytest.approx(
        [0.25, 0.4, 0.3, 0.4]
    )
    assert box_corners(df).shape == (2, 4, 2)
    frames = read_export(FULL, progress=False)
    boxes = frames.regions[frames.regions["type"] == "rectanglelabels"]
    got = to_pixels(boxes)
    np.testing.assert_allclose(got["x"], boxes["x_px"].to_numpy(dtype=float))
    missing = to_pixels(
        pd.DataFrame(
            {
                "x": [None],
                "y": [1.0],
                "width": [1.0],
                "height": [1.0],
                "original_width": [10],
                "original_height": [10],
            }
        )
    )
    assert math.isnan(missing["x"][0])


def test_malformed_raises() -> None:
    with pytest.raises(ExportFormatError):
        read_export(b"[{]", progress=False)


def _expected_wide_rows(path: Path) -> int:
    """Regions counted with json.load: result items grouped by (task, source, its id, region
    id), every item without an id a region of its own; relations are not regions."""
    from tests.test_reading_corpus import _raw_items

    keys = set()
    for task_id, source, source_id, index, item in _raw_items(path):
        if item.get("type") == "relation":
            continue
        region = item.get("id")
        keys.add((task_id, source, source_id, region if region is not None else ("#", index)))
    return len(keys)


@pytest.mark.parametrize(
    "path",
    [
        p
        for p in sorted((Path(__file__).parent / "corpus").glob("*/*.json"))
        if p.name != "test_export_json_min__label_config_repeater.json"
    ],
    ids=lambda p: p.name,
)
def test_regions_wide_keeps_every_region_of_the_corpus(path: Path) -> None:
    frames = read_export(path, progress=False)
    assert len(frames.regions_wide()) == _expected_wide_rows(path)


def test_regions_wide_keeps_id_less_boxes_apart() -> None:
    box = {"x": 1.0, "y": 2.0, "width": 3.0, "height": 4.0, "rectanglelabels": ["car"]}
    items = [
        {"from_name": "label", "to_name": "image", "type": "rectanglelabels", "value": box},
        {"from_name": "label", "to_name": "image", "type": "rectanglelabels", "value": box},
        {"from_name": "label", "to_name": "image", "type": "rectanglelabels", "value": box},
        {"from_name": "kind", "to_name": "image", "type": "choices", "value": {"choices": ["a"]}},
        {
            "id": "r1",
            "from_name": "label",
            "to_name": "image",
            "type": "rectanglelabels",
            "value": box,
        },
        {
            "id": "r1",
            "from_name": "kind",
            "to_name": "image",
            "type": "choices",
            "value": {"choices": ["b"]},
        },
    ]
    task = {
        "id": 1,
        "data": {"image": "x.png"},
        "annotations": [],
        "predictions": [{"id": 7, "model_version": "m", "result": items}],
    }
    wide = read_export(json.dumps([task]).encode(), progress=False).regions_wide()
    assert len(wide) == 5  # three id-less boxes, the id-less whole-image choice, r1
    assert int((wide["kind"] == "b").sum()) == 1
    assert wide["region_id"].isna().sum() == 4


def test_select_keeps_only_those_tasks_in_every_table() -> None:
    frames = read_export(FULL, label_config=CONFIG, progress=False)
    ids = frames.tasks["task_id"].iloc[::2].tolist()
    picked = frames.select([*ids, 10**9])  # an id not in the tables is ignored
    for name in TABLES:
        got = picked[name]
        want = frames[name][frames[name]["task_id"].isin(ids)].reset_index(drop=True)
        pd.testing.assert_frame_equal(got.reset_index(drop=True), want)
    assert picked.label_config is frames.label_config
    assert len(frames.select(pd.Index(ids)).tasks) == len(ids)
    assert frames.select([]).regions.empty
    with pytest.raises(ConfigurationError, match="boolean mask"):
        frames.select(frames.tasks["task_id"] > 1)
    with pytest.raises(ConfigurationError, match="'seven'"):
        frames.select([1, "seven"])  # type: ignore[list-item]
