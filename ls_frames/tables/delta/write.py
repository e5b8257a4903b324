"""Write a Delta dataset: everything once, then only the task ranges that changed.

Every table is partitioned by ``task_range = task_id // tasks_per_file`` and each
partition holds one file (rows in ``task_id`` order after a full write; a refresh writes a
range's kept rows, then its new ones). A full write commits
:data:`~ls_frames.tables.delta.layout.RANGES_PER_COMMIT`
ranges at a time (delta-rs creates a new table with the first), the dataset version
being its last ``tasks`` commit. A refresh (``full=False``)
reads the partitions that hold a changed or deleted task, drops those tasks' rows, adds
their new rows and replaces exactly those partitions in one commit per table (each
range's file written with ``pyarrow.parquet``, then one
``create_write_transaction(mode="overwrite")`` filtered on those ranges: a delete and an
insert in one transaction, the delete on partition values only, no scan; see
:mod:`ls_frames.tables.delta.files`). Nothing else is
read or rewritten, so the bytes a refresh writes grow with the number of ranges touched,
not with the table: with copy-on-write (delta-rs writes no deletion vectors) 0.1 %
scattered changes touch about ``1 - exp(-0.001 * tasks_per_file)`` of the ranges.

Commits are made without retries against the versions the run started from
(``max_commit_retries=0``), the ``tasks`` table last with the map of every table's
version (:mod:`ls_frames.tables.delta.state`). Of two runs from the same state one commits;
the other raises :class:`~ls_frames.errors.ConcurrentWriteError`. A table whose latest
version is past the map (a run killed before its ``tasks`` commit, or one that lost a race)
is first restored to the mapped version, so what the map names is always what a run wrote.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ls_frames.errors import ConfigurationError
from ls_frames.reading import SCHEMAS, TABLES
from ls_frames.tables.dataset import read_manifest, table_files
from ls_frames.tables.delta.commit import Run, base_table, commit, concurrent, files
from ls_frames.tables.delta.files import commit_files, overwrite_files
from ls_frames.tables.delta.layout import commit_order, conform, range_chunks, target_schema
from ls_frames.tables.delta.state import (
    RANGE_COLUMN,
    DeltaState,
    delta_state,
    deltalake,
    files_dataset,
    open_table,
    table_uri,
)
from ls_frames.tables.delta.storage import check_storage_options
from ls_frames.tables.dtypes import Compression, check_compression

__all__ = ["DEFAULT_TASKS_PER_FILE", "DeltaWrite", "write_delta"]

#: tasks per file (per partition). Measured by benchmarks/bench_delta.py on 1,000,000
#: tasks with 0.1 % changed at random: 100 a file rewrites 22 MiB in 4,820 files (11x
#: fewer bytes and 7x less time than a full Delta overwrite, 7x fewer bytes than rewriting
#: the Parquet dataset); 1,000 a file touches 63 % of the ranges. Readers pay for small
#: files (Polars reads all tables in 10.5 s at 100, 1.7 s compacted):
#: compact_delta(tasks_per_file=...) for read-heavy use.
DEFAULT_TASKS_PER_FILE = 100
_DATA = "data."


@dataclass(frozen=True)
class DeltaWrite:
    """What one :func:`write_delta` run did."""

    state: DeltaState  # the dataset version the run left
    commits: int  # commits made (all tables)
    bytes_written: int  # bytes of the files added
    bytes_removed: int  # bytes of the files the run replaced
    files_written: int
    files_removed: int
    per_table: dict[str, dict[str, int]] = field(default_factory=dict)


def _part_tables(part: str | os.PathLike[str] | None) -> tuple[dict[str, pa.Table], list[str]]:
    if part is None:
        return {}, []
    root = Path(part)
    info = read_manifest(root)
    out: dict[str, pa.Table] = {}
    for name in TABLES:
        found = table_files(root, name)
        if found:
            out[name] = pq.read_table(root / name, schema=pq.read_schema(found[0]))
        elif (root / name).is_dir() or name in (info.get("tables") or {}):
            out[name] = SCHEMAS[name].empty_table()
    return out, list(info.get("data_keys") or [])


def _merged(base: Any, schema: pa.Schema) -> pa.Schema:
    """``base``'s schema with the columns of ``schema`` it lacks appended."""
    have = pa.schema(base.schema().to_arrow())
    return pa.schema([*have, *(f for f in schema if f.name not in set(have.names))])


