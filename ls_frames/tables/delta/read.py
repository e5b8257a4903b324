"""Read a Delta dataset version into :class:`~ls_frames.Frames`; compact and vacuum it."""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from datetime import datetime
from typing import Any, Literal

import pyarrow as pa
import pyarrow.compute as pc

from ls_frames.errors import ConfigurationError
from ls_frames.reading import SCHEMAS, TABLES, LabelConfig, parse_label_config, tasks_schema
from ls_frames.tables.delta.commit import Run, base_table, commit, files
from ls_frames.tables.delta.state import (
    DeltaState,
    delta_state,
    files_dataset,
    open_table,
    table_uri,
)
from ls_frames.tables.delta.write import _chunks, _conform, _order, _target
from ls_frames.tables.dtypes import DtypeBackend, types_mapper
from ls_frames.tables.frames import Frames, _config

__all__ = ["compact_delta", "read_delta"]


def _schema(name: str, state: DeltaState) -> pa.Schema:
    return tasks_schema(list(state.data_keys)) if name == "tasks" else SCHEMAS[name]


def _table(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """Delta's columns back in ls_frames' schema (list fields named ``item``, no range
    column), rows in ``task_id`` order."""
    columns = []
    for f in schema:
        i = table.schema.get_field_index(f.name)
        column = table.column(i) if i >= 0 else pa.nulls(table.num_rows, f.type)
        columns.append(column if column.type == f.type else column.cast(f.type))
    out = pa.Table.from_arrays(columns, schema=schema)
    if out.num_rows > 1:
        out = out.take(pc.sort_indices(out, [("task_id", "ascending")]))
    return out


def _state(
    uri: str | os.PathLike[str],
    storage_options: dict[str, str] | None,
    version: int | None = None,
    timestamp: datetime | str | None = None,
) -> DeltaState:
    state = delta_state(uri, storage_options=storage_options, version=version, timestamp=timestamp)
    if state is None:
        raise ConfigurationError(f"no ls_frames Delta dataset at {os.fspath(uri)}")
    return state


def read_delta(
    uri: str | os.PathLike[str],
    *,
    version: int | None = None,
    timestamp: datetime | str | None = None,
    storage_options: dict[str, str] | None = None,
    dtype_backend: DtypeBackend = "numpy_nullable",
    tables: Iterable[str] | None = None,
    label_config: str | LabelConfig | Literal[False] | None = None,
) -> Frames:
    """Read a dataset version written by :func:`~ls_frames.tables.delta.write_delta` (or
    ``sync_delta``) into :class:`~ls_frames.Frames`: the tables, columns and dtypes
    :func:`~ls_frames.read_parquet` gives for the same data, rows in ``task_id`` order.

    Parameters
    ----------
    uri
        The dataset's folder or URI (``s3://bucket/prefix``).
    version
        A dataset version (a version of its ``tasks`` table); the latest by default.
    timestamp
        Read the dataset version current at this time (aware datetime or ISO 8601).
    storage_options
        Options for the object store (``AWS_ENDPOINT_URL``, ``AWS_REGION``, keys, ...).
    dtype_backend
        ``"numpy_nullable"`` (the default) or ``"pyarrow"``.
    tables
        Only these of ``tasks, annotations, predictions, drafts, regions, relations``.
    label_config
        Use this label config (XML) instead of the one stored in the provenance.

    Returns
    -------
    Frames
        The tables; ``.provenance`` is what the run that wrote the version stored.

    Raises
    ------
    ConfigurationError
        Nothing (or something else) at ``uri``, a version that does not exist (the
        message names the versions there), files of an old version already vacuumed,
        the object store cannot be reached with ``storage_options`` (the message gives
        its error chain), or deltalake is not installed.
    """
    types_mapper(dtype_backend)
    state = _state(uri, storage_options, version, timestamp)
    wanted = [t for t in TABLES if t in state.versions and (tables is None or t in set(tables))]
    arrow: dict[str, pa.Table] = {}
    for name in wanted:
        table = open_table(uri, name, state.versions[name], storage_options)
        try:
            read = files_dataset(table, table_uri(uri, name), storage_options).to_table()
        except (FileNotFoundError, OSError) as exc:
            raise ConfigurationError(
                f"dataset version {state.version} of {os.fspath(uri)} can no longer be read: "
                f"its files were removed by a vacuum ({exc})"
            ) from None
        arrow[name] = _table(read, _schema(name, state))
    config = _config(label_config)
    if label_config is None and state.provenance.get("label_config"):
        config = parse_label_config(str(state.provenance["label_config"]))
    return Frames(
        arrow, dtype_backend=dtype_backend, label_config=config, provenance=state.provenance
    )


def compact_delta(
    uri: str | os.PathLike[str],
    *,
    retention_hours: float = 168,
    target_file_size: int | None = None,
    tasks_per_file: int | None = None,
    storage_options: dict[str, str] | None = None,
    dry_run: bool = False,
) -> dict[str, Any]:
    """Compact the tables of a Delta dataset and vacuum the files older versions need.

    Each table's files stay clustered by task id: ``tasks_per_file`` rewrites a table
    whose task ranges have another width into ranges of that width (wider ranges: fewer,
    larger files, faster readers, more bytes rewritten by each refresh); without it the
    files within each range are compacted (delta-rs ``optimize.compact``). Then files no
    version newer than ``retention_hours`` needs are deleted, and a ``tasks`` commit
    records the new dataset version (same rows). Versions older than the retention can
    no longer be read afterwards.

    Parameters
    ----------
    uri
        The dataset's folder or URI.
    retention_hours
        Keep the files every version of the last this many hours needs (rounded up to a
        whole hour; ``0`` keeps only the latest version's files).
    target_file_size
        Bytes per file for the compaction within a range.
    tasks_per_file
        Lay each table out again in task ranges of this width.
    storage_options
        Options for the object store.
    dry_run
        Only say what would be done.

    Returns
    -------
    dict
        ``{"version": new dataset version, "dry_run": bool, "tables": {name: {"files_before",
        "files_after", "vacuumed_files", "version"}}}``.

    Raises
    ------
    ConfigurationError
        No ls_frames Delta dataset at ``uri``, a negative retention or a bad
        ``tasks_per_file``.
    ConcurrentWriteError
        A run committed meanwhile.
    """
    if retention_hours < 0:
        raise ConfigurationError(f"retention_hours must be >= 0, not {retention_hours!r}")
    if tasks_per_file is not None and int(tasks_per_file) < 1:
        raise ConfigurationError(f"tasks_per_file must be >= 1, not {tasks_per_file!r}")
    state = _state(uri, storage_options)
    run = Run(uri, state.provenance, storage_options, "zstd", target_file_size)
    versions = dict(state.versions)
    widths = dict(state.tasks_per_file or {})
    report: dict[str, Any] = {"version": state.version, "dry_run": dry_run, "tables": {}}
    hours = math.ceil(retention_hours)
    for name in _order(state.versions):
        width = widths.get(name, 0)
        entry: dict[str, int] = {}
        report["tables"][name] = entry
        if dry_run:
            table = open_table(uri, name, state.versions[name], storage_options)
            entry["files_before"] = entry["files_after"] = len(files(table))
            entry["vacuumed_files"] = len(
                table.vacuum(hours, dry_run=True, enforce_retention_duration=False)
            )
            entry["version"] = versions[name]
            continue
        base = base_table(run, name, state.versions[name])
        entry["files_before"] = len(files(base))
        if tasks_per_file is not None and int(tasks_per_file) != width:
            width = widths[name] = int(tasks_per_file)
            whole = files_dataset(base, table_uri(uri, name), storage_options).to_table()
            data = _conform(whole, _columns(name, base), width)
            for i, chunk in enumerate(_chunks(data)):
                base = commit(
                    run,
                    name,
                    base,
                    chunk,
                    predicate=None,
                    width=width,
                    metadata=run.document(name, width, operation="relayout"),
                    create=i == 0,
                )
        else:
            base.optimize.compact(
                target_size=target_file_size,
                commit_properties=run.properties(run.document(name, width, operation="compact")),
            )
        table = open_table(uri, name, storage_options=storage_options)
        entry["vacuumed_files"] = len(
            table.vacuum(
                hours,
                dry_run=False,
                enforce_retention_duration=False,
                commit_properties=run.properties(run.document(name, width, operation="vacuum")),
            )
        )
        table = open_table(uri, name, storage_options=storage_options)
        entry["files_after"] = len(files(table))
        versions[name] = entry["version"] = int(table.version())
        if name == "tasks":
            versions["tasks"] = int(table.version()) + 1
            metadata = run.document(
                name,
                width,
                operation="compact",
                versions=versions,
                rows=state.rows,
                data_keys=list(state.data_keys),
                tasks_per_file=widths,
            )
            empty = _conform(
                pa.table({"task_id": pa.array([], pa.int64())}), _columns(name, table), width
            )
            table = commit(
                run,
                name,
                table,
                empty,
                predicate=None,
                width=width,
                metadata=metadata,
                create=False,
            )
            report["version"] = entry["version"] = int(table.version())
    return report


def _columns(name: str, table: Any) -> pa.Schema:
    """The table's own columns (data keys included) in ls_frames' types."""
    if name != "tasks":
        return _target(name, [])
    names = table.schema().to_arrow().names
    keys = [n[len("data.") :] for n in names if n.startswith("data.")]
    return _target(name, keys)
