"""Stream the folder a local-files export storage writes into Arrow record batches.

Label Studio 1.23.2 writes either one extension-less JSON file per annotation, named by
its id (the annotation's fields, with its task nested under ``task``: the task's data and
counters, without predictions, drafts or its other annotations) or, with
``FUTURE_SAVE_TASK_TO_STORAGE``, one ``<task_id>.json`` per task in the snapshot shape with
predictions and drafts as bare ids. Both read into the tables of a snapshot, holding what
the files hold: no predictions or drafts in the first layout, id-only ones in the second,
and no task without an annotation. A file of a deleted annotation stays in the folder
unless the storage deletes objects, so it is read too. A task met in several files gives
one ``tasks`` row; every row of ``tasks`` and ``annotations`` carries the name of the file
it came from in ``storage_file``.
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
from ls_frames.reading.schemas import choose_tables

__all__ = ["STORAGE_FILE", "StorageReader", "storage_files"]

STORAGE_FILE = "storage_file"


class _Head(msgspec.Struct):
    id: Any = None
    data: msgspec.Raw = msgspec.field(default_factory=msgspec.Raw)
    task: msgspec.Raw = msgspec.field(default_factory=msgspec.Raw)
    result: msgspec.Raw = msgspec.field(default_factory=msgspec.Raw)


_HEAD = msgspec.json.Decoder(_Head)
_SHAPES = (
    "a task (an object with 'data', as in a snapshot) or an annotation (an object "
    "with 'result' and its task as an object under 'task')"
)


def _name_key(path: Path) -> tuple[int, int, str]:
    # "9" before "10": annotation and task ids, in the order the server made them
    return (0, int(path.name), "") if path.name.isdigit() else (1, 0, path.name)


def storage_files(folder: str | os.PathLike[str]) -> list[Path]:
    """The files a storage wrote, numeric names in numeric order, then the others by name
    (hidden files and folders skipped)."""
    root = Path(folder)
    if not root.is_dir():
        raise ExportFormatError("not a folder", path=str(root))
    return sorted(
        (p for p in root.iterdir() if p.is_file() and not p.name.startswith(".")), key=_name_key
    )


class StorageReader:
    """Iterate ``{table: RecordBatch}`` per group of ``files_per_batch`` files.

    After the loop ``data_keys`` holds the keys of the tasks' ``data`` in first-seen order,
    ``task_count`` the number of distinct tasks and ``file_count`` the files read.
    A task's row comes from its first file (in :func:`storage_files` order); an
    annotation, prediction or draft met in several files (a folder written in both
    layouts) is kept once, with its regions and relations.
    """

    def __init__(
        self,
        folder: str | os.PathLike[str],
        *,
        tables: Iterable[str] | None = None,
        files_per_batch: int = 2000,
    ) -> None:
        self.folder = Path(folder)
        self.tables = choose_tables(tables)
        self.files_per_batch = max(1, int(files_per_batch))
        self.data_keys: dict[str, None] = {}
        self.task_count = 0
        self.file_count = 0
        self._seen: set[int] = set()
        self._owners: set[tuple[Any, Any]] = set()  # (kind, id) of the rows kept so far

    def __iter__(self) -> Iterator[dict[str, pa.RecordBatch]]:
        files = storage_files(self.folder)
        for start in range(0, len(files), self.files_per_batch):
            yield self._batch(files[start : start + self.files_per_batch])

    def _read(self, path: Path) -> tuple[Any, int | None]:
        """Decode one file: (task, the annotation's id when the file is an annotation's)."""
        raw = path.read_bytes()
        if not raw.strip():
            raise ExportFormatError("empty storage file", path=str(path))
        try:
            head = _HEAD.decode(raw)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise ExportFormatError(f"malformed storage file: {exc}", path=str(path)) from None
        if bytes(head.task)[:1] == b"{" and len(head.result):
            per_annotation = True
        elif bytes(head.data)[:1] == b"{":
            per_annotation = False
        else:
            raise ExportFormatError(
                f"not a Label Studio storage file: expected {_SHAPES}", path=str(path)
            )
        task = decode_chunk(raw, single=True, path=str(path))[0]
        if not isinstance(task.id, int) or isinstance(task.id, bool):
            raise ExportFormatError(
                f"the task has no integer id (found {task.id!r})", path=str(path)
            )
        if per_annotation and not (isinstance(head.id, int) and not isinstance(head.id, bool)):
            raise ExportFormatError(
                f"the annotation has no integer id (found {head.id!r})", path=str(path)
            )
        return task, head.id if per_annotation else None

    def _batch(self, files: list[Path]) -> dict[str, pa.RecordBatch]:
        tasks = []
        task_file: dict[int, str] = {}
        ann_file: dict[int, str] = {}
        from_annotation: set[int] = set()  # tasks whose row comes from an annotation's file
        for path in files:
            task, annotation_id = self._read(path)
            self.file_count += 1
            if annotation_id is not None:
                ann_file.setdefault(annotation_id, path.name)
            if task.id not in task_file:
                task_file[task.id] = path.name
                if annotation_id is not None:
                    from_annotation.add(task.id)
            tasks.append(task)
        batches = flatten_tasks(tasks, self.tables, self.data_keys)
        new = set(task_file) - self._seen
        self._seen |= new
        self.task_count += len(new)
        firsts = pa.array(sorted(new), pa.int64())
        brought: set[tuple[Any, Any]] = set()
        out: dict[str, pa.RecordBatch] = {}
        for name, batch in batches.items():
            if batch.num_rows:
                keep, owners = _first_only(batch, name, firsts, self._owners)
                batch = batch.filter(keep)
                brought |= owners
            if name == "tasks":
                tids = batch.column(batch.schema.get_field_index("task_id")).to_pylist()
                batch = _no_counts(batch, [t in from_annotation for t in tids])
                batch = _append(batch, [task_file.get(t) for t in tids])
            elif name == "annotations":
                ids = batch.column(batch.schema.get_field_index("annotation_id")).to_pylist()
                tids = batch.column(batch.schema.get_field_index("task_id")).to_pylist()
                batch = _append(
                    batch,
                    [ann_file.get(a) or task_file.get(t) for a, t in zip(ids, tids, strict=True)],
                )
            out[name] = batch
        self._owners |= brought
        return out


_OWNER = {
    "annotations": ("annotation", "annotation_id"),
    "predictions": ("prediction", "prediction_id"),
    "drafts": ("draft", "draft_id"),
}


def _owners(batch: pa.RecordBatch, name: str) -> list[tuple[Any, Any]]:
    """Each row's owner: (``annotation`` | ``prediction`` | ``draft``, its id)."""
    column = batch.schema.get_field_index
    if name in _OWNER:
        kind, id_column = _OWNER[name]
        return [(kind, i) for i in batch.column(column(id_column)).to_pylist()]
    return list(
        zip(
            batch.column(column("source")).to_pylist(),
            batch.column(column("source_id")).to_pylist(),
            strict=True,
        )
    )


