"""Stream an export into a Parquet dataset, one folder per table, in bounded memory.

Layout::

    out_dir/
      tasks/part-0000.parquet  annotations/part-0000.parquet  ...  relations/part-0000.parquet
      _SUCCESS                 JSON manifest: tables, row counts, files, provenance

Everything is written into a hidden sibling folder and renamed into place at the end, the
manifest last, so an interrupted or failed run never leaves a dataset that looks complete
(the temporary folder is removed on error). Each file carries the provenance as JSON under
the ``b"ls_frames"`` key of its schema metadata. ``tasks`` is spooled once without its
``data.<key>`` columns (their set is only known at the end) and rewritten with them.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
import pyarrow.parquet as pq

from ls_frames._progress import progress_bar
from ls_frames._version import __version__
from ls_frames.errors import OutputExistsError
from ls_frames.reading import (
    DEFAULT_CHUNK_SIZE,
    SCHEMAS,
    ExportReader,
    LabelConfig,
    Source,
    expand_data_columns,
    tasks_schema,
)
from ls_frames.tables.dtypes import Compression
from ls_frames.tables.frames import METADATA_KEY

__all__ = ["to_parquet"]

_SPOOL = "_tasks_spool.parquet"
# dictionary-encode only the low-cardinality columns of the big tables (faster, smaller)
_DICTIONARY: dict[str, list[str]] = {
    "regions": ["source", "from_name", "to_name", "type", "origin", "labels.list.element",
                "label", "choices.list.element", "choice"],
    "relations": ["source", "direction", "labels.list.element"],
}


class _Background:
    """One thread that encodes and writes row groups while the next chunks are flattened
    (Arrow releases the GIL). At most one write waits, so memory stays bounded."""

    def __init__(self) -> None:
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ls_frames-parquet")
        self.last: Future[None] | None = None

    def submit(self, fn: Callable[[], None]) -> None:
        self.wait()
        self.last = self.pool.submit(fn)

    def wait(self) -> None:
        if self.last is not None:
            last, self.last = self.last, None
            last.result()


# a table's buffer is written out as a (smaller) row group once it holds this much, so
# memory does not grow with the file until the wide tables reach ``row_group_size`` rows
MAX_BUFFER_BYTES = 24 << 20


class _TableWriter:
    """Buffers record batches and writes row groups of ``row_group_size`` rows, or of
    what is buffered once that reaches ``MAX_BUFFER_BYTES``."""

    def __init__(
        self,
        path: Path,
        schema: pa.Schema,
        row_group_size: int,
        compression: str,
        dictionary: bool | list[str] = True,
        background: _Background | None = None,
    ) -> None:
        self.background = background
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.schema = schema
        self.row_group_size = row_group_size
        self.writer = pq.ParquetWriter(
            path, schema, compression=compression, use_dictionary=dictionary
        )
        self.buffer: list[pa.RecordBatch] = []
        self.buffered = 0
        self.buffered_bytes = 0
        self.rows = 0

    def add(self, batch: pa.RecordBatch | pa.Table) -> None:
        if isinstance(batch, pa.Table):
            self.buffer.extend(batch.to_batches())
        else:
            self.buffer.append(batch)
        self.buffered += batch.num_rows
        self.buffered_bytes += batch.nbytes
        if self.buffered >= self.row_group_size:
            self.flush(final=False)
        elif self.buffered_bytes >= MAX_BUFFER_BYTES:
            self.flush(final=False, everything=True)

    def flush(self, final: bool = True, everything: bool = False) -> None:
        """Write the buffer as full row groups (all of it when ``final`` or
        ``everything``; ``final`` also waits for the background write)."""
        if not self.buffer:
            return
        table = pa.Table.from_batches(self.buffer, schema=self.schema)
        keep = 0 if final or everything else table.num_rows % self.row_group_size
        out = table.slice(0, table.num_rows - keep)
        self.rows += out.num_rows
        self.buffer = table.slice(table.num_rows - keep).to_batches() if keep else []
        self.buffered = keep
        self.buffered_bytes = sum(b.nbytes for b in self.buffer)

        def write() -> None:
            self.writer.write_table(out, row_group_size=self.row_group_size)
            pa.default_memory_pool().release_unused()  # keep the RSS flat (mimalloc holds on)

        if self.background is None or final:
            if self.background is not None:
                self.background.wait()
            write()
        else:
            self.background.submit(write)

    def close(self) -> None:
        self.flush()
        self.writer.close()


def _provenance(
    provenance: dict[str, Any] | None,
    label_config: str | LabelConfig | Literal[False] | None,
    source: Source,
) -> dict[str, Any]:
    info: dict[str, Any] = dict(provenance or {})
    info.setdefault("ls_frames_version", __version__)
    info.setdefault("written_at", datetime.now(timezone.utc).isoformat())
    if isinstance(source, (str, os.PathLike)):
        info.setdefault("source_file", os.path.basename(os.fspath(source)))
    if isinstance(label_config, str):
        info.setdefault("label_config", label_config)
    return info


def to_parquet(
    source: Source,
    out_dir: str | os.PathLike[str],
    *,
    provenance: dict[str, Any] | None = None,
    label_config: str | LabelConfig | Literal[False] | None = None,
    tables: Iterable[str] | None = None,
    row_group_size: int = 131_072,
    compression: Compression = "zstd",
    overwrite: bool = False,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    workers: int = 1,
    progress: bool | None = None,
) -> Path:
    """Stream ``source`` into a Parquet dataset at ``out_dir``; returns ``out_dir``.

    ``provenance`` (project, export id, md5, server version, options, ...) is stored with
    ``ls_frames_version``, ``written_at`` and the label config in every file's metadata.
    Raises :class:`~ls_frames.OutputExistsError` if ``out_dir`` exists and ``overwrite``
    is false, and :class:`~ls_frames.errors.ExportFormatError` for malformed input
    (nothing is left then).

    Parameters
    ----------
    source
        A JSON export: a path, the bytes, or a binary file object.
    out_dir
        The dataset's folder: one subfolder per table, a ``_SUCCESS`` file when complete.
    provenance
        Where the export came from, stored in every file's metadata.
    label_config
        The project's label config (XML), stored with the dataset; ``None`` means none.
    tables
        Only these of ``tasks, annotations, predictions, drafts, regions, relations``;
        all by default.
    row_group_size
        Rows per Parquet row group (a row group is also written once its buffer holds
        24 MiB).
    compression
        The Parquet codec (``"zstd"``, ``"snappy"``, ...).
    overwrite
        Replace a dataset already at ``out_dir`` (it stays until the new one is complete).
    chunk_size
        Bytes read at a time.
    workers
        Processes decoding chunks (1: in this process).
    progress
        Show progress bars; ``None`` shows them unless ``LS_FRAMES_DISABLE_PROGRESS_BARS``
        is set.

    Returns
    -------
    pathlib.Path
        ``out_dir``.

    Raises
    ------
    OutputExistsError
        ``out_dir`` exists and ``overwrite`` is false (also a ``FileExistsError``).
    ExportFormatError
        The input is not a Label Studio JSON export (no dataset is left at ``out_dir``).
    ConfigurationError
        ``label_config`` is not XML.
    """
    out = Path(out_dir)
    if out.exists() and not overwrite:
        raise OutputExistsError(out)
    tmp = staging_dir(out)
    try:
        written = _write(
            source, tmp, _provenance(provenance, label_config, source), tables=tables,
            row_group_size=max(1, int(row_group_size)), compression=compression,
            chunk_size=chunk_size, workers=workers, progress=progress,
        )
        publish(tmp, out, written)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def staging_dir(out: Path) -> Path:
    """A fresh hidden sibling of ``out`` to write a dataset into before :func:`publish`."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.tmp-{uuid.uuid4().hex[:12]}"
    tmp.mkdir()
    return tmp


