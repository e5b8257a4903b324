"""End to end in one call: snapshot, wait, download, flatten.

These are the functions a notebook user calls; the CLI and the panel call them too.

A snapshot these functions create for one job is deleted from the server once it is
downloaded, or once the download failed (a project would otherwise collect one per call),
unless ``keep_snapshot=True``.
A snapshot named with ``export_id=`` is the user's own and is never deleted. Projects are
given by id or by title (see :meth:`~ls_frames.Client.resolve_project`).
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from ls_frames._version import __version__
from ls_frames.errors import ConfigurationError, HTTPError, OutputExistsError
from ls_frames.exports import (
    AnnotationFilter,
    Client,
    Export,
    Serialization,
    TaskFilter,
)
from ls_frames.exports.download import means_folder
from ls_frames.exports.options import coerce_option
from ls_frames.media.dataset import fetch_dataset_media
from ls_frames.tables import Frames, read_export, to_parquet
from ls_frames.tables.dtypes import Compression, DtypeBackend

__all__ = [
    "SINGLE_FILE_FORMATS",
    "download_project",
    "export_project",
    "load_project",
    "snapshot_project",
    "snapshot_provenance",
]

logger = logging.getLogger("ls_frames")

#: Export formats the server writes as one file; it zips the files of every other format.
SINGLE_FILE_FORMATS = frozenset({"JSON", "JSON_MIN", "CSV", "TSV", "CONLL2003", "ASR_MANIFEST"})


@contextmanager
def _using(client: Client | None) -> Iterator[Client]:
    """The caller's client, or one made from the environment and closed afterwards."""
    if client is not None:
        yield client
        return
    with Client() as own:
        yield own


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
    project
        The project's id or title.
    client
        The :class:`~ls_frames.Client` to use; by default one is made from
        ``LABEL_STUDIO_URL`` / ``LABEL_STUDIO_API_KEY`` (and closed afterwards).
    task_filter, annotation_filter, serialization
        The snapshot's options (:class:`~ls_frames.TaskFilter`,
        :class:`~ls_frames.AnnotationFilter`, :class:`~ls_frames.Serialization`, or dicts
        of their fields); by default every task, every annotation, full objects.
    export_id
        Use this existing snapshot instead of creating one (the options are then ignored).
    timeout
        Seconds to wait for the snapshot to complete; ``None`` waits as long as it takes.
    progress
        Show progress bars; ``None`` shows them unless ``LS_FRAMES_DISABLE_PROGRESS_BARS``
        is set.

    Returns
    -------
    Export
        The completed snapshot (download it with :meth:`Export.download
        <ls_frames.Export.download>`).

    Raises
    ------
    ConfigurationError
        No client was given and the environment names no server or key.
    AuthenticationError, PermissionDenied, NotFound
        The key is refused, the user may not export, or the project (or snapshot) does
        not exist.
    HTTPError
        Another request failure after the retries (a :class:`~ls_frames.HTTPError`).
    ExportFailed, ExportTimeout
        The snapshot failed on the server, or did not complete within ``timeout``.
    """
    with _using(client) as client:  # a client made here is closed once the wait ends
        pid = client.resolve_project(project)
        if export_id is not None:
            export = client.get_export(pid, export_id)
        else:
            export = client.create_export(
                pid,
                task_filter=task_filter,
                annotation_filter=annotation_filter,
                serialization=serialization,
            )
        return export.wait(timeout=timeout, progress=progress)


def snapshot_provenance(client: Client, export: Export, label_config: str | None) -> dict[str, Any]:
    """What a dataset written from ``export`` records about where it came from."""
    options = {
        key: export.raw.get(key)
        for key in ("task_filter_options", "annotation_filter_options", "serialization_options")
        if key in export.raw
    }
    return {
        "source": "label-studio-snapshot",
        "server": str(client.base_url).rstrip("/"),
        "server_version": client.server_version(),
        "project": export.project,
        "export_id": export.id,
        "export_title": export.title,
        "md5": export.md5,
        "task_count": export.task_count,
        "export_created_at": export.raw.get("created_at"),
        "options": options,
        "label_config_present": label_config is not None,
        "ls_frames_version": __version__,
        "written_at": datetime.now(timezone.utc).isoformat(),
    }


def _label_config(client: Client, project: int, label_config: str | bool | None) -> str | None:
    if label_config is False:
        return None
    if isinstance(label_config, str):
        return label_config
    config = client.get_project(project).get("label_config")
    return str(config) if config else None


def _dataset_provenance(
    client: Client,
    export: Export,
    config: str | None,
    *,
    kept: bool,
    task_filter: TaskFilter | Mapping[str, Any] | None,
    annotation_filter: AnnotationFilter | Mapping[str, Any] | None,
    serialization: Serialization | Mapping[str, Any] | None,
) -> dict[str, Any]:
    """What ``export_project`` stores with a dataset and ``load_project`` puts on
    ``Frames.provenance``."""
    provenance = snapshot_provenance(client, export, config)
    provenance["requested_options"] = {
        "task_filter": asdict(coerce_option(TaskFilter, task_filter)),
        "annotation_filter": asdict(coerce_option(AnnotationFilter, annotation_filter)),
        "serialization": asdict(coerce_option(Serialization, serialization)),
    }
    provenance["snapshot_kept"] = kept
    return provenance


@contextmanager
def _deleted_after(client: Client, export: Export, drop: bool) -> Iterator[Export]:
    """Delete a snapshot made for one job when the block ends (downloaded, or failed:
    either way the snapshot has served). A failure to delete is logged, not raised."""
    try:
        yield export
    finally:
        if drop:
            try:
                client.delete_export(export.project, export.id)
            except HTTPError as exc:
                logger.warning(
                    "could not delete snapshot %d of project %d: %s", export.id, export.project, exc
                )


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
    project
        The project's id or title.
    client
        The :class:`~ls_frames.Client` to use; by default one is made from
        ``LABEL_STUDIO_URL`` / ``LABEL_STUDIO_API_KEY`` (and closed afterwards).
    task_filter, annotation_filter, serialization
        The snapshot's options (:class:`~ls_frames.TaskFilter`,
        :class:`~ls_frames.AnnotationFilter`, :class:`~ls_frames.Serialization`, or dicts
        of their fields); by default every task, every annotation, full objects.
    export_id
        Use this existing snapshot instead of creating one (the options are then ignored).
    label_config
        ``None`` fetches the project's config so label columns become categoricals in
        config order; a string is used as the config; ``False`` skips it.
    dtype_backend
        ``"numpy_nullable"`` (the default) or ``"pyarrow"``: the pandas
        dtypes of the tables (see :class:`~ls_frames.Frames`).
    tables
        Only these of ``tasks, annotations, predictions, drafts, regions, relations``;
        all by default.
    workers
        Processes decoding the snapshot (1: in this process).
    keep_file
        Keep the downloaded JSON snapshot there (a file, or a folder to put it in);
        by default it goes to a temporary folder that is removed.
    keep_snapshot
        Keep the snapshot made for the call on the server (it is deleted once downloaded
        otherwise; one named with ``export_id`` is always kept).
    timeout
        Seconds to wait for the snapshot to complete; ``None`` waits as long as it takes.
    progress
        Show progress bars; ``None`` shows them unless ``LS_FRAMES_DISABLE_PROGRESS_BARS``
        is set.

    Returns
    -------
    Frames
        The project's tables; their ``provenance`` holds what :func:`export_project`
        stores with a dataset (server, project, snapshot, md5, options).

    Raises
    ------
    ConfigurationError
        No client was given and the environment names no server or key.
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
    """
    with _using(client) as client:
        pid = client.resolve_project(project)
        export = snapshot_project(
            pid,
            client=client,
            task_filter=task_filter,
            annotation_filter=annotation_filter,
            serialization=serialization,
            export_id=export_id,
            timeout=timeout,
            progress=progress,
        )
        drop = export_id is None and not keep_snapshot
        with tempfile.TemporaryDirectory(prefix="ls_frames-") as tmp:
            with _deleted_after(client, export, drop):
                config = _label_config(client, pid, label_config)
                provenance = _dataset_provenance(
                    client,
                    export,
                    config,
                    kept=not drop,
                    task_filter=task_filter,
                    annotation_filter=annotation_filter,
                    serialization=serialization,
                )
                if config is not None:
                    provenance["label_config"] = config
                path = export.download(tmp if keep_file is None else keep_file, progress=progress)
            frames = read_export(
                path,
                label_config=config,
                dtype_backend=dtype_backend,
                tables=tables,
                workers=workers,
                progress=progress,
            )
    frames.provenance = provenance
    return frames


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
) -> Path:
    """Snapshot a project into a Parquet dataset at ``out_dir`` (one folder per table),
    streamed in bounded memory; provenance (server, project, snapshot id, md5, options,
    versions) is stored in every file's metadata. Returns ``out_dir``.

    Parameters
    ----------
    project
        The project's id or title.
    out_dir
        The dataset's folder (read it back with :func:`~ls_frames.read_parquet`).
    client
        The :class:`~ls_frames.Client` to use; by default one is made from
        ``LABEL_STUDIO_URL`` / ``LABEL_STUDIO_API_KEY`` (and closed afterwards).
    task_filter, annotation_filter, serialization
        The snapshot's options (:class:`~ls_frames.TaskFilter`,
        :class:`~ls_frames.AnnotationFilter`, :class:`~ls_frames.Serialization`, or dicts
        of their fields); by default every task, every annotation, full objects.
    export_id
        Use this existing snapshot instead of creating one (the options are then ignored).
    label_config
        ``None`` fetches the project's config so label columns become categoricals in
        config order; a string is used as the config; ``False`` skips it.
    keep_file
        Keep the downloaded JSON snapshot there (a file, or a folder to put it in);
        by default it goes to a temporary folder that is removed.
    keep_snapshot
        Keep the snapshot made for the call on the server (it is deleted once downloaded
        otherwise; one named with ``export_id`` is always kept).
    overwrite
        Replace a dataset already at ``out_dir`` (it stays until the new one is complete).
    compression
        The Parquet codec (``"zstd"``, ``"snappy"``, ``"gzip"``, ``"brotli"``, ``"lz4"``,
        ``"none"``).
    tables
        Only these of ``tasks, annotations, predictions, drafts, regions, relations``;
        all by default.
    workers
        Processes decoding the snapshot (1: in this process).
    timeout
        Seconds to wait for the snapshot to complete; ``None`` waits as long as it takes.
    progress
        Show progress bars; ``None`` shows them unless ``LS_FRAMES_DISABLE_PROGRESS_BARS``
        is set.
    media
        A cache folder: the files the tasks point to are fetched into it with
        :func:`~ls_frames.fetch_media` (files already there are not downloaded again) and
        kept as the dataset's ``media`` table (``read_parquet(out_dir).media``). A
        reference that cannot be fetched is a row with ``error`` set, unless ``strict``.
    media_options
        Keyword arguments for ``fetch_media`` (``fields``, ``workers``, ``strict``,
        ``refresh``, ``allow_hosts``).

    Returns
    -------
    pathlib.Path
        ``out_dir``.

    Raises
    ------
    OutputExistsError
        ``out_dir`` exists and ``overwrite`` is false (also a ``FileExistsError``).
    ConfigurationError
        No client was given and the environment names no server or key.
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
    MediaError
        With ``media`` and ``strict`` in ``media_options``: a file could not be fetched
        (the dataset is written, without the media table).
    """
    out = Path(out_dir)
    if out.exists() and not overwrite:  # before any request, let alone a snapshot
        raise OutputExistsError(out)
    with _using(client) as client:
        pid = client.resolve_project(project)
        export = snapshot_project(
            pid,
            client=client,
            task_filter=task_filter,
            annotation_filter=annotation_filter,
            serialization=serialization,
            export_id=export_id,
            timeout=timeout,
            progress=progress,
        )
        drop = export_id is None and not keep_snapshot
        out.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix=".ls_frames-", dir=out.parent) as tmp:
            with _deleted_after(client, export, drop):
                config = _label_config(client, pid, label_config)
                provenance = _dataset_provenance(
                    client,
                    export,
                    config,
                    kept=not drop,
                    task_filter=task_filter,
                    annotation_filter=annotation_filter,
                    serialization=serialization,
                )
                path = export.download(tmp if keep_file is None else keep_file, progress=progress)
            to_parquet(
                path,
                out,
                provenance=provenance,
                label_config=config,
                overwrite=overwrite,
                compression=compression,
                tables=tables,
                workers=workers,
                progress=progress,
            )
        if media is not None:
            fetch_dataset_media(
                out, media, client=client, progress=progress, **dict(media_options or {})
            )
        return out


