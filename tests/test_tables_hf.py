"""to_hf_dataset over images written here and a media table shaped like fetch_media's:
boxes in pixels with class ids, choices as ClassLabel, BIO tags for NER, splits, numpy and
torch formats. Expectations come from the regions sent and the files written."""

from __future__ import annotations

import importlib.util
import io
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import ls_frames
from ls_frames.training import split, to_hf_dataset
from tests.image_tasks import annotation, media_table, scene
from tests.needs import missing

try:
    import datasets
    from PIL import Image
except ImportError:  # pragma: no cover - the test extra installs them
    datasets = None

CONFIG = """<View><Image name="image" value="$image"/>
<RectangleLabels name="box" toName="image"><Label value="cat"/><Label value="dog"/></RectangleLabels>
<Choices name="scene" toName="image"><Choice value="indoor"/><Choice value="outdoor"/></Choices>
</View>"""
SIZES = {1: (64, 48), 2: (40, 30), 3: (50, 50), 4: (32, 64)}


@pytest.fixture(autouse=True)
def _needs_datasets() -> None:
    if datasets is None:
        missing("datasets and Pillow (the train extra)")


def _box(
    rid: str,
    x: float,
    y: float,
    w: float,
    h: float,
    label: str,
    size: tuple[int, int] | None,
    rotation: float = 0,
) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": rid,
        "from_name": "box",
        "to_name": "image",
        "type": "rectanglelabels",
        "value": {
            "x": x,
            "y": y,
            "width": w,
            "height": h,
            "rotation": rotation,
            "rectanglelabels": [label],
        },
    }
    if size:
        item.update(original_width=size[0], original_height=size[1])
    return item


def _tasks() -> list[dict[str, Any]]:
    s = SIZES
    return [
        {
            "id": 1,
            "data": {"image": "/data/upload/1/a.png"},
            "annotations": [
                annotation(1, [_box("a", 10, 20, 50, 25, "cat", s[1]), scene("indoor")]),
                annotation(
                    2,
                    [_box("b", 0, 0, 100, 100, "dog", s[1]), scene("outdoor")],
                    ground_truth=True,
                ),  # the ground truth wins over the later one
                annotation(3, [_box("c", 1, 1, 1, 1, "cat", s[1])]),
            ],
        },
        {
            "id": 2,
            "data": {"image": "/data/upload/1/b.png"},
            "annotations": [
                annotation(
                    4,
                    [
                        _box("d", 25, 50, 50, 50, "dog", s[2]),
                        _box("e", 0, 0, 10, 10, "cat", s[2]),
                        scene("outdoor"),
                    ],
                ),
                annotation(5, [_box("f", 0, 0, 5, 5, "dog", s[2])], was_cancelled=True),
            ],
        },
        {
            "id": 3,
            "data": {"image": "/data/upload/1/c.png"},
            "annotations": [annotation(6, [_box("g", 0, 0, 50, 50, "cat", s[3], rotation=90)])],
        },
        {
            "id": 4,
            "data": {"image": "/data/upload/1/d.png"},
            "annotations": [annotation(7, [], was_cancelled=True)],
        },  # skipped only: not in the dataset
    ]


def _media(tmp_path: Path, task_ids: list[int], *, as_bytes: bool = False) -> pd.DataFrame:
    return media_table(tmp_path, SIZES, task_ids, as_bytes=as_bytes)


def _frames(tasks: list[dict[str, Any]] | None = None) -> ls_frames.Frames:
    return ls_frames.read_export(
        json.dumps(tasks or _tasks()).encode(), label_config=CONFIG, progress=False
    )


