"""Replace some tasks' rows in a Parquet dataset, streamed, and publish the result atomically.

The old dataset is read batch by batch; rows of the replaced or dropped tasks are filtered
out, the new rows are appended, and everything is written into a hidden sibling folder
that replaces the dataset only once complete (see :func:`~ls_frames.tables.parquet.publish`).
Memory stays at about one row group for each of the two tables written at a time,
whatever the dataset's size.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import msgspec
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ls_frames.errors import ExportFormatError
from ls_frames.reading import SCHEMAS, TABLES, tasks_schema
from ls_frames.reading.columns import first_element
from ls_frames.tables.frames import METADATA_KEY
from ls_frames.tables.parquet import (
    _DICTIONARY,
    _TableWriter,
    manifest,
    publish,
    staging_dir,
)

__all__ = ["dataset_task_ids", "dataset_task_stamps", "read_manifest", "upsert_tasks"]

_BATCH = 65_536
_DATA = msgspec.json.Decoder(dict[str, msgspec.Raw])


def read_manifest(dataset: str | os.PathLike[str]) -> dict[str, Any]:
    """The ``_SUCCESS`` manifest of a complete dataset."""
    path = Path(dataset) / "_SUCCESS"
    if not path.is_file():
        raise ExportFormatError("not a complete ls_frames dataset (no _SUCCESS)",
                                path=str(Path(dataset)))
    try:
        info = json.loads(path.read_text())
    except ValueError as exc:
        raise ExportFormatError(f"unreadable _SUCCESS manifest: {exc}", path=str(path)) from None
    if not isinstance(info, dict):
        raise ExportFormatError("the _SUCCESS manifest is not a JSON object", path=str(path))
    return info


def _files(dataset: Path, name: str) -> list[Path]:
    folder = dataset / name
    return sorted(folder.glob("*.parquet")) if folder.is_dir() else []


def dataset_task_ids(dataset: str | os.PathLike[str]) -> pa.Array:
    """The ``task_id`` column of a dataset's ``tasks`` table (nothing else is read)."""
    files = _files(Path(dataset), "tasks")
    if not files:
        return pa.array([], pa.int64())
    ids = pa.concat_arrays([
        chunk for f in files
        for chunk in pq.read_table(f, columns=["task_id"]).column(0).chunks
    ] or [pa.array([], pa.int64())])
    return ids.cast(pa.int64())


def dataset_task_stamps(
    dataset: str | os.PathLike[str], ids: Iterable[int], columns: Iterable[str] = ()
) -> dict[int, tuple[Any, ...]]:
    """``{task_id: (updated_at, *columns)}`` (``updated_at`` an aware datetime) for those
    of ``ids`` in the dataset's ``tasks``."""
    wanted = pa.array(sorted(set(ids)), pa.int64())
    names = ["updated_at", *columns]
    out: dict[int, tuple[Any, ...]] = {}
    for path in _files(Path(dataset), "tasks"):
        table = pq.read_table(path, columns=["task_id", *names])
        table = table.filter(pc.is_in(table.column("task_id"), value_set=wanted))
        values = zip(*(table.column(n).to_pylist() for n in names), strict=True)
        out.update(zip(table.column("task_id").to_pylist(), values, strict=True))
    return out


_INTEGER = re.compile(r"-?[0-9]+")


def _upgrade(batch: pa.RecordBatch) -> pa.RecordBatch:
    """A regions batch of a dataset written before ``start``/``end`` were integers and
    ``label``/``choice`` were columns, in today's layout (``start_text`` keeps the old
    text, ``start`` its integers)."""
    cols = dict(zip(batch.schema.names, batch.columns, strict=True))
    before = set(cols)
    for name in ("start", "end"):
        if name in cols and f"{name}_text" not in cols and pa.types.is_string(cols[name].type):
            text = cols[name]
            cols[f"{name}_text"] = text
            cols[name] = pa.array([int(v) if v is not None and _INTEGER.fullmatch(v) else None
                                   for v in text.to_pylist()], pa.int64())  # fmt: skip
    for name, source in (("label", "labels"), ("choice", "choices")):
        if source in cols and name not in cols:
            cols[name] = first_element(cols[source])
    return batch if set(cols) == before else pa.RecordBatch.from_pydict(cols)


