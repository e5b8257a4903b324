"""A dataset's ``media`` table: the files behind its tasks, fetched into a cache and listed
next to the labels.

:func:`fetch_dataset_media` runs :func:`~ls_frames.fetch_media` on a Parquet dataset and
keeps its result in the dataset::

    out_dir/
      media/part-0000.parquet   one row per reference (the columns of fetch_media)
      _SUCCESS                  "tables": {"media": {...}}, "media": {cache_dir, counts, ...}

``read_parquet(out_dir).media`` reads it back. The files themselves stay in the cache
folder (``path`` is absolute). The table is written under a temporary name and renamed
into place, then the manifest is replaced the same way: a failed run leaves the previous
table and manifest as they were.
"""

from __future__ import annotations

import os
import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ls_frames.exports import Client
from ls_frames.media.api import MEDIA_SCHEMA, check_fields, fetch_table
from ls_frames.media.report import warn_partial
from ls_frames.tables import Frames, read_parquet
from ls_frames.tables.dataset import (
    MANIFEST,
    METADATA_KEY,
    dataset_task_ids,
    dataset_task_stamps,
    read_manifest,
    rewrite_manifest,
)

__all__ = [
    "changed_tasks",
    "fetch_dataset_media",
    "media_cache_dir",
    "task_stamps",
    "write_media_table",
]

MEDIA_TABLE = "media"
_COUNTS = ("downloaded", "cached", "not_modified", "unchanged", "failed", "bytes_downloaded")


def media_cache_dir(dataset: str | os.PathLike[str]) -> Path | None:
    """The cache folder the dataset's media table was fetched into, or ``None``."""
    try:
        info = read_manifest(dataset).get("media")
    except Exception:  # no dataset there (yet)
        return None
    if isinstance(info, dict) and info.get("cache_dir"):
        return Path(str(info["cache_dir"]))
    return None


def task_stamps(dataset: str | os.PathLike[str]) -> dict[int, Any]:
    """``{task_id: updated_at}`` of the dataset's tasks (empty when there is no dataset)."""
    if not (Path(dataset) / MANIFEST).is_file():
        return {}
    ids = dataset_task_ids(dataset).to_pylist()
    return {tid: stamp[0] for tid, stamp in dataset_task_stamps(dataset, ids).items()}


def changed_tasks(dataset: str | os.PathLike[str], before: dict[int, Any]) -> set[int]:
    """Ids of the dataset's tasks that were in ``before`` with another ``updated_at`` (new
    tasks need no revalidation: what they point to is fetched when not cached)."""
    return {
        tid for tid, stamp in task_stamps(dataset).items() if tid in before and before[tid] != stamp
    }


def _subset(frames: Frames, ids: pa.Array, keep: bool) -> Frames:
    tasks = frames.arrow["tasks"]
    mask = pc.is_in(tasks.column("task_id"), value_set=ids)
    chosen = tasks.filter(mask if keep else pc.invert(mask))
    return Frames({"tasks": chosen}, label_config=frames.label_config, provenance=frames.provenance)