@pytest.mark.parametrize("as_bytes", [False, True])
def test_detection_boxes_in_pixels_with_class_ids(tmp_path: Path, as_bytes: bool) -> None:
    frames = _frames()
    ds = to_hf_dataset(frames, media=_media(tmp_path, [1, 2, 3], as_bytes=as_bytes))
    assert isinstance(ds, datasets.Dataset)
    assert list(ds["task_id"]) == [1, 2, 3]
    assert ds.features["objects"]["category"].feature.names == ["cat", "dog"]
    row = ds[0]
    assert row["image"].size == SIZES[1] and (row["width"], row["height"]) == SIZES[1]
    assert row["objects"]["category"] == [1]  # the ground truth's dog
    assert row["objects"]["bbox"] == [[0.0, 0.0, 64.0, 48.0]]
    two = ds[1]["objects"]
    assert two["category"] == [1, 0] and two["region_id"] == ["d", "e"]
    assert two["bbox"] == [[10.0, 15.0, 20.0, 15.0], [0.0, 0.0, 4.0, 3.0]]
    # rotated 90 degrees clockwise around (x, y): the enclosing box lies left of x
    three = ds[2]["objects"]["bbox"][0]
    assert three == pytest.approx([-25.0, 0.0, 25.0, 25.0], abs=1e-4)
    as_numpy = ds.with_format("numpy")[1]
    assert as_numpy["image"].shape == (30, 40, 3) and (as_numpy["image"] == 80).all()
    assert as_numpy["objects"]["bbox"].shape == (2, 4)


def test_labels_alone_with_media_false_take_sizes_from_the_export() -> None:
    ds = to_hf_dataset(_frames(), media=False)
    assert "image" not in ds.column_names
    assert (ds[1]["width"], ds[1]["height"]) == SIZES[2]
    assert ds[1]["objects"]["bbox"][0] == [10.0, 15.0, 20.0, 15.0]


def test_classification_and_splits(tmp_path: Path) -> None:
    frames = _frames()
    parts = pd.Series(
        pd.Categorical(["train", "val", "train", "val"], categories=["train", "val", "test"]),
        index=pd.Index([1, 2, 3, 4], name="task_id"),
    )
    dd = to_hf_dataset(
        frames, media=_media(tmp_path, [1, 2, 3]), split=parts, task="classification"
    )
    assert isinstance(dd, datasets.DatasetDict) and list(dd) == ["train", "val", "test"]
    assert list(dd["train"]["task_id"]) == [1, 3] and list(dd["val"]["task_id"]) == [2]
    assert len(dd["test"]) == 0
    names = dd["train"].features["label"].names
    assert names == ["indoor", "outdoor"]
    assert list(dd["train"]["label"]) == [1, -1]  # task 3 has no scene
    assert list(dd["val"]["label"]) == [1]
    with pytest.raises(ls_frames.ConfigurationError, match="no split"):
        to_hf_dataset(frames, media=False, split=parts.iloc[:2], task="classification")
    stable = split(frames, {"train": 0.5, "val": 0.5})
    dd = to_hf_dataset(frames, media=False, split=stable, task="classification")
    assert sorted(list(dd["train"]["task_id"]) + list(dd["val"]["task_id"])) == [1, 2, 3]


def test_multi_choice_gives_a_list_of_labels() -> None:
    tasks = [
        {
            "id": 1,
            "data": {"image": "x"},
            "annotations": [
                annotation(
                    1,
                    [
                        {
                            "id": "s",
                            "from_name": "scene",
                            "to_name": "image",
                            "type": "choices",
                            "value": {"choices": ["outdoor", "indoor"]},
                        }
                    ],
                )
            ],
        }
    ]
    ds = to_hf_dataset(_frames(tasks), media=False, task="classification")
    assert ds[0]["labels"] == [0, 1]


NER_CONFIG = """<View><Text name="text" value="$text"/>
<Labels name="ner" toName="text"><Label value="PER"/><Label value="ORG"/></Labels></View>"""


def _span(start: int, end: int, label: str) -> dict[str, Any]:
    return {
        "id": f"{start}",
        "from_name": "ner",
        "to_name": "text",
        "type": "labels",
        "value": {"start": start, "end": end, "labels": [label]},
    }


