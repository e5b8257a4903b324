"""Commits of one run: conditional on the versions the run started from, each carrying the
run's document (see :mod:`ls_frames.tables.delta.state`), counted in bytes and files."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

import pyarrow as pa

from ls_frames.errors import ConcurrentWriteError, ConfigurationError
from ls_frames.provenance import Provenance
from ls_frames.tables.delta.state import (
    COMMIT_KEY,
    FORMAT,
    FORMAT_VERSION,
    RANGE_COLUMN,
    deltalake,
    open_table,
    table_uri,
)

__all__ = ["Run", "base_table", "commit", "concurrent", "files"]


def files(table: Any) -> dict[str, int]:
    """``{path: bytes}`` of the files of ``table`` at its loaded version."""
    actions = pa.table(table.get_add_actions(flatten=True))
    return dict(
        zip(
            actions.column("path").to_pylist(),
            actions.column("size_bytes").to_pylist(),
            strict=True,
        )
    )


def concurrent(name: str, expected: int | None, found: int | None) -> ConcurrentWriteError:
    """The error for a table found at another version than the run expected."""
    return ConcurrentWriteError(
        f"the {name} table is at version {found} where this run expected {expected}: "
        "another run committed meanwhile; read the dataset's state again and rerun",
        table=name,
        expected=expected,
        found=found,
    )


class Run:
    """One write: its options, the documents of its commits and the counts."""

    def __init__(
        self,
        uri: str | os.PathLike[str],
        provenance: Mapping[str, Any],
        storage_options: dict[str, str] | None,
        compression: str,
        target_file_size: int | None,
    ) -> None:
        self.uri = uri
        self.provenance = Provenance.from_dict(provenance)  # what each commit carries
        self.storage_options = storage_options
        self.run_id = uuid.uuid4().hex
        self.started = datetime.now(timezone.utc).isoformat()
        self.target_file_size = target_file_size
        self.compression = compression
        codec = "UNCOMPRESSED" if compression == "none" else compression.upper()
        self.writer = deltalake().WriterProperties(compression=codec)
        self.commits = 0
        self.per_table: dict[str, dict[str, int]] = {}

    def document(self, name: str, width: int, **more: Any) -> dict[str, str]:
        doc = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "run_id": self.run_id,
            "run_started_at": self.started,
            "table": name,
            "tasks_per_file": width,
            "provenance": self.provenance.to_dict(),
            **more,
        }
        return {COMMIT_KEY: json.dumps(doc, default=str)}

    def properties(self, metadata: dict[str, str]) -> Any:
        return deltalake().CommitProperties(custom_metadata=metadata, max_commit_retries=0)

    def count(self, name: str, before: dict[str, int], after: dict[str, int]) -> None:
        written = {p: s for p, s in after.items() if p not in before}
        removed = {p: s for p, s in before.items() if p not in after}
        entry = self.per_table.setdefault(
            name,
            {
                "commits": 0,
                "bytes_written": 0,
                "bytes_removed": 0,
                "files_written": 0,
                "files_removed": 0,
                "rows_written": 0,
            },
        )
        entry["bytes_written"] += sum(written.values())
        entry["bytes_removed"] += sum(removed.values())
        entry["files_written"] += len(written)
        entry["files_removed"] += len(removed)


def commit(
    run: Run,
    name: str,
    base: Any,
    data: pa.Table,
    *,
    predicate: str | None,
    width: int,
    metadata: dict[str, str],
    create: bool,
) -> Any:
    """Write ``data`` into table ``name`` as one commit made on top of ``base`` (a
    DeltaTable at a version, or ``None`` to create it); returns the table at the new
    version. A commit someone else made first raises :class:`ConcurrentWriteError`."""
    dl = deltalake()
    expected = None if base is None else int(base.version())
    target = table_uri(run.uri, name) if base is None else base
    options: dict[str, Any] = {}
    if base is None:
        options["configuration"] = {"delta.dataSkippingNumIndexedCols": "-1"}
    try:
        dl.write_deltalake(
            target,
            data,
            mode="overwrite" if (create or predicate is not None) else "append",
            predicate=predicate,
            partition_by=[RANGE_COLUMN],
            schema_mode="overwrite" if create else "merge",
            storage_options=run.storage_options if base is None else None,
            target_file_size=run.target_file_size,
            writer_properties=run.writer,
            commit_properties=run.properties(metadata),
            **options,
        )
    except dl.exceptions.CommitFailedError:
        latest = (
            open_table(run.uri, name, storage_options=run.storage_options).version()
            if dl.DeltaTable.is_deltatable(table_uri(run.uri, name), run.storage_options)
            else None
        )
        raise concurrent(name, expected, latest) from None
    run.commits += 1
    if (
        base is not None and expected is not None and base.version() == expected + 1
    ):  # delta-rs moved it along
        return base
    if expected is None:
        return open_table(run.uri, name, storage_options=run.storage_options)
    return open_table(run.uri, name, expected + 1, run.storage_options)


def base_table(run: Run, name: str, mapped: int) -> Any:
    """The table at the version the dataset maps, restored first when later commits
    exist that no dataset version names (a run killed before its ``tasks`` commit)."""
    latest = open_table(run.uri, name, storage_options=run.storage_options)
    if latest.version() == mapped:
        return latest
    if latest.version() < mapped:
        raise ConfigurationError(
            f"the {name} table is at version {latest.version()}, behind the dataset's "
            f"version map ({mapped}): the dataset was damaged"
        )
    at = int(latest.version())
    try:
        latest.restore(
            mapped,
            commit_properties=run.properties(run.document(name, 0, operation="restore")),
        )
    except deltalake().exceptions.CommitFailedError:
        raise concurrent(name, at, at + 1) from None
    run.commits += 1
    return open_table(run.uri, name, at + 1, run.storage_options)
