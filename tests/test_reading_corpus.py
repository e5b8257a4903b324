"""Every result item of every real export in the corpus lands in exactly one row."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from ls_frames.errors import ExportFormatError
from ls_frames.reading import ExportReader, expand_data_columns, normalise_task

CORPUS = Path(__file__).resolve().parent / "corpus"
#: Files of the corpus that hold no task (the converter's description of a label config).
NOT_EXPORTS = {"test_export_json_min__label_config_repeater.json"}
EXPORTS = sorted(p for p in CORPUS.glob("*/*.json") if p.name not in NOT_EXPORTS)
LS = CORPUS / "label-studio-1.23.2"


def test_corpus_is_present() -> None:
    assert len(EXPORTS) + len(NOT_EXPORTS) >= 28, f"expected the vendored corpus under {CORPUS}"


@pytest.mark.parametrize("name", sorted(NOT_EXPORTS))
def test_files_that_hold_no_task_are_refused(name: str) -> None:
    (path,) = CORPUS.glob(f"*/{name}")
    with pytest.raises(ExportFormatError, match="not a Label Studio task"):
        _tables(path)


def _tables(source: Any, chunk_size: int = 1 << 20) -> dict[str, pa.Table]:
    reader = ExportReader(source, chunk_size=chunk_size)
    parts: dict[str, list[pa.RecordBatch]] = {}
    for batches in reader:
        for name, batch in batches.items():
            parts.setdefault(name, []).append(batch)
    out = {name: pa.Table.from_batches(b) for name, b in parts.items()}
    out["tasks"] = expand_data_columns(out["tasks"], reader.data_keys)
    return out


def _raw_tasks(path: Path) -> list[dict[str, Any]]:
    doc = json.loads(path.read_text(encoding="utf-8"))
    return [normalise_task(t) for t in (doc if isinstance(doc, list) else [doc])]


def _raw_items(path: Path) -> list[tuple[Any, str, Any, int, dict[str, Any]]]:
    """(task id, source, source id, index, item) per result item, counted with json.load."""
    out = []
    for task in _raw_tasks(path):
        for kind, key in (
            ("annotation", "annotations"),
            ("prediction", "predictions"),
            ("draft", "drafts"),
        ):
            for obj in task.get(key) or []:
                if isinstance(obj, dict):
                    for i, item in enumerate(obj.get("result") or []):
                        out.append((task.get("id"), kind, obj.get("id"), i, item))
    return out


def _canon(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


@pytest.mark.parametrize("path", EXPORTS, ids=[p.name for p in EXPORTS])
def test_every_result_item_lands_once(path: Path) -> None:
    tables = _tables(path)
    items = _raw_items(path)
    regions, relations = tables["regions"], tables["relations"]
    assert regions.num_rows + relations.num_rows == len(items)
    # every row points back to one item, with its type, names, region id and exact value
    got = Counter(
        (
            r["task_id"],
            r["source"],
            r["source_id"],
            r["result_index"],
            r["type"],
            r["from_name"],
            r["to_name"],
            r["region_id"],
            _canon(json.loads(r["value_json"])) if r["value_json"] is not None else None,
        )
        for r in regions.to_pylist()
    )
    want = Counter(
        (
            t,
            s,
            i,
            k,
            item.get("type"),
            item.get("from_name"),
            item.get("to_name"),
            None if item.get("id") is None else str(item["id"]),
            _canon(item["value"]) if "value" in item else None,
        )
        for t, s, i, k, item in items
        if item.get("type") != "relation"
    )
    assert got == want
    got_rel = Counter(
        (
            r["task_id"],
            r["source"],
            r["source_id"],
            r["result_index"],
            r["from_id"],
            r["to_id"],
            r["direction"],
        )
        for r in relations.to_pylist()
    )
    want_rel = Counter(
        (t, s, i, k, item.get("from_id"), item.get("to_id"), item.get("direction"))
        for t, s, i, k, item in items
        if item.get("type") == "relation"
    )
    assert got_rel == want_rel


@pytest.mark.parametrize("path", EXPORTS, ids=[p.name for p in EXPORTS])
def test_rows_per_object(path: Path) -> None:
    tables = _tables(path)
    tasks = _raw_tasks(path)
    assert tables["tasks"].num_rows == len(tasks)
    assert tables["annotations"].num_rows == sum(len(t.get("annotations") or []) for t in tasks)
    assert tables["predictions"].num_rows == sum(len(t.get("predictions") or []) for t in tasks)
    assert tables["drafts"].num_rows == sum(len(t.get("drafts") or []) for t in tasks)
    keys = {k for t in tasks if isinstance(t.get("data"), dict) for k in t["data"]}
    assert {c[5:] for c in tables["tasks"].column_names if c.startswith("data.")} == keys


def test_typed_columns_match_values() -> None:
    tables = _tables(LS / "snapshot_full_objects.json")
    rows = tables["regions"].to_pylist()
    boxes = [r for r in rows if r["type"] == "rectanglelabels"]
    assert boxes
    for r in boxes:
        v = json.loads(r["value_json"])
        assert r["labels"] == v["rectanglelabels"]
        assert r["x"] == pytest.approx(v["x"])
        assert r["x_px"] == pytest.approx(v["x"] * r["original_width"] / 100)
        assert r["height_px"] == pytest.approx(v["height"] * r["original_height"] / 100)
    for r in rows:
        v = json.loads(r["value_json"])
        assert r["choices"] == v.get("choices")
        assert r["text"] == v.get("text")


def test_both_serialization_shapes_give_same_annotation_regions() -> None:
    ids = _tables(LS / "snapshot_default_options.json")
    full = _tables(LS / "snapshot_full_objects.json")

    def annotation_rows(t: dict[str, pa.Table]) -> list[dict[str, Any]]:
        rows = [r for r in t["regions"].to_pylist() if r["source"] == "annotation"]
        return sorted(rows, key=lambda r: (r["source_id"], r["result_index"]))

    assert annotation_rows(ids) == annotation_rows(full)
    assert (
        ids["relations"]
        .filter(pa.compute.equal(ids["relations"]["source"], "annotation"))
        .to_pylist()
        == full["relations"]
        .filter(pa.compute.equal(full["relations"]["source"], "annotation"))
        .to_pylist()
    )
    # ids-only: predictions and drafts are rows with only their id and task id
    preds = ids["predictions"].to_pylist()
    assert preds and all(
        p["prediction_id"] is not None and p["model_version"] is None for p in preds
    )
    assert sorted(p["prediction_id"] for p in preds) == sorted(
        p["prediction_id"] for p in full["predictions"].to_pylist()
    )
    # full objects: completed_by email present
    emails = full["annotations"].column("completed_by_email").to_pylist()
    assert any(emails) and not any(ids["annotations"].column("completed_by_email").to_pylist())
    assert (
        ids["annotations"].column("completed_by_id").to_pylist()
        == full["annotations"].column("completed_by_id").to_pylist()
    )


def test_skipped_and_ground_truth_annotations_present() -> None:
    raw = _raw_tasks(LS / "snapshot_full_objects.json")
    anns = [a for t in raw for a in t["annotations"]]
    tables = _tables(LS / "snapshot_full_objects.json")
    table = tables["annotations"]
    assert table.column("was_cancelled").to_pylist() == [a["was_cancelled"] for a in anns]
    assert any(a["was_cancelled"] for a in anns)
    gt_raw = [
        a["ground_truth"]
        for t in _raw_tasks(LS / "three_tasks_two_gts.json")
        for a in t["annotations"]
    ]
    gt = _tables(LS / "three_tasks_two_gts.json")["annotations"]
    assert gt.column("ground_truth").to_pylist() == gt_raw and any(gt_raw)


def test_timestamps_are_utc() -> None:
    tables = _tables(LS / "snapshot_full_objects.json")
    col = tables["annotations"].column("created_at")
    assert str(col.type) == "timestamp[us, tz=UTC]"
    raw = _raw_tasks(LS / "snapshot_full_objects.json")[0]["annotations"][0]["created_at"]
    assert col[0].as_py().isoformat().replace("+00:00", "Z") == raw


def test_chunk_size_does_not_change_the_result() -> None:
    path = LS / "snapshot_full_objects.json"
    tiny = _tables(path, chunk_size=1)
    huge = _tables(path, chunk_size=1 << 30)
    for name in huge:
        assert tiny[name].equals(huge[name]), name


def test_pretty_printed_and_compact_agree(tmp_path: Path) -> None:
    path = LS / "snapshot_full_objects.json"
    pretty = tmp_path / "pretty.json"
    pretty.write_text(json.dumps(json.loads(path.read_text()), indent=2))
    a, b = _tables(path, 4096), _tables(pretty, 777)
    assert (
        a["regions"].drop_columns(["value_json"]).equals(b["regions"].drop_columns(["value_json"]))
    )
    assert [json.loads(v) for v in a["regions"]["value_json"].to_pylist()] == [
        json.loads(v) for v in b["regions"]["value_json"].to_pylist()
    ]


def test_single_object_files(tmp_path: Path) -> None:
    task = _raw_tasks(LS / "snapshot_full_objects.json")[0]
    ann = dict(task["annotations"][0])
    nested = {k: v for k, v in task.items() if k not in ("annotations",)}
    ann["task"] = nested
    storage = tmp_path / "12345"  # local-files storage: extension-less, one annotation
    storage.write_text(json.dumps(ann))
    tables = _tables(storage)
    assert tables["tasks"].column("task_id").to_pylist() == [task["id"]]
    assert tables["annotations"].column("annotation_id").to_pylist() == [ann["id"]]
    sources = tables["regions"]["source"].to_pylist() + tables["relations"]["source"].to_pylist()
    assert sources.count("annotation") == len(ann["result"])
    one = tmp_path / "task.json"
    one.write_text(json.dumps(task))
    assert _tables(one)["annotations"].num_rows == len(task["annotations"])
