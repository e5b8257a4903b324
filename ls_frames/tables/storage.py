"""Read what a local-files export storage wrote into :class:`Frames`."""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Literal

import pyarrow as pa

from ls_frames.reading import SCHEMAS, LabelConfig, expand_data_columns, resolve_label_config
from ls_frames.reading.storage_files import STORAGE_FILE, StorageReader
from ls_frames.tables.dtypes import DtypeBackend, types_mapper
from ls_frames.tables.frames import Frames, collect_batches

__all__ = ["read_storage"]


def read_storage(
    path: str | os.PathLike[str],
    *,
    label_config: str | LabelConfig | Literal[False] | None = None,
    dtype_backend: DtypeBackend = "numpy_nullable",
    tables: Iterable[str] | None = None,
    files_per_batch: int = 2000,
    progress: bool | None = None,
) -> Frames:
    """Read the folder a local-files export storage syncs into: the tables of
    :func:`~ls_frames.read_export`, plus a ``storage_file`` column (the file's name) in
    ``tasks`` and ``annotations``.

    The tables hold what the files hold: a per-annotation folder (the server's default)
    has no predictions or drafts (their counts in ``tasks`` are null) and no tasks without
    annotations; a per-task folder has predictions and drafts as ids only. Files are read
    ``files_per_batch`` at a time. A task written in several files gives one ``tasks`` row
    (from its first file, numeric names in numeric order), whose ``annotation_count`` is
    the number of its annotations in the folder. A file that is neither a task nor an
    annotation, or is malformed, raises :class:`~ls_frames.errors.ExportFormatError`
    naming it.

    Parameters
    ----------
    path
        The storage's folder (what a :class:`~ls_frames.LocalFilesExportStorage` syncs
        into).
    label_config
        The project's label config (XML); ``None`` means none.
    dtype_backend
        ``"numpy_nullable"`` (the default) or ``"pyarrow"``.
    tables
        Only these of ``tasks, annotations, predictions, drafts, regions, relations``;
        all by default.
    files_per_batch
        Files read per batch.
    progress
        Show progress bars; ``None`` shows them unless ``LS_FRAMES_DISABLE_PROGRESS_BARS``
        is set.

    Returns
    -------
    Frames
        The tables, with ``storage_file`` in ``tasks`` and ``annotations``.

    Raises
    ------
    ExportFormatError
        A file is malformed, or is neither a task nor an annotation (the error names it).
    ConfigurationError
        ``label_config`` is not XML, or ``dtype_backend`` is unknown.
    """
    config = resolve_label_config(label_config)
    types_mapper(dtype_backend)
    reader = StorageReader(path, tables=tables, files_per_batch=files_per_batch)
    parts = collect_batches(
        reader, reader.tables, lambda: reader.file_count, progress, desc="read_storage", unit="file"
    )
    arrow: dict[str, pa.Table] = {}
    for name in reader.tables:
        schema = SCHEMAS[name]
        if name in ("tasks", "annotations"):
            schema = schema.append(pa.field(STORAGE_FILE, pa.string()))
        arrow[name] = pa.Table.from_batches(parts[name], schema=schema)
    if "tasks" in arrow:
        tasks = expand_data_columns(arrow["tasks"], reader.data_keys)
        if "annotations" in arrow:
            tasks = _recount(tasks, arrow["annotations"])
        arrow["tasks"] = tasks
    return Frames(arrow, dtype_backend=dtype_backend, label_config=config)


def _recount(tasks: pa.Table, annotations: pa.Table) -> pa.Table:
    """``annotation_count`` from the annotations read (an annotation's file holds one)."""
    counts = annotations.group_by("task_id").aggregate([("annotation_id", "count")])
    lookup = dict(
        zip(
            counts.column("task_id").to_pylist(),
            counts.column("annotation_id_count").to_pylist(),
            strict=True,
        )
    )
    column = pa.array(
        [lookup.get(t, 0) for t in tasks.column("task_id").to_pylist()],
        tasks.schema.field("annotation_count").type,
    )
    return tasks.set_column(
        tasks.schema.get_field_index("annotation_count"), "annotation_count", column
    )