def test_ner_bio_tags_with_whitespace_and_a_custom_tokenizer() -> None:
    text = "Ada Lovelace met Charles at Analytical-Engine Ltd."
    # spans from the text, not from the output
    spans = [
        (text.index("Ada"), text.index(" met"), "PER"),
        (text.index("Charles"), text.index(" at"), "PER"),
        (text.index("Engine"), len(text) - 1, "ORG"),
    ]
    tasks = [
        {
            "id": 7,
            "data": {"text": text},
            "annotations": [annotation(1, [_span(s, e, label) for s, e, label in spans])],
        }
    ]
    frames = ls_frames.read_export(
        json.dumps(tasks).encode(), label_config=NER_CONFIG, progress=False
    )
    ds = to_hf_dataset(frames, task="ner")
    names = ds.features["ner_tags"].feature.names
    assert names == ["O", "B-PER", "I-PER", "B-ORG", "I-ORG"]
    assert ds[0]["tokens"] == text.split()
    tags = [names[i] for i in ds[0]["ner_tags"]]
    # "Analytical-Engine" overlaps the ORG span: a token it touches is tagged
    assert tags == ["B-PER", "I-PER", "O", "B-PER", "O", "B-ORG", "I-ORG"]

    def chars(t: str) -> list[str]:
        return [c for c in t.replace(" ", "")][:12]

    ds = to_hf_dataset(frames, task="ner", tokenizer=chars)
    tags = [names[i] for i in ds[0]["ner_tags"]]
    assert ds[0]["tokens"] == list("AdaLovelacem")
    assert tags == ["B-PER", *["I-PER"] * 10, "O"]
    assert ds.with_format("numpy")[0]["ner_tags"].dtype.kind == "i"


def test_torch_format(tmp_path: Path) -> None:
    try:
        import torch
    except ImportError:
        missing("torch (pip install torch==2.13.0)")
    ds = to_hf_dataset(_frames(), media=_media(tmp_path, [1, 2, 3])).with_format("torch")
    row = ds[1]
    # datasets gives torch images channels first
    assert isinstance(row["image"], torch.Tensor) and tuple(row["image"].shape) == (3, 30, 40)
    assert row["objects"]["bbox"].shape == (2, 4)
    assert row["objects"]["category"].tolist() == [1, 0]


def test_failed_or_missing_media_is_refused_with_the_tasks_by_reason(tmp_path: Path) -> None:
    frames = _frames()
    media = _media(tmp_path, [1, 2, 3])
    with pytest.raises(ls_frames.DownloadError, match=r"1 of 3 tasks.*no 'image' row.*task 3"):
        to_hf_dataset(frames, media=media[media["task_id"] != 3])
    broken = media.copy()
    broken.loc[0, ["path", "error"]] = [None, "connection failed"]
    broken.loc[1, ["path", "error"]] = [None, "HTTP 404"]
    broken.loc[2, ["path", "error"]] = [None, "connection failed"]
    with pytest.raises(ls_frames.DownloadError) as raised:
        to_hf_dataset(frames, media=broken)
    message = str(raised.value)
    assert "the media of 3 of 3 tasks is missing" in message
    # grouped, the most common reason first, each with its tasks
    assert "2 connection failed (tasks 1, 3); 1 HTTP 404 (task 2)" in message
    assert 'on_error="skip"' in message