def _live_keys(base: Any, ranges: list[int], data: pa.Table, candidates: list[str]) -> list[str]:
    """The ``data.<key>`` columns that hold a value after a merge: in the rewritten
    ranges (``data``) or, from the files' statistics, in the ranges left alone (a key
    without statistics is kept)."""
    actions = pa.table(base.get_add_actions(flatten=True))
    part = f"partition.{RANGE_COLUMN}"
    if part in actions.column_names and ranges:
        untouched = pc.invert(
            pc.is_in(actions.column(part).cast(pa.int64()), pa.array(ranges, pa.int64()))
        )
        actions = actions.filter(untouched)
    records = actions.column("num_records")
    keys = []
    for key in candidates:
        column = f"{_DATA}{key}"
        if column in data.column_names and data.column(column).null_count < data.num_rows:
            keys.append(key)
            continue
        stat = f"null_count.{column}"
        if stat not in actions.column_names:
            if column in base.schema().to_arrow().names and actions.num_rows:
                keys.append(key)
            continue
        nulls = pc.fill_null(actions.column(stat), records)
        if pc.any(pc.less(nulls, records)).as_py():
            keys.append(key)
    return keys


def write_delta(
    uri: str | os.PathLike[str],
    part: str | os.PathLike[str] | None,
    *,
    provenance: dict[str, Any],
    drop_tasks: Iterable[int] = (),
    full: bool,
    expected: DeltaState | None,
    storage_options: dict[str, str] | None = None,
    tasks_per_file: int = DEFAULT_TASKS_PER_FILE,
    target_file_size: int | None = None,
    compression: Compression = "zstd",
) -> DeltaWrite:
    """Write the Parquet dataset ``part`` into the Delta dataset at ``uri``.

    ``full=True`` overwrites every table with ``part``'s rows (creating the tables on the
    first run). ``full=False`` replaces every row of the tasks in ``part`` and removes the
    rows of ``drop_tasks``, rewriting only the task ranges that hold them, in one commit
    per table that changed; the ``tasks`` table is committed last with the version of
    every table (see :mod:`ls_frames.tables.delta.state`). Every commit carries
    ``provenance`` and the run's id in its commit metadata.

    Parameters
    ----------
    uri
        The dataset's folder or URI (``s3://bucket/prefix``).
    part
        A Parquet dataset written by :func:`~ls_frames.to_parquet`: the changed tasks
        (``None``: only drop).
    provenance
        What the run stores (``provenance["sync"]`` for ``sync_delta``).
    drop_tasks
        Task ids whose rows go (a task both in ``part`` and here is dropped).
    full
        Overwrite everything instead of merging.
    expected
        The state the run started from (:func:`delta_state`), ``None`` for a new dataset.
    storage_options
        Options for the object store (see the README for S3 and MinIO).
    tasks_per_file
        The width of the task ranges a new table is partitioned by (an existing table
        keeps its own; :func:`compact_delta` changes it).
    target_file_size
        Bytes at which delta-rs starts another file within a partition.
    compression
        The Parquet codec.

    Returns
    -------
    DeltaWrite
        The new state, the commits made and the bytes and files written and removed.

    Raises
    ------
    ConcurrentWriteError
        Another run committed since ``expected`` (no dataset version of this run exists).
    ConfigurationError
        ``full=False`` without ``expected``, a bad ``tasks_per_file``, ``uri`` holds
        something else, or deltalake is not installed.
    ExportFormatError
        ``part`` is not a complete ls_frames Parquet dataset.
    """
    check_storage_options(uri, storage_options)
    check_compression(compression)
    if int(tasks_per_file) < 1:
        raise ConfigurationError(f"tasks_per_file must be >= 1, not {tasks_per_file!r}")
    if not full and expected is None:
        raise ConfigurationError("a merge (full=False) needs expected=, the state it starts from")
    current = delta_state(uri, storage_options=storage_options)
    have = None if current is None else current.version
    if have != (None if expected is None else expected.version):
        raise concurrent("tasks", None if expected is None else expected.version, have)
    parts, new_keys = _part_tables(part)
    run = Run(uri, provenance, storage_options, compression, target_file_size)
    if full:
        return _full(run, parts, new_keys, current, int(tasks_per_file))
    assert expected is not None
    return _merge(run, parts, new_keys, expected, set(map(int, drop_tasks)), int(tasks_per_file))


