"""The local-files export storage: a folder on the server's disk that receives annotations.

Label Studio writes one extension-less JSON file per annotation into the storage's
``path`` (the task nested under ``task``), or one ``<task_id>.json`` per task when the
server runs with ``FUTURE_SAVE_TASK_TO_STORAGE=true``. The server's rules: local-files
serving must be enabled (``LOCAL_FILES_SERVING_ENABLED=true``) and ``path`` must be a strict
subdirectory of ``LOCAL_FILES_DOCUMENT_ROOT``; both come back as
:class:`~ls_frames.errors.StorageError` with the server's words.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable
from typing import Any

from ls_frames._progress import progress_bar
from ls_frames.errors import BadRequest, ConfigurationError, ExportTimeout, StorageError
from ls_frames.transport import Connection
from ls_frames.transport.secrets import redact

__all__ = [
    "STORAGE_PATH",
    "LocalFilesExportStorage",
    "StorageStatus",
    "storage_call",
    "storage_payload",
]

STORAGE_PATH = "api/storages/export/localfiles"
_FIELDS = (
    "title",
    "description",
    "path",
    "regex_filter",
    "use_blob_urls",
    "can_delete_objects",
)


class StorageStatus(str, enum.Enum):
    """Status of a storage's last sync."""

    INITIALIZED = "initialized"
    QUEUED = "queued"
    IN_PROGRESS = "in_progress"
    FAILED = "failed"
    COMPLETED = "completed"
    COMPLETED_WITH_ERRORS = "completed_with_errors"

    @property
    def done(self) -> bool:
        return self in (
            StorageStatus.FAILED,
            StorageStatus.COMPLETED,
            StorageStatus.COMPLETED_WITH_ERRORS,
            StorageStatus.INITIALIZED,
        )


_RULES = (
    ("LOCAL_FILES_SERVING_ENABLED", "the server must run with LOCAL_FILES_SERVING_ENABLED=true"),
    (
        "LOCAL_FILES_DOCUMENT_ROOT",
        "path must be a strict subdirectory of the server's LOCAL_FILES_DOCUMENT_ROOT",
    ),
    (
        "does not exist",
        "path must be an existing folder on the server's disk, inside its "
        "LOCAL_FILES_DOCUMENT_ROOT",
    ),
)


def _storage_error(message: str, traceback: str | None = None) -> StorageError:
    """A :class:`StorageError` with the server's words redacted."""
    return StorageError(redact(message), traceback=redact(traceback) if traceback else traceback)


def storage_call(fn: Callable[[], Any], what: str) -> Any:
    """Run a storage request; a 400 becomes :class:`StorageError` with the server's words
    and, for the server's known rules, what to change."""
    try:
        return fn()
    except BadRequest as exc:
        said = str(exc.server_message or exc)
        hints = [hint for marker, hint in _RULES if marker in said]
        rule = f" ({hints[0]})" if hints else ""
        raise _storage_error(f"{what}: the server refused it{rule}: {said}") from exc


def storage_payload(**options: Any) -> dict[str, Any]:
    unknown = set(options) - set(_FIELDS) - {"project"}
    if unknown:
        raise ConfigurationError(
            f"unknown storage option(s) {sorted(unknown)}; known: {list(_FIELDS)}"
        )
    return {k: v for k, v in options.items() if v is not None}


class LocalFilesExportStorage:
    """One local-files export storage. ``raw`` keeps the server's last answer."""

    def __init__(self, connection: Connection, raw: dict[str, Any]) -> None:
        self._conn = connection
        self.raw = raw

    @property
    def id(self) -> int:
        return int(self.raw["id"])

    @property
    def project(self) -> int:
        return int(self.raw["project"])

    @property
    def path(self) -> str:
        return str(self.raw.get("path") or "")

    @property
    def title(self) -> str:
        return str(self.raw.get("title") or "")

    @property
    def status(self) -> StorageStatus:
        try:
            return StorageStatus(self.raw.get("status") or "initialized")
        except ValueError:
            return StorageStatus.IN_PROGRESS

    @property
    def last_sync_count(self) -> int | None:
        value = self.raw.get("last_sync_count")
        return int(value) if value is not None else None

    @property
    def traceback(self) -> str | None:
        return self.raw.get("traceback") or None

    def __repr__(self) -> str:
        return (
            f"LocalFilesExportStorage(id={self.raw.get('id')}, project={self.raw.get('project')},"
            f" path={self.path!r}, status={self.status.value!r})"
        )

    @property
    def _url(self) -> str:
        return f"{STORAGE_PATH}/{self.id}"

    def refresh(self) -> LocalFilesExportStorage:
        self.raw = self._conn.get_json(self._url)
        return self

    def update(self, **options: Any) -> LocalFilesExportStorage:
        """Change fields (``PATCH``): title, description, path, regex_filter, ...

        The server validates ``path`` on every update, so the current one is sent along
        when it is not being changed."""
        body = storage_payload(**options)
        body.setdefault("path", self.path)
        self.raw = storage_call(
            lambda: self._conn._decode(self._conn.request("PATCH", self._url, json=body)),
            f"update of storage {self.id}",
        )
        return self

    def delete(self) -> None:
        """Delete the storage record (the files it wrote stay on disk)."""
        self._conn.request("DELETE", self._url)

    def sync(
        self,
        *,
        wait: bool = True,
        timeout: float | None = None,
        poll_interval: float = 1.0,
        progress: bool | None = None,
        strict: bool = False,
    ) -> LocalFilesExportStorage:
        """Write the project's annotations into the folder. Community does it inside the
        request; a server that queues it is polled when ``wait`` is true."""
        self.raw = storage_call(
            lambda: self._conn.post_json(f"{self._url}/sync", timeout=3600.0, retry=False),
            f"sync of storage {self.id}",
        )
        if wait:
            self.wait(
                timeout=timeout, poll_interval=poll_interval, progress=progress, strict=strict
            )
        return self

    def wait(
        self,
        timeout: float | None = None,
        poll_interval: float = 1.0,
        *,
        progress: bool | None = None,
        strict: bool = False,
    ) -> LocalFilesExportStorage:
        """Poll until the sync is done; raise :class:`StorageError` when it failed (and,
        with ``strict``, when it ended ``completed_with_errors``; otherwise that status,
        ``last_sync_count`` and ``traceback`` are left to inspect).
        :class:`~ls_frames.errors.ExportTimeout` after ``timeout`` seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout
        bar = progress_bar(
            progress, desc=f"sync of storage {self.id}", bar_format="{desc}: {postfix} [{elapsed}]"
        )
        try:
            while not self.status.done:
                bar.set_postfix_str(self.status.value)
                if deadline is not None and time.monotonic() >= deadline:
                    raise ExportTimeout(
                        f"sync of storage {self.id} is still {self.status.value} "
                        f"after {timeout:g} s"
                    )
                self._conn.retry.sleep(poll_interval)
                self.refresh()
        finally:
            bar.close()
        if self.status is StorageStatus.FAILED:
            raise _storage_error(f"sync of storage {self.id} failed", self.traceback)
        if strict and self.status is StorageStatus.COMPLETED_WITH_ERRORS:
            raise _storage_error(
                f"sync of storage {self.id} completed with errors ({self.last_sync_count} written)",
                self.traceback,
            )
        return self