def test_on_error_skip_builds_without_those_tasks_and_warns_once(tmp_path: Path) -> None:
    frames = _frames()
    media = _media(tmp_path, [1, 2, 3])
    media.loc[1, ["path", "error"]] = [None, "HTTP 404"]
    media = media[media["task_id"] != 3]
    with pytest.warns(ls_frames.PartialResultWarning) as caught:
        ds = to_hf_dataset(frames, media=media, on_error="skip")
    assert list(ds["task_id"]) == [1]
    assert ds[0]["image"].size == SIZES[1]
    assert len(caught) == 1 and caught[0].filename == __file__  # the user's line
    warning = caught[0].message
    assert isinstance(warning, ls_frames.PartialResultWarning)
    assert (warning.failed, warning.total) == (2, 3)
    assert warning.reasons == {"HTTP 404": 1, "no 'image' row in the media table": 1}
    assert str(warning).startswith("2 of 3 tasks were left out of the dataset")
    # with a split, the tasks left out are in no split
    parts = pd.Series(["train", "val", "train"], index=pd.Index([1, 2, 3], name="task_id"))
    with pytest.warns(ls_frames.PartialResultWarning):
        dd = to_hf_dataset(frames, media=media, split=parts, on_error="skip")
    assert list(dd["train"]["task_id"]) == [1] and len(dd["val"]) == 0


def test_an_image_task_without_media_names_media_and_how_to_get_it() -> None:
    frames = _frames()
    for task in ("detection", "classification"):  # the scene's Choices label an <Image>
        with pytest.raises(ls_frames.ConfigurationError, match="media=") as raised:
            to_hf_dataset(frames, task=task)
        assert "fetch_media" in str(raised.value) and "media=False" in str(raised.value)
    ner = ls_frames.read_export(
        json.dumps(
            [{"id": 1, "data": {"text": "Ada"}, "annotations": [annotation(1, [])]}]
        ).encode(),
        label_config=NER_CONFIG,
        progress=False,
    )
    assert len(to_hf_dataset(ner, task="ner")) == 1  # text needs no media
    sentiment = ls_frames.read_export(
        json.dumps(
            [{"id": 1, "data": {"text": "fine"}, "annotations": [annotation(1, [])]}]
        ).encode(),
        label_config='<View><Text name="text" value="$text"/><Choices name="mood" '
        'toName="text"><Choice value="good"/></Choices></View>',
        progress=False,
    )
    assert to_hf_dataset(sentiment, task="classification")["label"] == [-1]


def test_bad_options(tmp_path: Path) -> None:
    frames = _frames()
    media = _media(tmp_path, [1, 2, 3])
    with pytest.raises(ls_frames.ConfigurationError, match="task must be"):
        to_hf_dataset(frames, task="keypoints")  # type: ignore[arg-type]
    with pytest.raises(ls_frames.ConfigurationError, match=r"boxes.*'box'"):
        to_hf_dataset(frames, from_name="boxes")
    with pytest.raises(ls_frames.ConfigurationError, match="field"):
        to_hf_dataset(frames, media=media, field="video")
    with pytest.raises(ls_frames.ConfigurationError, match="on_error"):
        to_hf_dataset(frames, media=media, on_error="ignore")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="fetch_media table or False"):
        to_hf_dataset(frames, media=True)  # type: ignore[arg-type]


def test_missing_extra_names_the_pip_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "datasets", None)
    with pytest.raises(ls_frames.ConfigurationError, match=r'pip install "ls_frames\[train\]"'):
        to_hf_dataset(_frames())


def test_image_bytes_round_trip(tmp_path: Path) -> None:
    media = _media(tmp_path, [1, 2, 3], as_bytes=True)
    ds = to_hf_dataset(_frames(), media=media, task="classification")
    raw = ds.cast_column("image", datasets.Image(decode=False))[0]["image"]["bytes"]
    with Image.open(io.BytesIO(raw)) as im:
        assert im.size == SIZES[1]


