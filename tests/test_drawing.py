"""ls_frames.show and its helpers: shapes drawn on a blank image of known size, pixels
sampled on and off each shape's edge; colours from the config; where the picture comes
from; spans in HTML; the worst mistakes drawn; the missing-extra message."""

from __future__ import annotations

import json
import sys
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import ls_frames
from tests.needs import missing

try:
    from PIL import Image
except ImportError:  # pragma: no cover - the plot extra installs it
    Image = None  # type: ignore[assignment]

W, H = 400, 300
WHITE = (255, 255, 255)
RED, BLUE, GREEN = (255, 0, 0), (0, 0, 255), (0, 128, 0)
CONFIG = """<View><Image name="image" value="$image"/>
<RectangleLabels name="box" toName="image">
  <Label value="cat" background="#ff0000"/><Label value="dog" background="blue"/>
  <Label value="fox"/>
</RectangleLabels>
<PolygonLabels name="poly" toName="image"><Label value="lake" background="rgb(0,128,0)"/></PolygonLabels>
<BrushLabels name="mask" toName="image"><Label value="sky" background="#0000ff"/></BrushLabels>
<EllipseLabels name="oval" toName="image"><Label value="egg" background="#ff0000"/></EllipseLabels>
<KeyPointLabels name="kp" toName="image"><Label value="eye" background="#0000ff"/></KeyPointLabels>
</View>"""


@pytest.fixture(autouse=True)
def _pillow() -> None:
    if Image is None:
        missing("Pillow (the plot extra)")


def _item(kind: str, name: str, value: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "from_name": name,
        "to_name": "image",
        "type": kind,
        "original_width": W,
        "original_height": H,
        "value": value,
        **extra,
    }


def _frames(
    results: list[dict[str, Any]],
    predictions: list[dict[str, Any]] | None = None,
    config: str | None = CONFIG,
    image: str = "/data/upload/1/ab12-street.png",
) -> Any:
    task = {
        "id": 1,
        "data": {"image": image},
        "annotations": [
            {
                "id": 10,
                "completed_by": {"id": 3, "email": "ann@example.org"},
                "result": results,
                "was_cancelled": False,
                "ground_truth": True,
                "updated_at": "2024-01-01T00:00:00Z",
            }
        ],
        "predictions": [
            {"id": 20, "model_version": "v1", "score": 0.5, "result": predictions or []}
        ],
    }
    return ls_frames.read_export(json.dumps([task]).encode(), label_config=config, progress=False)


def _draw(frames: Any, **options: Any) -> Any:
    blank = Image.new("RGB", (W, H), WHITE)
    options.setdefault("legend", False)
    return ls_frames.show(frames, 1, image=blank, **options)


def _box(x: float, y: float, w: float, h: float, label: str, rotation: float = 0) -> dict[str, Any]:
    value = {
        "x": x,
        "y": y,
        "width": w,
        "height": h,
        "rotation": rotation,
        "rectanglelabels": [label],
    }
    return _item("rectanglelabels", "box", value)


def test_a_rectangle_is_outlined_on_its_edges_only() -> None:
    # 25%..75% of 400 = 100..300 px across, 20%..80% of 300 = 60..240 px down
    picture = _draw(_frames([_box(25, 20, 50, 60, "dog")]))
    assert picture.size == (W, H)
    for on in ((300, 150), (100, 150), (200, 240), (250, 60)):  # right, left, bottom, top
        assert picture.getpixel(on) == BLUE, on
    for off in ((200, 150), (320, 150), (80, 150), (200, 260), (10, 10)):
        assert picture.getpixel(off) == WHITE, off


def test_a_rotated_rectangle_turns_about_its_top_left_corner() -> None:
    # (200, 60) px, 80 x 30 px, turned 90 degrees clockwise on screen about (200, 60):
    # the corners go to (200, 60), (200, 140), (170, 140), (170, 60)
    picture = _draw(_frames([_box(50, 20, 20, 10, "dog", rotation=90)]))
    for on in ((200, 100), (170, 100), (185, 140)):
        assert picture.getpixel(on) == BLUE, on
    # where the unturned box would be, and the inside: nothing drawn
    for off in ((240, 90), (279, 75), (185, 100), (240, 62)):
        assert picture.getpixel(off) == WHITE, off


