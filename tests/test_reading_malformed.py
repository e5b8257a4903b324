"""Malformed result items are kept, counted and reported once; ``strict=True`` raises.

Each kind: the row is kept, ``value_json`` holds the export's exact text, the typed column
holds what it always held, one warning names the count and the first task and item;
``strict=True`` raises :class:`ExportFormatError` naming them. What Label Studio writes
(every file of the corpus, relations without ``from_name``, text spans...) is not reported.
"""

from __future__ import annotations

import inspect
import json
import warnings
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pytest

import ls_frames
from ls_frames import ExportFormatError, LSFramesWarning, MalformedResultWarning
from ls_frames.reading import ExportReader
from ls_frames.reading.report import MalformedReport

CORPUS = Path(__file__).resolve().parent / "corpus"
NOT_EXPORTS = {"test_export_json_min__label_config_repeater.json"}

_MISSING = object()


def _box(**changes: Any) -> dict[str, Any]:
    """A rectangle as Label Studio writes it, with ``changes`` (``v_x`` changes
    ``value.x``; ``_MISSING`` removes a key)."""
    item: dict[str, Any] = {
        "id": "r1",
        "type": "rectanglelabels",
        "from_name": "label",
        "to_name": "image",
        "original_width": 640,
        "original_height": 480,
        "image_rotation": 0,
        "value": {"x": 10, "y": 20.5, "width": 30, "height": 40, "rotation": 0,
                  "rectanglelabels": ["Car"]},
    }  # fmt: skip
    for key, new in changes.items():
        target, key = (item["value"], key[2:]) if key.startswith("v_") else (item, key)
        if new is _MISSING:
            del target[key]
        else:
            target[key] = new
    return item


def _export(odd: dict[str, Any], *, tasks: int = 3) -> bytes:
    """Task 1 clean; tasks 2.. hold ``odd`` as result 1 of their annotation (ids 20, 30,
    ...), after a clean box; a relation (no from_name, as Label Studio writes it) too."""
    out = []
    for t in range(1, tasks + 1):
        result = [_box(), odd] if t > 1 else [_box()]
        relation = {"type": "relation", "from_id": "r1", "to_id": "r2", "direction": "right"}
        out.append(
            {
                "id": t,
                "data": {"image": f"/data/{t}.png"},
                "annotations": [{"id": 10 * t, "result": [*result, relation]}],
                "predictions": [],
            }
        )
    return json.dumps(out).encode()


# name: (item, kind, column, typed column checked on the malformed row, expected value)
CASES: dict[str, tuple[dict[str, Any], str, str, str, Any]] = {
    "value is a string": (_box(value="oops"), "value_not_object", "value", "x", None),
    "value is null": (_box(value=None), "value_not_object", "value", "x", None),
    "value is missing": (_box(value=_MISSING), "value_not_object", "value", "x", None),
    "value is a list": (_box(value=[1, 2]), "value_not_object", "value", "labels", None),
    "no from_name": (_box(from_name=_MISSING), "missing_from_name", "from_name", "x", 10.0),
    "from_name null": (_box(from_name=None), "missing_from_name", "from_name", "x", 10.0),
    "no type": (_box(type=_MISSING), "missing_type", "type", "x", 10.0),
    "x is a string": (_box(v_x="12"), "coordinate_not_number", "x", "x", 12.0),
    "x is text": (_box(v_x="left"), "coordinate_not_number", "x", "x", None),
    "y is a boolean": (_box(v_y=True), "coordinate_not_number", "y", "y", 1.0),
    "rotation is a list": (_box(v_rotation=[1]), "coordinate_not_number", "rotation",
                           "rotation", None),
    "radiusX is a string": (_box(v_radiusX="3"), "coordinate_not_number", "radius_x",
                            "radius_x", 3.0),
    "points hold a string": (_box(v_points=[[1, "a"]]), "coordinate_not_number", "points",
                             "points", [[1.0, None]]),
    "points are flat": (_box(v_points=[1, 2]), "coordinate_not_number", "points", "points",
                        [None, None]),
    "startOffset has a fraction": (_box(v_startOffset=3.5), "coordinate_not_number",
                                   "start_offset", "start_offset", 3),
    "width is 640.5": (_box(original_width=640.5), "image_size_not_integer",
                       "original_width", "original_width", 640),
    "height is a string": (_box(original_height="480"), "image_size_not_integer",
                           "original_height", "original_height", None),
    "width is a boolean": (_box(original_width=True), "image_size_not_integer",
                           "original_width", "original_width", 1),
    "width is huge": (_box(original_width=2**64), "image_size_not_integer",
                      "original_width", "original_width", None),
    "region id is a number": (_box(id=5), "converted", "region_id", "region_id", "5"),
    "to_name is a list": (_box(to_name=["a"]), "converted", "to_name", "to_name", '["a"]'),
    "type is a number": (_box(type=3), "converted", "type", "type", "3"),
    "readonly is 1": (_box(readonly=1), "converted", "readonly", "readonly", None),
    "score is text": (_box(score="high"), "converted", "score", "score", None),
    "item_index has a fraction": (_box(item_index=1.5), "converted", "item_index",
                                  "item_index", 1),
    "rating is a string": (_box(v_rating="3"), "converted", "rating", "rating", 3.0),
    "labels hold a number": (_box(v_rectanglelabels=[1]), "converted", "labels", "labels",
                             ["1"]),
    "a lone label": (_box(v_rectanglelabels="Car"), "converted", "labels", "labels",
                     ["Car"]),
    "a lone choice": (_box(v_choices="a"), "converted", "choices", "choices", ["a"]),
    "choices are an object": (_box(v_choices={"a": 1}), "converted", "choices", "choices",
                              None),
}  # fmt: skip


