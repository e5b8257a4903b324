"""Other readers of the same Delta tables (Polars, DuckDB, pyarrow.dataset) see what
read_delta sees; compact_delta keeps the rows, merges files and vacuums by retention."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
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
from tests.needs import missing

need_deltalake()

from deltalake import DeltaTable  # noqa: E402

from ls_frames.tables.delta import compact_delta, delta_state, read_delta, write_delta  # noqa: E402

PROVENANCE = {"label_config": LABEL_CONFIG}
# the columns whose values are compared across readers (nested lists compared as Python)
COLUMNS = {
    "tasks": ["task_id", "updated_at", "data_json", "data.image", "total_annotations"],
    "annotations": ["annotation_id", "task_id", "completed_by_id", "lead_time", "created_at"],
    "regions": ["task_id", "source_id", "region_id", "from_name", "labels", "x", "points"],
}


def dataset(tmp: Path) -> tuple[Path, ls_frames.Frames]:
    """Two dataset versions (a full write, a merge); returns the uri and read_delta."""
    uri = tmp / "ds"
    first = write_delta(
        uri,
        write(tmp, "full", tasks()),
        provenance=PROVENANCE,
        full=True,
        expected=None,
        tasks_per_file=2,
    )
    changes, _ = refresh(tasks())
    write_delta(
        uri,
        write(tmp, "part", changes),
        provenance=PROVENANCE,
        drop_tasks=[20013, 20016],
        full=False,
        expected=first.state,
    )
    return uri, read_delta(uri)


def rows(table: pa.Table, name: str) -> list[dict[str, Any]]:
    keys = [c for c in COLUMNS[name] if c in ("task_id", "annotation_id", "source_id", "region_id")]
    table = table.select(COLUMNS[name])
    table = table.take(pc.sort_indices(table, [(k, "ascending") for k in keys]))
    out: list[dict[str, Any]] = table.to_pylist()
    return out


def test_polars_sees_what_read_delta_sees(tmp_path: Path) -> None:
    try:
        import polars as pl
    except ImportError:
        missing("polars (the test extra)")
    uri, frames = dataset(tmp_path)
    state = delta_state(uri)
    assert state is not None
    for name in COLUMNS:
        version = state.versions[name]
        read = pl.read_delta(str(uri / name), version=version)
        assert read.height == len(frames[name])
        assert rows(read.to_arrow(), name) == rows(frames.arrow[name], name)
        lazy = pl.scan_delta(str(uri / name), version=version).filter(pl.col("task_id") == 20011)
        assert lazy.collect().height == int((frames[name]["task_id"] == 20011).sum())
    # the first dataset version, through the version map
    first = delta_state(uri, version=0)
    assert first is not None
    old = pl.read_delta(str(uri / "tasks"), version=first.versions["tasks"])
    assert sorted(old["task_id"].to_list()) == [t["id"] for t in tasks()]


def test_duckdb_and_pyarrow_dataset_see_what_read_delta_sees(tmp_path: Path) -> None:
    try:
        import duckdb
    except ImportError:
        missing("duckdb (the test extra)")
    uri, frames = dataset(tmp_path)
    state = delta_state(uri)
    assert state is not None
    con = duckdb.connect()
    for name in COLUMNS:
        arrow_ds = DeltaTable(uri / name, version=state.versions[name]).to_pyarrow_dataset()
        assert rows(arrow_ds.to_table(), name) == rows(frames.arrow[name], name)
        con.register(name, arrow_ds)
        assert con.execute(f"select count(*) from {name}").fetchall() == [(len(frames[name]),)]
    got = con.execute(
        "select t.task_id, count(r.task_id) from tasks t left join regions r using (task_id) "
        "group by t.task_id order by t.task_id"
    ).fetchall()
    want = frames.regions.groupby("task_id").size()
    assert got == [(int(t), int(want.get(t, 0))) for t in sorted(frames.tasks["task_id"])]


def test_compact_widens_the_ranges_and_keeps_the_rows(tmp_path: Path) -> None:
    uri, frames = dataset(tmp_path)
    before = {n: len(DeltaTable(uri / n).file_uris()) for n in COLUMNS}
    plan = compact_delta(uri, tasks_per_file=1000, retention_hours=0, dry_run=True)
    assert plan["dry_run"] and plan["tables"]["regions"]["vacuumed_files"] > 0
    assert {n: len(DeltaTable(uri / n).file_uris()) for n in COLUMNS} == before
    report = compact_delta(uri, tasks_per_file=1000, retention_hours=0)
    after = {n: len(DeltaTable(uri / n).file_uris()) for n in COLUMNS}
    assert all(after[n] < before[n] for n in COLUMNS), (before, after)
    assert report["tables"]["regions"]["files_after"] == after["regions"]
    state = delta_state(uri)
    assert state is not None and state.version == report["version"]
    assert state.tasks_per_file and state.tasks_per_file["regions"] == 1000
    assert_same_frames(read_delta(uri), frames)
    # retention 0: the versions before the compaction lost their files
    with pytest.raises(ConfigurationError, match="removed by a vacuum"):
        read_delta(uri, version=0)
    # and the next merge works on the wider ranges
    more = write(tmp_path, "more", [t for t in tasks() if t["id"] == 20013])
    result = write_delta(uri, more, provenance=PROVENANCE, full=False, expected=state)
    assert 20013 in set(read_delta(uri).tasks["task_id"])
    assert result.per_table["tasks"]["files_removed"] == 1


def test_compact_within_the_retention_keeps_old_versions(tmp_path: Path) -> None:
    uri, frames = dataset(tmp_path)
    report = compact_delta(uri, tasks_per_file=1000)  # the default retention: a week
    assert all(t["vacuumed_files"] == 0 for t in report["tables"].values())
    assert_same_frames(read_delta(uri, version=0), ls_frames.read_parquet(tmp_path / "full"))
    assert_same_frames(read_delta(uri), frames)
    # without a new width: the files within each range are compacted, nothing lost
    compact_delta(uri, retention_hours=0)
    assert_same_frames(read_delta(uri), frames)