def test_a_rotated_rectangle_matches_the_rotation_maths_of_the_masks() -> None:
    frames = _frames([_box(30, 30, 30, 20, "dog", rotation=35)])
    picture = np.asarray(_draw(frames, captions=False))
    drawn = (picture != 255).any(axis=2)
    mask = next(ls_frames.region_masks(frames.regions)).mask > 0

    def grown(m: np.ndarray, px: int, shrink: bool = False) -> Any:
        out = m.copy()
        for axis in (0, 1):
            for shift in range(-px, px + 1):
                moved = np.roll(m, shift, axis=axis)
                out = out & moved if shrink else out | moved
        return out

    assert drawn.any()
    assert not (drawn & ~grown(mask, 3)).any()  # nothing far outside the turned box
    assert not (drawn & grown(mask, 3, shrink=True)).any()  # nor well inside it
    border = mask & ~grown(mask, 1, shrink=True)
    assert drawn[border].mean() > 0.9  # the mask's border is drawn all round


def test_a_polygon_is_closed_and_hollow() -> None:
    points = [[25, 20], [75, 20], [50, 80]]  # (100, 60) (300, 60) (200, 240) px
    lake = _item("polygonlabels", "poly", {"points": points, "polygonlabels": ["lake"]})
    picture = _draw(_frames([lake]))
    for on in ((200, 60), (150, 150), (250, 150)):  # top edge, both slanted edges' middles
        assert picture.getpixel(on) == GREEN, on
    for off in ((200, 120), (100, 200), (300, 200), (200, 40)):
        assert picture.getpixel(off) == WHITE, off


def _sky_mask() -> dict[str, Any]:
    """A brush region "sky" over pixels (50..149, 100..199) of an H x W mask."""
    mask = np.zeros((H, W), np.uint8)
    mask[100:200, 50:150] = 255
    return _item(
        "brushlabels",
        "mask",
        {"format": "rle", "rle": ls_frames.mask_to_rle(mask), "brushlabels": ["sky"]},
    )


def test_a_brush_mask_is_a_tint_with_a_solid_edge() -> None:
    sky = _sky_mask()
    picture = _draw(_frames([sky]), captions=False)
    inside = picture.getpixel((100, 150))
    assert inside != WHITE and inside != BLUE
    assert inside[2] == 255 and inside[0] == inside[1] < 255  # white tinted towards blue
    assert picture.getpixel((50, 150)) == BLUE  # the edge: the label's colour
    assert picture.getpixel((149, 199)) == BLUE
    for off in ((48, 150), (100, 98), (151, 150), (300, 250)):
        assert picture.getpixel(off) == WHITE, off


def test_a_mask_of_another_size_is_scaled_to_the_picture() -> None:
    sky = _sky_mask()
    blank = Image.new("RGB", (W * 2, H * 2), WHITE)
    picture = ls_frames.show(_frames([sky]), 1, image=blank, legend=False)
    assert picture.getpixel((200, 300)) not in (WHITE, BLUE)  # inside, twice as far
    assert picture.getpixel((90, 300)) == WHITE


def test_ellipses_and_keypoints() -> None:
    egg = _item(
        "ellipselabels",
        "oval",
        {"x": 50, "y": 50, "radiusX": 10, "radiusY": 20, "rotation": 0, "ellipselabels": ["egg"]},
    )
    eye = _item("keypointlabels", "kp", {"x": 10, "y": 10, "width": 1, "keypointlabels": ["eye"]})
    picture = _draw(_frames([egg, eye]))
    # centre (200, 150), radii 40 x 60 px
    assert picture.getpixel((240, 150)) == RED
    assert picture.getpixel((200, 210)) == RED
    assert picture.getpixel((200, 150)) == WHITE
    assert picture.getpixel((235, 100)) == WHITE  # inside the box, outside the ellipse
    assert picture.getpixel((40, 30)) == BLUE  # the keypoint, filled
    assert picture.getpixel((60, 30)) == WHITE


def test_a_turned_ellipse_turns_about_its_centre() -> None:
    egg = _item(
        "ellipselabels",
        "oval",
        {"x": 50, "y": 50, "radiusX": 10, "radiusY": 20, "rotation": 90, "ellipselabels": ["egg"]},
    )
    picture = _draw(_frames([egg]))
    # radius 40 px now runs down, 60 px across
    assert picture.getpixel((260, 150)) == RED
    assert picture.getpixel((200, 190)) == RED
    assert picture.getpixel((240, 150)) == WHITE


