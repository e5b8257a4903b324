"""``Client``: a connection plus every export endpoint of Label Studio.

::

    import ls_frames
    client = ls_frames.Client()                 # LABEL_STUDIO_URL, LABEL_STUDIO_API_KEY
    export = client.create_export(12)           # full objects, every annotation
    path = export.wait().download("exports/")   # streamed, resumable, MD5-checked
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import httpx

from ls_frames._deprecation import renamed_kwargs
from ls_frames.errors import ConfigurationError, HTTPError, TransportError
from ls_frames.exports import tasks
from ls_frames.exports.download import download_to
from ls_frames.exports.names import snapshot_title
from ls_frames.exports.options import (
    AnnotationFilter,
    Serialization,
    TaskFilter,
    coerce_option,
)
from ls_frames.exports.snapshot import LONG_TIMEOUT, Export, ExportFormat
from ls_frames.exports.storage import (
    STORAGE_PATH,
    LocalFilesExportStorage,
    storage_call,
    storage_payload,
)
from ls_frames.transport import Connection
from ls_frames.transport.capabilities import ServerCapabilities, server_capabilities

__all__ = ["Client"]

logger = logging.getLogger("ls_frames")

#: Statuses after which a create may have reached the server anyway (a proxy gave up; some
#: routers answer 503 on their own timeout while the server goes on).
_AMBIGUOUS = (408, 499, 502, 503, 504)


def _server_time(response: Any) -> datetime:
    try:
        return parsedate_to_datetime(response.headers["Date"])
    except (KeyError, TypeError, ValueError):
        return datetime.now(timezone.utc)


def _project_id(project: int | Any) -> int:
    value = getattr(project, "id", project)
    try:
        return int(value)
    except (TypeError, ValueError):
        raise TypeError(f"project must be a project id, got {project!r}") from None


class Client(Connection):
    """A Label Studio connection with the export lifecycle on it.

    Credentials: ``api_key`` is a legacy token (sent as ``Token``) or a personal access
    token (exchanged for short-lived access tokens, sent as ``Bearer``); both default to
    ``LABEL_STUDIO_URL`` / ``LABEL_STUDIO_API_KEY``.

    Use it as a context manager (or call ``close()``) to release its connections.

    Parameters
    ----------
    url
        The server's address (``http://localhost:8080``, a sub-path is kept); ``None``
        reads ``LABEL_STUDIO_URL``.
    api_key
        A legacy token or a personal access token; ``None`` reads ``LABEL_STUDIO_API_KEY``.
    http_timeout
        The HTTP timeout of each request, in seconds or as an ``httpx.Timeout`` (60 s, 10 s
        to connect, by default). Called ``timeout`` before 0.2 (still accepted, with a
        ``DeprecationWarning``): ``timeout`` is the wait deadline everywhere else.
    transport
        Handed to ``httpx.Client`` (tests pass an ``httpx.MockTransport``).
    retry
        When and how requests are retried (:class:`~ls_frames.RetryPolicy`).
    headers
        Extra headers sent with every request.
    verify
        TLS verification: ``False``, or a CA bundle's path.

    Raises
    ------
    ConfigurationError
        No URL or key, given or in the environment; an empty URL or key given on purpose
        (``None`` reads the environment); a URL that is not http(s), or that is a page of
        Label Studio (``.../projects/1/data``) rather than its address (the message names
        the address). A request that fails on a server that turns out not to be Label
        Studio raises one too (see :mod:`ls_frames.transport.identity`).
    """

    # -- projects (what the front ends need to pick one) ----------------------------------
    def list_projects(self) -> list[dict[str, Any]]:
        """Every project the user can see (id, title, counters, ...), across pages."""
        out: list[dict[str, Any]] = []
        page = 1
        while True:
            answer = self.get_json("api/projects/", params={"page": page, "page_size": 100})
            items = answer.get("results", []) if isinstance(answer, dict) else answer
            out.extend(items)
            if not isinstance(answer, dict) or not answer.get("next"):
                return out
            page += 1

    def resolve_project(self, project: int | str) -> int:
        """A project's id, from its id or its title.

        Parameters
        ----------
        project
            An id (an ``int``, or a string of digits) or a title (matched exactly, else
            ignoring case and surrounding blanks).

        Returns
        -------
        int
            The project's id.

        Raises
        ------
        ConfigurationError
            No project this key sees has that title, or several do (listing their ids).
        """
        if isinstance(project, bool):
            raise TypeError(f"project must be an id or a title, got {project!r}")
        if isinstance(project, int):
            return project
        if not isinstance(project, str):
            return _project_id(project)
        title = project.strip()
        if title.isdigit():
            return int(title)
        projects = self.list_projects()
        found = [p for p in projects if str(p.get("title") or "") == project]
        if not found:
            found = [
                p
                for p in projects
                if str(p.get("title") or "").strip().casefold() == title.casefold()
            ]
        if len(found) == 1:
            return int(found[0]["id"])
        if found:
            ids = ", ".join(str(p["id"]) for p in sorted(found, key=lambda p: int(p["id"])))
            raise ConfigurationError(
                f"{len(found)} projects are titled {title!r} (ids {ids}): give the id instead"
            )
        raise ConfigurationError(
            f"no project titled {title!r} among the {len(projects)} this key sees "
            "(a number is taken as a project id)"
        )

    def get_project(self, project: int) -> dict[str, Any]:
        """The project's settings, ``label_config`` included."""
        result: dict[str, Any] = self.get_json(f"api/projects/{_project_id(project)}/")
        return result

    def list_views(self, project: int) -> list[dict[str, Any]]:
        """The project's Data Manager views (tabs), usable as ``TaskFilter(view=...)``."""
        result: list[dict[str, Any]] = self.get_json(
            "api/dm/views/", params={"project": _project_id(project)}
        )
        return result

    # -- the Data Manager's task list and temporary views (what sync asks) ---------------
    def count_tasks(self, project: int, filters: dict[str, Any] | None = None) -> dict[str, int]:
        """How many tasks of ``project`` match ``filters`` (a Data Manager filter, see
        :mod:`ls_frames.exports.tasks`; default all), in one request.

        Returns
        -------
        dict
            ``{"total": tasks, "total_annotations": ..., "total_predictions": ...}`` (the
            last two when the server gives them).

        Raises
        ------
        ExportFormatError
            The answer has no ``tasks`` list and integer ``total``.
        """
        return tasks.count_tasks(self, _project_id(project), filters)

    def list_tasks(
        self,
        project: int,
        filters: dict[str, Any] | None = None,
        *,
        fields: str = "id",
        page_size: int = tasks.PAGE_SIZE,
    ) -> list[dict[str, Any]]:
        """Every task of ``project`` matching ``filters``, with only ``fields``
        (comma-separated), fetched page by page.

        Raises
        ------
        ExportFormatError
            A page has no ``tasks`` list and integer ``total``.
        """
        return tasks.list_tasks(
            self, _project_id(project), filters, fields=fields, page_size=page_size
        )

    def create_view(self, project: int, filters: dict[str, Any], title: str) -> int:
        """Create a Data Manager view of ``project`` under ``filters`` (usable as
        ``TaskFilter(view=...)``); returns its id. Delete it with :meth:`delete_view`."""
        return tasks.create_view(self, _project_id(project), filters, title)

    def delete_view(self, view_id: int) -> None:
        """Delete a Data Manager view."""
        tasks.delete_view(self, view_id)

    def server_version(self) -> str | None:
        """The server's release (``label-studio`` package version), when it says."""
        try:
            info = self.get_json("api/version")
        except HTTPError:
            return None
        release = info.get("release") if isinstance(info, dict) else None
        if release is None and isinstance(info, dict):
            release = (info.get("label-studio-os-package") or {}).get("version")
        return str(release) if release else None

    def capabilities(self) -> ServerCapabilities:
        """What this server's release can do where Label Studio releases differ (personal
        access tokens, legacy tokens, the path that resolves storage URIs); see
        :mod:`ls_frames.transport.capabilities`.

        Returns
        -------
        ServerCapabilities
            Those of the release ``/api/version`` reports, asked once per client; the
            newest tested release's when the server does not say.
        """
        cached: ServerCapabilities | None = getattr(self, "_capabilities", None)
        if cached is None:
            cached = self._capabilities = server_capabilities(self.server_version())
        return cached

    # -- formats and the easy export --------------------------------------------------
    def export_formats(self, project: int) -> list[ExportFormat]:
        """The formats the server can write for this project; ``disabled`` marks those the
        label config cannot produce."""
        items = self.get_json(f"api/projects/{_project_id(project)}/export/formats")
        return [ExportFormat.from_raw(item) for item in items]

    def easy_export(
        self,
        project: int,
        dest: str | os.PathLike[str] = ".",
        export_type: str = "JSON",
        download_all_tasks: bool = False,
        download_resources: bool = False,
        ids: Sequence[int] | None = None,
        *,
        progress: bool | None = None,
    ) -> Path:
        """The deprecated synchronous export (``GET /api/projects/{id}/export``), streamed
        to ``dest``. ``download_all_tasks=False`` is the server's default: only tasks with an
        annotation (skipped ones included). ``ids`` limits it to those tasks (sent as
        ``ids[]``, the name the server reads).

        Parameters
        ----------
        project
            The project's id.
        dest
            A file path, or an existing folder (the server's file name is used).
        export_type
            ``"JSON"``, ``"CSV"``, ``"COCO"``, ... (see :meth:`export_formats`).
        download_all_tasks
            Include tasks without annotations.
        download_resources
            Ask the server to bundle the media files (formats that support it).
        ids
            Only these tasks.
        progress
            Show a progress bar; ``None`` follows ``LS_FRAMES_DISABLE_PROGRESS_BARS``.

        Returns
        -------
        pathlib.Path
            The downloaded file.

        Raises
        ------
        AuthenticationError, PermissionDenied, NotFound
            The key is refused, the user may not export, or the project does not exist.
        HTTPError
            Another request failure after the retries.
        DownloadError
            The download broke off for good (nothing is left under the final name).
        """
        pid = _project_id(project)
        params: list[tuple[str, Any]] = [
            ("exportType", export_type),
            ("download_all_tasks", str(download_all_tasks).lower()),
            ("download_resources", str(download_resources).lower()),
        ]
        params += [("ids[]", int(i)) for i in ids or ()]
        ext = "json" if export_type.upper().startswith("JSON") else export_type.lower()
        return download_to(
            self,
            f"api/projects/{pid}/export",
            dest,
            params=params,
            default_name=f"project-{pid}-{export_type}.{ext}",
            progress=progress,
            timeout=LONG_TIMEOUT,
            description=f"project {pid} {export_type}",
        )

    # -- snapshots --------------------------------------------------------------------
    def list_exports(self, project: int) -> list[Export]:
        """The project's snapshots, newest first (the server lists the newest 100).

        Parameters
        ----------
        project
            The project's id.

        Returns
        -------
        list of Export
            Its snapshots, in any status.

        Raises
        ------
        AuthenticationError, PermissionDenied, NotFound
            The key is refused, the user may not do this, or the project does not exist.
        HTTPError
            Another request failure after the retries.
        """
        pid = _project_id(project)
        return [Export(self, pid, raw) for raw in self.get_json(f"api/projects/{pid}/exports/")]

    def get_export(self, project: int, export_id: int) -> Export:
        pid = _project_id(project)
        return Export(self, pid, self.get_json(f"api/projects/{pid}/exports/{int(export_id)}"))

    def delete_export(self, project: int, export_id: int) -> None:
        """Delete a snapshot and its files."""
        self.request("DELETE", f"api/projects/{_project_id(project)}/exports/{int(export_id)}")

    @renamed_kwargs(timeout="http_timeout")
    def create_export(
        self,
        project: int,
        *,
        title: str | None = None,
        task_filter: TaskFilter | Mapping[str, Any] | None = None,
        annotation_filter: AnnotationFilter | Mapping[str, Any] | None = None,
        serialization: Serialization | Mapping[str, Any] | None = None,
        http_timeout: float | None = LONG_TIMEOUT,
    ) -> Export:
        """Create a snapshot. See :mod:`ls_frames.exports.options` for the options and their
        defaults (full objects, every annotation).

        Community writes the file inside this request, so it can take minutes
        (``http_timeout``).
        When the request times out or a proxy gives up (408/499/502/503/504), the snapshot may
        exist anyway: the snapshots are listed and the one with this title is returned
        instead of creating a second one. Call ``wait()`` on the result in any case.

        Parameters
        ----------
        project
            The project's id.
        title
            The snapshot's title; by default ``ls_frames <UTC time> <random suffix>``.
        task_filter, annotation_filter, serialization
            The snapshot's options (:class:`~ls_frames.TaskFilter`,
            :class:`~ls_frames.AnnotationFilter`, :class:`~ls_frames.Serialization`, or
            dicts of their fields).
        http_timeout
            The HTTP timeout of the create request, in seconds (an hour by default); called
            ``timeout`` before 0.2 (still accepted, with a ``DeprecationWarning``).

        Returns
        -------
        Export
            The new snapshot, possibly still in progress.

        Raises
        ------
        ConfigurationError
            An option is not valid (before any request).
        AuthenticationError, PermissionDenied, NotFound
            The key is refused, the user may not export, or the project does not exist.
        HTTPError
            Another request failure (the create itself is not repeated blindly).
        """
        pid = _project_id(project)
        if title is None:
            title = snapshot_title()
        body = {
            "title": title,
            "task_filter_options": coerce_option(TaskFilter, task_filter).to_payload(),
            "annotation_filter_options": coerce_option(
                AnnotationFilter, annotation_filter
            ).to_payload(),
            "serialization_options": coerce_option(Serialization, serialization).to_payload(),
        }
        started = time.monotonic()
        try:
            raw = self.post_json(
                f"api/projects/{pid}/exports/", body, timeout=http_timeout, retry=False
            )
        except HTTPError as exc:
            # No answer, a gateway's give-up, or a success whose body was not readable (a
            # proxy's page): the server may have made the snapshot.
            if isinstance(exc.__cause__, (httpx.ConnectError, httpx.ConnectTimeout)):
                raise  # never reached the server: nothing to look for
            status = exc.status
            unreadable_success = status is not None and 200 <= status < 300
            if (
                not isinstance(exc, TransportError)
                and status not in _AMBIGUOUS
                and not (unreadable_success)
            ):
                raise
            found = self._find_created(pid, title, started)
            if found is None:
                raise
            logger.info(
                "create of %r failed (%s) but the server made snapshot %d", title, exc, found.id
            )
            found.recovered_from = exc
            return found
        return Export(self, pid, raw)

    def _find_created(self, pid: int, title: str, started: float) -> Export | None:
        """After an ambiguous failure, find the snapshot a create made: same title, created
        since the request went out by the server's own clock (its ``Date`` header), so a
        skewed local clock does not matter. A few tries: the server may still be writing."""
        for attempt in range(1, 4):
            try:
                response = self.request("GET", f"api/projects/{pid}/exports/")
                server_now = _server_time(response)
                since = server_now - timedelta(seconds=time.monotonic() - started + 120)
                for raw in response.json():
                    export = Export(self, pid, raw)
                    created = export.created_at
                    if export.title == title and (created is None or created >= since):
                        return export
            except HTTPError:
                pass
            self.retry.sleep(self.retry.delay(attempt))
        return None

    # -- local-files export storage ---------------------------------------------------
    def list_export_storages(self, project: int) -> list[LocalFilesExportStorage]:
        """The project's local-files export storages."""
        items = self.get_json(STORAGE_PATH, params={"project": _project_id(project)})
        return [LocalFilesExportStorage(self, item) for item in items]

    def get_export_storage(self, storage_id: int) -> LocalFilesExportStorage:
        return LocalFilesExportStorage(self, self.get_json(f"{STORAGE_PATH}/{int(storage_id)}"))

    def create_export_storage(
        self, project: int, path: str, **options: Any
    ) -> LocalFilesExportStorage:
        """Create a local-files export storage writing into ``path`` on the server.
        Options: title, description, regex_filter, use_blob_urls, can_delete_objects."""
        body = storage_payload(project=_project_id(project), path=path, **options)
        raw = storage_call(
            lambda: self.post_json(STORAGE_PATH, body, retry=False),
            f"creating a local-files export storage at {path!r}",
        )
        return LocalFilesExportStorage(self, raw)

    def validate_export_storage(self, project: int, path: str, **options: Any) -> None:
        """Ask the server whether such a storage would be accepted, without saving it;
        raise :class:`~ls_frames.errors.StorageError` with its reason if not."""
        body = storage_payload(project=_project_id(project), path=path, **options)
        storage_call(
            lambda: self.request("POST", f"{STORAGE_PATH}/validate", json=body, retry=True),
            f"validating a local-files export storage at {path!r}",
        )

    def delete_export_storage(self, storage_id: int) -> None:
        self.request("DELETE", f"{STORAGE_PATH}/{int(storage_id)}")
