"""Stream the folder a local-files export storage writes into Arrow record batches.

Label Studio writes either one extension-less JSON file per annotation (the annotation
with its task nested under ``task``, the task without its other annotations) or, with
``FUTURE_SAVE_TASK_TO_STORAGE``, one ``<task_id>.json`` per task in the export shape.
Both read into the same tables as a snapshot. A task met in several files gives one
``tasks`` row (and its predictions and drafts once); every row of ``tasks`` and
``annotations`` carries the name of the file it came from in ``storage_file``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import msgspec
import pyarrow as pa
import pyarrow.compute as pc

from ls_frames.errors import ExportFormatError
from ls_frames.reading.decode import decode_chunk
from ls_frames.reading.flatten import flatten_tasks
from ls_frames.reading.schemas import TABLES

__all__ = ["STORAGE_FILE", "StorageReader", "storage_files"]

STORAGE_FILE = "storage_file"
_SHARED = ("tasks", "predictions", "drafts")  # repeated in every annotation file of a task


class _Head(msgspec.Struct):
    id: Any = None
    data: msgspec.Raw = msgspec.field(default_factory=msgspec.Raw)


_HEAD = msgspec.json.Decoder(_Head)


def storage_files(folder: str | os.PathLike[str]) -> list[Path]:
    """The files a storage wrote, in name order (hidden files and folders skipped)."""
    root = Path(folder)
    if not root.is_dir():
        raise ExportFormatError("not a folder", path=str(root))
    return sorted(p for p in root.iterdir() if p.is_file() and not p.name.startswith("."))


class StorageReader:
    """Iterate ``{table: RecordBatch}`` per group of ``files_per_batch`` files.

    After the loop ``data_keys`` holds the keys of the tasks' ``data`` in first-seen order,
    ``task_count`` the number of distinct tasks and ``file_count`` the files read.
    """

    def __init__(
        self,
        folder: str | os.PathLike[str],
        *,
        tables: Iterable[str] | None = None,
        files_per_batch: int = 2000,
    ) -> None:
        chosen = tuple(TABLES if tables is None else tables)
        unknown = set(chosen) - set(TABLES)
        if unknown:
            raise ValueError(f"unknown tables {sorted(unknown)}; choose from {list(TABLES)}")
        self.folder = Path(folder)
        self.tables = tuple(t for t in TABLES if t in chosen)
        self.files_per_batch = max(1, int(files_per_batch))
        self.data_keys: dict[str, None] = {}
        self.task_count = 0
        self.file_count = 0
        self._seen: set[int] = set()

    def __iter__(self) -> Iterator[dict[str, pa.RecordBatch]]:
        files = storage_files(self.folder)
        for start in range(0, len(files), self.files_per_batch):
            yield self._batch(files[start:start + self.files_per_batch])

    def _batch(self, files: list[Path]) -> dict[str, pa.RecordBatch]:
        tasks = []
        task_file: dict[int, str] = {}
        ann_file: dict[int, str] = {}
        for path in files:
            raw = path.read_bytes()
            if not raw.strip():
                raise ExportFormatError("empty storage file", path=str(path))
            try:
                head = _HEAD.decode(raw)
            except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                raise ExportFormatError(f"malformed storage file: {exc}", path=str(path)) from None
            task = decode_chunk(raw, single=True, path=str(path))[0]
            self.file_count += 1
            if not len(head.data) and isinstance(head.id, int):
                ann_file[head.id] = path.name
            task_file.setdefault(int(task.id or 0), path.name)
            tasks.append(task)
        batches = flatten_tasks(tasks, self.tables, self.data_keys)
        new = set(task_file) - self._seen
        self._seen |= new
        self.task_count += len(new)
        firsts = pa.array(sorted(new), pa.int64())
        out: dict[str, pa.RecordBatch] = {}
        for name, batch in batches.items():
            tid = batch.column(batch.schema.get_field_index("task_id"))
            if name in _SHARED or (
                name in ("regions", "relations") and batch.num_rows
            ):
                keep = _first_only(batch, name, tid, firsts)
                batch = batch.filter(keep) if keep is not None else batch
            if name == "tasks":
                names = [task_file.get(t) for t in batch.column(
                    batch.schema.get_field_index("task_id")).to_pylist()]
                batch = _append(batch, names)
            elif name == "annotations":
                ids = batch.column(batch.schema.get_field_index("annotation_id")).to_pylist()
                tids = batch.column(batch.schema.get_field_index("task_id")).to_pylist()
                batch = _append(batch, [ann_file.get(a) or task_file.get(t)
                                        for a, t in zip(ids, tids, strict=True)])
            out[name] = batch
        return out


def _first_only(
    batch: pa.RecordBatch, name: str, tid: pa.Array, firsts: pa.Array
) -> pa.Array | None:
    """Rows of a task seen in an earlier file, or a second time in this group, are
    repeats, except rows that belong to an annotation (one file per annotation)."""
    if name in ("regions", "relations"):
        own = pc.equal(batch.column(batch.schema.get_field_index("source")), "annotation")
    else:
        own = None
    # keep the first occurrence of each (task, row key) pair among shared rows
    key = _row_key(batch, name)
    seen: set[Any] = set()
    mask = []
    is_first = pc.is_in(tid, value_set=firsts).to_pylist()
    owns = own.to_pylist() if own is not None else [False] * batch.num_rows
    for k, first, mine in zip(key, is_first, owns, strict=True):
        if mine:
            mask.append(True)
        elif not first or k in seen:
            mask.append(False)
        else:
            seen.add(k)
            mask.append(True)
    return pa.array(mask, pa.bool_())


def _row_key(batch: pa.RecordBatch, name: str) -> list[Any]:
    cols = {
        "tasks": ["task_id"], "predictions": ["prediction_id"], "drafts": ["draft_id"],
        "regions": ["source", "source_id", "result_index"],
        "relations": ["source", "source_id", "result_index"],
    }[name]
    arrays = [batch.column(batch.schema.get_field_index(c)).to_pylist() for c in cols]
    return list(zip(*arrays, strict=True))


def _append(batch: pa.RecordBatch, names: list[str | None]) -> pa.RecordBatch:
    return pa.RecordBatch.from_arrays(
        [*batch.columns, pa.array(names, pa.string())],
        schema=batch.schema.append(pa.field(STORAGE_FILE, pa.string())),
    )