def test_predictions_are_dashed_and_annotations_solid() -> None:
    annotation = _box(10, 10, 80, 20, "dog")  # top edge y = 30 px, x 40..360
    predicted = _box(10, 50, 80, 20, "dog")  # top edge y = 150 px
    predicted["score"] = 0.9
    picture = np.asarray(_draw(_frames([annotation], [predicted])))
    solid = (picture[30, 60:340] == BLUE).all(axis=1)
    dashed = (picture[150, 60:340] == BLUE).all(axis=1)
    assert solid.all()
    assert 0.3 < dashed.mean() < 0.9  # dashes and gaps
    only_annotations = np.asarray(_draw(_frames([annotation], [predicted]), sources="annotations"))
    assert (only_annotations[150, 60:340] == 255).all()


def test_the_colour_a_config_sets_and_a_stable_one_otherwise() -> None:
    frames = _frames([_box(10, 10, 30, 30, "cat"), _box(50, 50, 30, 30, "fox")])
    colors = ls_frames.label_colors(frames)
    assert colors["cat"] == RED
    assert colors["dog"] == BLUE
    assert colors["lake"] == GREEN
    palette = ls_frames.drawing.colors.PALETTE
    assert colors["fox"] == palette[zlib.crc32(b"fox") % len(palette)]
    picture = _draw(frames)
    assert picture.getpixel((160, 80)) == RED  # the cat box's right edge
    assert picture.getpixel((320, 200)) == colors["fox"]
    # the same name, the same colour, without any config
    bare = ls_frames.label_colors(None, ["fox", "cat"])
    assert bare["fox"] == colors["fox"] and bare["cat"] != RED


def test_captions_name_annotator_and_score(tmp_path: Path) -> None:
    predicted = _box(10, 50, 80, 20, "dog")
    predicted["score"] = 0.875
    frames = _frames([_box(10, 10, 80, 20, "cat")], [predicted])
    rows = ls_frames.drawing.pictures.select_regions(frames, 1)
    assert sorted(rows["caption"]) == ["cat · ann@example.org", "dog 0.88"]
    with_text = np.asarray(_draw(frames))
    without = np.asarray(
        ls_frames.show(
            frames, 1, image=Image.new("RGB", (W, H), WHITE), legend=False, sources="predictions"
        )
    )
    # the caption sits above the annotation's box (y < 30 px): drawn only when it is shown
    assert (with_text[:29, 40:200] != 255).any()
    assert (without[:29, 40:200] == 255).all()


def test_reference_and_model_version_choose_what_is_drawn() -> None:
    task = {
        "id": 1,
        "data": {"image": "x.png"},
        "annotations": [
            {
                "id": 10,
                "completed_by": 3,
                "result": [_box(10, 10, 20, 20, "cat")],
                "was_cancelled": False,
                "ground_truth": False,
                "updated_at": "2024-01-01T00:00:00Z",
            },
            {
                "id": 11,
                "completed_by": 4,
                "result": [_box(60, 60, 20, 20, "dog")],
                "was_cancelled": False,
                "ground_truth": True,
                "updated_at": "2023-01-01T00:00:00Z",
            },
        ],
        "predictions": [
            {"id": 20, "model_version": "v1", "result": [_box(10, 60, 20, 20, "fox")]},
            {"id": 21, "model_version": "v2", "result": [_box(60, 10, 20, 20, "fox")]},
        ],
    }
    frames = ls_frames.read_export(json.dumps([task]).encode(), label_config=CONFIG, progress=False)
    select = ls_frames.drawing.pictures.select_regions
    assert len(select(frames, 1)) == 4
    chosen = select(frames, 1, reference="ground_truth", model_version="v2")
    assert sorted(zip(chosen["source_id"], chosen["label"], strict=True)) == [
        (11, "dog"),
        (21, "fox"),
    ]
    with pytest.raises(ls_frames.ConfigurationError, match="sources"):
        select(frames, 1, sources="everything")
    with pytest.raises(ls_frames.ConfigurationError, match="no control"):
        select(frames, 1, from_name="nope")