def fetch_dataset_media(
    dataset: str | os.PathLike[str],
    cache_dir: str | os.PathLike[str],
    *,
    client: Client | None = None,
    changed: Iterable[int] | None = None,
    refresh: bool = False,
    fields: Sequence[str] | None = None,
    workers: int | None = None,
    strict: bool = False,
    allow_hosts: Iterable[str] | None = None,
    progress: bool | None = None,
) -> pd.DataFrame:
    """Fetch the media of the dataset at ``dataset`` into ``cache_dir`` and keep the table.

    Parameters
    ----------
    dataset
        A Parquet dataset written by ``export_project``, ``sync_parquet`` or
        ``to_parquet``.
    cache_dir
        The media cache (see :func:`~ls_frames.fetch_media`).
    client
        The Label Studio client (``None``: one from the environment when needed).
    changed
        Ids of tasks whose references are revalidated with conditional requests
        (``refresh=True`` for them only); the other tasks' files are used from the cache
        without a request when present and fetched when new. ``None``: all tasks get
        ``refresh``.
    refresh
        Revalidate every cached file (ignored for ``changed`` tasks: always on).
    fields, workers, strict, allow_hosts, progress
        As for :func:`~ls_frames.fetch_media`.

    Returns
    -------
    pandas.DataFrame
        The media table (as :func:`~ls_frames.fetch_media` returns it), also written to
        ``dataset/media``; ``attrs["media"]`` counts what was downloaded.

    Raises
    ------
    MediaError
        With ``strict=True`` when a reference failed (the table is not written).
    ExportFormatError
        ``dataset`` is not a complete dataset.

    Warns
    -----
    PartialResultWarning
        Once, when any file failed (after the table is written), as ``fetch_media``.
    """
    frames = read_parquet(dataset, tables=["tasks"])
    options: dict[str, Any] = {
        "client": client,
        "fields": fields,
        "workers": workers,
        "strict": strict,
        "allow_hosts": allow_hosts,
        "progress": progress,
    }
    if changed is None:
        table = fetch_table(frames, cache_dir, refresh=refresh, **options)
    else:
        ids = pa.array(sorted({int(t) for t in changed}), pa.int64())
        check_fields(frames, fields)  # on all the tasks: a part may lack a field
        options["check_fields"] = False
        parts = [
            fetch_table(_subset(frames, ids, keep=True), cache_dir, refresh=True, **options),
            fetch_table(_subset(frames, ids, keep=False), cache_dir, refresh=refresh, **options),
        ]
        table = pd.concat(parts, ignore_index=True).sort_values(
            ["task_id", "field", "position"], kind="stable", ignore_index=True
        )
        counts = {
            name: sum(int(p.attrs.get("media", {}).get(name, 0)) for p in parts) for name in _COUNTS
        }
        reasons: Counter[str] = Counter()
        for part in parts:
            reasons.update(part.attrs["media"]["reasons"])
        table.attrs["media"] = {
            **counts,
            "reasons": dict(reasons.most_common()),
            "cache_dir": parts[0].attrs["media"]["cache_dir"],
        }
    write_media_table(dataset, table, cache_dir)
    warn_partial(table)
    return table


def write_media_table(
    dataset: str | os.PathLike[str], table: pd.DataFrame, cache_dir: str | os.PathLike[str]
) -> Path:
    """Write ``table`` (columns of ``fetch_media``) as the dataset's ``media`` table and record
    it in the manifest.

    Returns
    -------
    pathlib.Path
        The Parquet file written.

    Raises
    ------
    ExportFormatError
        ``dataset`` is not a complete dataset.
    """
    root = Path(dataset)
    info = read_manifest(root)
    tasks_files = sorted((root / "tasks").glob("*.parquet"))
    meta = (pq.read_schema(tasks_files[0]).metadata or {}) if tasks_files else {}
    schema = MEDIA_SCHEMA.with_metadata(
        {METADATA_KEY: meta[METADATA_KEY]} if METADATA_KEY in meta else None
    )
    arrow = pa.Table.from_pandas(table[MEDIA_SCHEMA.names], schema=schema, preserve_index=False)
    folder = root / MEDIA_TABLE
    folder.mkdir(exist_ok=True)
    target = folder / "part-0000.parquet"
    tmp = folder / f".part-0000.parquet.tmp-{uuid.uuid4().hex[:12]}"
    try:
        pq.write_table(arrow, tmp, compression="zstd")
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    counts = {k: v for k, v in table.attrs.get("media", {}).items() if k in _COUNTS}
    info.setdefault("tables", {})[MEDIA_TABLE] = {
        "rows": arrow.num_rows,
        "files": [f"{MEDIA_TABLE}/part-0000.parquet"],
    }
    info[MEDIA_TABLE] = {
        "cache_dir": str(Path(cache_dir).expanduser().absolute()),
        "fetched_at": datetime.now(timezone.utc).isoformat(),
        "references": arrow.num_rows,
        "failed": int(table["error"].notna().sum()),
        "last_run": counts,
    }
    rewrite_manifest(root, info)
    return target
