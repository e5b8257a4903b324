"""Delta datasets on local disk: a full write and a merge read back as read_parquet of the
same data, versions and time travel, provenance in the commits, bytes rewritten, killed
runs and bad input. (Concurrency, S3, other readers, compaction: the test_tables_delta_*
files.)"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

import ls_frames
from ls_frames.errors import ConfigurationError
from tests.delta_helpers import (
    LABEL_CONFIG,
    assert_same_frames,
    need_deltalake,
    refresh,
    tasks,
    write,
)

need_deltalake()

import pyarrow as pa  # noqa: E402
from deltalake import DeltaTable, write_deltalake  # noqa: E402

from ls_frames.tables import delta  # noqa: E402
from ls_frames.tables.delta import (  # noqa: E402
    delta_state,
    delta_task_ids,
    delta_task_stamps,
    read_delta,
    write_delta,
)

PROVENANCE = {"project": 7, "label_config": LABEL_CONFIG, "sync": {"watermark": "w0", "runs": []}}


def first(tmp: Path, width: int = 3) -> tuple[Path, delta.DeltaWrite]:
    """A Delta dataset of the corpus tasks at ``tmp / "ds"``, written whole."""
    part = write(tmp, "full", tasks())
    return tmp / "ds", write_delta(
        tmp / "ds", part, provenance=PROVENANCE, full=True, expected=None, tasks_per_file=width
    )


def commit_document(uri: Path, name: str, version: int) -> dict[str, Any]:
    (entry,) = [c for c in DeltaTable(uri / name).history() if c["version"] == version]
    doc: dict[str, Any] = json.loads(entry["ls_frames"])
    return doc


def test_full_write_reads_back_as_read_parquet(tmp_path: Path) -> None:
    uri, result = first(tmp_path)
    got = read_delta(uri)
    want = ls_frames.read_parquet(tmp_path / "full")
    assert_same_frames(got, want)
    assert got.regions["label"].dtype.name == "category"
    assert list(got.regions["label"].cat.categories[:2]) == ["cat", "dog"]
    assert got.tasks["updated_at"].dtype.name == "datetime64[us, UTC]"
    assert got.provenance == PROVENANCE
    assert result.state.version == 0 and set(result.state.versions.values()) == {0}
    assert result.state.rows == {name: len(want[name]) for name in want}
    assert result.commits == 6 and result.files_written == sum(
        len(DeltaTable(uri / n).file_uris()) for n in want
    )
    assert result.bytes_written > 0 and result.bytes_removed == 0
    # every commit carries the provenance and the run id; the tasks commit the version map
    docs = {name: commit_document(uri, name, 0) for name in want}
    assert {d["run_id"] for d in docs.values()} == {docs["tasks"]["run_id"]}
    assert all(d["provenance"] == PROVENANCE for d in docs.values())
    assert docs["tasks"]["versions"] == result.state.versions
    assert "versions" not in docs["regions"]
    # ls_frames.read_delta is the same function, and the state says the same
    assert ls_frames.read_delta is read_delta
    assert delta_state(uri) == result.state
    assert sorted(delta_task_ids(uri, result.state).to_pylist()) == [t["id"] for t in tasks()]


def test_merge_equals_a_dataset_of_the_final_tasks(tmp_path: Path) -> None:
    uri, written = first(tmp_path)
    state = written.state
    changes, final = refresh(tasks())
    part = write(tmp_path, "part", changes)
    prov = {**PROVENANCE, "sync": {"watermark": "w1", "runs": [{"mode": "incremental"}]}}
    result = write_delta(
        uri, part, provenance=prov, drop_tasks=[20013, 20016], full=False, expected=state
    )
    assert_same_frames(read_delta(uri), ls_frames.read_parquet(write(tmp_path, "want", final)))
    assert "data.extra" in read_delta(uri).tasks.columns
    assert result.state.version == 1 and delta_state(uri) == result.state
    assert result.state.provenance["sync"]["watermark"] == "w1"
    assert result.state.rows["tasks"] == len(final)
    # task 20006 (the only one with a draft) is in a range nothing touched: no drafts commit
    assert result.state.versions["drafts"] == 0 and "drafts" not in result.per_table
    assert DeltaTable(uri / "drafts").version() == 0
    # only the ranges holding changed tasks were rewritten (3 tasks per file)
    regions = DeltaTable(uri / "regions", version=0)
    total = sum(int(s) for s in _sizes(regions))
    assert 0 < result.per_table["regions"]["bytes_removed"] < total
    assert result.per_table["regions"]["files_removed"] < len(regions.file_uris())
    assert result.bytes_removed == sum(t["bytes_removed"] for t in result.per_table.values())
    assert result.files_written == sum(t["files_written"] for t in result.per_table.values())
    # the first dataset version is still there, by version and by time
    assert_same_frames(read_delta(uri, version=0), ls_frames.read_parquet(tmp_path / "full"))
    at = written.state.timestamp.isoformat()
    assert read_delta(uri, timestamp=at).provenance == PROVENANCE
    stamps = delta_task_stamps(uri, result.state, [20011, 20013, 5], ["total_annotations"])
    assert list(stamps) == [20011] and stamps[20011][0].isoformat().startswith("2026-11-30T10")

    # 20011 goes back to its old data: the key only it had goes, as in a fresh export
    back = write(tmp_path, "back", [t for t in tasks() if t["id"] == 20011])
    again = write_delta(uri, back, provenance=prov, full=False, expected=result.state)
    final2 = [t for t in final if t["id"] != 20011] + [t for t in tasks() if t["id"] == 20011]
    assert_same_frames(read_delta(uri), ls_frames.read_parquet(write(tmp_path, "w2", final2)))
    assert again.state.data_keys == ("image", "split")
    # only dropping
    dropped = write_delta(
        uri, None, provenance=prov, drop_tasks=[99], full=False, expected=again.state
    )
    assert 99 not in set(delta_task_ids(uri, dropped.state).to_pylist())


def _sizes(table: Any) -> list[int]:
    import pyarrow as pa

    sizes: list[int] = (
        pa.table(table.get_add_actions(flatten=True)).column("size_bytes").to_pylist()
    )
    return sizes


@pytest.mark.parametrize("order", ["task order", "shuffled"])
def test_a_full_write_streams_the_part_a_chunk_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, order: str
) -> None:
    """A full write holds a few rows at a time (read in task order, or one filtered pass
    per chunk when the part is not in task order), whatever the number of ranges, and
    commits each table once: the dataset version is that commit."""
    monkeypatch.setattr(delta.stream, "CHUNK_ROWS", 3)
    monkeypatch.setattr(delta.stream, "BATCH_ROWS", 2)
    held: list[tuple[str, int, int]] = []
    real = delta.stream.chunks

    def counted(source: Any, schema: Any, width: int) -> Any:
        for chunk in real(source, schema, width):
            ranges = chunk.column("task_range").to_pylist()
            widest = max(map(ranges.count, ranges), default=0)
            held.append((schema.names[0], chunk.num_rows, widest))
            yield chunk

    monkeypatch.setattr(delta.write, "chunks", counted)
    docs = tasks()
    if order == "shuffled":
        docs = docs[1::2] + docs[::2]
    part = write(tmp_path, "full", docs)
    result = write_delta(
        tmp_path / "ds", part, provenance=PROVENANCE, full=True, expected=None, tasks_per_file=1
    )
    assert result.commits == 6 and result.state.version == 0
    assert all(entry["commits"] == 1 for entry in result.per_table.values())
    assert delta_state(tmp_path / "ds") == result.state
    assert len(held) > 12  # many chunks, each whole ranges of a few rows
    for _, rows, widest in held:  # a chunk: under 3 rows + a batch, or one range
        assert rows <= max(3 + 2, widest)
    assert_same_frames(read_delta(tmp_path / "ds"), ls_frames.read_parquet(part))


def test_a_merge_rewrites_its_ranges_a_group_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A merge reads and rewrites the touched ranges a few rows at a time (in groups of
    ranges, one file each) and gives the same tables as a fresh export of the tasks."""
    monkeypatch.setattr(delta.write, "CHUNK_ROWS", 2)
    groups: list[list[int]] = []
    real = delta.write._groups

    def counted(actions: Any, ranges: list[int]) -> list[list[int]]:
        out: list[list[int]] = real(actions, ranges)
        groups.extend(out)
        return out

    monkeypatch.setattr(delta.write, "_groups", counted)
    uri, written = first(tmp_path, width=1)
    changes, final = refresh(tasks())
    part = write(tmp_path, "part", changes)
    result = write_delta(
        uri,
        part,
        provenance=PROVENANCE,
        drop_tasks=[20013, 20016],
        full=False,
        expected=written.state,
    )
    assert_same_frames(read_delta(uri), ls_frames.read_parquet(write(tmp_path, "want", final)))
    assert len(groups) > 3 and all(len(g) >= 1 for g in groups)
    for name, entry in result.per_table.items():  # one file per rewritten range
        added = pa.table(DeltaTable(uri / name).get_add_actions(flatten=True))
        ranges = added.column("partition.task_range").to_pylist()
        assert len(ranges) == len(set(ranges)), name
        assert entry["commits"] == 1