def _finish(
    run: Run,
    versions: dict[str, int],
    widths: dict[str, int],
    tasks: Any,
    keys: list[str],
    rows: dict[str, int],
) -> DeltaWrite:
    state = DeltaState(
        version=versions["tasks"],
        versions=versions,
        provenance=run.provenance,
        rows=rows,
        timestamp=datetime.fromtimestamp(
            int(tasks.history(1)[0]["timestamp"]) / 1000, timezone.utc
        ),
        data_keys=tuple(keys),
        tasks_per_file=widths,
    )
    totals = {
        k: sum(t.get(k, 0) for t in run.per_table.values())
        for k in ("bytes_written", "bytes_removed", "files_written", "files_removed")
    }
    return DeltaWrite(state=state, commits=run.commits, per_table=run.per_table, **totals)


def _full(
    run: Run,
    parts: dict[str, pa.Table],
    keys: list[str],
    current: DeltaState | None,
    width: int,
) -> DeltaWrite:
    if "tasks" not in parts:
        raise ConfigurationError("a full write needs a part with a tasks table")
    versions: dict[str, int] = {}
    rows: dict[str, int] = {}
    widths = {name: width for name in parts}
    dl = deltalake()

    def one(name: str) -> Any:
        data = conform(parts[name], target_schema(name, keys), width)
        exists = dl.DeltaTable.is_deltatable(table_uri(run.uri, name), run.storage_options)
        table: Any = (
            open_table(run.uri, name, storage_options=run.storage_options) if exists else None
        )
        before = {} if table is None else files(table)
        chunks = range_chunks(data)
        for i, chunk in enumerate(chunks):
            metadata = run.document(name, width)
            if name == "tasks" and i == len(chunks) - 1:
                versions["tasks"] = 0 if table is None else int(table.version()) + 1
                rows["tasks"] = data.num_rows
                metadata = run.document(
                    name,
                    width,
                    versions=versions,
                    rows=rows,
                    data_keys=keys,
                    tasks_per_file=widths,
                )
            if table is None:  # delta-rs creates the table
                table = commit(
                    run,
                    name,
                    table,
                    chunk,
                    predicate=None,
                    width=width,
                    metadata=metadata,
                    create=True,
                )
            elif i == 0:
                table = overwrite_files(
                    run, name, table, chunk, schema=chunk.schema, metadata=metadata
                )
            else:
                table = commit_files(
                    run, name, table, chunk, replace=None, schema=chunk.schema, metadata=metadata
                )
        versions[name] = int(table.version())
        rows[name] = data.num_rows
        run.count(name, before, files(table))
        run.per_table[name]["commits"] = len(chunks)
        run.per_table[name]["rows_written"] = data.num_rows
        return table

    for name in commit_order(parts)[:-1]:
        one(name)
    tasks = one("tasks")
    return _finish(run, versions, widths, tasks, keys, rows)


@dataclass
class _Refresh:
    """What a refresh carries from one table to the next."""

    expected: DeltaState  # the dataset version the run started from
    parts: dict[str, pa.Table]  # the new rows, by table
    changed: pa.Array  # ids of the tasks changed or deleted
    drop: pa.Array  # ids of the tasks deleted
    versions: dict[str, int]
    rows: dict[str, int]
    widths: dict[str, int]
    keys: list[str]  # the dataset's data keys
    result: DeltaWrite | None = None


