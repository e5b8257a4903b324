"""export_dataset: COCO folders pycocotools loads, YOLO label files and data.yaml, image
folders, refusals, and what is left out. Expectations come from the regions sent (through
to_coco / to_yolo, the library's geometry) and the image files written here; the demo
project on the real server checks the same on what Label Studio exports."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import ls_frames
from ls_frames.geometry.shapes import to_coco, to_yolo
from ls_frames.training import export_dataset
from tests.image_tasks import annotation, media_table, scene
from tests.needs import missing

try:
    from PIL import Image
except ImportError:  # pragma: no cover - the test extra installs it
    Image = None  # type: ignore[assignment]

CONFIG = """<View><Image name="image" value="$image"/>
<RectangleLabels name="box" toName="image">
<Label value="dog"/><Label value="cat"/><Label value="bird"/></RectangleLabels>
<Choices name="scene" toName="image"><Choice value="indoor"/><Choice value="outdoor"/></Choices>
</View>"""
SIZES = {1: (64, 48), 2: (40, 30), 3: (50, 50), 4: (32, 64), 5: (20, 20), 6: (30, 20)}


@pytest.fixture(autouse=True)
def _needs_pillow() -> None:
    if Image is None:
        missing("Pillow (the train extra)")


def _box(
    rid: str, x: float, y: float, w: float, h: float, label: str, tid: int, **more: Any
) -> dict[str, Any]:
    width, height = SIZES[tid]
    return {
        "id": rid,
        "from_name": "box",
        "to_name": "image",
        "type": "rectanglelabels",
        "original_width": width,
        "original_height": height,
        "value": {"x": x, "y": y, "width": w, "height": h, "rectanglelabels": [label], **more},
    }


def _tasks() -> list[dict[str, Any]]:
    return [
        {
            "id": 1,
            "data": {"image": "/data/upload/1/1.png"},
            "annotations": [
                annotation(1, [_box("a", 10, 20, 50, 25, "cat", 1), scene("indoor")]),
                annotation(  # the ground truth wins over the later one
                    2,
                    [_box("b", 0, 0, 100, 100, "dog", 1), scene("outdoor")],
                    ground_truth=True,
                ),
                annotation(3, [_box("c", 1, 1, 1, 1, "cat", 1)]),
            ],
        },
        {
            "id": 2,
            "data": {"image": "/data/upload/1/2.png"},
            "annotations": [
                annotation(
                    4,
                    [
                        _box("d", 25, 50, 50, 50, "dog", 2),
                        _box("e", 0, 0, 10, 10, "cat", 2),
                        scene("outdoor"),
                    ],
                )
            ],
        },
        {  # rotated 90 degrees: the enclosing box; and a box half outside the image
            "id": 3,
            "data": {"image": "/data/upload/1/3.png"},
            "annotations": [
                annotation(
                    5,
                    [
                        _box("g", 50, 0, 40, 20, "cat", 3, rotation=90),
                        _box("h", 80, 80, 40, 40, "dog", 3),
                        scene("indoor"),
                    ],
                )
            ],
        },
        {"id": 4, "data": {"image": "/data/upload/1/4.png"}, "annotations": [annotation(6, [])]},
        {  # skipped only: no reference annotation
            "id": 5,
            "data": {"image": "/data/upload/1/5.png"},
            "annotations": [annotation(7, [], was_cancelled=True)],
        },
        {  # annotated, but its image is not in the media table
            "id": 6,
            "data": {"image": "/data/upload/1/6.png"},
            "annotations": [annotation(8, [_box("k", 0, 0, 50, 50, "dog", 6)])],
        },
    ]


def _frames(tasks: list[dict[str, Any]] | None = None, config: str = CONFIG) -> ls_frames.Frames:
    return ls_frames.read_export(
        json.dumps(tasks or _tasks()).encode(), label_config=config, progress=False
    )


def _media(folder: Path, task_ids: list[int], field: str = "image") -> pd.DataFrame:
    return media_table(folder, SIZES, task_ids, field=field, name="cached-{tid}.png", shade=30)


def _reference_boxes(frames: ls_frames.Frames, task_id: int) -> pd.DataFrame:
    """The box rows of the annotation each task should be labelled by, written out."""
    chosen = {1: 2, 2: 4, 3: 5, 4: 6, 6: 8}[task_id]
    regions = frames.regions
    mine = regions[
        (regions["source_id"] == chosen).to_numpy(bool)
        & (regions["from_name"].astype(object) == "box").to_numpy(bool)
    ]
    boxes: pd.DataFrame = mine.reset_index(drop=True)
    return boxes


def _export(frames: ls_frames.Frames, out: Path, **kwargs: Any) -> ls_frames.DatasetSummary:
    with pytest.warns(ls_frames.PartialResultWarning):
        return export_dataset(frames, out, **kwargs)


def test_coco_folder_loads_in_pycocotools_with_to_coco_boxes(tmp_path: Path) -> None:
    try:
        from pycocotools.coco import COCO
    except ImportError:
        missing("pycocotools")
    frames = _frames()
    media = _media(tmp_path / "cache", [1, 2, 3, 4])
    parts = pd.Series(
        pd.Categorical(["train", "val", "train", "train", "val", "val"], ["train", "val"]),
        index=pd.Index([1, 2, 3, 4, 5, 6], name="task_id"),
    )
    out = tmp_path / "coco"
    summary = _export(frames, out, format="coco", media=media, split=parts)
    assert summary.classes == ("dog", "cat", "bird")  # config order, unused ones included
    assert summary.images == {"train": 3, "val": 1}
    assert summary.labels == {"train": 3, "val": 2}
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*")) == [
        "annotations",
        "annotations/instances_train.json",
        "annotations/instances_val.json",
        "images",
        "images/train",
        "images/train/1.png",
        "images/train/3.png",
        "images/train/4.png",
        "images/val",
        "images/val/2.png",
    ]
    train = COCO(str(out / "annotations" / "instances_train.json"))
    assert [train.cats[i]["name"] for i in sorted(train.cats)] == ["dog", "cat", "bird"]
    assert sorted(train.cats) == [1, 2, 3]
    for tid in (1, 3, 4):
        image = train.imgs[tid]
        assert (image["width"], image["height"]) == SIZES[tid]
        assert image["file_name"] == f"{tid}.png"
        with Image.open(out / "images" / "train" / image["file_name"]) as im:
            assert im.size == SIZES[tid]
        boxes = _reference_boxes(frames, tid)
        expected = to_coco(boxes, SIZES[tid])
        anns = train.loadAnns(train.getAnnIds(imgIds=[tid]))
        assert len(anns) == len(boxes)
        for k, ann in enumerate(anns):
            want = [expected[c][k] for c in ("x", "y", "width", "height")]
            assert ann["bbox"] == pytest.approx(want)
            label = str(boxes["labels"].iloc[k][0])
            assert train.cats[ann["category_id"]]["name"] == label
            assert ann["area"] == pytest.approx(want[2] * want[3])
            assert ann["iscrowd"] == 0
    assert train.getAnnIds(imgIds=[4]) == []  # an annotation without boxes: a background
    # the image is a hard link to the cached file (same file system)
    cached = Path(str(media.loc[0, "path"]))
    assert os.stat(out / "images" / "train" / "1.png").st_ino == cached.stat().st_ino
    val = COCO(str(out / "annotations" / "instances_val.json"))
    assert list(val.imgs) == [2]


POLY_CONFIG = """<View><Image name="image" value="$image"/>
<PolygonLabels name="seg" toName="image"><Label value="road"/><Label value="car"/></PolygonLabels>
</View>"""


def _polygon(rid: str, points: list[list[float]], label: str, tid: int) -> dict[str, Any]:
    width, height = SIZES[tid]
    return {
        "id": rid,
        "from_name": "seg",
        "to_name": "image",
        "type": "polygonlabels",
        "original_width": width,
        "original_height": height,
        "value": {"points": points, "polygonlabels": [label]},
    }


@pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")
def test_coco_polygons_are_segmentations(tmp_path: Path) -> None:
    try:
        from pycocotools.coco import COCO
    except ImportError:
        missing("pycocotools")
    tri = [[0.0, 0.0], [50.0, 0.0], [0.0, 100.0]]  # half of the left half of the image
    tasks = [
        {
            "id": 2,
            "data": {"image": "b.png"},
            "annotations": [annotation(1, [_polygon("p", tri, "car", 2)])],
        }
    ]
    frames = _frames(tasks, POLY_CONFIG)
    out = tmp_path / "coco"
    summary = export_dataset(frames, out, media=_media(tmp_path / "cache", [2]))
    assert summary.classes == ("road", "car")
    coco = COCO(str(out / "annotations" / "instances_train.json"))
    (ann,) = coco.loadAnns(coco.getAnnIds())
    assert ann["segmentation"] == [[0.0, 0.0, 20.0, 0.0, 0.0, 30.0]]
    assert ann["bbox"] == [0.0, 0.0, 20.0, 30.0]
    assert ann["area"] == pytest.approx(300.0)
    assert ann["category_id"] == 2
    assert 250 <= int(coco.annToMask(ann).sum()) <= 350  # rasterised by pycocotools


MASK_CONFIG = """<View><Image name="image" value="$image"/>
<BrushLabels name="paint" toName="image"><Label value="sky"/></BrushLabels>
<EllipseLabels name="oval" toName="image"><Label value="ball"/></EllipseLabels></View>"""


@pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")
def test_coco_brushes_and_ellipses_are_rle_that_pycocotools_decodes(tmp_path: Path) -> None:
    try:
        from pycocotools import mask as coco_mask
        from pycocotools.coco import COCO
    except ImportError:
        missing("pycocotools")
    from tests.brush_reference import encode, rgba

    width, height = SIZES[6]  # 30 x 20
    alpha = np.zeros((height, width), np.uint8)
    alpha[5:10, 10:20] = 255
    size = {"original_width": width, "original_height": height}
    brush = {
        "id": "b",
        "from_name": "paint",
        "to_name": "image",
        "type": "brushlabels",
        "value": {"format": "rle", "rle": encode(rgba(alpha)), "brushlabels": ["sky"]},
        **size,
    }
    ellipse = {
        "id": "e",
        "from_name": "oval",
        "to_name": "image",
        "type": "ellipselabels",
        "value": {"x": 50, "y": 50, "radiusX": 20, "radiusY": 25, "ellipselabels": ["ball"]},
        **size,
    }
    tasks = [
        {"id": 6, "data": {"image": "f.png"}, "annotations": [annotation(1, [brush, ellipse])]}
    ]
    frames = _frames(tasks, MASK_CONFIG)
    media = _media(tmp_path / "c", [6])
    for name, out in (("paint", tmp_path / "brush"), ("oval", tmp_path / "ellipse")):
        with pytest.warns(ls_frames.PartialResultWarning, match="another control"):
            export_dataset(frames, out, media=media, from_name=name)
    coco = COCO(str(tmp_path / "brush" / "annotations" / "instances_train.json"))
    (ann,) = coco.loadAnns(coco.getAnnIds())
    assert set(ann["segmentation"]) == {"size", "counts"}
    assert (coco.annToMask(ann) > 0).tolist() == (alpha > 0).tolist()
    assert ann["bbox"] == [10.0, 5.0, 10.0, 5.0] and ann["area"] == 50
    coco = COCO(str(tmp_path / "ellipse" / "annotations" / "instances_train.json"))
    (ann,) = coco.loadAnns(coco.getAnnIds())
    oval = frames.regions[(frames.regions["from_name"].astype(object) == "oval").to_numpy(bool)]
    want = to_coco(oval.reset_index(drop=True), (width, height))
    assert ann["bbox"] == pytest.approx([want[c][0] for c in want]) == [9.0, 5.0, 12.0, 10.0]
    rle: Any = ann["segmentation"]  # compressed RLE, as pycocotools writes it
    assert ann["area"] == float(coco_mask.area(rle))
    assert 80 < ann["area"] < 110  # about pi * 6 * 5


def _yolo_file(path: Path) -> list[list[float]]:
    return [[float(v) for v in line.split()] for line in path.read_text().splitlines()]


def test_yolo_labels_parse_back_to_to_yolo_boxes(tmp_path: Path) -> None:
    frames = _frames()
    out = tmp_path / "yolo"
    parts = pd.Series(["train", "val", "train", "val", "val", "val"], index=[1, 2, 3, 4, 5, 6])
    summary = _export(
        frames,
        out,
        format="yolo",
        media=_media(tmp_path / "c", [1, 2, 3, 4]),
        split=parts,
        link="copy",
    )
    assert summary.images == {"train": 2, "val": 2}
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.*")) == [
        "data.yaml",
        "images/train/1.png",
        "images/train/3.png",
        "images/val/2.png",
        "images/val/4.png",
        "labels/train/1.txt",
        "labels/train/3.txt",
        "labels/val/2.txt",
        "labels/val/4.txt",
    ]
    assert not os.path.samefile(out / "images/train/1.png", tmp_path / "c" / "cached-1.png")
    yaml = (out / "data.yaml").read_text()
    assert "train: images/train\nval: images/val\n" in yaml
    assert re.findall(r"^  (\d+): \"(\w+)\"$", yaml, re.M) == [
        ("0", "dog"),
        ("1", "cat"),
        ("2", "bird"),
    ]
    assert "nc: 3" in yaml
    for tid, split in ((1, "train"), (2, "val")):
        lines = _yolo_file(out / "labels" / split / f"{tid}.txt")
        boxes = _reference_boxes(frames, tid)
        expected = to_yolo(boxes, SIZES[tid])
        assert [int(line[0]) for line in lines] == [
            ["dog", "cat", "bird"].index(str(v[0])) for v in boxes["labels"]
        ]
        for k, line in enumerate(lines):
            want = [expected[c][k] for c in ("x_center", "y_center", "width", "height")]
            assert line[1:] == pytest.approx(want, abs=1e-6)
    assert (out / "labels" / "val" / "4.txt").read_text() == ""  # a background image
    # task 3: the rotated box lies inside; the other one is clipped to the image
    rotated, clipped = _yolo_file(out / "labels" / "train" / "3.txt")
    turned = to_yolo(_reference_boxes(frames, 3), SIZES[3])
    assert rotated[1:] == pytest.approx([turned[c][0] for c in turned], abs=1e-6)
    assert clipped[1:] == pytest.approx([0.9, 0.9, 0.2, 0.2], abs=1e-6)


def test_yolo_segmentation_lines_are_polygons(tmp_path: Path) -> None:
    tri = [[10.0, 10.0], [50.0, 10.0], [10.0, 90.0]]
    tasks = [
        {
            "id": 2,
            "data": {"image": "b.png"},
            "annotations": [annotation(1, [_polygon("p", tri, "car", 2)])],
        }
    ]
    out = tmp_path / "yolo"
    export_dataset(
        _frames(tasks, POLY_CONFIG),
        out,
        format="yolo",
        media=_media(tmp_path / "c", [2]),
        segmentation=True,
    )
    (line,) = _yolo_file(out / "labels" / "train" / "2.txt")
    assert line == pytest.approx([1, 0.1, 0.1, 0.5, 0.1, 0.1, 0.9])
    # a rectangle is its four corners, rotation included (90 degrees clockwise about its
    # top-left corner (25, 0) on a 50 x 50 image); the one half outside is clipped
    rotated = [t for t in _tasks() if t["id"] == 3]
    export_dataset(
        _frames(rotated),
        tmp_path / "r",
        format="yolo",
        media=_media(tmp_path / "c", [3]),
        segmentation=True,
    )
    turned, outside = _yolo_file(tmp_path / "r" / "labels" / "train" / "3.txt")
    assert turned == pytest.approx([1, 0.5, 0.0, 0.5, 0.4, 0.3, 0.4, 0.3, 0.0], abs=1e-6)
    assert outside == pytest.approx([0, 0.8, 0.8, 1.0, 0.8, 1.0, 1.0, 0.8, 1.0], abs=1e-6)
    boxes = export_dataset(
        _frames(tasks, POLY_CONFIG),
        tmp_path / "b",
        format="yolo",
        media=_media(tmp_path / "c", [2]),
    )
    assert boxes.labels == {"train": 1}
    (box,) = _yolo_file(tmp_path / "b" / "labels" / "train" / "2.txt")
    assert box == pytest.approx([1, 0.3, 0.5, 0.4, 0.8])


def test_imagefolder_of_a_choices_control(tmp_path: Path) -> None:
    frames = _frames()
    out = tmp_path / "folder"
    summary = _export(frames, out, format="imagefolder", media=_media(tmp_path / "c", [1, 2, 3, 4]))
    assert summary.classes == ("indoor", "outdoor")
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.png")) == [
        "train/indoor/3.png",
        "train/outdoor/1.png",  # the ground truth's scene
        "train/outdoor/2.png",
    ]
    try:
        import datasets
    except ImportError:
        missing("datasets (the train extra)")
    loaded = datasets.load_dataset("imagefolder", data_dir=str(out), cache_dir=str(tmp_path / "hf"))
    assert list(loaded) == ["train"]
    names = loaded["train"].features["label"].names
    assert names == ["indoor", "outdoor"]
    assert sorted(names[label] for label in loaded["train"]["label"]) == [
        "indoor",
        "outdoor",
        "outdoor",
    ]
    # task 4 has no scene, task 6 no media, task 5 no reference annotation
    assert summary.left_out_tasks == {
        "tasks without a choice": 1,
        "tasks without a reference annotation": 1,
        "tasks without media (no 'image' row in the media table)": 1,
    }


def test_imagefolder_by_the_annotators_consensus(tmp_path: Path) -> None:
    votes = {1: ["indoor", "outdoor", "outdoor"], 2: ["indoor", "outdoor"]}  # 2 is a tie
    tasks = [
        {
            "id": tid,
            "data": {"image": f"{tid}.png"},
            "annotations": [
                {**annotation(10 * tid + k, [scene(v)]), "completed_by": k + 1}
                for k, v in enumerate(choices)
            ],
        }
        for tid, choices in votes.items()
    ]
    out = tmp_path / "folder"
    with pytest.warns(ls_frames.PartialResultWarning, match="without a reference annotation"):
        export_dataset(
            _frames(tasks),
            out,
            format="imagefolder",
            media=_media(tmp_path / "c", [1, 2]),
            reference="consensus",
        )
    assert [p.relative_to(out).as_posix() for p in out.rglob("*.png")] == ["train/outdoor/1.png"]


def test_an_existing_folder_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    frames = _frames()
    media = _media(tmp_path / "c", [1, 2, 3, 4])
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(ls_frames.OutputExistsError) as raised:
        export_dataset(frames, out, media=media)
    assert raised.value.path == str(out)
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c", "out"]
    _export(frames, out, media=media, overwrite=True)
    assert sorted(p.name for p in out.iterdir()) == ["annotations", "images"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c", "out"]  # nothing aside
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o777 & ~umask  # as any folder made here


def test_a_failure_midway_leaves_no_folder(tmp_path: Path) -> None:
    tasks = [
        {
            "id": 1,
            "data": {"image": "a.png"},
            "annotations": [annotation(1, [_polygon("ok", [[0, 0], [50, 0], [0, 50]], "road", 1)])],
        },
        {  # a polygon of two points: no segmentation, found after the images are placed
            "id": 2,
            "data": {"image": "b.png"},
            "annotations": [annotation(2, [_polygon("bad", [[0, 0], [50, 0]], "car", 2)])],
        },
    ]
    frames = _frames(tasks, POLY_CONFIG)
    media = _media(tmp_path / "c", [1, 2])
    with pytest.raises(ls_frames.RegionError, match="fewer than 3 points"):
        export_dataset(frames, tmp_path / "out", media=media)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c"]  # no folder, no leftovers
    # over an existing folder: the old one stays as it was
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "old.txt").write_text("old")
    with pytest.raises(ls_frames.RegionError):
        export_dataset(frames, tmp_path / "out", media=media, overwrite=True)
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["old.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c", "out"]


def test_tasks_left_out_are_counted_and_warned_once(tmp_path: Path) -> None:
    frames = _frames()
    media = _media(tmp_path / "c", [1, 2, 3, 4])
    media.loc[1, ["path", "error"]] = [None, "HTTP 404"]
    with pytest.warns(ls_frames.PartialResultWarning) as caught:
        summary = export_dataset(frames, tmp_path / "out", format="yolo", media=media)
    assert len(caught) == 1 and caught[0].filename == __file__  # the user's line
    warning = caught[0].message
    assert isinstance(warning, ls_frames.PartialResultWarning)
    assert (warning.failed, warning.total) == (3, 6)
    assert warning.reasons == {
        "tasks without a reference annotation": 1,
        "tasks without media (HTTP 404)": 1,
        "tasks without media (no 'image' row in the media table)": 1,
    }
    assert str(warning).startswith("3 of 6 tasks were left out of the dataset: ")
    assert summary.left_out_tasks == warning.reasons and summary.left_out_regions == {}
    assert summary.images == {"train": 3}
    assert sorted(p.name for p in (tmp_path / "out" / "images" / "train").iterdir()) == [
        "1.png",
        "3.png",
        "4.png",
    ]


def test_regions_of_another_box_control_are_counted(tmp_path: Path) -> None:
    config = CONFIG.replace(
        "</View>",
        '<RectangleLabels name="face" toName="image"><Label value="face"/></RectangleLabels>'
        "</View>",
    )
    face = {**_box("f", 0, 0, 10, 10, "face", 2), "from_name": "face"}
    face["value"] = {**face["value"], "rectanglelabels": ["face"]}
    tasks = [t for t in _tasks() if t["id"] == 2]
    tasks[0]["annotations"][0]["result"].append(face)
    frames = _frames(tasks, config)
    with pytest.raises(
        ls_frames.ConfigurationError, match=r"from_name= for format='coco'.*\['box', 'face'\]"
    ):
        export_dataset(frames, tmp_path / "x", media=_media(tmp_path / "c", [2]))
    with pytest.warns(ls_frames.PartialResultWarning, match="1 regions.*'face'"):
        summary = export_dataset(
            frames, tmp_path / "out", media=_media(tmp_path / "c", [2]), from_name="box"
        )
    assert summary.left_out_regions == {"regions of another control ('face')": 1}
    assert summary.labels == {"train": 2}


def test_sizes_from_the_file_or_refused_without_pillow(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    try:
        from pycocotools.coco import COCO
    except ImportError:
        missing("pycocotools")
    tasks = [{"id": 4, "data": {"image": "d.png"}, "annotations": [annotation(1, [])]}]
    frames = _frames(tasks)
    media = _media(tmp_path / "c", [4])
    export_dataset(frames, tmp_path / "out", media=media)
    coco = COCO(str(tmp_path / "out" / "annotations" / "instances_train.json"))
    assert (coco.imgs[4]["width"], coco.imgs[4]["height"]) == SIZES[4]  # read from the file
    import importlib.util

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "PIL" else find_spec(name, *a)
    )
    with pytest.raises(ls_frames.ConfigurationError, match=r"1 tasks \(4\).*Pillow"):
        export_dataset(frames, tmp_path / "none", media=media)
    assert not (tmp_path / "none").exists()


def test_the_files_size_wins_and_a_file_that_is_no_image_is_left_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    try:
        from pycocotools.coco import COCO
    except ImportError:
        missing("pycocotools")
    frames = _frames([t for t in _tasks() if t["id"] in (1, 2)])
    media = _media(tmp_path / "c", [1, 2])
    # the export says 40 x 30 for task 2; the cache holds an 80 x 60 image
    Image.fromarray(np.zeros((60, 80, 3), np.uint8)).save(str(media.loc[1, "path"]))
    Path(str(media.loc[0, "path"])).write_bytes(b"<html>not found</html>")
    with pytest.warns(ls_frames.PartialResultWarning, match="not an image Pillow reads"):
        export_dataset(frames, tmp_path / "out", media=media)
    coco = COCO(str(tmp_path / "out" / "annotations" / "instances_train.json"))
    assert list(coco.imgs) == [2] and (coco.imgs[2]["width"], coco.imgs[2]["height"]) == (80, 60)
    expected = to_coco(_reference_boxes(frames, 2), (80, 60))
    bboxes = [a["bbox"] for a in coco.loadAnns(coco.getAnnIds())]
    assert bboxes == [pytest.approx([expected[c][k] for c in expected]) for k in range(2)]
    assert bboxes[0] == pytest.approx([20.0, 30.0, 40.0, 30.0])
    # without Pillow: the export's size
    import importlib.util

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "PIL" else find_spec(name, *a)
    )
    _export(frames, tmp_path / "plain", media=media.iloc[1:])
    coco = COCO(str(tmp_path / "plain" / "annotations" / "instances_train.json"))
    assert (coco.imgs[2]["width"], coco.imgs[2]["height"]) == SIZES[2]


def test_another_field_and_an_empty_media_table(tmp_path: Path) -> None:
    frames = _frames([t for t in _tasks() if t["id"] == 2])
    media = _media(tmp_path / "c", [2], field="photo")
    with pytest.raises(ls_frames.ConfigurationError, match=r"pass field=.*'photo', 'thumb'"):
        export_dataset(
            frames,
            tmp_path / "o",
            media=pd.concat([media, _media(tmp_path / "d", [2])]).assign(field=["photo", "thumb"]),
        )
    summary = export_dataset(frames, tmp_path / "o", media=media)  # the only field
    assert summary.images == {"train": 1}
    summary = export_dataset(frames, tmp_path / "p", media=media, field="photo", link="symlink")
    assert (tmp_path / "p" / "images" / "train" / "2.png").is_symlink()
    with pytest.warns(ls_frames.PartialResultWarning, match="the media table is empty"):
        summary = export_dataset(frames, tmp_path / "q", media=media.iloc[0:0])
    assert summary.images == {"train": 0}
    assert (
        json.loads((tmp_path / "q" / "annotations" / "instances_train.json").read_text())["images"]
        == []
    )


def test_bad_options(tmp_path: Path) -> None:
    frames = _frames()
    media = _media(tmp_path / "c", [1])
    with pytest.raises(ls_frames.ConfigurationError, match="format must be"):
        export_dataset(frames, tmp_path / "o", format="voc", media=media)  # type: ignore[arg-type]
    with pytest.raises(ls_frames.ConfigurationError, match="link must be"):
        export_dataset(frames, tmp_path / "o", media=media, link="move")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="fetch_media table"):
        export_dataset(frames, tmp_path / "o", media=None)  # type: ignore[arg-type]
    with pytest.raises(ls_frames.ConfigurationError, match="segmentation=True"):
        export_dataset(frames, tmp_path / "o", media=media, segmentation=True)
    with pytest.raises(ls_frames.ConfigurationError, match="reference"):
        export_dataset(frames, tmp_path / "o", media=media, reference="best")
    with pytest.raises(ls_frames.ConfigurationError, match="no split"):
        export_dataset(frames, tmp_path / "o", media=media, split=pd.Series({1: "train"}))
    with pytest.raises(ls_frames.ConfigurationError, match="folder names"):
        parts = pd.Series({t: "a/b" for t in (1, 2, 3, 4, 6)})
        export_dataset(frames, tmp_path / "o", media=media, split=parts)
    assert not (tmp_path / "o").exists()


def test_cli_refuses_before_any_server_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from ls_frames.frontends.cli import main

    out = tmp_path / "out"
    assert main(["dataset", "12", "--out", str(out), "-q"]) == 1
    assert "pass --media DIR" in capsys.readouterr().err
    for bad in ("train=0.8,val", "train", "=0.5"):
        argv = ["dataset", "12", "--out", str(out), "--media", str(tmp_path / "c"), "--split"]
        assert main([*argv, bad]) == 1
        assert "--split takes NAME=FRACTION" in capsys.readouterr().err
    out.mkdir()
    assert main(["dataset", "12", "--out", str(out), "--media", str(tmp_path / "c")]) == 1
    assert "add --overwrite" in capsys.readouterr().err
    assert main(["dataset", str(tmp_path / "nowhere"), "--out", str(tmp_path / "o2")]) == 1
    assert "neither a project id nor a dataset folder" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exited:
        main(["dataset", "12", "--out", str(tmp_path / "o3"), "--format", "voc"])
    assert exited.value.code == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


# --- the demo project on the real server -------------------------------------------------


@pytest.fixture(scope="module")
def demo(label_studio: Any, demo_project: dict[str, Any], tmp_path_factory: Any) -> Any:
    """The demo project's frames and its media table (fetched once for this module)."""
    cache = tmp_path_factory.mktemp("demo-cache")
    key = label_studio.access_token or label_studio.admin_key
    with ls_frames.Client(label_studio.url, key) as client:
        frames = ls_frames.load_project(demo_project["project_id"], client=client, progress=False)
        media = ls_frames.fetch_media(frames, cache, client=client, progress=False)
    counts = demo_project["counts"]
    assert len(frames.annotations) == counts["annotations"], (
        f"the export holds {len(frames.annotations)} of the {counts['annotations']} seeded "
        "annotations: a busy shared server on SQLite answers 'database is locked' and drops "
        "them; rerun"
    )
    return frames, media, cache


