"""Pure reading layer: export bytes in, Arrow record batches out (no HTTP, no pandas).

Pipeline: :func:`iter_chunks` (boundary scan) -> :func:`decode_chunk` (msgspec) ->
:func:`flatten_tasks` (column lists -> Arrow), tied together by :class:`ExportReader`.
Beside it, the label config: :func:`parse_label_config` reads its control and object
tags, :func:`resolve_label_config` says what a ``label_config=`` argument means, and
:mod:`ls_frames.reading.controls` is the one registry of control types (which tags are
boxes, polygons, spans, choices, ...) that every layer above asks.
"""

from ls_frames.reading.chunker import DEFAULT_CHUNK_SIZE, Chunk, iter_chunks
from ls_frames.reading.config import (
    Control,
    LabelConfig,
    ObjectTag,
    parse_label_config,
    resolve_label_config,
)
from ls_frames.reading.decode import decode_chunk, normalise_task
from ls_frames.reading.flatten import flatten_tasks
from ls_frames.reading.schemas import SCHEMAS, TABLES, expand_data_columns, tasks_schema
from ls_frames.reading.stream import ExportReader, Source, flatten_chunk, open_source

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "SCHEMAS",
    "TABLES",
    "Chunk",
    "Control",
    "ExportReader",
    "LabelConfig",
    "ObjectTag",
    "Source",
    "decode_chunk",
    "expand_data_columns",
    "flatten_chunk",
    "flatten_tasks",
    "iter_chunks",
    "normalise_task",
    "open_source",
    "parse_label_config",
    "resolve_label_config",
    "tasks_schema",
]
