"""Keep a Parquet dataset in step with a project: :func:`sync_parquet`.

The run itself (what is asked, decided and written) is :mod:`~ls_frames.sync.run`;
the dataset is a :class:`~ls_frames.sync.stores.ParquetStore`. With ``media`` the
dataset also keeps a ``media`` table of the files its tasks point to
(:mod:`~ls_frames.media.dataset`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from ls_frames.errors import ConfigurationError
from ls_frames.exports import Client
from ls_frames.exports.options import ExportOptions, Source, shared_docs
from ls_frames.media.dataset import (
    changed_tasks,
    fetch_dataset_media,
    media_cache_dir,
    task_stamps,
)
from ls_frames.pipeline.checks import check_media
from ls_frames.sync.run import RunSummary, check_run, run_sync
from ls_frames.sync.stores import ParquetStore
from ls_frames.tables.dtypes import Compression, check_compression
from ls_frames.tables.folders import check_writable_dir

__all__ = ["SyncResult", "sync_parquet"]


@dataclass(frozen=True, kw_only=True)
class SyncResult(RunSummary):
    """What one :func:`sync_parquet` run did: the dataset's ``path``, the fields every sync
    result has (``mode``, ``changed_tasks``, ``deleted_tasks``, ``total_tasks``,
    ``watermark``, ``seconds``, ``export_id``, ``requests``) and what fetching the media
    did (``media``, with ``media=DIR``)."""

    path: Path
    media: dict[str, Any] | None = None


@shared_docs
def sync_parquet(
    project: int | str,
    out_dir: str | os.PathLike[str],
    *,
    client: Client | None = None,
    overlap: float = 60.0,
    full: bool = False,
    label_config: str | Literal[False] | None = None,
    compression: Compression = "zstd",
    timeout: float | None = None,
    progress: bool | None = None,
    media: str | os.PathLike[str] | None = None,
    media_options: Mapping[str, Any] | None = None,
    source: Source = "auto",
    fetch_workers: int = 2,
) -> SyncResult:
    """Bring the Parquet dataset at ``out_dir`` up to date with ``project``.

    The first run (or ``full=True``) writes the whole project like
    :func:`~ls_frames.export_project`. Later runs export only the tasks whose server-side
    ``updated_at`` is after the last watermark minus ``overlap`` seconds, replace all
    their rows in every table, and drop the tasks deleted on the server. With nothing
    changed no snapshot is made and the files are left as they are (such runs are not
    added to the history). A failed run leaves the previous dataset as it was.

    Snapshots made for a run are deleted from the server once downloaded. Saving a draft
    does not change a task's ``updated_at`` on the server, so a draft-only change arrives
    with the task's next change or a full run. ``overlap`` covers changes still being
    committed when the previous snapshot was taken; keep it above the server's longest
    request. Rows of replaced tasks move to the end of each table: sort by the keys.

    ``media``: a cache folder; the dataset keeps a ``media`` table of the files its tasks
    point to (see :func:`~ls_frames.export_project`). Each run fetches the references of new
    tasks, revalidates those of the tasks that changed (conditional requests), and uses the
    cache for the rest without a request. Once a dataset has a media table, later runs keep
    it up to date with the same cache unless another one is given. ``media_options`` go to
    :func:`~ls_frames.fetch_media`; ``SyncResult.media`` counts what was downloaded.

    Parameters
    ----------
    %(project)s
    out_dir
        The dataset's folder: created by the first run, refreshed by the next ones (read
        it with :func:`~ls_frames.read_parquet`).
    %(client)s
    overlap
        Seconds before the last watermark that are looked at again.
    full
        Write the whole project again (also replaces a folder sync_parquet did not write).
    %(label_config)s
    compression
        The Parquet codec of the files written (``"zstd"``, ``"snappy"``, ...).
    %(timeout)s
    %(progress)s
    %(source)s
        Incremental runs read the changed tasks through a snapshot in any case.
    media
        A cache folder for the tasks' files (kept as the ``media`` table).
    media_options
        Keyword arguments for :func:`~ls_frames.fetch_media`.

    Returns
    -------
    SyncResult
        What the run did: ``mode`` (``"full"`` or ``"incremental"``), ``changed_tasks``,
        ``deleted_tasks``, ``total_tasks``, the new ``watermark``, ``seconds``, the
        ``export_id`` of its snapshot, the ``requests`` it made and the ``media`` counts.

    Raises
    ------
    ConfigurationError
        An argument is out of its range (``overlap`` negative, ``compression`` unknown,
        ``out_dir`` a file or not writable, an unknown ``media_options`` key: all checked
        before a client is made), ``out_dir`` holds something sync_parquet did not write
        (without ``full``) or another project's dataset, no project has the title, or no
        client was given and the environment names no server or key.
    AuthenticationError, PermissionDenied, NotFound
        The key is refused, the user may not export, or the project (or snapshot) does
        not exist.
    HTTPError
        Another request failure after the retries (a :class:`~ls_frames.HTTPError`).
    ExportFailed, ExportTimeout
        The snapshot failed on the server, or did not complete within ``timeout``.
    DownloadError
        The download broke off for good or its MD5 does not match (nothing is left under
        the final name).
    ExportFormatError
        The snapshot is not a Label Studio JSON export.
    DatasetVersionError
        The dataset at ``out_dir`` was written by a newer ls_frames.
    MediaError
        With ``media`` and ``strict`` in ``media_options``: a file could not be fetched.
    """
    ExportOptions(source=source, fetch_workers=fetch_workers)  # checked before a client
    if client is None:
        _check(project, out_dir, overlap, compression, timeout, media, media_options)
        with Client() as own:
            return sync_parquet(
                project,
                out_dir,
                client=own,
                overlap=overlap,
                full=full,
                label_config=label_config,
                compression=compression,
                timeout=timeout,
                progress=progress,
                media=media,
                media_options=media_options,
                source=source,
                fetch_workers=fetch_workers,
            )
    _check(project, out_dir, overlap, compression, timeout, media, media_options)
    project = client.resolve_project(project)
    cache = media if media is not None else media_cache_dir(out_dir)
    before = task_stamps(out_dir) if cache is not None else {}
    store = ParquetStore(out_dir, compression=compression, progress=progress)
    done = run_sync(
        client,
        project,
        store,
        overlap=overlap,
        full=full,
        label_config=label_config,
        timeout=timeout,
        progress=progress,
        scratch=store.path.parent,
        name="sync_parquet",
        source=source,
        fetch_workers=fetch_workers,
    )
    result = SyncResult.of(done.summary, path=store.path)
    if cache is None:
        return result
    table = fetch_dataset_media(
        result.path,
        cache,
        client=client,
        progress=progress,
        changed=changed_tasks(result.path, before),
        **dict(media_options or {}),
    )
    return replace(result, media=dict(table.attrs.get("media", {})))


def _check(
    project: int | str,
    out_dir: str | os.PathLike[str],
    overlap: float,
    compression: str,
    timeout: float | None,
    media: str | os.PathLike[str] | None,
    media_options: Mapping[str, Any] | None,
) -> None:
    """Every argument, before a client is made or anything is asked or written."""
    check_run(project, overlap, timeout)
    check_compression(compression)
    out = Path(out_dir)
    if out.is_file():
        raise ConfigurationError(f"out_dir {out} is a file, not a dataset folder")
    check_writable_dir(out.parent, "out_dir")
    check_media(media, media_options)
