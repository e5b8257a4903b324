"""``to_results``: flattening then writing back gives every result list of every corpus
file back, equal as JSON; edited typed columns win over ``value_json``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import ls_frames
from ls_frames.reading import normalise_task
from tests.test_reading_corpus import EXPORTS, LS


def _lists(path: Path) -> list[list[dict[str, Any]]]:
    """The non-empty result lists of a file, in the flattener's order (json.load)."""
    doc = json.loads(path.read_text(encoding="utf-8"))
    out = []
    for task in map(normalise_task, doc if isinstance(doc, list) else [doc]):
        for key in ("annotations", "predictions", "drafts"):
            for obj in task.get(key) or []:
                if isinstance(obj, dict) and obj.get("result"):
                    out.append(obj["result"])
    return out


def as_json(lists: Any) -> list[str]:
    """Each result list as canonical JSON text: equal texts are equal JSON (``1`` and
    ``1.0``, ``0`` and ``false`` differ; key order does not count)."""
    return [json.dumps(items, sort_keys=True) for items in lists]


@pytest.mark.parametrize("path", EXPORTS, ids=[p.name for p in EXPORTS])
def test_every_result_list_comes_back(path: Path) -> None:
    frames = ls_frames.read_export(path, progress=False)
    results = ls_frames.to_results(frames)
    got, want = as_json(results["result"]), as_json(_lists(path))
    assert len(got) == len(want)
    assert got == want
    # the same from the pandas tables (nullable dtypes, numpy arrays in list cells)
    again = ls_frames.to_results(frames.regions, frames.relations)
    assert as_json(again["result"]) == got
    assert list(results["task_id"]) == list(again["task_id"])


def test_the_whole_corpus_is_covered() -> None:
    assert len(EXPORTS) == 28  # every export of the corpus (the 29th file holds no task)
    assert sum(bool(_lists(p)) for p in EXPORTS) >= 24


def test_the_corpus_holds_what_the_round_trip_must_keep() -> None:
    keys: set[str] = set()
    for path in EXPORTS:
        for items in _lists(path):
            for it in items:
                keys |= set(it)
                keys |= {f"value.{k}" for k in it.get("value", {})}
    for key in ("id", "meta", "origin", "score", "parentID", "image_rotation", "value.rle"):
        assert key in keys or key == "meta", key
    assert {"from_id", "to_id", "direction", "labels"} <= keys  # relations


def test_prediction_keys_and_order() -> None:
    frames = ls_frames.read_export(LS / "snapshot_full_objects.json", progress=False)
    results = ls_frames.to_results(frames)
    assert list(results.columns) == [
        "task_id",
        "source",
        "source_id",
        "result",
        "model_version",
        "score",
    ]
    assert str(results["task_id"].dtype) == "Int64"
    preds = results[results["source"] == "prediction"]
    table = frames.predictions.set_index("prediction_id")
    assert len(preds)
    for row in preds.itertuples():
        assert row.model_version == table.loc[row.source_id, "model_version"]
    assert results.loc[results["source"] == "annotation", "model_version"].isna().all()
    forced = ls_frames.to_results(frames, model_version="v9", score=0.5)
    assert set(forced.loc[forced["source"] == "prediction", "model_version"]) == {"v9"}
    assert set(forced.loc[forced["source"] == "prediction", "score"]) == {0.5}


def _regions() -> tuple[ls_frames.Frames, Any]:
    frames = ls_frames.read_export(LS / "snapshot_full_objects.json", progress=False)
    return frames, frames.regions.copy()


def _item(results: pd.DataFrame, region_id: Any, type_: Any) -> dict[str, Any]:
    for items in results["result"]:
        for it in items:
            if it.get("id") == region_id and it.get("type") == type_:
                return dict(it)
    raise AssertionError(region_id)


def test_an_edited_label_and_box_win_over_value_json() -> None:
    _, regions = _regions()
    boxes = regions[regions["type"] == "rectanglelabels"]
    i = boxes.index[0]
    rid = regions.at[i, "region_id"]
    before = _item(ls_frames.to_results(regions), rid, "rectanglelabels")
    regions.at[i, "label"] = "bird"
    regions.at[i, "x"] = 12.5
    after = _item(ls_frames.to_results(regions), rid, "rectanglelabels")
    assert after["value"]["rectanglelabels"][0] == "bird"
    assert after["value"]["x"] == 12.5
    untouched = {k: v for k, v in before["value"].items() if k not in ("x", "rectanglelabels")}
    assert untouched
    assert {k: after["value"][k] for k in untouched} == untouched
    assert after["value"]["rectanglelabels"][1:] == before["value"]["rectanglelabels"][1:]
    assert {k: v for k, v in after.items() if k != "value"} == {
        k: v for k, v in before.items() if k != "value"
    }
    # labels (the list) wins over label when both were edited
    regions.at[i, "labels"] = np.array(["car", "cat"], dtype=object)
    again = _item(ls_frames.to_results(regions), rid, "rectanglelabels")
    assert again["value"]["rectanglelabels"] == ["car", "cat"]


