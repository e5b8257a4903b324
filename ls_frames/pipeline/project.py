"""End to end in one call: snapshot, wait, download, flatten.

These are the functions a notebook user calls; the CLI and the panel call them too. Each
goes through the one-off snapshot job (:func:`~ls_frames.exports.oneshot.one_off_snapshot`):
a snapshot made for one call is deleted from the server once it is downloaded, or once the
download failed (a project would otherwise collect one per call), unless
``keep_snapshot=True``. A snapshot named with ``export_id=`` is the user's own and is never
deleted. Projects are given by id or by title (see :meth:`~ls_frames.Client.resolve_project`).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

from ls_frames.exports import (
    AnnotationFilter,
    Client,
    Export,
    ExportOptions,
    Serialization,
    TaskFilter,
    one_off_read,
    one_off_snapshot,
)
from ls_frames.exports.options import Source, shared_docs
from ls_frames.media.dataset import fetch_dataset_media
from ls_frames.pipeline.checks import (
    check_destination,
    check_media,
    check_project,
    check_workers,
)
from ls_frames.pipeline.clients import using_client
from ls_frames.tables import Frames, read_export, to_parquet
from ls_frames.tables.dtypes import (
    Compression,
    DtypeBackend,
    check_compression,
    check_dtype_backend,
    check_tables,
)
from ls_frames.tables.folders import check_output_dir

__all__ = [
    "export_project",
    "load_project",
    "snapshot_project",
]


@shared_docs
def snapshot_project(
    project: int | str,
    *,
    client: Client | None = None,
    task_filter: TaskFilter | Mapping[str, Any] | None = None,
    annotation_filter: AnnotationFilter | Mapping[str, Any] | None = None,
    serialization: Serialization | Mapping[str, Any] | None = None,
    export_id: int | None = None,
    timeout: float | None = None,
    progress: bool | None = None,
) -> Export:
    """A completed snapshot: ``export_id`` reuses an existing one, else one is created with
    the given options (defaults: full objects, every annotation) and awaited. ``project`` is
    an id or a title. The snapshot stays on the server: delete it with ``.delete()`` when
    it is no longer needed (the other functions here do so for the snapshots they make).

    Parameters
    ----------
    %(project)s
    %(client)s
    %(snapshot_options)s
    %(export_id)s
    %(timeout)s
    %(progress)s

    Returns
    -------
    Export
        The completed snapshot (download it with :meth:`Export.download
        <ls_frames.Export.download>`).

    Raises
    ------
    %(raises_request)s
    """
    check_project(project)
    options = ExportOptions.coerce(
        task_filter=task_filter,
        annotation_filter=annotation_filter,
        serialization=serialization,
        export_id=export_id,
        keep_snapshot=True,
        timeout=timeout,
        progress=progress,
    )
    # a client made here is closed once the wait ends
    with (
        using_client(client, Client) as client,
        one_off_snapshot(client, client.resolve_project(project), options) as job,
    ):
        return job.export


@shared_docs
def load_project(
    project: int | str,
    *,
    client: Client | None = None,
    task_filter: TaskFilter | Mapping[str, Any] | None = None,
    annotation_filter: AnnotationFilter | Mapping[str, Any] | None = None,
    serialization: Serialization | Mapping[str, Any] | None = None,
    export_id: int | None = None,
    label_config: str | Literal[False] | None = None,
    dtype_backend: DtypeBackend = "numpy_nullable",
    tables: Iterable[str] | None = None,
    workers: int = 1,
    keep_file: str | os.PathLike[str] | None = None,
    keep_snapshot: bool = False,
    timeout: float | None = None,
    progress: bool | None = None,
    strict: bool = False,
    source: Source = "auto",
    fetch_workers: int = 2,
) -> Frames:
    """Snapshot a project and return its tables (see :func:`ls_frames.read_export`).

    ``label_config``: ``None`` fetches the project's config so label columns become
    categoricals in config order; a string uses that config; ``False`` skips it.
    ``keep_file`` keeps the downloaded JSON snapshot there (a file or folder). The snapshot
    made for the call is deleted from the server once downloaded unless ``keep_snapshot``;
    one named with ``export_id`` is kept. ``progress`` switches every bar (snapshot,
    download, flatten).

    Parameters
    ----------
    %(project)s
    %(client)s
    %(snapshot_options)s
    %(export_id)s
    %(label_config)s
    dtype_backend
        ``"numpy_nullable"`` (the default) or ``"pyarrow"``: the pandas
        dtypes of the tables (see :class:`~ls_frames.Frames`).
    %(tables)s
    %(workers)s
    %(keep_file)s
    %(keep_snapshot)s
    %(timeout)s
    %(progress)s
    %(strict)s
    %(source)s

    Returns
    -------
    Frames
        The project's tables; their ``provenance`` (a :class:`~ls_frames.provenance.
        Provenance`, read like a dict) holds what :func:`export_project` stores with a
        dataset (server, project, snapshot, md5, options).

    Raises
    ------
    %(raises_request)s
    %(raises_download)s
    """
    check_project(project)
    check_dtype_backend(dtype_backend)
    tables = check_tables(tables)
    check_workers(workers)
    check_destination(keep_file, "keep_file")
    options = ExportOptions.coerce(
        task_filter=task_filter,
        annotation_filter=annotation_filter,
        serialization=serialization,
        export_id=export_id,
        keep_snapshot=keep_snapshot,
        timeout=timeout,
        progress=progress,
        source=source,
        fetch_workers=fetch_workers,
    )
    with using_client(client, Client) as client:
        pid = client.resolve_project(project)
        with tempfile.TemporaryDirectory(prefix="ls_frames-") as tmp:
            with one_off_read(client, pid, options, label_config=label_config) as job:
                path = job.download(tmp if keep_file is None else keep_file)
                provenance = job.provenance
            frames = read_export(
                path,
                label_config=job.label_config,
                dtype_backend=dtype_backend,
                tables=tables,
                workers=workers,
                progress=progress,
                strict=strict,
            )
    frames.provenance = provenance
    return frames


@shared_docs
def export_project(
    project: int | str,
    out_dir: str | os.PathLike[str],
    *,
    client: Client | None = None,
    task_filter: TaskFilter | Mapping[str, Any] | None = None,
    annotation_filter: AnnotationFilter | Mapping[str, Any] | None = None,
    serialization: Serialization | Mapping[str, Any] | None = None,
    export_id: int | None = None,
    label_config: str | Literal[False] | None = None,
    keep_file: str | os.PathLike[str] | None = None,
    keep_snapshot: bool = False,
    overwrite: bool = False,
    compression: Compression = "zstd",
    tables: Iterable[str] | None = None,
    workers: int = 1,
    timeout: float | None = None,
    progress: bool | None = None,
    media: str | os.PathLike[str] | None = None,
    media_options: Mapping[str, Any] | None = None,
    strict: bool = False,
    source: Source = "auto",
    fetch_workers: int = 2,
) -> Path:
    """Snapshot a project into a Parquet dataset at ``out_dir`` (one folder per table),
    streamed in bounded memory; provenance (server, project, snapshot id, md5, options,
    versions) is stored in every file's metadata. Returns ``out_dir``.

    Parameters
    ----------
    %(project)s
    out_dir
        The dataset's folder (read it back with :func:`~ls_frames.read_parquet`).
    %(client)s
    %(snapshot_options)s
    %(export_id)s
    %(label_config)s
    %(keep_file)s
    %(keep_snapshot)s
    overwrite
        Replace a dataset already at ``out_dir`` (it stays until the new one is complete).
    compression
        The Parquet codec (``"zstd"``, ``"snappy"``, ``"gzip"``, ``"brotli"``, ``"lz4"``,
        ``"none"``).
    %(tables)s
    %(workers)s
    %(timeout)s
    %(progress)s
    media
        A cache folder: the files the tasks point to are fetched into it with
        :func:`~ls_frames.fetch_media` (files already there are not downloaded again) and
        kept as the dataset's ``media`` table (``read_parquet(out_dir).media``). A
        reference that cannot be fetched is a row with ``error`` set and the call warns
        once with :class:`~ls_frames.PartialResultWarning`, unless ``strict`` in
        ``media_options``.
    media_options
        Keyword arguments for ``fetch_media`` (``fields``, ``workers``, ``strict``,
        ``refresh``, ``allow_hosts``).
    %(strict)s
    %(source)s

    Returns
    -------
    pathlib.Path
        ``out_dir``.

    Raises
    ------
    OutputExistsError
        ``out_dir`` exists and ``overwrite`` is false (also a ``FileExistsError``).
    %(raises_request)s
    %(raises_download)s
    MediaError
        With ``media`` and ``strict`` in ``media_options``: a file could not be fetched
        (the dataset is written, without the media table).
    """
    out = Path(out_dir)
    # every argument before any request, let alone a snapshot
    check_project(project)
    check_output_dir(out, overwrite)
    check_compression(compression)
    tables = check_tables(tables)
    check_workers(workers)
    check_destination(keep_file, "keep_file")
    check_media(media, media_options)
    options = ExportOptions.coerce(
        task_filter=task_filter,
        annotation_filter=annotation_filter,
        serialization=serialization,
        export_id=export_id,
        keep_snapshot=keep_snapshot,
        timeout=timeout,
        progress=progress,
        source=source,
        fetch_workers=fetch_workers,
    )
    with using_client(client, Client) as client:
        pid = client.resolve_project(project)
        out.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix=".ls_frames-", dir=out.parent) as tmp:
            with one_off_read(client, pid, options, label_config=label_config) as job:
                path = job.download(tmp if keep_file is None else keep_file)
                provenance = job.provenance
            to_parquet(
                path,
                out,
                provenance=provenance.to_dict(),
                label_config=job.label_config,
                overwrite=overwrite,
                compression=compression,
                tables=tables,
                workers=workers,
                progress=progress,
                strict=strict,
            )
        if media is not None:
            fetch_dataset_media(
                out, media, client=client, progress=progress, **dict(media_options or {})
            )
        return out
