"""Snapshots and their converted formats: job objects that wait, convert and download.

A snapshot (``Export``) is a file the server writes from a project at one moment. It has a
status (:class:`ExportStatus`), an MD5, a task count and a list of converted formats
(:class:`ConvertedFormat`, one per ``export_type`` asked for). Both are jobs: ``wait()``
polls until ``completed``, raises :class:`~ls_frames.errors.ExportFailed` on ``failed``
(with the server's traceback) and :class:`~ls_frames.errors.ExportTimeout` at the deadline.
"""

from __future__ import annotations

import enum
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from ls_frames._progress import progress_bar
from ls_frames.errors import BadRequest, ExportFailed, ExportTimeout, NotFound
from ls_frames.exports.download import download_to
from ls_frames.transport import Connection
from ls_frames.transport.secrets import redact, redact_payload

__all__ = ["ConvertedFormat", "Export", "ExportFormat", "ExportStatus"]

DEFAULT_POLL_INTERVAL = 2.0
#: Converting or downloading can take as long as the snapshot itself on Community.
LONG_TIMEOUT = 3600.0


class ExportStatus(str, enum.Enum):
    """Status of a snapshot or of a converted format."""

    CREATED = "created"
    IN_PROGRESS = "in_progress"
    FAILED = "failed"
    COMPLETED = "completed"

    @classmethod
    def parse(cls, value: Any) -> ExportStatus:
        try:
            return cls(value)
        except ValueError:
            # An unknown status from a newer server: treat it as still running.
            return cls.IN_PROGRESS

    @property
    def done(self) -> bool:
        return self in (ExportStatus.COMPLETED, ExportStatus.FAILED)


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _poll(
    what: str,
    refresh: Callable[[], ExportStatus],
    traceback: Callable[[], str | None],
    raw: Callable[[], Any],
    *,
    timeout: float | None,
    poll_interval: float,
    progress: bool | None,
    sleep: Callable[[float], None],
) -> None:
    deadline = None if timeout is None else time.monotonic() + timeout
    bar = progress_bar(progress, desc=what, bar_format="{desc}: {postfix} [{elapsed}]")
    try:
        while True:
            status = refresh()
            bar.set_postfix_str(status.value)
            if status is ExportStatus.COMPLETED:
                return
            if status is ExportStatus.FAILED:
                said = traceback()
                raise ExportFailed(
                    f"{what} failed on the server",
                    traceback=redact(said) if said else said,
                    raw=redact_payload(raw()),
                )
            if deadline is not None and time.monotonic() >= deadline:
                raise ExportTimeout(
                    f"{what} is still {status.value} after {timeout:g} s; it goes on on the "
                    "server: call wait() again, or get it later by its id"
                )
            pause = (
                poll_interval
                if deadline is None
                else min(poll_interval, max(0.0, deadline - time.monotonic()))
            )
            sleep(pause)
    finally:
        bar.close()


