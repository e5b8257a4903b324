"""A project's snapshot as the server writes it (JSON or a converted format), in one call:
:func:`download_project`."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ls_frames.errors import ConfigurationError
from ls_frames.exports import (
    AnnotationFilter,
    Client,
    ExportOptions,
    Serialization,
    TaskFilter,
    one_off_snapshot,
)
from ls_frames.exports.download import means_folder
from ls_frames.exports.options import shared_docs
from ls_frames.pipeline.checks import check_destination, check_project
from ls_frames.pipeline.clients import using_client

__all__ = ["SINGLE_FILE_FORMATS", "download_project"]

#: Export formats the server writes as one file; it zips the files of every other format.
SINGLE_FILE_FORMATS = frozenset({"JSON", "JSON_MIN", "CSV", "TSV", "CONLL2003", "ASR_MANIFEST"})


@shared_docs
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
    %(project)s
    dest
        Where the file goes (see above); the current folder by default.
    export_type
        ``"JSON"`` or a format the server offers for the project (any case).
    %(client)s
    %(snapshot_options)s
    %(export_id)s
    %(keep_snapshot)s
    timeout
        Seconds to wait for the snapshot (and a conversion); ``None`` waits as long as it
        takes.
    %(progress)s

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
    check_project(project)
    if not isinstance(export_type, str) or not export_type.strip():
        raise ConfigurationError(f"export_type must be a format name, not {export_type!r}")
    check_destination(dest, "dest")
    options = ExportOptions.coerce(
        task_filter=task_filter,
        annotation_filter=annotation_filter,
        serialization=serialization,
        export_id=export_id,
        keep_snapshot=keep_snapshot,
        timeout=timeout,
        progress=progress,
    )
    with using_client(client) as client:
        pid = client.resolve_project(project)
        export_type = _offered_format(client, pid, export_type)
        target = Path(dest)
        folder = means_folder(dest) or (
            export_type not in SINGLE_FILE_FORMATS and not os.fspath(dest).lower().endswith(".zip")
        )
        made = folder and not target.exists()
        with one_off_snapshot(client, pid, options, label_config=False) as job:
            try:
                if folder:
                    target.mkdir(parents=True, exist_ok=True)
                return job.download(target, export_type)
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