def test_a_task_the_frames_do_not_hold_is_named() -> None:
    frames = _frames([_box(25, 20, 50, 60, "dog")])
    image = Image.new("RGB", (W, H), WHITE)
    with pytest.raises(ls_frames.ConfigurationError, match="task 7 is not in these frames"):
        ls_frames.show(frames, 7, image=image)


def test_the_picture_comes_from_the_media_table_a_folder_or_a_mapping(tmp_path: Path) -> None:
    frames = _frames([_box(25, 20, 50, 60, "dog")])
    path = tmp_path / "cache" / "0f3a.png"
    path.parent.mkdir()
    Image.new("RGB", (W, H), WHITE).save(path)
    table = pd.DataFrame({"task_id": [1], "field": ["image"], "position": [0], "path": [str(path)]})
    folder = tmp_path / "folder"
    folder.mkdir()
    Image.new("RGB", (W, H), WHITE).save(folder / "ab12-street.png")
    for media in (table, folder, {1: path}):
        picture = ls_frames.show(frames, 1, media=media, legend=False)
        assert picture.getpixel((300, 150)) == BLUE and picture.getpixel((200, 150)) == WHITE
    fitted = ls_frames.show(frames, 1, media=table, size=(200, 200), legend=False)
    assert fitted.size == (200, 150)
    assert fitted.getpixel((150, 75)) == BLUE  # the right edge, at half scale
    with pytest.raises(ls_frames.MediaError, match="media mapping"):
        ls_frames.show(frames, 1, media={2: path})
    with pytest.raises(ls_frames.MediaError, match="no such file"):
        ls_frames.show(frames, 1, media=tmp_path)
    with pytest.raises(ls_frames.ConfigurationError, match="no media"):
        ls_frames.show(frames, 1)
    failed = table.assign(path=[None], error=["timeout"])
    with pytest.raises(ls_frames.MediaError, match="no path"):
        ls_frames.show(frames, 1, media=failed)


def test_a_page_of_pictures() -> None:
    frames = _frames([_box(25, 20, 50, 60, "dog")])
    blank = Image.new("RGB", (W, H), WHITE)
    page = ls_frames.show_grid(frames, [1, 1, 1], media={1: blank}, columns=2, tile=(200, 150))
    assert page.size == (400, 2 * (150 + 20))
    assert page.getpixel((150, 20 + 75)) == BLUE  # the first tile's box, at half scale
    assert page.getpixel((350, 20 + 75)) == BLUE  # the second's
    assert page.getpixel((350, 170 + 20 + 75)) == WHITE  # no fourth picture


def test_spans_are_highlighted_in_html() -> None:
    config = """<View><Text name="text" value="$text"/>
    <Labels name="ner" toName="text"><Label value="PER" background="#ff0000"/><Label value="ORG"/></Labels></View>"""
    text = "Ada met <Bob> at ACME"
    task = {
        "id": 1,
        "data": {"text": text},
        "annotations": [
            {
                "id": 10,
                "completed_by": {"id": 1, "email": "a@x.org"},
                "was_cancelled": False,
                "ground_truth": False,
                "updated_at": "2024-01-01T00:00:00Z",
                "result": [
                    {
                        "from_name": "ner",
                        "to_name": "text",
                        "type": "labels",
                        "id": "s1",
                        "value": {"start": 0, "end": 3, "text": "Ada", "labels": ["PER"]},
                    },
                    {
                        "from_name": "ner",
                        "to_name": "text",
                        "type": "labels",
                        "id": "s2",
                        "value": {"start": 17, "end": 21, "text": "ACME", "labels": ["ORG"]},
                    },
                ],
            }
        ],
    }
    frames = ls_frames.read_export(json.dumps([task]).encode(), label_config=config, progress=False)
    html = ls_frames.show_text(frames, 1)
    assert html._repr_html_() == str(html)
    assert 'background:rgba(255,0,0,0.35);padding:0">Ada</mark>' in html
    assert ">ACME</mark>" in html and ">ORG</sup>" in html and ">PER</sup>" in html
    assert "&lt;Bob&gt;" in html  # the text is escaped
    assert "a@x.org" in html


