"""Read what a local-files export storage wrote into :class:`Frames`."""

from __future__ import annotations

import os
from collections.abc import Iterable

import pyarrow as pa

from ls_frames.reading import SCHEMAS, LabelConfig, expand_data_columns
from ls_frames.reading.storage_files import STORAGE_FILE, StorageReader
from ls_frames.tables.dtypes import types_mapper
from ls_frames.tables.frames import Frames, _config, collect_batches

__all__ = ["read_storage"]


def read_storage(
    path: str | os.PathLike[str],
    *,
    label_config: str | LabelConfig | None = None,
    dtype_backend: str = "numpy_nullable",
    tables: Iterable[str] | None = None,
    files_per_batch: int = 2000,
    progress: bool | None = None,
) -> Frames:
    """Read the folder a local-files export storage syncs into: the same tables as
    :func:`~ls_frames.read_export`, plus a ``storage_file`` column (the file's name) in
    ``tasks`` and ``annotations``.

    Files are read ``files_per_batch`` at a time. A task written in several files (one
    per annotation) gives one ``tasks`` row. A malformed file raises
    :class:`~ls_frames.errors.ExportFormatError` naming it.
    """
    config = _config(label_config)
    types_mapper(dtype_backend)
    reader = StorageReader(path, tables=tables, files_per_batch=files_per_batch)
    parts = collect_batches(reader, reader.tables, lambda: reader.file_count, progress,
                            desc="read_storage", unit="file")
    arrow: dict[str, pa.Table] = {}
    for name in reader.tables:
        schema = SCHEMAS[name]
        if name in ("tasks", "annotations"):
            schema = schema.append(pa.field(STORAGE_FILE, pa.string()))
        arrow[name] = pa.Table.from_batches(parts[name], schema=schema)
    if "tasks" in arrow:
        arrow["tasks"] = expand_data_columns(arrow["tasks"], reader.data_keys)
    return Frames(arrow, dtype_backend=dtype_backend, label_config=config)