def _conform(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    """``batch`` with exactly ``schema``'s columns: missing ones null, types cast."""
    batch = _upgrade(batch)
    columns = []
    for field in schema:
        i = batch.schema.get_field_index(field.name)
        column = batch.column(i) if i >= 0 else pa.nulls(batch.num_rows, field.type)
        columns.append(column if column.type == field.type else column.cast(field.type))
    return pa.RecordBatch.from_arrays(columns, schema=schema.remove_metadata())


def _batches(files: list[Path], columns: list[str] | None = None
             ) -> Iterator[pa.RecordBatch]:
    for path in files:
        with pq.ParquetFile(path) as handle:
            yield from handle.iter_batches(batch_size=_BATCH, columns=columns)


def _data_keys(task_files: list[Path], replaced: pa.Array) -> list[str]:
    """The keys of ``data`` over the tasks not in ``replaced``, in first-seen order."""
    keys: dict[str, None] = {}
    for batch in _batches(task_files, ["task_id", "data_json"]):
        kept = batch.filter(pc.invert(pc.is_in(batch.column("task_id"), value_set=replaced)))
        for text in kept.column("data_json").to_pylist():
            if text and text[:1] == "{":
                keys.update(dict.fromkeys(_DATA.decode(text)))
    return list(keys)


def upsert_tasks(
    dataset: str | os.PathLike[str],
    changes: str | os.PathLike[str] | None,
    *,
    drop_tasks: Iterable[int] = (),
    provenance: dict[str, Any],
    compression: str = "zstd",
    row_group_size: int = 131_072,
) -> dict[str, Any]:
    """Rewrite ``dataset`` so that every task in the ``changes`` dataset (both written by
    :func:`~ls_frames.to_parquet`) has exactly its rows from ``changes`` in every table,
    and the tasks in ``drop_tasks`` have none. A task's annotation, region or relation
    that is not in ``changes`` is gone afterwards. ``changes=None`` only drops.

    ``provenance`` replaces the stored provenance. Returns the new manifest. A failure
    leaves ``dataset`` as it was.
    """
    root = Path(dataset)
    part = None if changes is None else Path(changes)
    read_manifest(root)
    dropped = pa.array(sorted(set(drop_tasks)), pa.int64())
    replaced = dropped
    if part is not None:
        replaced = pc.unique(pa.concat_arrays([dataset_task_ids(part), dropped]))
    # the data keys of the rows that stay (a key whose last task changed or went is gone,
    # as in a fresh export), then the new ones
    keys = _data_keys(_files(root, "tasks"), replaced)
    if part is not None:
        new_keys = list(read_manifest(part).get("data_keys") or [])
        keys += [k for k in new_keys if k not in set(keys)]
    meta = {METADATA_KEY: json.dumps(provenance, default=str).encode()}
    tmp = staging_dir(root)

    def rewrite(name: str) -> int:
        old = _files(root, name)
        new = [] if part is None else _files(part, name)
        schema = tasks_schema(keys) if name == "tasks" else SCHEMAS[name]
        writer = _TableWriter(tmp / name / "part-0000.parquet", schema.with_metadata(meta),
                              max(1, int(row_group_size)), compression,
                              _DICTIONARY.get(name, True))
        try:
            for batch in _batches(old):
                kept = batch.filter(pc.invert(pc.is_in(batch.column("task_id"),
                                                       value_set=replaced)))
                if kept.num_rows:
                    writer.add(_conform(kept, schema))
            for batch in _batches(new):
                # a task both changed and deleted during the run: deleted wins
                batch = batch.filter(pc.invert(pc.is_in(batch.column("task_id"),
                                                        value_set=dropped)))
                if batch.num_rows:
                    writer.add(_conform(batch, schema))
        except BaseException:
            writer.writer.close()
            raise
        writer.close()
        return writer.rows

    names = [n for n in TABLES
             if (root / n).is_dir() or (part is not None and (part / n).is_dir())]
    try:
        # two tables at a time: Arrow decodes, filters and encodes outside the GIL
        with ThreadPoolExecutor(2, thread_name_prefix="ls_frames-upsert") as pool:
            counts = dict(zip(names, pool.map(rewrite, names), strict=True))
        written = manifest(counts, counts.get("tasks", 0), keys, provenance)
        publish(tmp, root, written)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return written
