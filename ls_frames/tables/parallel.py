"""``workers=N``: flatten an export file in processes that write their own Parquet parts.

The parent cuts the file into *ranges* of whole tasks (:func:`_ranges`): a server snapshot
at the separator the server writes between tasks, found near planned offsets without
reading the rest; any other layout by the chunker over the whole file. Ranges shrink
towards the end so the processes finish together. This process and ``N - 1`` spawned ones
take ranges from a shared counter; each reads its range from the file itself
(:class:`_Slice`, no data goes through pipes), flattens it with
:class:`~ls_frames.reading.ExportReader` and writes ``<table>/part-NNNNN.parquet``
(``NNNNN`` the range's number: the files sort in the file's order). Only counts, data
keys and the malformed-item report come back; the parent merges them in range order into
the manifest, then gives the ``tasks`` parts their ``data.<key>`` columns. Memory per
process is that of one worker.

Workers are spawned, never forked (a forked copy of a process holding threads, numpy's or
Arrow's, can deadlock): a script needs the ``if __name__ == "__main__":`` guard.

A range that does not decode may be a bad file or a cut the separator got wrong (a data
value holding task-like objects): :class:`Recut` tells the caller to read the file in one
process, which raises exactly what ``workers=1`` raises (same offset, same task index) or
succeeds. Everything is written into the caller's staging folder, removed on failure.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import mmap
import multiprocessing
import os
import sys
import tempfile
import warnings
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, cast

import pyarrow as pa
import pyarrow.parquet as pq

from ls_frames._warnings import MalformedResultWarning
from ls_frames.errors import ConfigurationError, ExportFormatError
from ls_frames.reading import SCHEMAS, ExportReader, iter_chunks, tasks_schema
from ls_frames.reading.chunker import SERVER_TASK
from ls_frames.reading.report import MalformedReport
from ls_frames.tables.dataset import METADATA_KEY
from ls_frames.tables.writer import DICTIONARY_COLUMNS, Background, TableWriter, expand_tasks

__all__ = [
    "Recut",
    "Written",
    "check_workers",
    "read_parallel",
    "spawn_context",
    "write_parallel",
]

#: A range never exceeds this (bounds a worker's time on one job, not its memory).
MAX_RANGE = 128 << 20
SPOOL = "_tasks_spool"


class Recut(Exception):
    """A chunk cut by the chunker's fast path failed to decode: flatten in one process."""


def check_workers(workers: Any, source: Any, where: str) -> str | None:
    """The file to flatten with ``workers`` processes (``None``: one process, here).

    Raises
    ------
    ConfigurationError
        ``workers`` is not a whole number >= 1, or it is more than 1 and ``source`` is not
        a file path: workers read their own byte ranges of a file, and bytes or a stream
        (an HTTP body, say) can only be read here, by one process.
    """
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ConfigurationError(f"workers must be a whole number >= 1, not {workers!r}")
    if workers == 1:
        return None
    if not isinstance(source, (str, os.PathLike)):
        raise ConfigurationError(
            f"{where}(workers={workers}) needs a file path: each worker process reads its "
            f"own part of the file, and a {type(source).__name__} source can only be read "
            "by this process (save it to a file first, or pass workers=1)"
        )
    return os.fspath(source)


def spawn_context() -> multiprocessing.context.BaseContext:
    """The start method of worker processes: ``spawn`` everywhere (no fork of a process
    that may hold threads; the same behaviour on Linux, macOS and Windows)."""
    return multiprocessing.get_context("spawn")


@dataclass(frozen=True)
class Job:
    """One range of whole tasks: its chunks as ``(offset, length, verified)``."""

    path: str
    index: int
    start: int
    end: int | None
    folder: str
    tables: tuple[str, ...]
    meta: bytes
    row_group_size: int
    compression: str
    chunk_size: int
    strict: bool


@dataclass
class Done:
    """What a worker sends back for a range (task indexes counted from its start)."""

    index: int
    rows: dict[str, int] = field(default_factory=dict)
    keys: list[str] = field(default_factory=list)
    tasks: int = 0
    report: MalformedReport = field(default_factory=MalformedReport)
    #: an ExportFormatError's text (the parent reads the file in one process then)
    error: str | None = None