def download_project(
    project: int | str,
    dest: str | os.PathLike[str] = ".",
    export_type: str = "JSON",
    *,
    client: Client | None = None,
    task_filter: TaskFilter | Mapping[str, Any] | None = None,
    annotation_filter: AnnotationFilter | Mapping[str, Any] | None = None,
    serialization: Serialization | Mapping[str, Any] | None = None,
    export_id: int | None = None,
    keep_snapshot: bool = False,
    timeout: float | None = None,
    progress: bool | None = None,
) -> Path:
    """Snapshot a project and download it as JSON or a converted format, as the server
    writes it.

    ``dest`` is a folder (created if need be, the file keeps the server's name) when it
    ends with a slash, is an existing folder, or ``export_type`` yields several files
    (every format but those in :data:`SINGLE_FILE_FORMATS`: the server zips them) and
    ``dest`` does not end in ``.zip``; otherwise it is the file's path. The snapshot made
    for the call is deleted from the server once downloaded unless ``keep_snapshot`` (one
    named with ``export_id`` is kept).

    Parameters
    ----------
    project
        The project's id or title.
    dest
        Where the file goes (see above); the current folder by default.
    export_type
        ``"JSON"`` or a format the server offers for the project (any case).
    client
        The :class:`~ls_frames.Client` to use; by default one is made from
        ``LABEL_STUDIO_URL`` / ``LABEL_STUDIO_API_KEY`` (and closed afterwards).
    task_filter, annotation_filter, serialization
        The snapshot's options; by default every task, every annotation, full objects.
    export_id
        Use this existing snapshot instead of creating one.
    keep_snapshot
        Keep the snapshot made for the call on the server.
    timeout
        Seconds to wait for the snapshot (and a conversion); ``None`` waits as long as it
        takes.
    progress
        Show progress bars; ``None`` follows ``LS_FRAMES_DISABLE_PROGRESS_BARS``.

    Returns
    -------
    pathlib.Path
        The downloaded file.

    Raises
    ------
    ConfigurationError
        The server does not offer ``export_type`` for the project, or its label config
        cannot produce it (before any snapshot), or no client can be made.
    AuthenticationError, PermissionDenied, NotFound
        The key is refused, the user may not export, or the project does not exist.
    ExportFailed, ExportTimeout
        The snapshot or its conversion failed, or did not finish within ``timeout``.
    DownloadError
        The download broke off for good or its MD5 does not match.
    HTTPError
        Another request failure after the retries.
    """
    with _using(client) as client:
        pid = client.resolve_project(project)
        export_type = _offered_format(client, pid, export_type)
        target = Path(dest)
        folder = means_folder(dest) or (
            export_type not in SINGLE_FILE_FORMATS and not os.fspath(dest).lower().endswith(".zip")
        )
        made = folder and not target.exists()
        export = snapshot_project(
            pid,
            client=client,
            task_filter=task_filter,
            annotation_filter=annotation_filter,
            serialization=serialization,
            export_id=export_id,
            timeout=timeout,
            progress=progress,
        )
        with _deleted_after(client, export, export_id is None and not keep_snapshot):
            try:
                if folder:
                    target.mkdir(parents=True, exist_ok=True)
                return export.download(target, export_type, progress=progress)
            except BaseException:
                if made and target.is_dir() and not any(target.iterdir()):
                    target.rmdir()
                raise


def _offered_format(client: Client, project: int, export_type: str) -> str:
    """The server's name of ``export_type`` (any case); a clear error, before any snapshot
    is made, for a format the server does not offer or the label config cannot produce."""
    formats = client.export_formats(project)
    by_name = {f.name.upper(): f for f in formats}
    found = by_name.get(export_type.strip().upper())
    usable = ", ".join(f.name for f in formats if not f.disabled)
    if found is None:
        raise ConfigurationError(
            f"the server offers no export format {export_type!r} for project {project}; "
            f"it offers: {usable}"
        )
    if found.disabled:
        raise ConfigurationError(
            f"{found.name} is not available for project {project}: its label config cannot "
            f"produce it (available: {usable})"
        )
    return found.name