def test_audio_media_becomes_an_audio_feature(tmp_path: Path) -> None:
    import wave

    tasks = [
        {
            "id": 1,
            "data": {"audio": "/data/upload/1/a.wav"},
            "annotations": [
                annotation(
                    1,
                    [
                        {
                            "id": "s",
                            "from_name": "kind",
                            "to_name": "audio",
                            "type": "choices",
                            "value": {"choices": ["speech"]},
                        }
                    ],
                )
            ],
        }
    ]
    config = """<View><Audio name="audio" value="$audio"/><Choices name="kind" toName="audio">
    <Choice value="music"/><Choice value="speech"/></Choices></View>"""
    path = tmp_path / "a.wav"
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(np.zeros(800, np.int16).tobytes())
    media = pd.DataFrame(
        [
            {
                "task_id": 1,
                "field": "audio",
                "position": None,
                "uri": "a.wav",
                "path": str(path),
                "bytes": path.stat().st_size,
                "sha256": "",
                "content_type": "audio/x-wav",
                "error": None,
            }
        ]
    )
    frames = ls_frames.read_export(json.dumps(tasks).encode(), label_config=config, progress=False)
    if importlib.util.find_spec("torchcodec") is None:
        # datasets reads and writes audio through torchcodec: say so, with the pip line
        with pytest.raises(ls_frames.ConfigurationError, match="pip install torchcodec"):
            to_hf_dataset(frames, media=media, task="classification")
        return
    ds = to_hf_dataset(frames, media=media, task="classification")
    assert isinstance(ds.features["audio"], datasets.Audio)
    assert list(ds["label"]) == [1]
    stored = ds.cast_column("audio", datasets.Audio(decode=False))[0]["audio"]
    assert stored["path"] == str(path)


SEG_CONFIG = """<View><Image name="image" value="$image"/>
<PolygonLabels name="seg" toName="image"><Label value="road"/><Label value="car"/></PolygonLabels>
</View>"""


def test_segmentation_masks_hold_class_ids(tmp_path: Path) -> None:
    # a 40 x 20 image: the left half is road (a polygon), a 10 x 5 car sits on top of it
    size = {"original_width": 40, "original_height": 20}
    road = {
        "id": "r",
        "from_name": "seg",
        "to_name": "image",
        "type": "polygonlabels",
        "value": {"points": [[0, 0], [50, 0], [50, 100], [0, 100]], "polygonlabels": ["road"]},
        **size,
    }
    car = {
        "id": "c",
        "from_name": "seg",
        "to_name": "image",
        "type": "polygonlabels",
        "value": {"points": [[25, 50], [50, 50], [50, 75], [25, 75]], "polygonlabels": ["car"]},
        **size,
    }
    tasks = [
        {"id": 1, "data": {"image": "a.png"}, "annotations": [annotation(1, [road, car])]},
        {"id": 2, "data": {"image": "b.png"}, "annotations": [annotation(2, [car])]},
    ]
    frames = ls_frames.read_export(
        json.dumps(tasks).encode(), label_config=SEG_CONFIG, progress=False
    )
    ds = to_hf_dataset(frames, media=False, task="segmentation").with_format("numpy")
    assert ds.features["categories"].feature.names == ["road", "car"]
    mask = ds[0]["mask"]
    assert mask.shape == (20, 40)
    expected = np.zeros((20, 40), np.uint8)
    expected[:, :20] = 1  # road: class 0 -> pixel 1
    expected[10:15, 10:20] = 2  # car: class 1 -> pixel 2, drawn after the road
    assert (mask == expected).all()
    assert ds[0]["categories"].tolist() == [0, 1] and ds[1]["categories"].tolist() == [1]
    assert int((ds[1]["mask"] == 2).sum()) == 50
    # with media, the image's own size rules (it must match the export's)
    path = tmp_path / "a.png"
    Image.fromarray(np.zeros((20, 40, 3), np.uint8)).save(path)
    media = pd.DataFrame(
        [
            {
                "task_id": t,
                "field": "image",
                "position": 0,
                "uri": "a.png",
                "path": str(path),
                "bytes": path.stat().st_size,
                "sha256": "",
                "content_type": "image/png",
                "error": None,
            }
            for t in (1, 2)
        ]
    )
    with_media = to_hf_dataset(frames, media=media, task="segmentation")
    assert (np.asarray(with_media[0]["mask"]) == expected).all()