def _first_only(
    batch: pa.RecordBatch, name: str, firsts: pa.Array, earlier: set[tuple[Any, Any]]
) -> tuple[pa.Array, set[tuple[Any, Any]]]:
    """Which rows to keep, and the owners they bring. A row of an annotation, prediction
    or draft (and their regions and relations) is kept once per owner id over the whole
    folder; the task row, and rows whose owner has no id, only from the first batch that
    met the task, once."""
    tid = batch.column(batch.schema.get_field_index("task_id"))
    first_task = pc.is_in(tid, value_set=firsts).to_pylist()
    owners = _owners(batch, name) if name != "tasks" else [(None, None)] * batch.num_rows
    keys = list(zip(tid.to_pylist(), _row_key(batch, name), strict=True))
    seen: set[Any] = set()
    brought: set[tuple[Any, Any]] = set()
    mask = []
    for key, owner, first in zip(keys, owners, first_task, strict=True):
        keep = owner not in earlier if owner[1] is not None else first
        keep = keep and key not in seen
        if keep:
            seen.add(key)
            if owner[1] is not None:
                brought.add(owner)
        mask.append(keep)
    return pa.array(mask, pa.bool_()), brought


def _row_key(batch: pa.RecordBatch, name: str) -> list[Any]:
    cols = {
        "tasks": ["task_id"],
        "annotations": ["annotation_id"],
        "predictions": ["prediction_id"],
        "drafts": ["draft_id"],
        "regions": ["source", "source_id", "result_index"],
        "relations": ["source", "source_id", "result_index"],
    }[name]
    arrays = [batch.column(batch.schema.get_field_index(c)).to_pylist() for c in cols]
    return list(zip(*arrays, strict=True))


def _no_counts(batch: pa.RecordBatch, from_annotation: list[bool]) -> pa.RecordBatch:
    """An annotation's file holds its task without predictions or drafts: their counts
    are unknown there, not zero. (``annotation_count`` is recounted by the caller.)"""
    if not any(from_annotation):
        return batch
    mask = pa.array(from_annotation, pa.bool_())
    columns = list(batch.columns)
    for name in ("prediction_count", "draft_count"):
        i = batch.schema.get_field_index(name)
        if i >= 0:
            columns[i] = pc.if_else(mask, pa.nulls(batch.num_rows, columns[i].type), columns[i])
    return pa.RecordBatch.from_arrays(columns, schema=batch.schema)


def _append(batch: pa.RecordBatch, names: list[str | None]) -> pa.RecordBatch:
    return pa.RecordBatch.from_arrays(
        [*batch.columns, pa.array(names, pa.string())],
        schema=batch.schema.append(pa.field(STORAGE_FILE, pa.string())),
    )