@dataclass
class Written:
    """The merged outcome: rows and files by table, tasks, data keys, malformed items."""

    rows: dict[str, int]
    files: dict[str, list[str]]
    task_count: int
    data_keys: list[str]
    report: MalformedReport


def _part(folder: Path, name: str, index: int) -> Path:
    if name == "tasks":
        return folder / SPOOL / f"part-{index:05d}.parquet"
    return folder / name / f"part-{index:05d}.parquet"


class _Slice:
    """``file[start:end]`` as a JSON array of its own: ``[`` before it unless it is the
    file's start, ``]`` after it unless it runs to the file's end."""

    name = None

    def __init__(self, fh: Any, start: int, end: int | None) -> None:
        fh.seek(start)
        self.fh, self.left = fh, end - start if end is not None else -1
        self.head = b"" if start == 0 else b"["
        self.tail = b"" if end is None else b"]"

    def read(self, size: int = -1) -> bytes:
        out, self.head = self.head, b""
        if self.left != 0:
            want = size - len(out) if self.left < 0 else min(size - len(out), self.left)
            got = self.fh.read(want)
            if self.left > 0:
                self.left = 0 if not got else self.left - len(got)
            out += got
        if self.left == 0 and len(out) < size:
            out, self.tail = out + self.tail, b""
        return out


def run_range(job: Job) -> Done:
    """Worker side: flatten the range's tasks (:class:`ExportReader` over the slice of the
    file) and write its parts. A failed range's files stay in the staging folder, which
    the caller removes."""
    folder = Path(job.folder)
    meta = {METADATA_KEY: job.meta}
    done = Done(job.index)
    background = Background()
    writers: dict[str, TableWriter] = {}
    try:
        for name in job.tables:
            writers[name] = TableWriter(
                _part(folder, name, job.index),
                SCHEMAS[name].with_metadata(meta),
                job.row_group_size,
                job.compression,
                DICTIONARY_COLUMNS.get(name, True),
                background,
            )
        with open(job.path, "rb") as fh, warnings.catch_warnings():
            warnings.simplefilter("ignore", MalformedResultWarning)  # the parent reports
            reader = ExportReader(
                cast(IO[bytes], _Slice(fh, job.start, job.end)),
                tables=job.tables,
                chunk_size=job.chunk_size,
            )
            try:
                for batches in reader:
                    for name, batch in batches.items():
                        if batch.num_rows:
                            writers[name].add(batch)
                    if job.strict and reader.report:
                        break
            except ExportFormatError as exc:
                done.error = str(exc)
                return done
        background.wait()
        for w in writers.values():
            w.close()
    finally:
        with contextlib.suppress(Exception):  # a failed write is raised above, or moot
            background.wait()
        for w in writers.values():
            w.writer.close()
        background.pool.shutdown(wait=True)
    done.rows = {name: w.rows for name, w in writers.items()}
    done.keys = list(reader.data_keys)
    done.tasks = reader.task_count
    done.report = reader.report
    return done


def expand_part(spool: str, target: str, keys: list[str], meta: bytes, rgs: int, comp: str) -> int:
    """Worker side: a spooled ``tasks`` part with its ``data.<key>`` columns."""
    rows = expand_tasks(spool, Path(target), keys, {METADATA_KEY: meta}, rgs, comp)
    os.unlink(spool)
    return rows


