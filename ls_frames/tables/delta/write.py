"""Write a Delta dataset: everything once, then only the task ranges that changed.

Every table is partitioned by ``task_range = task_id // width`` (each table its own width:
by default the one that puts about
:data:`~ls_frames.tables.delta.stream.ROWS_PER_FILE` of its rows in a range); a partition
holds one file, or a few when its rows did not fit one chunk, rows in ``task_id`` order.
A full write streams the part's tables a chunk of ranges at a time
(:mod:`ls_frames.tables.delta.stream`) into files written with ``pyarrow.parquet`` and
commits each table once (a new table is created by that commit), the dataset version
being its ``tasks`` commit. A refresh (``full=False``)
reads the partitions that hold a changed or deleted task, drops those tasks' rows, adds
their new rows and replaces exactly those partitions in one commit per table (the files
written a group of ranges at a time, then one
``create_write_transaction(mode="overwrite")`` filtered on those ranges: a delete and an
insert in one transaction, the delete on partition values only, no scan; see
:mod:`ls_frames.tables.delta.files`). Nothing else is read or rewritten. With
copy-on-write (delta-rs writes no deletion vectors) ``k`` scattered changes touch about
``1 - exp(-k / ranges)`` of a table's ranges; a file costs about as much to rewrite as
~1,700 of its rows, so ranges of many rows make a refresh cheap as long as it is much
cheaper than a snapshot of the project.

Commits are made without retries against the versions the run started from
(``max_commit_retries=0``), the ``tasks`` table last with the map of every table's
version (:mod:`ls_frames.tables.delta.state`). Of two runs from the same state one commits;
the other raises :class:`~ls_frames.errors.ConcurrentWriteError`. A table whose latest
version is past the map (a run killed before its ``tasks`` commit, or one that lost a race)
is first restored to the mapped version, so what the map names is always what a run wrote.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pds
import pyarrow.parquet as pq

from ls_frames.errors import ConfigurationError
from ls_frames.reading import SCHEMAS, TABLES
from ls_frames.tables.dataset import read_manifest, table_files
from ls_frames.tables.delta.commit import Run, base_table, concurrent, files
from ls_frames.tables.delta.files import (
    WholeRanges,
    commit_files,
    create_files,
    overwrite_files,
)
from ls_frames.tables.delta.layout import commit_order, conform, target_schema
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
from ls_frames.tables.delta.stream import CHUNK_ROWS, auto_width, chunks, task_span
from ls_frames.tables.dtypes import Compression, check_compression

__all__ = ["DEFAULT_TASKS_PER_FILE", "DeltaWrite", "write_delta"]

#: the default range width: ``None``, each table's width chosen at a full write so that a
#: range file holds about :data:`~ls_frames.tables.delta.stream.ROWS_PER_FILE` rows (a
#: file costs as much as ~1,700 rows to rewrite: see :mod:`~ls_frames.tables.delta.stream`)
DEFAULT_TASKS_PER_FILE: int | None = None
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


def _part_sources(
    part: str | os.PathLike[str] | None,
) -> tuple[dict[str, pds.Dataset], list[str]]:
    """The tables of the Parquet dataset ``part`` as datasets (nothing read yet) and its
    data keys."""
    if part is None:
        return {}, []
    root = Path(part)
    info = read_manifest(root)
    out: dict[str, pds.Dataset] = {}
    for name in TABLES:
        found = table_files(root, name)
        if found:
            schema = pq.read_schema(found[0])
            out[name] = pds.dataset([str(f) for f in found], schema=schema, format="parquet")
        elif (root / name).is_dir() or name in (info.get("tables") or {}):
            out[name] = pds.dataset(SCHEMAS[name].empty_table())
    return out, list(info.get("data_keys") or [])


def _merged(base: Any, schema: pa.Schema) -> pa.Schema:
    """``base``'s schema with the columns of ``schema`` it lacks appended."""
    have = pa.schema(base.schema().to_arrow())
    return pa.schema([*have, *(f for f in schema if f.name not in set(have.names))])


def _live_keys(base: Any, ranges: list[int], values: set[str], candidates: list[str]) -> list[str]:
    """The ``data.<key>`` columns that hold a value after a merge: in the rewritten
    ranges (``values``, the columns found there) or, from the files' statistics, in the
    ranges left alone (a key without statistics is kept)."""
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
        if column in values:
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
    tasks_per_file: int | None = DEFAULT_TASKS_PER_FILE,
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
        The width of the task ranges a full write lays every table out in; ``None``
        (the default) gives each table the width that puts about
        :data:`~ls_frames.tables.delta.stream.ROWS_PER_FILE` of its rows in a range. A
        merge keeps the tables' widths (:func:`compact_delta` changes them).
    target_file_size
        Bytes after which a range written over several chunks goes on in another file
        of its partition.
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
    if tasks_per_file is not None and int(tasks_per_file) < 1:
        raise ConfigurationError(f"tasks_per_file must be >= 1, not {tasks_per_file!r}")
    if not full and expected is None:
        raise ConfigurationError("a merge (full=False) needs expected=, the state it starts from")
    current = delta_state(uri, storage_options=storage_options)
    have = None if current is None else current.version
    if have != (None if expected is None else expected.version):
        raise concurrent("tasks", None if expected is None else expected.version, have)
    sources, new_keys = _part_sources(part)
    run = Run(uri, provenance, storage_options, compression, target_file_size)
    width = None if tasks_per_file is None else int(tasks_per_file)
    if full:
        return _full(run, sources, new_keys, width)
    assert expected is not None
    parts = {name: source.to_table() for name, source in sources.items()}
    return _merge(run, parts, new_keys, expected, set(map(int, drop_tasks)), width)


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


