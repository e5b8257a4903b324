"""Stream an export into Arrow record batches: chunk, decode, flatten.

:class:`ExportReader` is the one loop every caller uses. It yields, for each chunk of whole
tasks, a dict of record batches (one per requested table). With ``workers > 1`` chunks are
decoded and flattened in a small process pool (``spawn``: the calling script needs an
``if __name__ == "__main__"`` guard), at most ``workers + 1`` chunks in flight, so memory
stays bounded whatever the file size. The order of rows never depends on ``workers`` or
``chunk_size``. The pool sends every chunk and its batches through pipes, which costs about
what the second core wins: :func:`~ls_frames.to_parquet` and :func:`~ls_frames.read_export`
use :mod:`ls_frames.tables.parallel` instead (workers that read the file themselves).

Malformed result items (see :mod:`ls_frames.reading.report`) are kept; each chunk's report
comes back with its batches (from the workers too) and merges into ``reader.report``. At
the end of the loop one :class:`~ls_frames.MalformedResultWarning` names them; with
``strict=True`` the first one raises :class:`~ls_frames.ExportFormatError` instead, before
the batches of its chunk are yielded.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import ExitStack, contextmanager
from typing import IO, Any

import pyarrow as pa

from ls_frames._warnings import warn_outside
from ls_frames.errors import ExportFormatError
from ls_frames.reading.chunker import DEFAULT_CHUNK_SIZE, Chunk, iter_chunks
from ls_frames.reading.decode import decode_chunk
from ls_frames.reading.flatten import flatten_tasks
from ls_frames.reading.report import MalformedReport
from ls_frames.reading.schemas import choose_tables

__all__ = ["ExportReader", "Source", "flatten_chunk", "open_source"]

Source = str | os.PathLike[str] | bytes | bytearray | memoryview | IO[bytes]


def open_source(source: Source, stack: ExitStack) -> tuple[IO[bytes], str | None]:
    """A binary stream for a path, bytes, or an already open binary file object."""
    import io

    if isinstance(source, (bytes, bytearray, memoryview)):
        return io.BytesIO(bytes(source)), None
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        return stack.enter_context(open(path, "rb")), path
    if hasattr(source, "read"):
        name = getattr(source, "name", None)
        return source, name if isinstance(name, str) else None
    raise TypeError(f"expected a path, bytes or a binary file object, not {type(source)!r}")


@contextmanager
def _no_cyclic_gc() -> Iterator[None]:
    """Pause the cyclic GC: a chunk allocates a million short-lived objects (lists of
    labels, column lists) and none of them form cycles, yet they would trigger collections
    that scan every live object (measured: ~10 % of the whole run). Reference counting
    still frees everything; the GC is switched back on as it was."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


Flattened = tuple[dict[str, pa.RecordBatch], list[str], int, MalformedReport]


def flatten_chunk(chunk: Chunk, tables: tuple[str, ...], path: str | None) -> Flattened:
    """Decode and flatten one chunk: (batches, data keys in order, number of tasks, its
    malformed result items with task indexes counted in the whole export)."""
    with _no_cyclic_gc():
        tasks = decode_chunk(
            chunk.doc,
            offset=chunk.offset,
            first_index=chunk.first_index,
            single=chunk.single,
            framed=True,
            path=path,
        )
        keys: dict[str, None] = {}
        report = MalformedReport()
        batches = flatten_tasks(tasks, tables, keys, report)
        count = len(tasks)
        del tasks  # freed here, still without the GC
    return batches, list(keys), count, report.shifted(chunk.first_index) if report else report


def _context() -> multiprocessing.context.BaseContext:
    """``spawn`` everywhere: ``fork`` would copy a process that may hold threads (numpy's
    BLAS pool, Arrow's, a notebook's), which can deadlock the child. The caller's script
    needs an ``if __name__ == "__main__"`` guard."""
    return multiprocessing.get_context("spawn")


class ExportReader:
    """Iterate ``{table: RecordBatch}`` per chunk of an export.

    After the loop, ``data_keys`` holds every key of the tasks' ``data`` in first-seen
    order, ``task_count`` the number of tasks and ``report`` the malformed result items
    (a :class:`~ls_frames.reading.report.MalformedReport`; reported by one
    :class:`~ls_frames.MalformedResultWarning` at the end of the loop). ``strict=True``
    raises :class:`~ls_frames.ExportFormatError` at the first malformed item instead.
    """

    def __init__(
        self,
        source: Source,
        *,
        tables: Iterable[str] | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        workers: int = 1,
        strict: bool = False,
    ) -> None:
        self.source = source
        self.strict = strict
        self.report = MalformedReport()
        self.tables = choose_tables(tables)
        self.chunk_size = chunk_size
        self.workers = max(1, int(workers))
        self.data_keys: dict[str, None] = {}
        self.task_count = 0
        self.path: str | None = None

    def _take(self, result: Flattened) -> dict[str, pa.RecordBatch]:
        batches, keys, count, report = result
        if report:
            if self.strict:
                raise report.error(self.path)
            self.report.merge(report)
        for key in keys:
            self.data_keys.setdefault(key)
        self.task_count += count
        return batches

    def _in_process(self, stream: IO[bytes]) -> Iterator[dict[str, pa.RecordBatch]]:
        """Chunks decoded here, one at a time: the decoding itself proves each cut of the
        chunker's fast path, which then skips its check parse (see ``iter_chunks``)."""
        chunks = iter_chunks(stream, chunk_size=self.chunk_size, path=self.path, verify=False)
        chunk = next(chunks, None)
        while chunk is not None:
            try:
                result = flatten_chunk(chunk, self.tables, self.path)
            except ExportFormatError:
                if chunk.verified:
                    raise
                told = None  # not whole tasks after all: the same bytes are cut exactly
            else:
                yield self._take(result)
                told = None if chunk.verified else result[2]
            try:
                chunk = chunks.send(told)
            except StopIteration:
                return

    def __iter__(self) -> Iterator[dict[str, pa.RecordBatch]]:
        with ExitStack() as stack:
            stream, self.path = open_source(self.source, stack)
            if self.workers == 1:
                yield from self._in_process(stream)
            else:
                yield from self._in_pool(stream, stack)
        if self.report:
            warn_outside(self.report.warning())

    def _in_pool(self, stream: IO[bytes], stack: ExitStack) -> Iterator[dict[str, pa.RecordBatch]]:
        """Chunks decoded by ``workers`` processes, at most ``workers + 1`` in flight."""
        chunks = iter_chunks(stream, chunk_size=self.chunk_size, path=self.path)
        pool = stack.enter_context(ProcessPoolExecutor(self.workers, mp_context=_context()))
        pending: deque[Future[Any]] = deque()
        try:
            for chunk in chunks:
                pending.append(pool.submit(flatten_chunk, chunk, self.tables, self.path))
                while len(pending) > self.workers:
                    yield self._take(pending.popleft().result())
            while pending:
                yield self._take(pending.popleft().result())
        finally:
            for fut in pending:
                fut.cancel()