def _plan(size: int, workers: int, chunk_size: int) -> list[int]:
    """Where ranges should end, roughly: each a third of what is left per worker, so the
    last ranges are small and the workers finish together (at least ``chunk_size`` and an
    eighth of a worker's share each: every range adds CPU of its own, its own files and
    smaller row groups; measured +11 % CPU with 16 ranges of a 325 MB export for 2
    workers, +3 % with 11)."""
    least = max(chunk_size, size // (8 * workers), 1)
    marks: list[int] = []
    pos = 0
    while size - pos > 2 * least:
        pos += max((size - pos) // (3 * workers), least)
        marks.append(pos)
    return marks


def _server_cuts(path: str, marks: list[int]) -> list[int]:
    """Offsets just past a task's closing ``}``, the first after each mark, from the
    server's layout between tasks (``}, {"id": N, "annotations": [``: ``{"`` never occurs
    inside a JSON string, so a match is outside strings). Empty when none is found."""
    cuts: list[int] = []
    with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        for mark in marks:
            if cuts and mark <= cuts[-1]:
                continue
            m = SERVER_TASK.search(mm, mark, min(len(mm), mark + (64 << 20)))
            if m is not None:
                cuts.append(m.start() + 1)
    return cuts


def _chunk_cuts(path: str, chunk_size: int, marks: list[int]) -> list[int]:
    """The same from the chunker (any layout; reads the whole file): the first chunk end
    after each mark."""
    cuts: list[int] = []
    todo = iter(marks)
    mark = next(todo, None)
    with open(path, "rb") as fh:
        chunks = iter_chunks(fh, chunk_size=chunk_size, path=path, verify=False)
        chunk = next(chunks, None)
        while chunk is not None and mark is not None:
            if chunk.single:
                raise Recut("a single object")
            end = chunk.offset + len(chunk.doc) - 2
            if end >= mark:
                cuts.append(end)
                while mark is not None and mark <= end:
                    mark = next(todo, None)
            try:
                chunk = chunks.send(None if chunk.verified else 0)
            except StopIteration:
                break
    return cuts


def _ranges(path: str, workers: int, chunk_size: int) -> list[tuple[int, int | None]]:
    """``(start, end)`` of consecutive ranges of whole tasks (``end`` ``None``: to the end
    of the file); a range after the first starts at its first task's ``{``."""
    size = os.path.getsize(path)
    marks = _plan(size, workers, chunk_size)
    cuts = _server_cuts(path, marks) if marks else []
    if marks and not cuts:
        cuts = _chunk_cuts(path, chunk_size, marks)
    out: list[tuple[int, int | None]] = []
    start = 0
    with open(path, "rb") as fh:
        for cut in cuts:
            out.append((start, cut))
            fh.seek(cut)
            head = fh.read(64)
            start = cut + head.index(b"{") if b"{" in head else cut
    out.append((start, None))
    return out


_NEXT: Any = None  # a worker's shared counter of ranges taken (set by _init)


class _NoPandas(importlib.abc.MetaPathFinder):
    """Refuses to import pandas in a spawned worker (see :func:`_init`)."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if name == "pandas" or name.startswith("pandas."):
            raise ModuleNotFoundError("not in an ls_frames worker", name=name)


def _init(counter: Any) -> None:
    """A spawned worker's start. Unless the caller's script brought pandas along, the worker
    runs without it: ``pa.array`` of a list imports pandas to ask whether the list is a
    Series (0.25-0.5 s of CPU in every worker), takes its absence as a plain no, and
    nothing a worker runs needs pandas."""
    global _NEXT
    _NEXT = counter
    if "pandas" not in sys.modules:
        sys.meta_path.insert(0, _NoPandas())


def _take(counter: Any, total: int) -> int | None:
    with counter.get_lock():
        index = int(counter.value)
        if index >= total:
            return None
        counter.value = index + 1
    return index


def run_ranges(jobs: list[Job], counter: Any = None) -> list[Done]:
    """Take ranges one after the other (the shared counter hands each to one process
    only) until none is left or one fails."""
    counter = _NEXT if counter is None else counter
    out: list[Done] = []
    try:
        while (index := _take(counter, len(jobs))) is not None:
            out.append(run_range(jobs[index]))
            if out[-1].error is not None or (jobs[index].strict and out[-1].report):
                _stop(counter, len(jobs))
                break
    except BaseException:
        _stop(counter, len(jobs))
        raise
    return out


def _stop(counter: Any, total: int) -> None:
    """No range is handed out any more: every process stops after the one it is on."""
    with counter.get_lock():
        counter.value = total


def write_parallel(
    path: str,
    folder: Path,
    meta: bytes,
    *,
    tables: tuple[str, ...],
    row_group_size: int,
    compression: str,
    chunk_size: int,
    workers: int,
    strict: bool,
) -> Written:
    """Flatten the file at ``path`` into Parquet parts under ``folder`` with ``workers``
    processes: this one and ``workers - 1`` spawned ones. Raises :class:`Recut` when the
    caller must flatten in one process instead, :class:`ExportFormatError` with ``strict``
    for the first malformed item."""
    ranges = _ranges(path, workers, chunk_size)
    jobs = [
        Job(
            path,
            i,
            start,
            end,
            str(folder),
            tables,
            meta,
            row_group_size,
            compression,
            chunk_size,
            strict,
        )
        for i, (start, end) in enumerate(ranges)
    ]
    ctx = spawn_context()
    counter = ctx.Value("q", 0)
    helpers = min(workers, len(jobs)) - 1
    results: list[Done] = []
    if helpers:
        with ProcessPoolExecutor(
            helpers, mp_context=ctx, initializer=_init, initargs=(counter,)
        ) as pool:
            futures = [pool.submit(run_ranges, jobs) for _ in range(helpers)]
            try:
                results += run_ranges(jobs, counter)
                results += [d for f in futures for d in f.result()]
            except BaseException:  # here or in a helper (Ctrl-C, a full disk, ...)
                _stop(counter, len(jobs))
                raise
    else:
        results = run_ranges(jobs, counter)
    return _merge(results, jobs, folder, pool_size=workers, strict=strict, path=path)


def _merge(
    results: list[Done], jobs: list[Job], folder: Path, *, pool_size: int, strict: bool, path: str
) -> Written:
    """The ranges' outcomes in file order; the ``tasks`` parts get their data columns."""
    tables = jobs[0].tables
    out = Written({n: 0 for n in tables}, {n: [] for n in tables}, 0, [], MalformedReport())
    keys: dict[str, None] = {}
    done = {d.index: d for d in results}
    for job in jobs:
        d = done.get(job.index)
        if d is None or d.error is not None:
            # an earlier range failed (or, with strict, was malformed) and the rest stopped
            failed = [x for x in results if x.error is not None or x.report]
            first = min(failed, key=lambda x: x.index)
            if first.error is not None:
                raise Recut(first.error)
            raise first.report.shifted(out.task_count).error(path)  # pragma: no cover
        if d.report:
            report = d.report.shifted(out.task_count)
            if strict:
                raise report.error(path)
            out.report.merge(report)
        for name, rows in d.rows.items():
            out.rows[name] += rows
        keys.update(dict.fromkeys(d.keys))
        out.task_count += d.tasks
    out.data_keys = list(keys)
    if "tasks" in tables:
        out.rows["tasks"] = _expand(folder, len(jobs), out.data_keys, jobs[0], pool_size)
    for name in tables:
        out.files[name] = [f"{name}/part-{i:05d}.parquet" for i in range(len(jobs))]
    return out


def _expand(folder: Path, parts: int, keys: list[str], job: Job, workers: int) -> int:
    """The ``tasks`` parts with every data key (threads: Arrow works outside the GIL)."""
    args = [
        (
            str(_part(folder, "tasks", i)),
            str(folder / "tasks" / f"part-{i:05d}.parquet"),
            keys,
            job.meta,
            job.row_group_size,
            job.compression,
        )
        for i in range(parts)
    ]
    with ThreadPoolExecutor(workers, thread_name_prefix="ls_frames-expand") as pool:
        rows = sum(pool.map(lambda a: expand_part(*a), args))
    (folder / SPOOL).rmdir()
    return rows


def read_parallel(
    path: str, *, tables: tuple[str, ...], chunk_size: int, workers: int, strict: bool
) -> tuple[Written, dict[str, pa.Table]]:
    """The tables of the file at ``path`` in memory, flattened by ``workers`` processes:
    each writes uncompressed Parquet parts into a temporary folder, read back here (the
    Arrow tables of a process cannot be handed over without a copy through a pipe)."""
    with tempfile.TemporaryDirectory(prefix="ls_frames-read-") as tmp:
        done = write_parallel(
            path,
            Path(tmp),
            b"{}",
            tables=tables,
            row_group_size=131_072,
            compression="none",
            chunk_size=chunk_size,
            workers=workers,
            strict=strict,
        )
        arrow = {}
        for name in tables:
            schema = tasks_schema(done.data_keys) if name == "tasks" else SCHEMAS[name]
            parts = [pq.read_table(Path(tmp) / f, schema=schema) for f in done.files[name]]
            arrow[name] = pa.concat_tables(parts).replace_schema_metadata(None)
    return done, arrow
