"""The ls_frames Parquet dataset format: layout, manifest, version, staging, publish,
recovery and the streamed upsert.

Layout::

    out_dir/
      tasks/part-0000.parquet  annotations/part-0000.parquet  ...  relations/part-0000.parquet
      media/part-0000.parquet  (only when written with ``media=DIR``; see write_media_table)
      _SUCCESS                 JSON manifest, written last

The manifest: ``{"format": "ls_frames-parquet", "version": FORMAT_VERSION, "tables":
{name: {"rows", "files"}}, "task_count", "data_keys", "provenance"}`` (plus ``"media"``
when there is a media table). Each file carries the provenance as JSON under the
:data:`METADATA_KEY` key of its schema metadata.

Versions: readers call :func:`check_format`. A dataset of a newer version than
:data:`FORMAT_VERSION` is refused with :class:`~ls_frames.errors.DatasetVersionError`
(upgrade ls_frames); a manifest without a version is read as version 1. Version 1
datasets written before ``regions.start``/``end`` were integers and ``label``/``choice``
were columns are read as they are and brought to today's columns by the next upsert.

Writing: a dataset is written into :func:`staging_dir` (a hidden sibling) and renamed into
place by :func:`publish`, the manifest last; :func:`recover` puts a dataset back after a
process died between publish's two renames. :func:`upsert_tasks` rewrites a dataset with
some tasks' rows replaced or dropped, streamed: the old dataset is read batch by batch,
rows of the replaced or dropped tasks are filtered out, the new rows appended. Memory
stays at about one row group for each of the two tables written at a time.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import uuid
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import msgspec
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ls_frames.errors import DatasetVersionError, ExportFormatError
from ls_frames.provenance import stored_provenance
from ls_frames.reading import SCHEMAS, TABLES, tasks_schema
from ls_frames.reading.columns import first_element
from ls_frames.tables.writer import DICTIONARY_COLUMNS, TableWriter

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "MANIFEST",
    "METADATA_KEY",
    "check_format",
    "dataset_task_ids",
    "dataset_task_stamps",
    "manifest",
    "publish",
    "read_manifest",
    "recover",
    "rewrite_manifest",
    "staging_dir",
    "table_files",
    "upsert_tasks",
]

#: the schema-metadata key under which every file carries the provenance (JSON)
METADATA_KEY = b"ls_frames"
#: the manifest's file name; present only in a complete dataset
MANIFEST = "_SUCCESS"
FORMAT = "ls_frames-parquet"
#: the version this ls_frames writes, and the newest it reads
FORMAT_VERSION = 1

_BATCH = 65_536
_DATA = msgspec.json.Decoder(dict[str, msgspec.Raw])


def check_format(info: dict[str, Any], where: str | os.PathLike[str]) -> int:
    """The format version of a manifest this ls_frames can read.

    Raises
    ------
    ExportFormatError
        The manifest names another format.
    DatasetVersionError
        The dataset's version is newer than :data:`FORMAT_VERSION`.
    """
    fmt = info.get("format", FORMAT)
    if fmt != FORMAT:
        raise ExportFormatError(f"not an ls_frames dataset (format {fmt!r})", path=str(where))
    version = info.get("version", 1)
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ExportFormatError(f"unreadable dataset format version {version!r}", path=str(where))
    if version > FORMAT_VERSION:
        raise DatasetVersionError(
            f"this dataset has format version {version}; this ls_frames reads up to "
            f"version {FORMAT_VERSION}: upgrade ls_frames to read it",
            path=str(where),
        )
    return version


def read_manifest(dataset: str | os.PathLike[str]) -> dict[str, Any]:
    """The manifest of a complete dataset, its format version checked.

    Raises
    ------
    ExportFormatError
        No such folder, no manifest (not a complete dataset), or an unreadable one.
    DatasetVersionError
        The dataset was written in a newer format version.
    """
    path = Path(dataset) / MANIFEST
    if not Path(dataset).exists():
        raise ExportFormatError("no such dataset folder", path=str(Path(dataset)))
    if not path.is_file():
        raise ExportFormatError(
            f"not a complete ls_frames dataset (no {MANIFEST})", path=str(Path(dataset))
        )
    try:
        info = json.loads(path.read_text())
    except ValueError as exc:
        raise ExportFormatError(f"unreadable {MANIFEST} manifest: {exc}", path=str(path)) from None
    if not isinstance(info, dict):
        raise ExportFormatError(f"the {MANIFEST} manifest is not a JSON object", path=str(path))
    check_format(info, path)
    return info


def rewrite_manifest(dataset: str | os.PathLike[str], info: dict[str, Any]) -> None:
    """Replace a complete dataset's manifest by ``info`` atomically (how a table added to
    a published dataset, like ``media``, is recorded)."""
    root = Path(dataset)
    staged = root / f".{MANIFEST}.tmp-{uuid.uuid4().hex[:12]}"
    try:
        staged.write_text(json.dumps(info, indent=2, default=str))
        os.replace(staged, root / MANIFEST)
    finally:
        staged.unlink(missing_ok=True)


def table_files(dataset: str | os.PathLike[str], name: str) -> list[Path]:
    """The Parquet files of one table of a dataset (none when it has no such table)."""
    folder = Path(dataset) / name
    return sorted(folder.glob("*.parquet")) if folder.is_dir() else []


def dataset_task_ids(dataset: str | os.PathLike[str]) -> pa.Array:
    """The ``task_id`` column of a dataset's ``tasks`` table (nothing else is read)."""
    files = table_files(Path(dataset), "tasks")
    if not files:
        return pa.array([], pa.int64())
    ids = pa.concat_arrays(
        [chunk for f in files for chunk in pq.read_table(f, columns=["task_id"]).column(0).chunks]
        or [pa.array([], pa.int64())]
    )
    return ids.cast(pa.int64())


