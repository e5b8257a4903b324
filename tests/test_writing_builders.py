"""The builders: region rows from model outputs (pixels and normalised, rotated boxes,
polygons, keypoints, masks, text spans, choices) that ``to_results`` turns into items,
with names and types from the label config, image sizes from Frames or given."""

from __future__ import annotations

import doctest
import math

import numpy as np
import pandas as pd
import pytest

import ls_frames
from ls_frames.errors import ConfigurationError
from ls_frames.writing import builders
from tests.test_reading_corpus import LS

CONFIG = """<View>
  <Image name="image" value="$image"/>
  <RectangleLabels name="box" toName="image"><Label value="cat"/><Label value="dog"/></RectangleLabels>
  <PolygonLabels name="poly" toName="image"><Label value="roof"/></PolygonLabels>
  <KeyPointLabels name="kp" toName="image"><Label value="nose"/></KeyPointLabels>
  <BrushLabels name="mask" toName="image"><Label value="sky"/></BrushLabels>
  <Choices name="quality" toName="image"><Choice value="good"/><Choice value="bad"/></Choices>
  <Text name="text" value="$text"/>
  <Labels name="ner" toName="text"><Label value="PER"/></Labels>
</View>"""


def test_the_docstring_examples_run() -> None:
    failed, tried = doctest.testmod(builders, raise_on_error=False, verbose=False)
    assert tried >= 6 and failed == 0


def _one_item(rows: pd.DataFrame) -> dict:  # type: ignore[type-arg]
    results = ls_frames.to_results(rows, label_config=CONFIG)
    (items,) = results["result"]
    return dict(items[0])


@pytest.mark.parametrize(
    ("boxes", "format", "normalized"),
    [
        ([[20, 10, 120, 60]], "xyxy", False),
        ([[20, 10, 100, 50]], "xywh", False),
        ([[70, 35, 100, 50]], "cxcywh", False),
        ([[0.1, 0.1, 0.6, 0.6]], "xyxy", True),
        ([[0.1, 0.1, 0.5, 0.5]], "xywh", True),
    ],
)
def test_boxes_in_pixels_and_normalized(boxes: list, format: str, normalized: bool) -> None:  # type: ignore[type-arg]
    rows = ls_frames.boxes_to_regions(
        boxes,
        task_id=3,
        label="dog",
        score=0.75,
        format=format,  # type: ignore[arg-type]
        normalized=normalized,
        image_size=(200, 100),
        label_config=CONFIG,
    )
    item = _one_item(rows)
    assert item["from_name"] == "box" and item["to_name"] == "image"
    assert item["type"] == "rectanglelabels" and item["score"] == 0.75
    assert item["original_width"] == 200 and item["original_height"] == 100
    value = item["value"]
    assert value["rectanglelabels"] == ["dog"]
    assert [value[k] for k in ("x", "y", "width", "height")] == pytest.approx([10, 10, 50, 50])
    assert rows["source"].tolist() == ["prediction"]


def test_a_box_turned_about_its_centre_keeps_its_centre() -> None:
    # a 100 x 20 px box centred at (100, 50) in a 200 x 100 image, turned 90 degrees
    rows = ls_frames.boxes_to_regions(
        [[100, 50, 100, 20]],
        task_id=1,
        label="cat",
        format="cxcywh",
        rotation=90,
        image_size=(200, 100),
        label_config=CONFIG,
    )
    v = _one_item(rows)["value"]
    assert v["rotation"] == 90
    x, y = v["x"] * 2, v["y"]  # pixels
    w, h = v["width"] * 2, v["height"]
    t = math.radians(v["rotation"])
    cx = x + w / 2 * math.cos(t) - h / 2 * math.sin(t)
    cy = y + w / 2 * math.sin(t) + h / 2 * math.cos(t)
    assert (cx, cy) == pytest.approx((100, 50))
    # the same normalized
    norm = ls_frames.boxes_to_regions(
        [[0.5, 0.5, 0.5, 0.2]],
        task_id=1,
        label="cat",
        format="cxcywh",
        rotation=90,
        normalized=True,
        image_size=(200, 100),
        label_config=CONFIG,
    )
    got = _one_item(norm)["value"]
    assert [got[k] for k in ("x", "y", "width", "height")] == pytest.approx(
        [v[k] for k in ("x", "y", "width", "height")]
    )
    with pytest.raises(ConfigurationError, match="image_size"):
        ls_frames.boxes_to_regions(
            [[0.5, 0.5, 0.5, 0.2]], task_id=1, format="cxcywh", rotation=90, normalized=True,
            label_config=CONFIG,
        )  # fmt: skip