class Export:
    """A snapshot of a project. ``raw`` keeps the server's last answer as is.
    ``recovered_from`` is the error of a create whose answer was lost (a proxy's 502/504, a
    broken connection) when this snapshot was found by its title afterwards, else ``None``:
    its build may have been killed on the server."""

    def __init__(self, connection: Connection, project: int, raw: dict[str, Any]) -> None:
        self._conn = connection
        self.project = project
        self.raw = raw
        self.recovered_from: Exception | None = None

    # -- fields -----------------------------------------------------------------------
    @property
    def id(self) -> int:
        return int(self.raw["id"])

    @property
    def title(self) -> str:
        return str(self.raw.get("title") or "")

    @property
    def status(self) -> ExportStatus:
        return ExportStatus.parse(self.raw.get("status"))

    @property
    def md5(self) -> str | None:
        return self.raw.get("md5") or None

    @property
    def task_count(self) -> int | None:
        counters = self.raw.get("counters") or {}
        value = counters.get("task_number")
        return int(value) if value is not None else None

    @property
    def created_at(self) -> datetime | None:
        return _parse_time(self.raw.get("created_at"))

    @property
    def finished_at(self) -> datetime | None:
        return _parse_time(self.raw.get("finished_at"))

    @property
    def converted_formats(self) -> list[ConvertedFormat]:
        return [ConvertedFormat(self, item) for item in self.raw.get("converted_formats") or []]

    def __repr__(self) -> str:
        return (
            f"Export(project={self.project}, id={self.raw.get('id')}, "
            f"status={self.status.value!r}, task_count={self.task_count})"
        )

    @property
    def _path(self) -> str:
        return f"api/projects/{self.project}/exports/{self.id}"

    # -- actions ----------------------------------------------------------------------
    def refresh(self) -> Export:
        """Fetch the snapshot's current state from the server."""
        self.raw = self._conn.get_json(self._path)
        return self

    def wait(
        self,
        timeout: float | None = None,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        *,
        progress: bool | None = None,
    ) -> Export:
        """Poll until the snapshot is ``completed`` (returns ``self``).

        Parameters
        ----------
        timeout
            Seconds to wait; ``None`` waits as long as it takes.
        poll_interval
            Seconds between two looks at the snapshot's status.
        progress
            Show a spinner; ``None`` follows ``LS_FRAMES_DISABLE_PROGRESS_BARS``.

        Returns
        -------
        Export
            ``self``, completed.

        Raises
        ------
        ExportFailed
            The snapshot failed on the server (``traceback`` holds the server's).
        ExportTimeout
            It did not complete within ``timeout`` (it goes on on the server).
        HTTPError
            A request failed after the retries.
        """
        if self.status is not ExportStatus.COMPLETED:
            _poll(
                f"snapshot {self.id} of project {self.project}",
                lambda: self.refresh().status,
                lambda: self.raw.get("traceback"),
                lambda: self.raw,
                timeout=timeout,
                poll_interval=poll_interval,
                progress=progress,
                sleep=self._conn.retry.sleep,
            )
        return self

    def convert(self, export_type: str, *, download_resources: bool = False) -> ConvertedFormat:
        """Ask the server to convert the snapshot (CSV, COCO, YOLO, ...).

        Converting a type that was already started returns that conversion instead of
        failing on the server's 400 ("Conversion to X already started"). That makes the
        request safe to repeat: after a gateway error the repeat finds the conversion the
        server started.

        Parameters
        ----------
        export_type
            ``"CSV"``, ``"COCO"``, ``"YOLO"``, ... (see :meth:`Client.export_formats
            <ls_frames.Client.export_formats>`).
        download_resources
            Ask the server to bundle the media files (formats that support it).

        Returns
        -------
        ConvertedFormat
            The conversion; call its ``wait()`` before downloading it.

        Raises
        ------
        BadRequest
            The server refuses the conversion (a format the label config cannot produce).
        HTTPError
            Another request failure after the retries.
        """
        payload: dict[str, Any] = {"export_type": export_type}
        if download_resources:
            payload["download_resources"] = True
        try:
            answer = self._conn.post_json(
                f"{self._path}/convert", payload, timeout=LONG_TIMEOUT, retry=True
            )
        except BadRequest as exc:
            if "already" not in exc.server_message.lower():
                raise
            existing = self.refresh().converted_format(export_type)
            if existing is None:
                raise
            return existing
        self.refresh()
        found = self.converted_format(export_type, format_id=answer.get("converted_format"))
        if found is None:  # the server answered but does not list it yet
            found = ConvertedFormat(
                self,
                {
                    "id": answer.get("converted_format"),
                    "export_type": export_type,
                    "status": "created",
                },
            )
        return found

    def converted_format(
        self, export_type: str, *, format_id: int | None = None
    ) -> ConvertedFormat | None:
        """The conversion of this snapshot to ``export_type`` the server knows, if any."""
        for item in self.converted_formats:
            if format_id is not None and item.id == format_id:
                return item
            if format_id is None and item.export_type == export_type:
                return item
        return None

    def download(
        self,
        dest: str | os.PathLike[str] = ".",
        export_type: str = "JSON",
        *,
        progress: bool | None = None,
        download_resources: bool = False,
    ) -> Path:
        """Download the snapshot (``JSON``) or a conversion of it, streamed; see
        :func:`~ls_frames.exports.download.download_to`. The JSON is checked against ``md5``.
        ``dest`` is a folder when it exists or is written with a trailing slash
        (``"exports/"``, created), else the file's path.

        On Enterprise a non-JSON type must be converted first; when the server says so, the
        conversion is started, awaited and the download tried again.

        Parameters
        ----------
        dest
            A file path, or an existing folder (the server's file name is used); the
            current folder by default.
        export_type
            ``"JSON"`` (the snapshot itself) or a converted format (``"CSV"``, ...).
        progress
            Show a progress bar; ``None`` follows ``LS_FRAMES_DISABLE_PROGRESS_BARS``.
        download_resources
            Ask the server to bundle the media files (formats that support it).

        Returns
        -------
        pathlib.Path
            The downloaded file.

        Raises
        ------
        DownloadError
            The download broke off for good (nothing is left under the final name).
        ChecksumMismatch
            The JSON's MD5 differs from the one the server recorded.
        NotFound
            No such snapshot, or the format is not converted and cannot be.
        ExportFailed, ExportTimeout
            A conversion the download needed failed or did not finish.
        HTTPError
            Another request failure after the retries.
        """
        params: dict[str, Any] = {"exportType": export_type}
        if download_resources:
            params["download_resources"] = "true"
        ext = "json" if export_type.upper().startswith("JSON") else export_type.lower()
        name = f"project-{self.project}-export-{self.id}-{export_type}.{ext}"
        md5 = self.md5 if export_type == "JSON" else None

        def attempt() -> Path:
            return download_to(
                self._conn,
                f"{self._path}/download",
                dest,
                params=params,
                default_name=name,
                md5=md5,
                progress=progress,
                timeout=LONG_TIMEOUT,
                description=f"snapshot {self.id} {export_type}",
            )

        try:
            return attempt()
        except NotFound as exc:
            if export_type == "JSON" or "not converted" not in exc.server_message.lower():
                raise
        self.convert(export_type, download_resources=download_resources).wait(progress=progress)
        return attempt()

    def delete(self) -> None:
        """Delete the snapshot and its files on the server."""
        self._conn.request("DELETE", self._path)