def _demo_boxes(frames: ls_frames.Frames) -> dict[int, pd.DataFrame]:
    """task_id -> the box rows of the annotation ls_frames.reference_annotations chose."""
    chosen = ls_frames.reference_annotations(frames)
    regions = frames.regions
    boxes = regions[
        regions["source_id"].isin(chosen["annotation_id"]).to_numpy(bool)
        & (regions["source"].astype(object) == "annotation").to_numpy(bool)
        & (regions["from_name"].astype(object) == "box").to_numpy(bool)
    ]
    return {
        int(t): boxes[(boxes["task_id"] == t).to_numpy(bool)].reset_index(drop=True)
        for t in chosen["task_id"]
    }


def _demo_split(frames: ls_frames.Frames) -> pd.Series:
    ids = sorted(int(t) for t in frames.tasks["task_id"])
    return pd.Series(["train" if i % 3 else "val" for i in range(len(ids))], index=ids)


@pytest.mark.server
def test_demo_project_as_a_coco_folder(
    demo: Any, demo_project: dict[str, Any], tmp_path: Path
) -> None:
    import hashlib

    try:
        from pycocotools.coco import COCO
    except ImportError:
        missing("pycocotools")
    frames, media, _ = demo
    expected = _demo_boxes(frames)
    parts = _demo_split(frames)
    out = tmp_path / "coco"
    with pytest.warns(ls_frames.PartialResultWarning) as caught:
        summary = export_dataset(frames, out, media=media, split=parts)
    # the skipped-only task and the task without an annotation
    assert caught[0].message.reasons == {"tasks without a reference annotation": 2}  # type: ignore[union-attr]
    assert summary.classes == ("cat", "dog", "bird")
    assert sum(summary.images.values()) == len(expected) == demo_project["counts"]["tasks"] - 2
    sent = {m["task_id"]: m["sha256"] for m in demo_project["media"]}
    for name in ("train", "val"):
        coco = COCO(str(out / "annotations" / f"instances_{name}.json"))
        assert [coco.cats[i]["name"] for i in sorted(coco.cats)] == ["cat", "dog", "bird"]
        assert sorted(coco.imgs) == sorted(t for t in expected if parts[t] == name)
        for tid, image in coco.imgs.items():
            path = out / "images" / name / image["file_name"]
            assert hashlib.sha256(path.read_bytes()).hexdigest() == sent[tid]
            with Image.open(path) as im:
                size = im.size
            assert (image["width"], image["height"]) == size  # the file's, not the export's
            boxes = expected[tid]
            want = to_coco(boxes, size)
            anns = coco.loadAnns(coco.getAnnIds(imgIds=[tid]))
            assert len(anns) == len(boxes) == 2
            for k, ann in enumerate(anns):
                assert ann["bbox"] == pytest.approx([want[c][k] for c in want])
                assert coco.cats[ann["category_id"]]["name"] == str(boxes["labels"].iloc[k][0])