def _widths(sources: dict[str, pds.Dataset], width: int | None) -> dict[str, int]:
    """Each table's range width: ``width``, or the width that gives it ranges of about
    :data:`~ls_frames.tables.delta.stream.ROWS_PER_FILE` rows."""
    if width is not None:
        return {name: width for name in sources}
    ids = sources["tasks"].to_table(columns=["task_id"]).column(0)
    tasks, span = len(ids), task_span(ids)
    return {name: auto_width(source.count_rows(), tasks, span) for name, source in sources.items()}


def _full(
    run: Run,
    sources: dict[str, pds.Dataset],
    keys: list[str],
    width: int | None,
) -> DeltaWrite:
    """Every table replaced by the part's rows, streamed range by range into files
    pyarrow writes, one commit per table (a new table is created by that commit)."""
    if "tasks" not in sources:
        raise ConfigurationError("a full write needs a part with a tasks table")
    versions: dict[str, int] = {}
    rows = {name: source.count_rows() for name, source in sources.items()}
    widths = _widths(sources, width)
    dl = deltalake()
    table: Any = None
    for name in commit_order(sources):
        schema = target_schema(name, keys)
        exists = dl.DeltaTable.is_deltatable(table_uri(run.uri, name), run.storage_options)
        table = open_table(run.uri, name, storage_options=run.storage_options) if exists else None
        metadata = run.document(name, widths[name])
        if name == "tasks":
            versions["tasks"] = 0 if table is None else int(table.version()) + 1
            metadata = run.document(
                name,
                widths[name],
                versions=versions,
                rows=rows,
                data_keys=keys,
                tasks_per_file=widths,
            )
        before = {} if table is None else files(table)
        data = chunks(sources[name], schema, widths[name])
        if table is None:
            table = create_files(run, name, data, schema=schema, metadata=metadata)
        else:
            table = overwrite_files(run, name, table, data, schema=schema, metadata=metadata)
        versions[name] = int(table.version())
        run.count(name, before, files(table))
        run.per_table[name]["commits"] = 1
        run.per_table[name]["rows_written"] = rows[name]
    return _finish(run, versions, widths, table, keys, rows)


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
    touched: list[int] = field(default_factory=list)  # the ranges the table's commit replaces