def dataset_task_stamps(
    dataset: str | os.PathLike[str], ids: Iterable[int], columns: Iterable[str] = ()
) -> dict[int, tuple[Any, ...]]:
    """``{task_id: (updated_at, *columns)}`` (``updated_at`` an aware datetime) for those
    of ``ids`` in the dataset's ``tasks``."""
    wanted = pa.array(sorted(set(ids)), pa.int64())
    names = ["updated_at", *columns]
    out: dict[int, tuple[Any, ...]] = {}
    for path in table_files(Path(dataset), "tasks"):
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
            cols[name] = pa.array(
                [
                    int(v) if v is not None and _INTEGER.fullmatch(v) else None
                    for v in text.to_pylist()
                ],
                pa.int64(),
            )
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


def _batches(files: list[Path], columns: list[str] | None = None) -> Iterator[pa.RecordBatch]:
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
    provenance: Mapping[str, Any],
    compression: str = "zstd",
    row_group_size: int = 131_072,
) -> dict[str, Any]:
    """Rewrite ``dataset`` so that every task in the ``changes`` dataset (both written by
    :func:`~ls_frames.to_parquet`) has exactly its rows from ``changes`` in every table,
    and the tasks in ``drop_tasks`` have none. A task's annotation, region or relation
    that is not in ``changes`` is gone afterwards. ``changes=None`` only drops.

    ``provenance`` (a :class:`~ls_frames.provenance.Provenance` or a dict) replaces the
    stored provenance. Returns the new manifest. A failure
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
    keys = _data_keys(table_files(root, "tasks"), replaced)
    if part is not None:
        new_keys = list(read_manifest(part).get("data_keys") or [])
        keys += [k for k in new_keys if k not in set(keys)]
    stored = stored_provenance(provenance)
    meta = {METADATA_KEY: json.dumps(stored, default=str).encode()}
    tmp = staging_dir(root)

    def rewrite(name: str) -> int:
        old = table_files(root, name)
        new = [] if part is None else table_files(part, name)
        schema = tasks_schema(keys) if name == "tasks" else SCHEMAS[name]
        writer = TableWriter(
            tmp / name / "part-0000.parquet",
            schema.with_metadata(meta),
            max(1, int(row_group_size)),
            compression,
            DICTIONARY_COLUMNS.get(name, True),
        )
        try:
            for batch in _batches(old):
                kept = batch.filter(
                    pc.invert(pc.is_in(batch.column("task_id"), value_set=replaced))
                )
                if kept.num_rows:
                    writer.add(_conform(kept, schema))
            for batch in _batches(new):
                # a task both changed and deleted during the run: deleted wins
                batch = batch.filter(
                    pc.invert(pc.is_in(batch.column("task_id"), value_set=dropped))
                )
                if batch.num_rows:
                    writer.add(_conform(batch, schema))
        except BaseException:
            writer.writer.close()
            raise
        writer.close()
        return writer.rows

    names = [n for n in TABLES if (root / n).is_dir() or (part is not None and (part / n).is_dir())]
    try:
        # two tables at a time: Arrow decodes, filters and encodes outside the GIL
        with ThreadPoolExecutor(2, thread_name_prefix="ls_frames-upsert") as pool:
            counts = dict(zip(names, pool.map(rewrite, names), strict=True))
        written = manifest(counts, counts.get("tasks", 0), keys, stored)
        publish(tmp, root, written)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return written


def staging_dir(out: Path) -> Path:
    """A fresh hidden sibling of ``out`` to write a dataset into before :func:`publish`."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.tmp-{uuid.uuid4().hex[:12]}"
    tmp.mkdir()
    return tmp