def test_the_default_width_gives_each_table_ranges_of_many_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without tasks_per_file each table gets the width that puts about ROWS_PER_FILE of
    its rows in a range: a table with more rows per task gets narrower ranges."""
    monkeypatch.setattr(delta.stream, "ROWS_PER_FILE", 8)
    part = write(tmp_path, "full", tasks())
    result = write_delta(tmp_path / "ds", part, provenance=PROVENANCE, full=True, expected=None)
    widths = result.state.tasks_per_file or {}
    frames = ls_frames.read_parquet(part)
    assert widths["regions"] < widths["tasks"]
    ranges = {}
    for name in ("tasks", "regions"):
        table = DeltaTable(tmp_path / "ds" / name).to_pyarrow_table()
        ranges[name] = len(set(table.column("task_range").to_pylist()))
        assert table.num_rows / ranges[name] <= 2 * 8  # about 8 rows a range, on average
    assert ranges["regions"] > ranges["tasks"] > 1
    assert_same_frames(read_delta(tmp_path / "ds"), frames)


def test_a_run_without_changes_commits_nothing(tmp_path: Path) -> None:
    uri, written = first(tmp_path)
    same = write(tmp_path, "same", [t for t in tasks() if t["id"] in (20008, 20012)])
    result = write_delta(uri, same, provenance={}, full=False, expected=written.state)
    assert result.commits == 0 and result.state == written.state
    assert {n: DeltaTable(uri / n).version() for n in written.state.versions} == (
        written.state.versions
    )
    # a task's data changes, nothing else: only the tasks table gets a commit
    doc = [t for t in tasks() if t["id"] == 20008]
    doc[0]["data"]["split"] = "test"
    result = write_delta(
        uri, write(tmp_path, "one", doc), provenance={}, full=False, expected=written.state
    )
    assert result.commits == 1 and list(result.per_table) == ["tasks"]
    assert result.state.versions == {**written.state.versions, "tasks": 1}
    assert read_delta(uri).tasks.set_index("task_id").loc[20008, "data.split"] == "test"


def test_a_run_killed_midway_leaves_the_last_complete_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    uri, written = first(tmp_path)
    changes, final = refresh(tasks())
    part = write(tmp_path, "part", changes)
    from ls_frames.tables.delta.files import commit_files as real

    def killed(run: Any, name: str, *args: Any, **kw: Any) -> Any:
        if name == "tasks":
            raise KeyboardInterrupt  # the process dies before its tasks commit
        return real(run, name, *args, **kw)

    monkeypatch.setattr(delta.write, "commit_files", killed)
    with pytest.raises(KeyboardInterrupt):
        write_delta(
            uri, part, provenance={}, drop_tasks=[20013], full=False, expected=written.state
        )
    monkeypatch.undo()
    assert DeltaTable(uri / "regions").version() == 1  # committed, but no dataset names it
    assert delta_state(uri) == written.state
    assert_same_frames(read_delta(uri), ls_frames.read_parquet(tmp_path / "full"))
    # the next run starts from the last complete version and puts the tables right
    result = write_delta(
        uri,
        part,
        provenance=PROVENANCE,
        drop_tasks=[20013, 20016],
        full=False,
        expected=delta_state(uri),
    )
    assert_same_frames(read_delta(uri), ls_frames.read_parquet(write(tmp_path, "w", final)))
    assert result.state.versions["regions"] == 3  # 1: the killed run, 2: restored, 3: this run


def test_versions_that_do_not_exist_are_named(tmp_path: Path) -> None:
    uri, _ = first(tmp_path)
    with pytest.raises(ConfigurationError, match=r"no dataset version 7.*versions 0\.\.0"):
        read_delta(uri, version=7)
    with pytest.raises(ConfigurationError, match="no ls_frames Delta dataset"):
        read_delta(tmp_path / "nothing")
    assert delta_state(tmp_path / "nothing") is None


def test_something_else_at_the_uri_is_refused(tmp_path: Path) -> None:
    import pyarrow as pa

    parquet = write(tmp_path, "plain", tasks())
    with pytest.raises(ConfigurationError, match="not an ls_frames Delta dataset"):
        delta_state(parquet)
    with pytest.raises(ConfigurationError, match="not an ls_frames Delta dataset"):
        write_delta(parquet, parquet, provenance={}, full=True, expected=None)
    write_deltalake(tmp_path / "table", pa.table({"a": [1]}))
    with pytest.raises(ConfigurationError, match="Delta table itself"):
        read_delta(tmp_path / "table")
    write_deltalake(tmp_path / "other" / "tasks", pa.table({"task_id": [1]}))
    with pytest.raises(ConfigurationError, match="no commit written by ls_frames"):
        read_delta(tmp_path / "other")
    uri, written = first(tmp_path)
    with pytest.raises(ConfigurationError, match="needs expected="):
        write_delta(uri, parquet, provenance={}, full=False, expected=None)
    with pytest.raises(ConfigurationError, match="tasks_per_file"):
        write_delta(
            uri, parquet, provenance={}, full=True, expected=written.state, tasks_per_file=0
        )


def test_deltalake_missing_names_the_pip_line() -> None:
    code = (
        "import sys; sys.modules['deltalake'] = None\n"
        "import ls_frames\n"
        "try:\n"
        "    ls_frames.read_delta('/nonexistent')\n"
        "except ls_frames.ConfigurationError as exc:\n"
        "    print(exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "pip install 'ls_frames[delta]'" in out.stdout


def test_importing_ls_frames_tables_does_not_load_deltalake() -> None:
    code = "import sys, ls_frames.tables; print('deltalake' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_timestamps_pick_the_version_current_then(tmp_path: Path) -> None:
    uri, written = first(tmp_path)
    time.sleep(0.05)
    changes, _ = refresh(tasks())
    result = write_delta(
        uri,
        write(tmp_path, "part", changes),
        provenance={"second": True},
        full=False,
        expected=written.state,
    )
    assert delta_state(uri, timestamp=written.state.timestamp) == written.state
    assert delta_state(uri, timestamp=result.state.timestamp) == result.state
    assert delta_state(uri, version=0) == written.state


def test_a_table_the_dataset_did_not_have_is_created_by_a_merge(tmp_path: Path) -> None:
    doc = tmp_path / "all.json"
    doc.write_text(json.dumps(tasks()))
    some = ls_frames.to_parquet(
        doc, tmp_path / "some", tables=["tasks", "annotations"], progress=False
    )
    uri = tmp_path / "ds"
    first_run = write_delta(uri, some, provenance=PROVENANCE, full=True, expected=None)
    assert sorted(first_run.state.versions) == ["annotations", "tasks"]
    changes, _ = refresh(tasks())
    result = write_delta(
        uri,
        write(tmp_path, "part", changes),
        provenance=PROVENANCE,
        full=False,
        expected=first_run.state,
    )
    assert sorted(result.state.versions) == sorted(
        ["tasks", "annotations", "predictions", "drafts", "regions", "relations"]
    )
    got = read_delta(uri)
    assert set(got.regions["task_id"]) == {
        t["id"] for t in changes if t["annotations"] or t["predictions"]
    }
    assert len(got.tasks) == len(tasks()) + 1


def test_a_merge_replaces_exactly_the_files_of_the_touched_ranges(tmp_path: Path) -> None:
    """One new file per touched range, the old files of those ranges removed and no
    other; every new file has statistics readers can skip on, and holds only the columns
    with a value (the others read back as nulls)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    uri, written = first(tmp_path)
    changes, _ = refresh(tasks())
    part = write(tmp_path, "part", changes)
    old = pa.table(DeltaTable(uri / "tasks").get_add_actions(flatten=True)).to_pylist()
    write_delta(
        uri, part, provenance=PROVENANCE, drop_tasks=[20013], full=False, expected=written.state
    )
    new = pa.table(DeltaTable(uri / "tasks").get_add_actions(flatten=True)).to_pylist()
    touched = {t // 3 for t in (20011, 20007, 99, 20013)}
    old_paths = {a["path"] for a in old}
    kept = {a["path"] for a in old if a["partition.task_range"] not in touched}
    assert {a["path"] for a in new if a["path"] in old_paths} == kept
    added = [a for a in new if a["path"] not in old_paths]
    assert sorted(a["partition.task_range"] for a in added) == sorted(touched)
    ids = read_delta(uri).tasks["task_id"]
    for a in added:
        in_range = ids[ids // 3 == a["partition.task_range"]]
        assert a["num_records"] == len(in_range) > 0
        assert (a["min.task_id"], a["max.task_id"]) == (in_range.min(), in_range.max())
        assert a["null_count.task_id"] == 0 and a["null_count.file_upload"] is None
        columns = pq.read_schema(uri / "tasks" / a["path"]).names
        assert "task_id" in columns and "file_upload" not in columns
    assert read_delta(uri).tasks["file_upload"].isna().all()


def test_an_object_store_that_cannot_be_reached_is_a_clear_error() -> None:
    import socket

    with socket.socket() as free:  # a port nobody listens on
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    options = {
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        "AWS_ALLOW_HTTP": "true",
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "y",
        "AWS_REGION": "us-east-1",
        "max_retries": "0",
    }
    with pytest.raises(ConfigurationError, match="cannot read the Delta tables at s3://") as err:
        ls_frames.read_delta("s3://labels/p12", storage_options=options)
    assert "Connection refused" in str(err.value) and "storage_options" in str(err.value)
    assert "\x1b[" not in str(err.value)