def _merge(
    run: Run,
    parts: dict[str, pa.Table],
    new_keys: list[str],
    expected: DeltaState,
    dropped: set[int],
    default_width: int,
) -> DeltaWrite:
    part_ids: set[int] = set()
    if "tasks" in parts:
        part_ids = set(parts["tasks"].column("task_id").to_pylist())
    old_keys = list(expected.data_keys)
    refresh = _Refresh(
        expected=expected,
        parts=parts,
        changed=pa.array(sorted(part_ids | dropped), pa.int64()),
        drop=pa.array(sorted(dropped), pa.int64()),
        versions=dict(expected.versions),
        rows=dict(expected.rows),
        widths=dict(expected.tasks_per_file or {}),
        keys=old_keys + [k for k in new_keys if k not in set(old_keys)],
    )
    order = commit_order([*parts, *expected.versions])
    for name in order:
        refresh.widths.setdefault(name, default_width)
    # one table after the other: of two runs from one state, the first table both change
    # decides which run goes on (tables prepared two at a time let each run win a table
    # and both fail)
    for name in order[:-1]:
        _merge_table(run, refresh, name)
    _merge_table(run, refresh, "tasks")
    assert refresh.result is not None
    return refresh.result


def _touched(
    run: Run, refresh: _Refresh, name: str, width: int, new: pa.Table
) -> tuple[Any, pa.Table, list[int]]:
    """Table ``name`` as the run found it (``None`` for a table the dataset does not have
    yet), the rows of the task ranges a changed task falls in, and those ranges."""
    if name in refresh.expected.versions:
        base = base_table(run, name, refresh.expected.versions[name])
        ranges = sorted({int(i) // width for i in refresh.changed.to_pylist()})
        old = files_dataset(base, table_uri(run.uri, name), run.storage_options, ranges).to_table()
        return base, old, ranges
    ranges = sorted({int(i) // width for i in new.column("task_id").to_pylist()})
    return None, pa.table({"task_id": pa.array([], pa.int64())}), ranges


def _merge_table(run: Run, refresh: _Refresh, name: str) -> None:
    """Replace the touched ranges of table ``name`` (kept rows, then new ones) in one
    commit; ``tasks`` (last) records the version map, or ``refresh.result`` says nothing
    changed at all."""
    last = name == "tasks"
    width = refresh.widths[name]
    new = refresh.parts.get(name, SCHEMAS[name].empty_table())
    new = new.filter(pc.invert(pc.is_in(new.column("task_id"), value_set=refresh.drop)))
    base, old, ranges = _touched(run, refresh, name, width, new)
    table_keys = refresh.keys
    if last and base is not None:
        present = [c[len(_DATA) :] for c in base.schema().to_arrow().names if c.startswith(_DATA)]
        table_keys = present + [k for k in refresh.keys if k not in set(present)]
    schema = target_schema(name, table_keys)
    hit = pc.is_in(old.column("task_id"), value_set=refresh.changed)
    after_rows = conform(new, schema, width)
    same = base is not None and conform(old.filter(hit), schema, width).equals(after_rows)
    if same and not last:
        return
    if same and not run.commits:
        refresh.result = DeltaWrite(refresh.expected, 0, 0, 0, 0, 0, {})  # nothing changed
        return
    if same:  # an empty commit that records the version map
        data = after_rows.slice(0, 0)
    else:
        kept = conform(old.filter(pc.invert(hit)), schema, width)
        # not sorted again: each range's file gets its kept rows, then its new ones
        # (sorting the concatenation cost a third of a merge's time)
        data = pa.concat_tables([kept, after_rows])
        refresh.rows[name] = refresh.rows.get(name, 0) - old.num_rows + data.num_rows
    metadata = run.document(name, width)
    if last:
        assert base is not None
        refresh.versions["tasks"] = int(base.version()) + 1
        refresh.keys = _live_keys(base, [] if same else ranges, data, table_keys)
        metadata = run.document(
            name,
            width,
            versions=refresh.versions,
            rows=refresh.rows,
            data_keys=refresh.keys,
            tasks_per_file=refresh.widths,
        )
    before = {} if base is None else files(base)
    if base is None:  # delta-rs creates the table
        table = commit(
            run, name, base, data, predicate=None, width=width, metadata=metadata, create=True
        )
    else:
        table = commit_files(
            run,
            name,
            base,
            data,
            replace=None if same else ranges,
            schema=_merged(base, schema),
            metadata=metadata,
        )
    refresh.versions[name] = int(table.version())
    run.count(name, before, files(table))
    entry = run.per_table[name]
    entry["commits"] = entry.get("commits", 0) + 1
    entry["rows_written"] = data.num_rows
    if last:
        refresh.result = _finish(
            run, refresh.versions, refresh.widths, table, refresh.keys, refresh.rows
        )