def test_boxes_from_a_dataframe_with_sizes_from_frames() -> None:
    frames = ls_frames.read_export(LS / "snapshot_full_objects.json", progress=False)
    first = frames.regions.dropna(subset=["original_width"]).iloc[0]
    task, w, h = int(first.task_id), int(first.original_width), int(first.original_height)
    df = pd.DataFrame(
        {"task_id": [task, task], "xmin": [0, 10], "ymin": [0, 10], "xmax": [w, 20],
         "ymax": [h, 20], "label": ["cat", "dog"], "score": [0.9, 0.4]}
    )  # fmt: skip
    rows = ls_frames.boxes_to_regions(df, image_size=frames, label_config=CONFIG)
    assert rows["label"].tolist() == ["cat", "dog"]
    assert rows[["x", "y", "width", "height"]].iloc[0].tolist() == [0, 0, 100, 100]
    assert rows["original_width"].tolist() == [w, w]
    results = ls_frames.to_results(rows, model_version="detector-2")
    assert results["model_version"].tolist() == ["detector-2"]
    assert len(results["result"].iloc[0]) == 2
    by_dict = ls_frames.boxes_to_regions(
        df, image_size={task: (w, h)}, label_config=CONFIG
    )  # a mapping
    assert by_dict["width"].tolist() == rows["width"].tolist()


def test_polygons_keypoints_and_choices() -> None:
    poly = ls_frames.polygons_to_regions(
        [np.array([[0, 0], [100, 0], [100, 50]])],
        task_id=2,
        label="roof",
        image_size=(200, 100),
        label_config=CONFIG,
    )
    v = _one_item(poly)["value"]
    assert v == {"points": [[0, 0], [50, 0], [50, 50]], "closed": True, "polygonlabels": ["roof"]}
    kp = ls_frames.keypoints_to_regions(
        [[0.25, 0.5]], task_id=2, label="nose", normalized=True, size=0.5, label_config=CONFIG
    )
    v = _one_item(kp)["value"]
    assert v == {"x": 25, "y": 50, "width": 0.5, "keypointlabels": ["nose"]}
    ch = ls_frames.choices_to_regions(["good", ["bad"]], task_id=[1, 2], label_config=CONFIG)
    results = ls_frames.to_results(ch, label_config=CONFIG)
    assert [r[0]["value"] for r in results["result"]] == [
        {"choices": ["good"]},
        {"choices": ["bad"]},
    ]
    assert results["result"].iloc[0][0]["from_name"] == "quality"


def test_masks_round_trip_through_rle() -> None:
    rng = np.random.default_rng(4)
    masks = rng.random((2, 30, 40)) < 0.3
    rows = ls_frames.masks_to_regions(masks, task_id=9, label="sky", label_config=CONFIG)
    results = ls_frames.to_results(rows, label_config=CONFIG)
    items = results["result"].iloc[0]
    for item, mask in zip(items, masks, strict=True):
        assert item["original_width"] == 40 and item["original_height"] == 30
        got = ls_frames.rle_to_mask(item["value"]["rle"], 30, 40)
        np.testing.assert_array_equal(got, mask * 255)
        assert item["value"]["brushlabels"] == ["sky"]


def test_text_spans() -> None:
    doc = "Alice met Bob"
    rows = ls_frames.spans_to_regions([0, 10], [5, 13], task_id=4, label="PER", text=doc,
                                      score=[0.9, 0.8], label_config=CONFIG)  # fmt: skip
    results = ls_frames.to_results(rows, label_config=CONFIG)
    values = [it["value"] for it in results["result"].iloc[0]]
    assert values == [
        {"start": 0, "end": 5, "text": "Alice", "labels": ["PER"]},
        {"start": 10, "end": 13, "text": "Bob", "labels": ["PER"]},
    ]


def test_what_the_builders_refuse() -> None:
    with pytest.raises(ConfigurationError, match="image size"):
        ls_frames.boxes_to_regions([[0, 0, 1, 1]], task_id=1, label_config=CONFIG)
    with pytest.raises(ConfigurationError, match="from_name and to_name are needed"):
        ls_frames.boxes_to_regions([[0, 0, 1, 1]], task_id=1, normalized=True)
    with pytest.raises(ConfigurationError, match="no ellipse controls"):
        from ls_frames.writing.targets import control_for

        control_for("ellipse", CONFIG, None, None)
    two = CONFIG.replace("</View>", '<RectangleLabels name="b2" toName="image"/></View>')
    with pytest.raises(ConfigurationError, match=r"several rectangle controls \(\['box', 'b2'\]\)"):
        ls_frames.boxes_to_regions([[0, 0, 1, 1]], task_id=1, normalized=True, label_config=two)
    rows = ls_frames.boxes_to_regions(
        [[0, 0, 1, 1]], task_id=1, normalized=True, label_config=two, from_name="b2"
    )
    assert rows["from_name"].tolist() == ["b2"]
    with pytest.raises(ConfigurationError, match="label has 2 values for 1 regions"):
        ls_frames.boxes_to_regions(
            [[0, 0, 1, 1]], task_id=1, label=["a", "b"], normalized=True, label_config=CONFIG
        )
    with pytest.raises(ConfigurationError, match="task_id is needed"):
        ls_frames.boxes_to_regions([[0, 0, 1, 1]], normalized=True, label_config=CONFIG)
    # a label the config does not have: refused when checked
    rows = ls_frames.boxes_to_regions(
        [[0, 0, 0.5, 1.5]], task_id=1, label="zebra", normalized=True, label_config=CONFIG
    )
    with pytest.raises(ConfigurationError, match="'zebra' is not one of 'box'") as info:
        ls_frames.to_results(rows, label_config=CONFIG)
    assert "height 150.0 is outside 0-100" in str(info.value)