def _merge(
    run: Run,
    parts: dict[str, pa.Table],
    new_keys: list[str],
    expected: DeltaState,
    dropped: set[int],
    default_width: int | None,
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
        refresh.widths.setdefault(name, default_width or refresh.widths.get("tasks") or 1)
    # one table after the other: of two runs from one state, the first table both change
    # decides which run goes on (tables prepared two at a time let each run win a table
    # and both fail)
    for name in order[:-1]:
        _merge_table(run, refresh, name)
    _merge_table(run, refresh, "tasks")
    assert refresh.result is not None
    return refresh.result


def _groups(actions: pa.Table, ranges: list[int]) -> list[list[int]]:
    """``ranges`` in groups of about :data:`~ls_frames.tables.delta.stream.CHUNK_ROWS`
    rows (by the files' statistics in ``actions``), read and rewritten one at a time."""
    column = f"partition.{RANGE_COLUMN}"
    counts: dict[int, int] = {}
    if column in actions.column_names:
        for r, n in zip(
            actions.column(column).cast(pa.int64()).to_pylist(),
            pc.fill_null(actions.column("num_records"), 0).to_pylist(),
            strict=True,
        ):
            counts[int(r)] = counts.get(int(r), 0) + int(n)
    groups: list[list[int]] = [[]]
    held = 0
    for r in ranges:
        if groups[-1] and held + counts.get(r, 0) > CHUNK_ROWS:
            groups.append([])
            held = 0
        groups[-1].append(r)
        held += counts.get(r, 0)
    return groups


def _touched(
    run: Run, name: str, base: Any, ranges: list[int]
) -> Iterator[tuple[list[int], pds.Dataset]]:
    """The files of ``base``'s ``ranges``, a group of ranges at a time (the add actions
    read once): each group and its files."""
    actions = pa.table(base.get_add_actions(flatten=True))
    uri = table_uri(run.uri, name)
    for group in _groups(actions, ranges):
        yield group, files_dataset(base, uri, run.storage_options, group, actions=actions)


def _rewritten(
    run: Run, name: str, base: Any, refresh: _Refresh, schema: pa.Schema, new: pa.Table
) -> Iterator[pa.Table]:
    """The touched ranges as they become, a group of ranges at a time, in task order (so
    that a re-layout reads the files in one pass)."""
    width = refresh.widths[name]
    keep = pc.invert(pc.field("task_id").isin(refresh.changed))
    ranges = new.column(RANGE_COLUMN)
    for group, old in _touched(run, name, base, refresh.touched):
        kept = conform(old.to_table(filter=keep), schema, width, sort=False)
        added = new.filter(pc.is_in(ranges, pa.array(group, pa.int64())))
        yield conform(pa.concat_tables([kept, added]), schema, width)


def _values(run: Run, base: Any, refresh: _Refresh, new: pa.Table, keys: list[str]) -> set[str]:
    """The ``data.<key>`` columns that hold a value in the rewritten ranges: in the new
    rows or in the rows kept (only those columns are read)."""
    have = set(pa.schema(base.schema().to_arrow()).names)
    columns = [f"{_DATA}{k}" for k in keys if f"{_DATA}{k}" in have]
    keep = pc.invert(pc.field("task_id").isin(refresh.changed))
    found: set[str] = set()
    for _, old in _touched(run, "tasks", base, refresh.touched):
        kept = old.to_table(columns=columns, filter=keep)
        found |= {c for c in columns if kept.column(c).null_count < kept.num_rows}
    return found | {
        c
        for c in new.column_names
        if c.startswith(_DATA) and new.column(c).null_count < new.num_rows
    }


def _merge_table(run: Run, refresh: _Refresh, name: str) -> None:
    """Replace the touched ranges of table ``name`` (kept rows, then new ones) in one
    commit, streamed a group of ranges at a time; ``tasks`` (last) records the version
    map, or ``refresh.result`` says nothing changed at all."""
    last = name == "tasks"
    width = refresh.widths[name]
    new = refresh.parts.get(name, SCHEMAS[name].empty_table())
    new = new.filter(pc.invert(pc.is_in(new.column("task_id"), value_set=refresh.drop)))
    base = None
    if name in refresh.expected.versions:
        base = base_table(run, name, refresh.expected.versions[name])
        ids = refresh.changed.to_numpy(zero_copy_only=False)
    else:
        ids = new.column("task_id").to_numpy()
    refresh.touched = sorted({int(i) // width for i in ids.tolist()})
    table_keys = refresh.keys
    if last and base is not None:
        present = [c[len(_DATA) :] for c in base.schema().to_arrow().names if c.startswith(_DATA)]
        table_keys = present + [k for k in refresh.keys if k not in set(present)]
    schema = target_schema(name, table_keys)
    after_rows = conform(new, schema, width)
    old_rows = 0
    same = False
    if base is not None:
        wanted = pc.field("task_id").isin(refresh.changed)
        groups = [files for _, files in _touched(run, name, base, refresh.touched)]
        old_rows = sum(group.count_rows(filter=wanted) for group in groups)
        if old_rows == after_rows.num_rows:  # else the rows changed: no need to compare
            olds = [conform(g.to_table(filter=wanted), schema, width) for g in groups]
            same = conform(pa.concat_tables(olds), schema, width).equals(after_rows)
    if same and not last:
        return
    if same and not run.commits:
        refresh.result = DeltaWrite(refresh.expected, 0, 0, 0, 0, 0, {})  # nothing changed
        return
    data: Any = after_rows.slice(0, 0) if same else after_rows
    if not same:
        refresh.rows[name] = refresh.rows.get(name, 0) - old_rows + after_rows.num_rows
        if base is not None:
            data = WholeRanges(_rewritten(run, name, base, refresh, schema, after_rows))
    metadata = run.document(name, width)
    if last:
        assert base is not None
        refresh.versions["tasks"] = int(base.version()) + 1
        values = set() if same else _values(run, base, refresh, after_rows, table_keys)
        refresh.keys = _live_keys(base, [] if same else refresh.touched, values, table_keys)
        metadata = run.document(
            name,
            width,
            versions=refresh.versions,
            rows=refresh.rows,
            data_keys=refresh.keys,
            tasks_per_file=refresh.widths,
        )
    before = {} if base is None else files(base)
    if base is None:
        table = create_files(run, name, data, schema=schema, metadata=metadata)
    else:
        table = commit_files(
            run,
            name,
            base,
            data,
            replace=None if same else refresh.touched,
            schema=_merged(base, schema),
            metadata=metadata,
        )
    refresh.versions[name] = int(table.version())
    run.count(name, before, files(table))
    entry = run.per_table[name]
    entry["commits"] = entry.get("commits", 0) + 1
    entry["rows_written"] = after_rows.num_rows
    if last:
        refresh.result = _finish(
            run, refresh.versions, refresh.widths, table, refresh.keys, refresh.rows
        )