def test_unedited_columns_keep_value_json_exactly() -> None:
    _, regions = _regions()
    i = regions.index[0]
    regions.at[i, "value_json"] = regions.at[i, "value_json"].replace("{", '{"extra": 1, ', 1)
    item = _item(ls_frames.to_results(regions), regions.at[i, "region_id"], regions.at[i, "type"])
    assert item["value"]["extra"] == 1
    # a null typed column means "not given": value_json's key stays
    regions.at[i, "x"] = pd.NA
    item = _item(ls_frames.to_results(regions), regions.at[i, "region_id"], regions.at[i, "type"])
    assert item["value"]["x"] == json.loads(regions.at[i, "value_json"])["x"]


def test_edited_choice_text_and_span() -> None:
    _, regions = _regions()
    choice = regions.index[regions["type"] == "choices"][0]
    regions.at[choice, "choice"] = "no"
    area = regions.index[regions["type"] == "textarea"][0]
    regions.at[area, "text"] = np.array(["new words"], dtype=object)
    results = ls_frames.to_results(regions)
    got = _item(results, regions.at[choice, "region_id"], "choices")
    assert got["value"]["choices"][0] == "no"
    got = _item(results, regions.at[area, "region_id"], "textarea")
    assert got["value"]["text"] == ["new words"]
    span = {"start": 0, "end": 5, "text": "hello", "labels": ["PER"]}
    item = {"id": "s1", "from_name": "ner", "to_name": "text", "type": "labels", "value": span}
    task = {"id": 1, "data": {"text": "hello world"}, "annotations": [{"id": 7, "result": [item]}]}
    spans: Any = ls_frames.read_export(json.dumps([task]).encode(), progress=False).regions
    assert ls_frames.to_results(spans)["result"].iloc[0] == [item]
    spans.at[0, "start"] = 3
    spans.at[0, "text"] = ["abc"]
    spans.at[0, "label"] = "ORG"
    got = ls_frames.to_results(spans)["result"].iloc[0][0]
    assert got["value"] == {"start": 3, "end": 5, "text": "abc", "labels": ["ORG"]}


def test_rows_without_value_json_are_built_from_their_columns() -> None:
    rows = pa.table(
        {
            "task_id": [5, 5, 6],
            "from_name": ["label"] * 3,
            "to_name": ["image"] * 3,
            "type": ["rectanglelabels"] * 3,
            "labels": [["cat"], ["dog"], ["cat"]],
            "x": [1.0, 2.0, 3.0],
            "y": [4.0, 5.0, 6.0],
            "width": [10.0, 10.0, 10.0],
            "height": [20.0, 20.0, 20.0],
            "score": [0.9, 0.8, 0.7],
        }
    )
    results = ls_frames.to_results(rows, model_version="m1")
    assert list(results["task_id"]) == [5, 6]
    assert list(results["source"]) == ["prediction"] * 2
    assert results["source_id"].isna().all()
    first = results["result"].iloc[0]
    assert [it["value"]["rectanglelabels"] for it in first] == [["cat"], ["dog"]]
    assert first[0] == {
        "type": "rectanglelabels",
        "from_name": "label",
        "to_name": "image",
        "value": {"x": 1.0, "y": 4.0, "width": 10.0, "height": 20.0, "rectanglelabels": ["cat"]},
        "score": 0.9,
    }


def test_a_column_of_the_wrong_type_is_named() -> None:
    rows = pd.DataFrame({"task_id": [1], "x": ["left"]})
    with pytest.raises(ls_frames.ConfigurationError, match="'x'"):
        ls_frames.to_results(rows)


def test_a_string_where_a_list_of_labels_belongs_is_one_label() -> None:
    # pyarrow raises ArrowNotImplementedError casting a string column to a list one
    _, regions = _regions()
    boxes = regions[regions["type"] == "rectanglelabels"].head(2).copy()
    want = [list(v) for v in boxes["labels"]]
    boxes["labels"] = [v[0] for v in want]
    items = [i for r in ls_frames.to_results(boxes)["result"] for i in r]
    assert [i["value"]["rectanglelabels"] for i in items] == want


def test_a_value_json_that_is_not_json_is_named() -> None:
    _, regions = _regions()
    regions.at[3, "value_json"] = "{not json"
    with pytest.raises(ls_frames.ConfigurationError, match="row 3: value_json is not JSON"):
        ls_frames.to_results(regions)


@pytest.mark.parametrize("typed", ["pyarrow", "label_config"])
def test_tables_of_every_dtype_backend_and_categorical_labels(typed: str) -> None:
    path = LS / "snapshot_full_objects.json"
    want = list(ls_frames.to_results(ls_frames.read_export(path, progress=False))["result"])
    if typed == "pyarrow":
        frames = ls_frames.read_export(path, dtype_backend="pyarrow", progress=False)
    else:
        config = (LS / "label_config.xml").read_text()
        frames = ls_frames.read_export(path, label_config=config, progress=False)
        assert str(frames.regions["label"].dtype) == "category"
    assert list(ls_frames.to_results(frames.regions, frames.relations)["result"]) == want