def publish(tmp: Path, out: Path, manifest: dict[str, Any]) -> None:
    """Write the manifest into ``tmp`` (last) and rename ``tmp`` into place; an old
    dataset at ``out`` is moved aside first and removed after."""
    (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, default=str))
    if out.exists():
        old = out.parent / f".{out.name}.old-{uuid.uuid4().hex[:12]}"
        out.rename(old)
        try:
            tmp.rename(out)
        except BaseException:
            old.rename(out)  # the previous dataset back under its name
            raise
        shutil.rmtree(old, ignore_errors=True)
    else:
        tmp.rename(out)


def recover(out: Path) -> Path | None:
    """Put a dataset back at ``out`` after a process died between :func:`publish`'s two
    renames (``out`` gone, complete hidden siblings left). The newer one wins: the staged
    dataset if its manifest was written, else the one moved aside. Returns what was
    restored, or ``None`` when there was nothing to do."""
    if out.exists():
        return None
    staged = [p for p in out.parent.glob(f".{out.name}.tmp-*") if (p / MANIFEST).is_file()]
    aside = [p for p in out.parent.glob(f".{out.name}.old-*") if (p / MANIFEST).is_file()]
    for group in (staged, aside):
        if group:
            best = max(group, key=lambda p: (p / MANIFEST).stat().st_mtime)
            best.rename(out)
            return best
    return None


def manifest(
    counts: dict[str, int],
    task_count: int,
    data_keys: list[str],
    info: Mapping[str, Any],
    files: Mapping[str, list[str]] | None = None,
) -> dict[str, Any]:
    """The ``_SUCCESS`` manifest of a dataset with one ``part-0000.parquet`` per table, or
    the parts ``files`` names by table (``info``: the provenance, stored as
    :func:`~ls_frames.provenance.stored_provenance` gives it)."""
    files = files or {}
    return {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "tables": {
            name: {"rows": rows, "files": files.get(name, [f"{name}/part-0000.parquet"])}
            for name, rows in counts.items()
        },
        "task_count": task_count,
        "data_keys": data_keys,
        "provenance": stored_provenance(info),
    }