def test_the_worst_false_positives_drawn() -> None:
    truth = [_box(10, 10, 20, 20, "cat")]
    hit = _box(11, 11, 20, 20, "cat")
    hit["score"] = 0.99
    sure = _box(60, 60, 20, 20, "dog")
    sure["score"] = 0.9
    unsure = _box(60, 10, 20, 20, "dog")
    unsure["score"] = 0.3
    frames = _frames(truth, [unsure, hit, sure])
    rows = ls_frames.worst_errors(frames, "box", kind="false_positive", n=5)
    assert rows["score"].tolist() == [0.9, 0.3]  # only the false positives, surest first
    assert rows["pred_label"].tolist() == ["dog", "dog"]
    regions = frames.regions
    assert regions.loc[rows["region"][0], "x"] == 60 and regions.loc[rows["region"][0], "y"] == 60
    assert ls_frames.worst_errors(frames, "box", kind="false_negative").empty
    page = ls_frames.show_errors(
        frames, "box", media={1: Image.new("RGB", (W, H), WHITE)}, n=1, tile=(W, H)
    )
    assert page.size == (4 * W, H + 20)
    # the surest false positive (240..320 px, 180..240 px) drawn with lines twice as wide
    # as the other one (240..320 px, 30..90 px): about twice as many pixels on its edge
    tile = np.asarray(page)[20:, :W]
    blue = (tile == BLUE).all(axis=2)
    strong, weak = blue[185:235, 305:335].sum(), blue[35:85, 305:335].sum()
    assert weak > 0 and strong > 1.6 * weak
    with pytest.raises(ls_frames.ConfigurationError, match="kind"):
        ls_frames.worst_errors(frames, "box", kind="wrong")  # type: ignore[arg-type]


@pytest.mark.parametrize("blocked", ["PIL.Image", "matplotlib.pyplot"])
def test_a_missing_extra_names_its_pip_line(monkeypatch: pytest.MonkeyPatch, blocked: str) -> None:
    frames = _frames([_box(25, 20, 50, 60, "dog")])
    monkeypatch.setitem(sys.modules, blocked, None)  # import fails as if not installed
    with pytest.raises(ls_frames.ConfigurationError, match=r"pip install 'ls-frames\[plot\]'"):
        if blocked == "PIL.Image":
            ls_frames.show(frames, 1, image=np.zeros((H, W, 3), np.uint8))
        else:
            ls_frames.plot_label_counts(frames)


def test_a_list_of_images_draws_each_items_regions_on_its_own_image(tmp_path: Path) -> None:
    config = """<View><Image name="pages" valueList="$pages"/>
    <RectangleLabels name="box" toName="pages"><Label value="dog" background="#0000ff"/></RectangleLabels></View>"""
    first = _box(10, 10, 20, 20, "dog")  # 40..120 px
    second = _box(60, 60, 20, 20, "dog")  # 240..320 px across, 180..240 px down
    for item, box in enumerate((first, second)):
        box["to_name"] = "pages"
        box["item_index"] = item
    task = {
        "id": 1,
        "data": {"pages": ["/data/upload/1/a.png", "/data/upload/1/b.png"]},
        "annotations": [
            {
                "id": 10,
                "completed_by": 1,
                "result": [first, second],
                "was_cancelled": False,
                "ground_truth": False,
                "updated_at": "2024-01-01T00:00:00Z",
            }
        ],
    }
    frames = ls_frames.read_export(json.dumps([task]).encode(), label_config=config, progress=False)
    table = pd.DataFrame(
        {
            "task_id": [1, 1],
            "field": ["pages", "pages"],
            "position": [0, 1],
            "path": ["a.png", "b.png"],
        }
    )
    pictures = {}
    for item, color in ((0, (255, 255, 255)), (1, (0, 0, 0))):  # told apart by colour
        folder_image = Image.new("RGB", (W, H), color)
        path = tmp_path / f"{item}.png"
        folder_image.save(path)
        table.loc[item, "path"] = str(path)
    for item in (0, 1):
        pictures[item] = ls_frames.show(frames, 1, media=table, item=item, legend=False)
    assert pictures[0].getpixel((200, 200)) == WHITE  # the first image
    assert pictures[1].getpixel((200, 200)) == (0, 0, 0)  # the second
    assert pictures[0].getpixel((120, 80)) == BLUE and pictures[0].getpixel((320, 210)) == WHITE
    assert pictures[1].getpixel((320, 210)) == BLUE and pictures[1].getpixel((120, 80)) == (0, 0, 0)
