"""Lossless write back: result items of every type the Label Studio editor writes, and
items with what the typed columns cannot hold (keys no column has, explicit nulls, values
whose JSON type a column would change), come back from ``to_results`` equal as JSON;
an edited column still wins; ``to_results(..., as_json=True)`` survives Parquet."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import ls_frames
from tests.test_reading_corpus import EXPORTS
from tests.test_writing_results import _lists, as_json

BOX = {"x": 1, "y": 2.5, "width": 3, "height": 4, "rotation": 0}
#: one item per result type, in the shapes the editor writes them
EVERY_TYPE: list[dict[str, Any]] = [
    {"type": "rectanglelabels", "value": {**BOX, "rectanglelabels": ["cat"]}},
    {"type": "rectangle", "value": BOX},
    {
        "type": "polygonlabels",
        "value": {"points": [[1, 2], [3.5, 4], [5, 1]], "closed": True, "polygonlabels": ["cat"]},
    },
    {
        "type": "ellipselabels",
        "value": {
            "x": 5,
            "y": 6,
            "radiusX": 2,
            "radiusY": 1,
            "rotation": 0,
            "ellipselabels": ["cat"],
        },
    },
    {"type": "keypointlabels", "value": {"x": 5, "y": 6, "width": 0.5, "keypointlabels": ["nose"]}},
    {
        "type": "brushlabels",
        "value": {"format": "rle", "rle": [0, 100, 0, 0, 57, 27, 255], "brushlabels": ["cat"]},
    },
    {"type": "labels", "value": {"start": 0, "end": 4, "text": "abcd", "labels": ["P"]}},
    {
        "type": "hypertextlabels",
        "value": {
            "start": "/p[1]/text()[1]",
            "end": "/p[1]/text()[1]",
            "startOffset": 0,
            "endOffset": 4,
            "text": "abcd",
            "hypertextlabels": ["P"],
        },
    },
    {
        "type": "paragraphlabels",
        "source": "$dialogue",
        "value": {
            "start": "2",
            "end": "4",
            "startOffset": 0,
            "endOffset": 134,
            "paragraphlabels": ["Important"],
        },
    },
    {
        "type": "timeserieslabels",
        "value": {
            "start": 1602708145233,
            "end": 1602708375312,
            "instant": False,
            "timeserieslabels": ["Voice"],
        },
    },
    {"type": "labels", "value": {"start": 1.5, "end": 3.25, "channel": 0, "labels": ["Speech"]}},
    {
        "type": "videorectangle",
        "value": {
            "sequence": [{"frame": 1, "enabled": True, **BOX, "time": 0.04}],
            "framesCount": 1009,
            "labels": ["Car"],
        },
    },
    {"type": "choices", "value": {"choices": ["a", "b"]}},
    {"type": "textarea", "value": {"text": ["one", "two"]}},
    {"type": "rating", "value": {"rating": 4}},
    {"type": "number", "value": {"number": 5.5}},
    {"type": "datetime", "value": {"datetime": "2024-01-02T03:04"}},
    {"type": "taxonomy", "value": {"taxonomy": [["a", "b"], ["c"]]}},
    {"type": "ranker", "source": "$items", "value": {"ranker": {"best": ["1", "2"]}}},
    {"type": "pairwise", "value": {"selected": "right"}},
    {"type": "magicwand", "value": {"format": "rle", "rle": [1, 2, 3]}},
]
#: what the columns cannot hold as it is (each must come back anyway)
ODD: list[dict[str, Any]] = [
    {
        "type": "rectanglelabels",
        "value": {**BOX, "rectanglelabels": ["cat"]},
        "original_width": 640,
        "original_height": 480,
        "image_rotation": 0.0,
        "score": 1,
    },
    {
        "id": 5,
        "type": "choices",
        "value": {"choices": ["x"]},
        "parentID": None,
        "readonly": False,
        "meta": None,
    },
    {
        "type": "labels",
        "value": {"start": 0, "end": 4, "labels": ["P"]},
        "labels": ["weird"],
        "from_id": "q",
        "score": 0.5,
        "item_index": 2.0,
    },
    {
        "type": "textarea",
        "value": {"text": ["hi"]},
        "original_width": 10.5,
        "origin": None,
        "nested": {"a": [1, {"b": None}]},
        "ls_frames:extra": 3,
    },
    {"type": "number", "value": {"number": 1}, "score": 0.0, "readonly": 1},
]
RELATIONS: list[dict[str, Any]] = [
    {"from_id": "r0", "to_id": "r1", "type": "relation", "direction": "right", "labels": ["x"]},
    {"from_id": "r0", "to_id": "r1", "type": "relation", "labels": "lone", "id": "rel"},
    {"from_id": "r0", "to_id": "r1", "type": "relation", "value": {"a": 1}, "direction": None},
]


def _items(kinds: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for k, item in enumerate(kinds):
        full = {"id": f"r{k}", "from_name": f"c{k}", "to_name": "obj", **item}
        out.append(full)
    return out


def _export(tmp_path: Path, lists: list[list[dict[str, Any]]]) -> Path:
    tasks = [
        {
            "id": t + 1,
            "data": {"text": "abcd"},
            "annotations": [{"id": 10 + t, "result": items}],
            "predictions": [{"id": 100 + t, "result": items, "model_version": "m", "score": 1}],
        }
        for t, items in enumerate(lists)
    ]
    path = tmp_path / "export.json"
    path.write_text(json.dumps(tasks))
    return path


def _read(path: Path, odd: bool) -> ls_frames.Frames:
    """The export read; one with odd items warns that values were converted."""
    if not odd:
        return ls_frames.read_export(path, progress=False)
    with pytest.warns(ls_frames.MalformedResultWarning, match="converted"):
        return ls_frames.read_export(path, progress=False)


def _both_ways(path: Path, want: list[list[dict[str, Any]]], odd: bool) -> None:
    frames = _read(path, odd)
    results = ls_frames.to_results(frames)
    assert as_json(results["result"]) == as_json(want)
    again = ls_frames.to_results(frames.regions, frames.relations)
    assert as_json(again["result"]) == as_json(want)


def test_every_result_type_comes_back(tmp_path: Path) -> None:
    items = _items(EVERY_TYPE)
    path = _export(tmp_path, [items])
    _both_ways(path, [items, items], odd=False)
    frames = _read(path, odd=False)
    # the fast path took them: only ``source`` needed an extra
    extras = frames.regions["extra_json"].dropna().unique().tolist()
    assert sorted(extras) == ['{"source":"$dialogue"}', '{"source":"$items"}']


def test_keys_and_types_the_columns_cannot_hold_come_back(tmp_path: Path) -> None:
    items = _items(ODD) + RELATIONS
    path = _export(tmp_path, [items, _items(EVERY_TYPE)])
    _both_ways(path, [items, items, _items(EVERY_TYPE), _items(EVERY_TYPE)], odd=True)


def test_a_score_that_is_an_integer_in_a_clean_chunk(tmp_path: Path) -> None:
    # the fast decoder reads every item; the flattener notes the integer
    items = _items(
        [
            {"type": "choices", "value": {"choices": ["a"]}, "score": 1},
            {"type": "choices", "value": {"choices": ["b"]}, "score": 1.0},
        ]
    )
    path = _export(tmp_path, [items])
    _both_ways(path, [items, items], odd=False)


def test_an_edited_column_wins_over_the_files_value(tmp_path: Path) -> None:
    items = _items(ODD[:1])
    frames = _read(_export(tmp_path, [items]), odd=False)
    regions = frames.regions.copy()
    assert json.loads(str(regions["extra_json"].iloc[0])) == {"image_rotation": 0.0, "score": 1}
    regions.loc[0, "image_rotation"] = 90.0
    regions.loc[0, "score"] = 0.25
    item: dict[str, Any] = ls_frames.to_results(regions)["result"].iloc[0][0]
    assert item["image_rotation"] == 90 and type(item["image_rotation"]) is int
    assert item["score"] == 0.25
    untouched: dict[str, Any] = ls_frames.to_results(regions.iloc[1:])["result"].iloc[0][0]
    assert untouched["image_rotation"] == 0.0 and type(untouched["image_rotation"]) is float
    assert type(untouched["score"]) is int


def test_extra_json_that_is_not_an_object_is_named() -> None:
    rows = pd.DataFrame(
        {
            "task_id": [1],
            "type": ["choices"],
            "from_name": ["c"],
            "to_name": ["t"],
            "choices": [["a"]],
            "extra_json": ["[1]"],
        }
    )
    with pytest.raises(ls_frames.ConfigurationError, match="extra_json"):
        ls_frames.to_results(rows)


@pytest.mark.parametrize("path", EXPORTS, ids=[p.name for p in EXPORTS])
def test_results_as_json_text_survive_parquet(path: Path, tmp_path: Path) -> None:
    frames = ls_frames.read_export(path, progress=False)
    results = ls_frames.to_results(frames, as_json=True)
    assert all(isinstance(r, str) for r in results["result"])
    results.to_parquet(tmp_path / "results.parquet")
    back = pd.read_parquet(tmp_path / "results.parquet")
    assert as_json(map(json.loads, back["result"])) == as_json(_lists(path))


def test_every_type_as_json_text_survives_parquet(tmp_path: Path) -> None:
    items = _items(EVERY_TYPE + ODD) + RELATIONS
    frames = _read(_export(tmp_path, [items]), odd=True)
    lists = ls_frames.to_results(frames)
    with pytest.raises((TypeError, ValueError)):  # Arrow refuses mixed types: start 0 / "2"
        lists.to_parquet(tmp_path / "lists.parquet")
    ls_frames.to_results(frames, as_json=True).to_parquet(tmp_path / "text.parquet")
    back = pd.read_parquet(tmp_path / "text.parquet")
    assert as_json(map(json.loads, back["result"])) == as_json([items, items])
    # and check_results takes the text as it is
    ls_frames.writing.check_results(back, None, task_ids=[1])


def test_relation_keys_on_a_region_in_a_clean_chunk(tmp_path: Path) -> None:
    # nothing else odd: the fast decoder takes the chunk, the flattener finds the keys
    items = _items(
        [
            {"type": "choices", "value": {"choices": ["a"]}, "labels": ["x"]},
            {"type": "choices", "value": {"choices": ["b"]}, "direction": "right"},
            {"type": "choices", "value": {"choices": ["c"]}},
        ]
    )
    path = _export(tmp_path, [items])
    _both_ways(path, [items, items], odd=False)
    extras = _read(path, odd=False).arrow["regions"].column("extra_json").to_pylist()
    assert extras[:3] == ['{"labels":["x"]}', '{"direction":"right"}', None]