@pytest.mark.server
def test_demo_project_as_a_yolo_folder(demo: Any, tmp_path: Path) -> None:
    frames, media, _ = demo
    expected = _demo_boxes(frames)
    out = tmp_path / "yolo"
    with pytest.warns(ls_frames.PartialResultWarning):
        summary = export_dataset(frames, out, format="yolo", media=media, split=_demo_split(frames))
    assert summary.labels == {s: 2 * n for s, n in summary.images.items()}
    yaml = (out / "data.yaml").read_text()
    assert "train: images/train\nval: images/val\nnc: 3\n" in yaml
    assert yaml.endswith('names:\n  0: "cat"\n  1: "dog"\n  2: "bird"\n')
    for label_file in out.glob("labels/*/*.txt"):
        tid = int(label_file.stem)
        with Image.open(next(out.glob(f"images/*/{tid}.*"))) as im:
            size = im.size
        want = to_yolo(expected[tid], size)
        lines = _yolo_file(label_file)
        for k, line in enumerate(lines):
            assert line[1:] == pytest.approx([want[c][k] for c in want], abs=1e-6)
            assert ["cat", "dog", "bird"][int(line[0])] == str(expected[tid]["labels"].iloc[k][0])


@pytest.mark.server
def test_cli_dataset_of_a_project_and_of_a_dataset_folder(
    label_studio: Any,
    demo: Any,
    demo_project: dict[str, Any],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from ls_frames.frontends.cli import main

    _, _, cache = demo
    server = [
        "--url",
        label_studio.url,
        "--api-key",
        label_studio.access_token or label_studio.admin_key,
    ]
    pid = str(demo_project["project_id"])
    out = tmp_path / "yolo"
    argv = ["dataset", pid, "--out", str(out), "--format", "yolo", "--media", str(cache)]
    code = main([*argv, "--split", "train=0.5,val=0.5", "-q", *server])
    err = capsys.readouterr().err
    assert code == 3, err  # two tasks have no reference annotation
    assert "ls-frames: dataset: 2 of 12 tasks were left out of the dataset" in err
    assert "exit status 3: the dataset left some out (add --allow-missing" in err
    assert (out / "data.yaml").is_file() and (out / "labels").is_dir()
    code = main(
        [
            "dataset",
            pid,
            "--out",
            str(tmp_path / "scenes"),
            "--format",
            "imagefolder",
            "--from-name",
            "scene",
            "--media",
            str(cache),
            "--allow-missing",
            "-q",
            *server,
        ]
    )
    assert code == 0
    assert "imagefolder dataset at" in capsys.readouterr().out
    classes = {p.parent.name for p in (tmp_path / "scenes" / "train").glob("*/*.png")}
    assert classes == {"indoor", "outdoor"}
    # a Parquet dataset with its media table: no server needed for the folder
    ds = tmp_path / "ds"
    key = label_studio.access_token or label_studio.admin_key
    with ls_frames.Client(label_studio.url, key) as client:
        ls_frames.export_project(int(pid), ds, client=client, media=cache, progress=False)
    coco = tmp_path / "coco"
    assert main(["dataset", str(ds), "--out", str(coco), "--allow-missing", "-q"]) == 0
    assert sorted(p.name for p in (coco / "annotations").iterdir()) == ["instances_train.json"]
    assert main(["dataset", str(ds), "--out", str(coco), "-q"]) == 1
    assert "add --overwrite" in capsys.readouterr().err
