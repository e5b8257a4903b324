"""A table's rows streamed range by range, in bounded memory, and the range width a
table gets by default.

A full write, a re-layout and a merge hand :mod:`~ls_frames.tables.delta.files` the rows
of a table as a sequence of tables conformed to the Delta schema and sorted by
``task_id`` (a range that goes on from one to the next is appended to the same file, one
row group per chunk). One chunk is held at a time: about :data:`CHUNK_ROWS` rows or
:data:`CHUNK_BYTES` bytes, whatever the size of the table.

The default width (:func:`auto_width`) gives a range about :data:`ROWS_PER_FILE` rows of
its table. Measured on this machine (benchmarks/bench_delta.py), a range file costs
about as much to write and to read again as ~1,700 of its rows, whatever its size: files
of a hundred tasks made a refresh of 1 % scattered tasks of 20,000 rewrite 635 files in
2.4 s where files of tens of thousands of rows rewrote 5 files in 0.17 s, and made
readers open ten thousand files per million tasks.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pds
import pyarrow.parquet as pq

from ls_frames.tables.delta.layout import conform

__all__ = [
    "CHUNK_BYTES",
    "CHUNK_ROWS",
    "ROWS_PER_FILE",
    "auto_width",
    "chunks",
    "task_span",
]

#: rows of its table a range holds with the default width
ROWS_PER_FILE = 65_536
#: rows (and bytes, in memory) of one chunk of a streamed write
CHUNK_ROWS = 32_768
CHUNK_BYTES = 16 << 20
#: rows read from the part at a time
BATCH_ROWS = 16_384


def task_span(ids: pa.ChunkedArray | pa.Array) -> int:
    """How many task ids the ids lie within (``max - min + 1``; 0 for none)."""
    if len(ids) == 0 or ids.null_count == len(ids):
        return 0
    bounds = pc.min_max(ids)
    return int(bounds["max"].as_py()) - int(bounds["min"].as_py()) + 1


def auto_width(rows: int, tasks: int, span: int) -> int:
    """The range width (in task ids) that gives a table of ``rows`` rows, over ``tasks``
    tasks whose ids lie within ``span`` ids, ranges of about :data:`ROWS_PER_FILE` rows
    (a table without rows: one row per task is assumed)."""
    per_task = max(rows, 1) / max(tasks, 1)
    density = max(tasks, 1) / max(span, 1)  # tasks per id
    return max(1, math.ceil(ROWS_PER_FILE / per_task / density))


def chunks(source: pds.Dataset, schema: pa.Schema, width: int) -> Iterator[pa.Table]:
    """The rows of ``source`` conformed to ``schema`` (ranges of ``width`` tasks), sorted
    by ``task_id``, as tables of about :data:`CHUNK_ROWS` rows: in one
    pass when the rows come in task order (as ``to_parquet`` writes them), else one
    filtered pass per chunk."""
    ids = pa.chunked_array(
        [b.column(0).cast(pa.int64()) for b in _batches(source, ["task_id"])], pa.int64()
    ).combine_chunks()
    if len(ids) == 0:
        yield conform(source.schema.empty_table(), schema, width)
        return
    values = ids.to_numpy(zero_copy_only=False)
    if np.all(values[1:] >= values[:-1]):
        del ids, values
        yield from _in_order(source, schema, width)
        return
    values = np.sort(values)
    ranges = values // width
    at = 0
    while at < len(values):
        end = min(len(values), at + CHUNK_ROWS)
        if end < len(values):  # cut before the range the end falls in, if it starts later
            start = int(np.searchsorted(ranges, ranges[end], side="left"))
            end = start if start > at else int(np.searchsorted(ranges, ranges[end], "right"))
        low, high = int(values[at]), int(values[end - 1])
        rows = source.to_table(filter=(pc.field("task_id") >= low) & (pc.field("task_id") <= high))
        yield conform(rows, schema, width)
        at = end


def _in_order(source: pds.Dataset, schema: pa.Schema, width: int) -> Iterator[pa.Table]:
    pending: list[pa.Table] = []
    rows = size = 0
    for batch in _batches(source):
        if batch.num_rows == 0:
            continue
        pending.append(conform(pa.Table.from_batches([batch]), schema, width, sort=False))
        rows += batch.num_rows
        size += pending[-1].nbytes
        if rows >= CHUNK_ROWS or size >= CHUNK_BYTES:
            yield pa.concat_tables(pending)
            pending, rows, size = [], 0, 0
    if pending:
        yield pa.concat_tables(pending)


def _batches(source: pds.Dataset, columns: list[str] | None = None) -> Iterator[pa.RecordBatch]:
    """The record batches of ``source``'s files in order, each file read a batch at a
    time without pre-buffering (the dataset scanner holds several row groups of
    read-ahead: 350 MB against 220 MB for 2,000,000 region rows in row groups of 131,072)."""
    if not isinstance(source, pds.FileSystemDataset):
        yield from source.to_batches(columns=columns, batch_size=BATCH_ROWS)
        return
    for path in source.files:
        with source.filesystem.open_input_file(path) as handle:
            reader = pq.ParquetFile(handle, pre_buffer=False, buffer_size=1 << 20)
            yield from reader.iter_batches(batch_size=BATCH_ROWS, columns=columns)
