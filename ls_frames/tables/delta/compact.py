"""Compact a Delta dataset: lay its tables out again or compact them, then vacuum.

Unlike reading, this rewrites data: each table's files are compacted within their task
ranges, or laid out again in ranges of another width (the rows conformed and cut into
streamed a chunk of ranges at a time by :mod:`~ls_frames.tables.delta.stream`, like a
full write), then files
no recent version needs are vacuumed and a ``tasks`` commit records the new dataset
version.
"""

from __future__ import annotations

import math
import os
from typing import Any

import pyarrow as pa

from ls_frames.errors import ConfigurationError
from ls_frames.tables.delta.commit import Run, base_table, commit, files
from ls_frames.tables.delta.files import overwrite_files
from ls_frames.tables.delta.layout import commit_order, conform, target_schema
from ls_frames.tables.delta.read import dataset_state
from ls_frames.tables.delta.state import DeltaState, files_dataset, open_table, table_uri
from ls_frames.tables.delta.stream import chunks

__all__ = ["compact_delta"]


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
    state = dataset_state(uri, storage_options)
    run = Run(uri, state.provenance, storage_options, "zstd", target_file_size)
    versions = dict(state.versions)
    widths = dict(state.tasks_per_file or {})
    report: dict[str, Any] = {"version": state.version, "dry_run": dry_run, "tables": {}}
    hours = math.ceil(retention_hours)
    for name in commit_order(state.versions):
        if dry_run:
            report["tables"][name] = _dry_run(run, name, state.versions[name], hours)
            continue
        width = widths.get(name, 0)
        relayout = False
        if tasks_per_file is not None and int(tasks_per_file) != width:
            width = widths[name] = int(tasks_per_file)
            relayout = True
        entry, table = _compact_table(
            run, name, state.versions[name], width, relayout, target_file_size, hours
        )
        report["tables"][name] = entry
        versions[name] = entry["version"]
        if name == "tasks":
            versions["tasks"] = entry["version"] + 1
            entry["version"] = _record_version(run, state, table, width, versions, widths)
            report["version"] = entry["version"]
    return report


def _dry_run(run: Run, name: str, version: int, hours: int) -> dict[str, int]:
    """What compacting table ``name`` would do: its files now, the files a vacuum
    would delete."""
    table = open_table(run.uri, name, version, run.storage_options)
    entry: dict[str, int] = {}
    entry["files_before"] = entry["files_after"] = len(files(table))
    entry["vacuumed_files"] = len(
        table.vacuum(hours, dry_run=True, enforce_retention_duration=False)
    )
    entry["version"] = version
    return entry


def _compact_table(
    run: Run,
    name: str,
    mapped: int,
    width: int,
    relayout: bool,
    target_file_size: int | None,
    hours: int,
) -> tuple[dict[str, int], Any]:
    """Lay table ``name`` out again in ranges of ``width`` tasks (``relayout``) or compact
    its files within their ranges, then vacuum it. Its counts and the table as it is."""
    base = base_table(run, name, mapped)
    entry: dict[str, int] = {"files_before": len(files(base))}
    if relayout:
        source = files_dataset(base, table_uri(run.uri, name), run.storage_options, ordered=True)
        schema = _columns(name, base)
        base = overwrite_files(
            run,
            name,
            base,
            chunks(source, schema, width),
            schema=schema,
            metadata=run.document(name, width, operation="relayout"),
        )
    else:
        base.optimize.compact(
            target_size=target_file_size,
            commit_properties=run.properties(run.document(name, width, operation="compact")),
        )
    table = open_table(run.uri, name, storage_options=run.storage_options)
    entry["vacuumed_files"] = len(
        table.vacuum(
            hours,
            dry_run=False,
            enforce_retention_duration=False,
            commit_properties=run.properties(run.document(name, width, operation="vacuum")),
        )
    )
    table = open_table(run.uri, name, storage_options=run.storage_options)
    entry["files_after"] = len(files(table))
    entry["version"] = int(table.version())
    return entry, table


def _record_version(
    run: Run,
    state: DeltaState,
    tasks: Any,
    width: int,
    versions: dict[str, int],
    widths: dict[str, int],
) -> int:
    """An empty ``tasks`` commit that records the new dataset version (same rows); its
    version."""
    metadata = run.document(
        "tasks",
        width,
        operation="compact",
        versions=versions,
        rows=state.rows,
        data_keys=list(state.data_keys),
        tasks_per_file=widths,
    )
    empty = conform(
        pa.table({"task_id": pa.array([], pa.int64())}), _columns("tasks", tasks), width
    )
    table = commit(
        run,
        "tasks",
        tasks,
        empty,
        predicate=None,
        width=width,
        metadata=metadata,
        create=False,
    )
    return int(table.version())


def _columns(name: str, table: Any) -> pa.Schema:
    """The table's own columns (data keys included) in ls_frames' types."""
    if name != "tasks":
        return target_schema(name, [])
    names = table.schema().to_arrow().names
    keys = [n[len("data.") :] for n in names if n.startswith("data.")]
    return target_schema(name, keys)