def publish(tmp: Path, out: Path, manifest: dict[str, Any]) -> None:
    """Write the manifest into ``tmp`` (last) and rename ``tmp`` into place; an old
    dataset at ``out`` is moved aside first and removed after."""
    (tmp / "_SUCCESS").write_text(json.dumps(manifest, indent=2, default=str))
    if out.exists():
        old = out.parent / f".{out.name}.old-{uuid.uuid4().hex[:12]}"
        out.rename(old)
        try:
            tmp.rename(out)
        except BaseException:
            old.rename(out)  # the previous dataset back under its name
            raise
        shutil.rmtree(old, ignore_errors=True)
    else:
        tmp.rename(out)


def recover(out: Path) -> Path | None:
    """Put a dataset back at ``out`` after a process died between :func:`publish`'s two
    renames (``out`` gone, complete hidden siblings left). The newer one wins: the staged
    dataset if its manifest was written, else the one moved aside. Returns what was
    restored, or ``None`` when there was nothing to do."""
    if out.exists():
        return None
    staged = [p for p in out.parent.glob(f".{out.name}.tmp-*") if (p / "_SUCCESS").is_file()]
    aside = [p for p in out.parent.glob(f".{out.name}.old-*") if (p / "_SUCCESS").is_file()]
    for group in (staged, aside):
        if group:
            best = max(group, key=lambda p: (p / "_SUCCESS").stat().st_mtime)
            best.rename(out)
            return best
    return None