def _read(doc: bytes, **options: Any) -> tuple[ls_frames.Frames, list[warnings.WarningMessage]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        frames = ls_frames.read_export(doc, progress=False, **options)
    return frames, caught


def _row(frames: ls_frames.Frames, task: int, index: int) -> dict[str, Any]:
    regions = frames.arrow["regions"]
    for row in regions.to_pylist():
        if row["task_id"] == task and row["result_index"] == index:
            return dict(row)
    raise AssertionError(f"no region row for task {task}, result {index}")


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_malformed_item_is_kept_counted_and_reported_once(name: str) -> None:
    item, kind, column, typed, expected = CASES[name]
    doc = _export(item)
    frames, caught = _read(doc)
    assert len(caught) == 1, [str(w.message) for w in caught]
    warning = caught[0]
    assert warning.category is MalformedResultWarning
    assert warning.filename == __file__  # the line that called ls_frames
    assert isinstance(warning.message, MalformedResultWarning)
    assert warning.message.counts == {kind: 2}  # tasks 2 and 3
    message = str(warning.message)
    assert message.startswith("2 malformed result items kept as read")
    assert f"task 2 (index 1), annotation 20, result 1, column {column!r}" in message
    # the row is kept: every item has its row, value_json is the export's text
    regions, relations = frames.arrow["regions"], frames.arrow["relations"]
    assert regions.num_rows == 5 and relations.num_rows == 3
    row = _row(frames, 2, 1)
    value = item.get("value", _MISSING)
    assert row["value_json"] == (None if value is _MISSING else json.dumps(value))
    assert row[typed] == expected


@pytest.mark.parametrize("name", sorted(CASES))
def test_strict_raises_at_the_first_malformed_item(name: str) -> None:
    item, _, column, _, _ = CASES[name]
    with pytest.raises(ExportFormatError) as info:
        ls_frames.read_export(_export(item), progress=False, strict=True)
    assert info.value.task_index == 1
    message = str(info.value)
    assert f"task 2 (index 1), annotation 20, result 1, column {column!r}" in message
    assert message.endswith("(at task #1)")


def test_what_label_studio_writes_is_not_malformed() -> None:
    items = [
        _box(original_width=640.0),  # a whole number, written as a float
        _box(v_rotation=None),  # null: nothing to convert
        {"id": "t", "type": "labels", "from_name": "ner", "to_name": "text",
         "value": {"start": 0, "end": 5, "text": "hello", "labels": ["PER"]}},
        {"id": "a", "type": "labels", "from_name": "seg", "to_name": "audio",
         "value": {"start": 0.5, "end": 1.25, "labels": ["Speech"]}},
        {"id": "p", "type": "paragraphlabels", "from_name": "p", "to_name": "dialogue",
         "value": {"start": "0", "end": "2", "startOffset": 0, "endOffset": 4,
                   "paragraphlabels": ["Greeting"]}},
        {"id": "h", "type": "hypertextlabels", "from_name": "h", "to_name": "html",
         "value": {"start": "/p[1]/text()[1]", "end": "/p[1]/text()[1]", "startOffset": 0,
                   "endOffset": 3, "htmllabels": ["X"]}},
        {"id": "k", "type": "keypointlabels", "from_name": "kp", "to_name": "image",
         "original_width": 10, "original_height": 10,
         "value": {"x": 1, "y": 2, "width": 0.5, "keypointlabels": ["Eye"]}},
        {"id": "g", "type": "polygonlabels", "from_name": "poly", "to_name": "image",
         "original_width": 100, "original_height": 50,
         "value": {"points": [[1, 2], [3.5, 4], [5, 6]], "closed": True,
                   "polygonlabels": ["Road"]}},
        {"type": "relation", "from_id": "r1", "to_id": "t", "direction": "bi",
         "labels": ["near"]},
        {"id": "c", "type": "choices", "from_name": "c", "to_name": "image",
         "value": {"choices": ["a"]}},
        {"id": "r", "type": "rating", "from_name": "r", "to_name": "image",
         "value": {"rating": 4}},
    ]  # fmt: skip
    doc = json.dumps([{"id": 1, "data": {}, "annotations": [{"id": 2, "result": items}]}])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        frames = ls_frames.read_export(doc.encode(), progress=False, strict=True)
    assert frames.arrow["regions"].num_rows + frames.arrow["relations"].num_rows == len(items)


def _corpus() -> list[Path]:
    return sorted(p for p in CORPUS.glob("*/*.json") if p.name not in NOT_EXPORTS)


@pytest.mark.parametrize("path", _corpus(), ids=lambda p: p.name)
def test_every_file_of_the_corpus_is_clean(path: Path) -> None:
    for chunk_size in (64, 1 << 20):
        reader = ExportReader(path, chunk_size=chunk_size, strict=True)
        for _ in reader:
            pass
        assert not reader.report, reader.report


def _many(kinds: dict[int, dict[str, Any]], tasks: int = 40) -> bytes:
    """``tasks`` tasks of clean boxes (a prediction too); task ``t`` in ``kinds`` holds the
    given item in its prediction."""
    out = []
    for t in range(1, tasks + 1):
        odd = kinds.get(t)
        prediction = {"id": 1000 + t, "result": [_box(), odd] if odd else [_box()]}
        out.append(
            {
                "id": 500 + t,
                "data": {"image": f"/data/{t}.png", "pad": "x" * 50},
                "annotations": [{"id": 10 * t, "result": [_box(), _box()]}],
                "predictions": [prediction],
            }
        )
    return json.dumps(out).encode()


MIXED = {
    7: _box(value="oops"),
    9: _box(v_x="1"),
    12: _box(from_name=_MISSING),
    20: _box(value=3),
    31: _box(original_width=1.5),
    38: _box(v_x=False),
}


def _report(doc: bytes, workers: int, chunk_size: int = 700) -> MalformedReport:
    reader = ExportReader(doc, chunk_size=chunk_size, workers=workers)
    with pytest.warns(MalformedResultWarning) as caught:
        for _ in reader:
            pass
    assert len(caught) == 1
    return reader.report


def test_the_report_names_each_kind_and_its_first_item() -> None:
    report = _report(_many(MIXED), workers=1)
    assert report.counts == {
        "value_not_object": 2,
        "coordinate_not_number": 2,
        "missing_from_name": 1,
        "image_size_not_integer": 1,
    }
    first = report.first["value_not_object"]
    assert (first.task_index, first.task_id, first.source, first.source_id) == (
        6,
        507,
        "prediction",
        1007,
    )
    assert (first.result_index, first.column) == (1, "value")
    assert report.first["coordinate_not_number"].task_id == 509
    message = str(report.warning())
    assert message.startswith("6 malformed result items kept as read")
    # kinds in a fixed order, each with its count and first item
    assert message.index("2 with a value that is not a JSON object") < message.index(
        "1 with no from_name"
    )
    assert "first: task 507 (index 6), prediction 1007, result 1, column 'value'" in message
    with pytest.raises(ExportFormatError, match=r"task 507 .*prediction 1007") as info:
        for _ in ExportReader(_many(MIXED), chunk_size=700, strict=True):
            pass
    assert info.value.task_index == 6


def test_workers_give_the_same_report() -> None:
    doc = _many(MIXED)
    one = _report(doc, workers=1)
    two = _report(doc, workers=2)
    assert two.counts == one.counts
    assert two.first == one.first
    assert str(two.warning()) == str(one.warning())
    whole = _report(doc, workers=1, chunk_size=1 << 20)  # one chunk: the same again
    assert whole.counts == one.counts and whole.first == one.first


def test_strict_with_workers_names_the_earliest_item(tmp_path: Path) -> None:
    src = tmp_path / "in.json"
    src.write_bytes(_many(MIXED))
    with pytest.raises(ExportFormatError, match="task 507 ") as info:
        ls_frames.read_export(src, chunk_size=700, workers=2, strict=True, progress=False)
    assert info.value.task_index == 6


def test_to_parquet_warns_and_writes_every_row(tmp_path: Path) -> None:
    doc = _many(MIXED)
    with pytest.warns(MalformedResultWarning, match="6 malformed result items") as caught:
        out = ls_frames.to_parquet(doc, tmp_path / "ds", chunk_size=700, progress=False)
    assert len(caught) == 1 and caught[0].filename == __file__
    assert (out / "_SUCCESS").is_file()
    written = ls_frames.read_parquet(out).arrow
    with pytest.warns(MalformedResultWarning):
        read = ls_frames.read_export(doc, progress=False).arrow
    for name in ("tasks", "annotations", "predictions", "regions", "relations"):
        assert written[name].num_rows == read[name].num_rows, name
    assert written["regions"].num_rows == 40 * 3 + len(MIXED)
    assert written["regions"].column("value_json").to_pylist() == (
        read["regions"].column("value_json").to_pylist()
    )


def test_to_parquet_strict_leaves_no_dataset(tmp_path: Path) -> None:
    src = tmp_path / "in.json"
    src.write_bytes(_many(MIXED))
    with pytest.raises(ExportFormatError, match="task 507 "):
        ls_frames.to_parquet(
            src, tmp_path / "ds", chunk_size=700, workers=2, strict=True, progress=False
        )
    assert list(tmp_path.iterdir()) == [src]


def test_only_the_tables_read_are_checked() -> None:
    doc = _export(_box(value="oops"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        frames = ls_frames.read_export(doc, tables=["tasks", "annotations"], progress=False)
    assert frames.arrow["tasks"].num_rows == 3


def test_the_warning_categories() -> None:
    assert issubclass(MalformedResultWarning, LSFramesWarning)
    assert issubclass(LSFramesWarning, UserWarning)
    assert not issubclass(LSFramesWarning, ls_frames.LSFramesError)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LSFramesWarning)  # the base silences them all
        ls_frames.read_export(_export(_box(value="oops")), progress=False)


def test_relations_keep_ids_that_are_not_strings_as_json_text() -> None:
    relation = {"type": "relation", "from_id": 7, "to_id": "r1", "direction": "right",
                "labels": "near"}  # fmt: skip
    frames, caught = _read(_export(relation))
    assert [w.message.counts for w in caught] == [{"converted": 2}]  # type: ignore[union-attr]
    assert "column 'from_id'" in str(caught[0].message)
    relations = frames.arrow["relations"]
    rows = relations.filter(pc.equal(relations["result_index"], 1))
    assert rows.column("from_id").to_pylist() == ["r1", "7", "7"]  # task 1's, then the odd ones
    assert rows.column("labels").to_pylist() == [None, ["near"], ["near"]]


def test_strict_is_a_keyword_that_defaults_to_false() -> None:
    for fn in (ls_frames.read_export, ls_frames.to_parquet, ExportReader.__init__):
        param = inspect.signature(fn).parameters["strict"]
        assert param.kind is inspect.Parameter.KEYWORD_ONLY and param.default is False, fn
