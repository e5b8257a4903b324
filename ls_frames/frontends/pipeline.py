"""End to end in one call: snapshot, wait, download, flatten.

These are the functions a notebook user calls; the CLI and the panel call them too.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ls_frames._version import __version__
from ls_frames.exports import (
    AnnotationFilter,
    Client,
    Export,
    Serialization,
    TaskFilter,
)
from ls_frames.exports.options import coerce_option
from ls_frames.frontends.dataset_media import fetch_dataset_media
from ls_frames.tables import Frames, read_export, to_parquet

__all__ = ["export_project", "load_project", "snapshot_project", "snapshot_provenance"]


@contextmanager
def _using(client: Client | None) -> Iterator[Client]:
    """The caller's client, or one made from the environment and closed afterwards."""
    if client is not None:
        yield client
        return
    with Client() as own:
        yield own


def snapshot_project(
    project: int,
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
    the given options (defaults: full objects, every annotation) and awaited.

    Parameters
    ----------
    project
        The project's id.
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
    client = client or Client()
    if export_id is not None:
        export = client.get_export(project, export_id)
    else:
        export = client.create_export(
            project,
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


def load_project(
    project: int,
    *,
    client: Client | None = None,
    task_filter: TaskFilter | Mapping[str, Any] | None = None,
    annotation_filter: AnnotationFilter | Mapping[str, Any] | None = None,
    serialization: Serialization | Mapping[str, Any] | None = None,
    export_id: int | None = None,
    label_config: str | bool | None = None,
    dtype_backend: str = "numpy_nullable",
    keep_file: str | os.PathLike[str] | None = None,
    timeout: float | None = None,
    progress: bool | None = None,
) -> Frames:
    """Snapshot a project and return its tables (see :func:`ls_frames.read_export`).

    ``label_config``: ``None`` fetches the project's config so label columns become
    categoricals in config order; a string uses that config; ``False`` skips it.
    ``keep_file`` keeps the downloaded JSON snapshot there (a file or folder).

    Parameters
    ----------
    project
        The project's id.
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
    keep_file
        Keep the downloaded JSON snapshot there (a file, or a folder to put it in);
        by default it goes to a temporary folder that is removed.
    timeout
        Seconds to wait for the snapshot to complete; ``None`` waits as long as it takes.
    progress
        Show progress bars; ``None`` shows them unless ``LS_FRAMES_DISABLE_PROGRESS_BARS``
        is set.

    Returns
    -------
    Frames
        The project's tables.

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
        export = snapshot_project(
            project, client=client, task_filter=task_filter,
            annotation_filter=annotation_filter, serialization=serialization,
            export_id=export_id, timeout=timeout, progress=progress,
        )
        config = _label_config(client, project, label_config)
        if keep_file is not None:
            path = export.download(keep_file, progress=progress)
            return read_export(path, label_config=config, dtype_backend=dtype_backend,
                               progress=progress)
        with tempfile.TemporaryDirectory(prefix="ls_frames-") as tmp:
            path = export.download(tmp, progress=progress)
            return read_export(path, label_config=config, dtype_backend=dtype_backend,
                               progress=progress)


def export_project(
    project: int,
    out_dir: str | os.PathLike[str],
    *,
    client: Client | None = None,
    task_filter: TaskFilter | Mapping[str, Any] | None = None,
    annotation_filter: AnnotationFilter | Mapping[str, Any] | None = None,
    serialization: Serialization | Mapping[str, Any] | None = None,
    export_id: int | None = None,
    label_config: str | bool | None = None,
    keep_file: str | os.PathLike[str] | None = None,
    overwrite: bool = False,
    timeout: float | None = None,
    progress: bool | None = None,
    media: str | os.PathLike[str] | None = None,
    media_options: Mapping[str, Any] | None = None,
) -> Path:
    """Snapshot a project into a Parquet dataset at ``out_dir`` (one folder per table),
    streamed in bounded memory; provenance (server, project, snapshot id, md5, options,
    versions) is stored in every file's metadata. Returns ``out_dir``.

    ``media``: a cache folder; the files the tasks point to are fetched into it with
    :func:`~ls_frames.fetch_media` (files already there are not downloaded again) and the
    result is kept as the dataset's ``media`` table (``read_parquet(out_dir).media``).
    ``media_options`` go to ``fetch_media`` (``fields``, ``workers``, ``strict``,
    ``refresh``, ``allow_hosts``). A reference that cannot be fetched is a row with
    ``error`` set, unless ``strict`` (then :class:`~ls_frames.errors.MediaError` is raised
    after the dataset is written, without the media table).

    Parameters
    ----------
    project
        The project's id.
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
    overwrite
        Replace a dataset already at ``out_dir`` (it stays until the new one is complete).
    timeout
        Seconds to wait for the snapshot to complete; ``None`` waits as long as it takes.
    progress
        Show progress bars; ``None`` shows them unless ``LS_FRAMES_DISABLE_PROGRESS_BARS``
        is set.
    media
        A cache folder to fetch the tasks' files into (kept as the ``media`` table).
    media_options
        Keyword arguments for :func:`~ls_frames.fetch_media`.

    Returns
    -------
    pathlib.Path
        ``out_dir``.

    Raises
    ------
    FileExistsError
        ``out_dir`` exists and ``overwrite`` is false.
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
    with _using(client) as client:
        out = _export(project, out_dir, client=client, task_filter=task_filter,
                      annotation_filter=annotation_filter, serialization=serialization,
                      export_id=export_id, label_config=label_config, keep_file=keep_file,
                      overwrite=overwrite, timeout=timeout, progress=progress)  # fmt: skip
        if media is not None:
            fetch_dataset_media(out, media, client=client, progress=progress,
                                **dict(media_options or {}))  # fmt: skip
        return out


def _export(
    project: int,
    out_dir: str | os.PathLike[str],
    *,
    client: Client,
    task_filter: TaskFilter | Mapping[str, Any] | None,
    annotation_filter: AnnotationFilter | Mapping[str, Any] | None,
    serialization: Serialization | Mapping[str, Any] | None,
    export_id: int | None,
    label_config: str | bool | None,
    keep_file: str | os.PathLike[str] | None,
    overwrite: bool,
    timeout: float | None,
    progress: bool | None,
) -> Path:
    """The snapshot, written as a dataset at ``out_dir``."""
    export = snapshot_project(
        project, client=client, task_filter=task_filter, annotation_filter=annotation_filter,
        serialization=serialization, export_id=export_id, timeout=timeout, progress=progress,
    )
    config = _label_config(client, project, label_config)
    provenance = snapshot_provenance(client, export, config)
    provenance["requested_options"] = {
        "task_filter": asdict(coerce_option(TaskFilter, task_filter)),
        "annotation_filter": asdict(coerce_option(AnnotationFilter, annotation_filter)),
        "serialization": asdict(coerce_option(Serialization, serialization)),
    }
    out = Path(out_dir)
    if keep_file is not None:
        path = export.download(keep_file, progress=progress)
        return to_parquet(path, out, provenance=provenance, label_config=config,
                          overwrite=overwrite, progress=progress)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".ls_frames-", dir=out.parent) as tmp:
        path = export.download(tmp, progress=progress)
        return to_parquet(path, out, provenance=provenance, label_config=config,
                          overwrite=overwrite, progress=progress)
