"""upsert_tasks: replacing some tasks' rows in a dataset equals writing the result whole."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest

import ls_frames
from ls_frames.errors import ExportFormatError
from ls_frames.tables.dataset import dataset_task_ids, dataset_task_stamps, upsert_tasks
from ls_frames.testing.compare import assert_same_dataset as assert_same

CORPUS = Path(__file__).parent / "corpus" / "label-studio-1.23.2"


def tasks() -> list[dict[str, Any]]:
    loaded: list[dict[str, Any]] = json.loads((CORPUS / "snapshot_full_objects.json").read_text())
    return loaded


def write(tmp: Path, name: str, doc: list[dict[str, Any]], **kw: Any) -> Path:
    path = tmp / f"{name}.json"
    path.write_text(json.dumps(doc))
    return ls_frames.to_parquet(path, tmp / name, progress=False, **kw)


def test_replacing_and_dropping_tasks_equals_a_whole_write(tmp_path: Path) -> None:
    base = tasks()
    dataset = write(tmp_path, "dataset", base, row_group_size=3)
    # the changes: task 20011 loses two annotations and gains a data key, task 20007
    # gets an annotation, a new task 99 arrives; 20013 and 20016 are deleted
    changed = {t["id"]: copy.deepcopy(t) for t in base if t["id"] in (20011, 20007)}
    changed[20011]["annotations"] = changed[20011]["annotations"][:1]
    changed[20011]["data"]["extra"] = {"nested": [1, 2]}
    changed[20007]["annotations"] = copy.deepcopy(base[0]["annotations"])
    for a in changed[20007]["annotations"]:
        a["id"], a["task"] = 777, 20007
    new = copy.deepcopy(base[2])
    new["id"] = 99
    for a in new["annotations"]:
        a["id"] += 5000
        a["task"] = 99
    for p in new["predictions"]:
        p["id"] += 5000
        p["task"] = 99
    part = write(tmp_path, "part", [*changed.values(), new])
    result = [changed.get(t["id"], t) for t in base if t["id"] not in (20013, 20016)] + [new]
    expected = write(tmp_path, "expected", result)

    manifest = upsert_tasks(
        dataset, part, drop_tasks=[20013, 20016], provenance={"note": "merged"}, row_group_size=4
    )
    assert_same(dataset, expected)
    assert manifest["task_count"] == len(result)
    assert manifest["data_keys"] == ["image", "split", "extra"]
    assert ls_frames.read_parquet(dataset).provenance == {"note": "merged"}
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]

    # 20011 goes back to its old data: the key only it had goes too, as in a fresh
    # export; task 20008 changed and was then deleted during the run: deleted wins
    part2 = write(tmp_path, "part2", [t for t in base if t["id"] in (20011, 20008)])
    upsert_tasks(dataset, part2, drop_tasks=[20008], provenance={})
    result2 = [t for t in result if t["id"] not in (20011, 20008)] + [
        t for t in base if t["id"] == 20011
    ]
    assert_same(dataset, write(tmp_path, "expected2", result2))
    assert "data.extra" not in ls_frames.read_parquet(dataset).tasks.columns

    # only dropping
    upsert_tasks(dataset, None, drop_tasks=[99], provenance={})
    assert 99 not in set(dataset_task_ids(dataset).to_pylist())
    stamps = dataset_task_stamps(dataset, [20006, 12345], ["total_annotations"])
    assert list(stamps) == [20006] and stamps[20006][0].tzinfo is not None
    assert stamps[20006][1] == 1


def test_a_failed_upsert_leaves_the_dataset_as_it_was(tmp_path: Path) -> None:
    dataset = write(tmp_path, "dataset", tasks())
    before = {p.relative_to(dataset): p.read_bytes() for p in dataset.rglob("*") if p.is_file()}
    part = write(tmp_path, "part", tasks()[:2])
    (part / "regions" / "part-0000.parquet").write_bytes(b"PAR1 not parquet")
    with pytest.raises(pa.ArrowException):
        upsert_tasks(dataset, part, provenance={})
    after = {p.relative_to(dataset): p.read_bytes() for p in dataset.rglob("*") if p.is_file()}
    assert after == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    (part / "_SUCCESS").unlink()
    with pytest.raises(ExportFormatError, match="no _SUCCESS"):
        upsert_tasks(dataset, part, provenance={})


def test_a_swap_cut_between_its_two_renames_is_recovered(tmp_path: Path) -> None:
    """publish() moves the old dataset aside, then renames the new one in; a process
    killed in between leaves neither at the name. recover() puts the newest complete
    one back (sync_parquet calls it first)."""
    from ls_frames.tables.dataset import recover

    old = write(tmp_path, "dataset", tasks())
    assert recover(old) is None  # nothing to do
    aside = tmp_path / ".dataset.old-abc"
    old.rename(aside)
    staged = tmp_path / ".dataset.tmp-def"
    staged.mkdir()  # a staging folder without its manifest is not complete
    assert recover(old) == aside and (old / "_SUCCESS").is_file()
    old.rename(aside)
    write(tmp_path, "newer", tasks()[:3]).rename(tmp_path / ".dataset.tmp-xyz")
    assert recover(old) == tmp_path / ".dataset.tmp-xyz"
    assert len(ls_frames.read_parquet(old).tasks) == 3


def test_a_dataset_written_before_integer_offsets_is_upgraded(tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    spans = [
        {
            "id": f"s{i}",
            "from_name": "ner",
            "to_name": "text",
            "type": "labels",
            "value": {"start": 2 * i, "end": 2 * i + 1, "labels": ["PER"]},
        }
        for i in range(3)
    ]
    audio = {
        "id": "a",
        "from_name": "speaker",
        "to_name": "audio",
        "type": "labels",
        "value": {"start": 0.5, "end": 1.25, "labels": ["bob"]},
    }
    doc = [
        {
            "id": t,
            "data": {"text": "x" * 9},
            "annotations": [{"id": 10 + t, "result": [*spans, audio]}],
        }
        for t in (1, 2)
    ]
    dataset = write(tmp_path, "dataset", doc)
    # the regions file as an older version wrote it: start/end as text, no label/choice
    path = next((dataset / "regions").glob("*.parquet"))
    table = pq.read_table(path)
    old = table.drop_columns(["start_text", "end_text", "label", "choice"])
    for name in ("start", "end"):
        old = old.set_column(old.schema.get_field_index(name), name, table.column(f"{name}_text"))
    pq.write_table(old.replace_schema_metadata(table.schema.metadata), path)
    changed: Any = copy.deepcopy(doc[1])
    changed["annotations"][0]["result"] = changed["annotations"][0]["result"][:2]
    upsert_tasks(dataset, write(tmp_path, "part", [changed]), provenance={})
    assert_same(dataset, write(tmp_path, "expected", [doc[0], changed]))
    regions = ls_frames.read_parquet(dataset).regions
    first = regions[regions["task_id"] == 1]
    assert list(first["start"].astype(object)) == [0, 2, 4, pd.NA]
    assert list(first["start_text"]) == ["0", "2", "4", "0.5"]
    assert list(first["label"].astype(str)) == ["PER"] * 3 + ["bob"]
