"""Writing one Parquet table in row groups of bounded memory, optionally in the background."""

from __future__ import annotations

import ctypes
import sys
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from ls_frames.reading import expand_data_columns, tasks_schema

__all__ = ["DICTIONARY_COLUMNS", "MAX_BUFFER_BYTES", "Background", "TableWriter", "trim_heap"]

# dictionary-encode only the low-cardinality columns of the big tables (faster, smaller)
DICTIONARY_COLUMNS: dict[str, list[str]] = {
    "regions": [
        "source",
        "from_name",
        "to_name",
        "type",
        "origin",
        "labels.list.element",
        "label",
        "choices.list.element",
        "choice",
    ],
    "relations": ["source", "direction", "labels.list.element"],
}


def _heap_trimmer() -> Callable[[], object] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:  # the process's own symbols (no find_library: it runs ldconfig in a subprocess)
        trim: Callable[[int], object] = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):  # not glibc (musl has no malloc_trim)
        return None
    return lambda: trim(0)


_TRIM = _heap_trimmer()


def trim_heap() -> None:
    """Hand the C heap's free pages back to the system (glibc's ``malloc_trim``; nothing
    elsewhere). Reading allocates and frees a few MB blocks per chunk (the chunk, joined
    JSON texts); glibc serves them from its heap once one has been freed (its mmap
    threshold rises), and the heap's free pages would otherwise stay in the RSS: measured
    on a 1.2 GB snapshot, 250 -> 410 MB over the run instead of flat."""
    if _TRIM is not None:
        _TRIM()


class Background:
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
# (six tables buffer at once: 12 MiB each keeps a 1.2 GB snapshot under 300 MB of RSS)
MAX_BUFFER_BYTES = 12 << 20


class TableWriter:
    """Buffers record batches and writes row groups of ``row_group_size`` rows, or of
    what is buffered once that reaches ``MAX_BUFFER_BYTES``."""

    def __init__(
        self,
        path: Path,
        schema: pa.Schema,
        row_group_size: int,
        compression: str,
        dictionary: bool | list[str] = True,
        background: Background | None = None,
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
            trim_heap()

        if self.background is None or final:
            if self.background is not None:
                self.background.wait()
            write()
        else:
            self.background.submit(write)

    def close(self) -> None:
        self.flush()
        self.writer.close()


def expand_tasks(
    spool: str | Path,
    target: Path,
    keys: list[str],
    metadata: dict[bytes, bytes],
    row_group_size: int,
    compression: str,
) -> int:
    """Write the spooled ``tasks`` table at ``spool`` again to ``target`` with its
    ``data.<key>`` columns (the schema carrying ``metadata``); the rows written."""
    writer = TableWriter(
        target, tasks_schema(keys).with_metadata(metadata), row_group_size, compression
    )
    try:
        with pq.ParquetFile(spool) as spooled:
            for batch in spooled.iter_batches(batch_size=65_536):
                writer.add(expand_data_columns(batch, keys))
    finally:
        writer.close()
    return writer.rows