def manifest(
    counts: dict[str, int], task_count: int, data_keys: list[str], info: dict[str, Any]
) -> dict[str, Any]:
    """The ``_SUCCESS`` manifest of a dataset with one ``part-0000.parquet`` per table."""
    return {
        "format": "ls_frames-parquet",
        "version": 1,
        "tables": {
            name: {"rows": rows, "files": [f"{name}/part-0000.parquet"]}
            for name, rows in counts.items()
        },
        "task_count": task_count,
        "data_keys": data_keys,
        "provenance": info,
    }


def _write(
    source: Source,
    tmp: Path,
    info: dict[str, Any],
    *,
    tables: Iterable[str] | None,
    row_group_size: int,
    compression: str,
    chunk_size: int,
    workers: int,
    progress: bool | None,
) -> dict[str, Any]:
    meta = {METADATA_KEY: json.dumps(info, default=str).encode()}
    reader = ExportReader(source, tables=tables, chunk_size=chunk_size, workers=workers)
    writers: dict[str, _TableWriter] = {}
    background = _Background()
    try:
        for name in reader.tables:
            path = tmp / _SPOOL if name == "tasks" else tmp / name / "part-0000.parquet"
            writers[name] = _TableWriter(
                path, SCHEMAS[name].with_metadata(meta), row_group_size, compression,
                _DICTIONARY.get(name, True), background,
            )
        with progress_bar(progress, desc="to_parquet", unit="task") as bar:
            for batches in reader:
                for name, batch in batches.items():
                    if batch.num_rows:
                        writers[name].add(batch)
                bar.update(reader.task_count - bar.n)
        background.wait()
        for w in writers.values():
            w.close()
    except BaseException:
        with contextlib.suppress(Exception):
            background.wait()
        for w in writers.values():
            w.writer.close()
        raise
    finally:
        background.pool.shutdown(wait=True)
    counts = {name: w.rows for name, w in writers.items()}
    if "tasks" in writers:
        counts["tasks"] = _expand_tasks(
            tmp / _SPOOL, tmp / "tasks" / "part-0000.parquet", list(reader.data_keys), meta,
            row_group_size, compression,
        )
        (tmp / _SPOOL).unlink()
    return manifest({name: counts[name] for name in reader.tables}, reader.task_count,
                    list(reader.data_keys), info)


def _expand_tasks(
    spool: Path,
    target: Path,
    keys: list[str],
    meta: dict[bytes, bytes],
    row_group_size: int,
    compression: str,
) -> int:
    writer = _TableWriter(target, tasks_schema(keys).with_metadata(meta), row_group_size,
                          compression)
    try:
        with pq.ParquetFile(spool) as spooled:
            for batch in spooled.iter_batches(batch_size=65_536):
                writer.add(expand_data_columns(batch, keys))
    finally:
        writer.close()
    return writer.rows