class ConvertedFormat:
    """One conversion of a snapshot, to be awaited like the snapshot itself."""

    def __init__(self, export: Export, raw: dict[str, Any]) -> None:
        self.export = export
        self.raw = raw

    @property
    def id(self) -> int | None:
        value = self.raw.get("id")
        return int(value) if value is not None else None

    @property
    def export_type(self) -> str:
        return str(self.raw.get("export_type"))

    @property
    def status(self) -> ExportStatus:
        return ExportStatus.parse(self.raw.get("status"))

    @property
    def traceback(self) -> str | None:
        return self.raw.get("traceback") or None

    def __repr__(self) -> str:
        return (
            f"ConvertedFormat(export={self.export.id}, id={self.id}, "
            f"export_type={self.export_type!r}, status={self.status.value!r})"
        )

    def refresh(self) -> ConvertedFormat:
        self.export.refresh()
        found = self.export.converted_format(self.export_type, format_id=self.id)
        if found is not None:
            self.raw = found.raw
        return self

    def wait(
        self,
        timeout: float | None = None,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        *,
        progress: bool | None = None,
    ) -> ConvertedFormat:
        """Poll this conversion's own status (not the snapshot's) until ``completed``."""
        if self.status is not ExportStatus.COMPLETED:
            _poll(
                f"conversion of snapshot {self.export.id} to {self.export_type}",
                lambda: self.refresh().status,
                lambda: self.traceback,
                lambda: self.raw,
                timeout=timeout,
                poll_interval=poll_interval,
                progress=progress,
                sleep=self.export._conn.retry.sleep,
            )
        return self

    def download(self, dest: str | os.PathLike[str] = ".", *, progress: bool | None = None) -> Path:
        """Download the converted file (waits for it first)."""
        self.wait(progress=progress)
        return self.export.download(dest, self.export_type, progress=progress)


@dataclass(frozen=True)
class ExportFormat:
    """One export format the server offers for a project."""

    name: str
    title: str
    description: str = ""
    disabled: bool = False
    tags: tuple[str, ...] = ()
    link: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_raw(cls, raw: Mapping[str, Any]) -> ExportFormat:
        return cls(
            name=str(raw.get("name")),
            title=str(raw.get("title") or raw.get("name")),
            description=str(raw.get("description") or ""),
            disabled=bool(raw.get("disabled", False)),
            tags=tuple(raw.get("tags") or ()),
            link=raw.get("link"),
            raw=dict(raw),
        )
