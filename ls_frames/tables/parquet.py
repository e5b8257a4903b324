"""Stream an export into a Parquet dataset, one folder per table, in bounded memory.

The layout, the manifest and the staging/publish steps are the dataset format's
(:mod:`ls_frames.tables.dataset`): everything is written into a hidden sibling folder and
renamed into place at the end, the manifest last, so an interrupted or failed run never
leaves a dataset that looks complete (the temporary folder is removed on error). Each
file carries the provenance as JSON under the ``b"ls_frames"`` key of its schema metadata.
``tasks`` is spooled once without its ``data.<key>`` columns (their set is only known at
the end) and rewritten with them.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from ls_frames._progress import progress_bar
from ls_frames._version import __version__
from ls_frames._warnings import warn_outside
from ls_frames.reading import (
    DEFAULT_CHUNK_SIZE,
    SCHEMAS,
    ExportReader,
    LabelConfig,
    Source,
)
from ls_frames.reading.schemas import choose_tables
from ls_frames.tables.dataset import METADATA_KEY, manifest, publish, staging_dir
from ls_frames.tables.dtypes import Compression, check_compression, check_tables
from ls_frames.tables.folders import check_output_dir
from ls_frames.tables.parallel import Recut, check_workers, write_parallel
from ls_frames.tables.writer import DICTIONARY_COLUMNS, Background, TableWriter, expand_tasks

__all__ = ["to_parquet"]

_SPOOL = "_tasks_spool.parquet"


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
    strict: bool = False,
) -> Path:
    """Stream ``source`` into a Parquet dataset at ``out_dir``; returns ``out_dir``.

    ``provenance`` (project, export id, md5, server version, options, ...) is stored with
    ``ls_frames_version``, ``written_at`` and the label config in every file's metadata.
    Raises :class:`~ls_frames.OutputExistsError` if ``out_dir`` exists and ``overwrite``
    is false, and :class:`~ls_frames.errors.ExportFormatError` for malformed input
    (nothing is left then). Malformed result items are written as read and reported by one
    :class:`~ls_frames.MalformedResultWarning` (see :func:`~ls_frames.read_export`), or
    raise with ``strict=True``.

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
        12 MiB).
    compression
        The Parquet codec (``"zstd"``, ``"snappy"``, ...).
    overwrite
        Replace a dataset already at ``out_dir`` (it stays until the new one is complete).
    chunk_size
        Bytes read at a time.
    workers
        Processes flattening the file (1: this one alone). With more, ``source`` must
        be a file path: it is cut into ranges of whole tasks, and this process and
        ``workers - 1`` spawned ones each read their ranges from the file and write
        their own Parquet parts (``<table>/part-00000.parquet``, ... in file order);
        the dataset is the same, row for row. Scripts need the
        ``if __name__ == "__main__":`` guard (the workers are spawned).
    progress
        Show progress bars; ``None`` shows them unless ``LS_FRAMES_DISABLE_PROGRESS_BARS``
        is set.
    strict
        Raise :class:`~ls_frames.ExportFormatError` at the first malformed result item
        (no dataset is left) instead of writing it and warning.

    Returns
    -------
    pathlib.Path
        ``out_dir``.

    Raises
    ------
    OutputExistsError
        ``out_dir`` exists and ``overwrite`` is false (also a ``FileExistsError``).
    ExportFormatError
        The input is not a Label Studio JSON export (no dataset is left at ``out_dir``);
        with ``strict=True``, also a malformed result item.

    Warns
    -----
    MalformedResultWarning
        The export held malformed result items (written as read; not with ``strict=True``).
    ConfigurationError
        ``label_config`` is not XML, ``compression`` or a name in ``tables`` is unknown,
        ``out_dir`` is a file or cannot be written, ``workers`` is not a whole number >= 1,
        or it is more than 1 for bytes or a stream (all checked before any file is
        written).
    """
    out = Path(out_dir)
    check_compression(compression)
    tables = check_tables(tables)
    path = check_workers(workers, source, "to_parquet")
    check_output_dir(out, overwrite)
    info = _provenance(provenance, label_config, source)
    options: dict[str, Any] = dict(
        tables=tables,
        row_group_size=max(1, int(row_group_size)),
        compression=compression,
        chunk_size=chunk_size,
        progress=progress,
        strict=strict,
    )
    tmp = staging_dir(out)
    try:
        written = None
        if path is not None:
            try:
                written = _write_parallel(path, tmp, info, workers=workers, **options)
            except Recut:  # a fast-path cut to check: the exact scan, in this process
                shutil.rmtree(tmp)
                tmp = staging_dir(out)
        if written is None:
            written = _write(source, tmp, info, **options)
        publish(tmp, out, written)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def _write_parallel(
    path: str,
    tmp: Path,
    info: dict[str, Any],
    *,
    workers: int,
    tables: Iterable[str] | None,
    row_group_size: int,
    compression: str,
    chunk_size: int,
    progress: bool | None,
    strict: bool,
) -> dict[str, Any]:
    """The dataset written by ``workers`` processes (see :mod:`ls_frames.tables.parallel`)."""
    names = choose_tables(tables)
    with progress_bar(progress, desc="to_parquet", unit="task") as bar:
        done = write_parallel(
            path,
            tmp,
            json.dumps(info, default=str).encode(),
            tables=names,
            row_group_size=row_group_size,
            compression=compression,
            chunk_size=chunk_size,
            workers=workers,
            strict=strict,
        )
        bar.update(done.task_count)
    if done.report:
        warn_outside(done.report.warning())
    return manifest(done.rows, done.task_count, done.data_keys, info, done.files)


def _write(
    source: Source,
    tmp: Path,
    info: dict[str, Any],
    *,
    tables: Iterable[str] | None,
    row_group_size: int,
    compression: str,
    chunk_size: int,
    progress: bool | None,
    strict: bool,
) -> dict[str, Any]:
    meta = {METADATA_KEY: json.dumps(info, default=str).encode()}
    reader = ExportReader(source, tables=tables, chunk_size=chunk_size, strict=strict)
    writers: dict[str, TableWriter] = {}
    background = Background()
    try:
        for name in reader.tables:
            path = tmp / _SPOOL if name == "tasks" else tmp / name / "part-0000.parquet"
            writers[name] = TableWriter(
                path,
                SCHEMAS[name].with_metadata(meta),
                row_group_size,
                compression,
                DICTIONARY_COLUMNS.get(name, True),
                background,
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
        counts["tasks"] = expand_tasks(
            tmp / _SPOOL,
            tmp / "tasks" / "part-0000.parquet",
            list(reader.data_keys),
            meta,
            row_group_size,
            compression,
        )
        (tmp / _SPOOL).unlink()
    return manifest(
        {name: counts[name] for name in reader.tables},
        reader.task_count,
        list(reader.data_keys),
        info,
    )
