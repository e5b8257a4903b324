"""Exceptions raised by ls_frames.

Every exception the library raises on purpose derives from :class:`LSFramesError`::

    LSFramesError
    ├── ConfigurationError            missing or empty URL or key, a page's URL given as
    │   │                             the server's, a server that is not Label Studio, bad
    │   │                             option or argument value (unknown table, misspelt
    │   │                             storage key, array of the wrong shape), missing
    │   │                             extra (also a ``ValueError``)
    │   └── NoProjectError            the server has no project to pick (``ls-frames demo``)
    ├── OutputExistsError             the output folder exists and ``overwrite`` is false
    │                                 (also a ``FileExistsError``)
    ├── HTTPError                     a request failed (carries method, path, status, message)
    │   ├── TransportError            no usable response: connect error, reset, read timeout
    │   │   └── RequestTimeout        the request timed out (after retries, where retried)
    │   └── APIError                  the server answered with an error status
    │       ├── AuthenticationError   401: token missing, wrong, expired or legacy tokens off
    │       ├── PermissionDenied      403
    │       ├── NotFound              404
    │       ├── BadRequest            400 and other 4xx the server explains
    │       ├── RateLimited           429 after the retries ran out
    │       └── ServerError           5xx after the retries ran out
    │           └── SnapshotBuildStopped  the server stopped building a snapshot inside the
    │                                     create request (a worker timeout: uwsgi's
    │                                     harakiri, gunicorn's --timeout); names the fix
    ├── ExportError                   a job on the server did not end well
    │   ├── ExportFailed              a snapshot or conversion ended in ``failed``
    │   └── ExportTimeout             ``wait()`` passed its deadline (names the job)
    ├── DownloadError                 a download could not be completed
    │   └── ChecksumMismatch          the bytes on disk do not match the server's md5
    ├── StorageError                  an export storage refused a request or failed to sync
    ├── ConcurrentWriteError          another run committed to a Delta dataset since the
    │                                 state this run started from (names table and versions)
    ├── MediaError                    ``fetch_media(strict=True)``: some references failed
    ├── ExportFormatError             an export file is not what Label Studio writes
    │   │ (also a ``ValueError``; names the byte offset or task index)
    │   └── DatasetVersionError       a Parquet dataset of a newer format version
    └── RegionError                   a region cannot become a mask or a track: malformed
        brush RLE, a size that does not match, missing geometry (also a ``ValueError``;
        names the region)

HTTP errors are built by the transport (:mod:`ls_frames.transport.failures`), which hands
them redacted text and scrubbed copies of the request and the response
(:mod:`ls_frames.transport.secrets`): no message, ``repr`` or ``str`` of these exceptions
contains a credential, nor does any attribute. The exports and media layers redact the
server text they put in an :class:`ExportFailed`, a :class:`StorageError` or a
:class:`MediaError` the same way. This module is the ground floor: it imports nothing of
ls_frames when loaded (the registry names that moved out are looked up on demand) and
knows nothing of HTTP beyond what an exception carries.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx

__all__ = [
    "APIError",
    "AuthenticationError",
    "BadRequest",
    "ChecksumMismatch",
    "ConcurrentWriteError",
    "ConfigurationError",
    "DatasetVersionError",
    "DownloadError",
    "ExportError",
    "ExportFailed",
    "ExportFormatError",
    "ExportTimeout",
    "HTTPError",
    "LSFramesError",
    "MediaError",
    "NoProjectError",
    "NotFound",
    "OutputExistsError",
    "PermissionDenied",
    "RateLimited",
    "RegionError",
    "RequestTimeout",
    "ServerError",
    "SnapshotBuildStopped",
    "StorageError",
    "TransportError",
]

_MAX_MESSAGE = 2000


class LSFramesError(Exception):
    """Base class of every error ls_frames raises on purpose."""


class ConfigurationError(LSFramesError, ValueError):
    """The library was asked to do something that cannot work as configured."""


class HTTPError(LSFramesError):
    """A request to Label Studio failed.

    The transport builds these with redacted text and scrubbed copies of the request and
    the response (:func:`ls_frames.transport.failures.http_error`).

    Attributes
    ----------
    method
        The request's method.
    path
        The request's path, without the host and the query.
    status
        The answer's status, ``None`` when no answer arrived.
    server_message
        The server's own words.
    request, response
        The exchange, when there is one.
    """

    def __init__(
        self,
        message: str,
        *,
        method: str = "",
        path: str = "",
        status: int | None = None,
        server_message: str = "",
        request: httpx.Request | None = None,
        response: httpx.Response | None = None,
    ) -> None:
        self.method = method
        self.path = path
        self.status = status
        self.server_message = server_message
        self.request = request
        self.response = response
        where = f"{method} {path}".strip()
        head = f"{status} " if status is not None else ""
        text = f"{head}{message}" + (f" ({where})" if where else "")
        if server_message and server_message not in message:
            text += f": {server_message}"
        super().__init__(text)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"


class TransportError(HTTPError):
    """No usable response: the connection failed, was reset or timed out."""


class RequestTimeout(TransportError):
    """The request timed out."""


class APIError(HTTPError):
    """The server answered with an error status."""


class AuthenticationError(APIError):
    """401: the credential is missing, wrong, expired, or its kind is disabled.

    ``scheme`` names the ``Authorization`` scheme that was sent ("Token" or "Bearer").
    """

    def __init__(self, message: str, *, scheme: str | None = None, **kw: Any) -> None:
        self.scheme = scheme
        if scheme:
            message = f"{message} [sent Authorization: {scheme} <redacted>]"
        super().__init__(message, **kw)


class PermissionDenied(APIError):
    """403: the user may not do this."""


class NotFound(APIError):
    """404: no such project, export, format or storage (or not ready yet)."""


class BadRequest(APIError):
    """400 or another 4xx the server explains (validation errors and the like)."""


class RateLimited(APIError):
    """429 after the retries ran out."""


class ServerError(APIError):
    """5xx after the retries ran out (or on a request that is not safe to repeat)."""


class SnapshotBuildStopped(ServerError):
    """The server stopped building a snapshot inside the create request.

    Label Studio Community builds a snapshot inside ``POST .../exports/``; a server that
    kills a request running past a limit (uwsgi's ``harakiri``, 120 s in the official
    image; gunicorn's ``--timeout``) kills the build with it and leaves the snapshot
    ``in_progress`` for ever. Raised when the create failed that way (a 5xx, with the
    snapshot found in progress), or when a proxy gave up on the create (502/504) and the
    snapshot then made no progress for the stall limit. The message names the cause and
    the fix: read the project through the paged tasks API (``source="tasks"``), or raise
    the server's worker timeout. A ``ServerError``, so code that caught the 500 still does.

    Attributes
    ----------
    project
        The project's id.
    seconds
        How long the build ran, as seen from here, before the library gave up on it.
    export_id
        The snapshot the killed build left, ``None`` when none was found.
    deleted
        Whether the library deleted that snapshot (it does, unless the delete failed).
    """

    def __init__(
        self,
        message: str,
        *,
        project: int,
        seconds: float,
        export_id: int | None = None,
        deleted: bool = False,
        **kwargs: Any,
    ) -> None:
        self.project = project
        self.seconds = seconds
        self.export_id = export_id
        self.deleted = deleted
        super().__init__(message, **kwargs)


class ExportError(LSFramesError):
    """A job on the server (snapshot, conversion) did not end well."""


class ExportFailed(ExportError):
    """The job ended in ``failed``. ``traceback`` holds the server's traceback, if any,
    ``raw`` the server's last answer (the raiser scrubs known credentials from both)."""

    def __init__(self, message: str, *, traceback: str | None = None, raw: Any = None) -> None:
        self.traceback = traceback
        self.raw = raw
        text = message
        if traceback:
            text += f"\nServer traceback:\n{traceback.strip()[-_MAX_MESSAGE:]}"
        super().__init__(text)


class ExportTimeout(ExportError, TimeoutError):
    """``wait()`` passed its deadline before the job finished."""


class DownloadError(LSFramesError):
    """A download could not be completed; nothing was left under the final name."""


class ChecksumMismatch(DownloadError):
    """The downloaded bytes do not match the MD5 the server recorded."""


class StorageError(LSFramesError):
    """An export storage request failed or its sync ended in ``failed``."""

    def __init__(self, message: str, *, traceback: str | None = None) -> None:
        self.traceback = traceback
        tail = f"\nServer traceback:\n{traceback}" if traceback else ""
        super().__init__(message + tail)


class ConcurrentWriteError(LSFramesError):
    """Another run committed to a Delta dataset after the state this run started from:
    ``table`` was at ``found`` where this run expected ``expected``. Nothing of this run
    is visible to readers; read the new state and run again."""

    def __init__(
        self, message: str, *, table: str, expected: int | None, found: int | None
    ) -> None:
        self.table = table
        self.expected = expected
        self.found = found
        super().__init__(message)


class OutputExistsError(LSFramesError, FileExistsError):
    """The output folder exists and ``overwrite`` is false (``path`` names it)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        super().__init__(f"{self.path} exists; pass overwrite=True to replace it")

    def __str__(self) -> str:  # FileExistsError would render (errno, strerror)
        return str(self.args[0])


class NoProjectError(ConfigurationError):
    """The server has no project to pick when none was named."""


class MediaError(LSFramesError):
    """Some media references could not be fetched (raised by ``fetch_media(strict=True)``).

    ``failures`` is a list of ``(task_id, field, position, uri, error)`` tuples, one per
    failed reference (redacted by the raiser); the files that did arrive are in the cache
    all the same.
    """

    _SHOWN = 20

    def __init__(self, failures: list[tuple[int | None, str, int, str, str]]) -> None:
        self.failures = list(failures)
        lines = [
            f"  task {task}, {field}[{position}] {uri!r}: {error}"
            for task, field, position, uri, error in self.failures[: self._SHOWN]
        ]
        more = len(self.failures) - self._SHOWN
        if more > 0:
            lines.append(f"  ... and {more} more")
        super().__init__(
            f"{len(self.failures)} media reference(s) could not be fetched:\n" + "\n".join(lines)
        )


class ExportFormatError(LSFramesError, ValueError):
    """An export file is not in the shape Label Studio writes.

    ``offset`` is the byte offset in the source where the problem was found, ``task_index``
    the 0-based index of the task in the array, ``path`` the file, when known.
    """

    def __init__(
        self,
        message: str,
        *,
        offset: int | None = None,
        task_index: int | None = None,
        path: str | None = None,
    ) -> None:
        self.offset = offset
        self.task_index = task_index
        self.path = path
        where = []
        if path:
            where.append(str(path))
        if task_index is not None:
            where.append(f"task #{task_index}")
        if offset is not None:
            where.append(f"byte {offset}")
        super().__init__(message + (f" (at {', '.join(where)})" if where else ""))


class DatasetVersionError(ExportFormatError):
    """A Parquet dataset was written in a newer format version than this ls_frames reads
    (see :data:`ls_frames.tables.dataset.FORMAT_VERSION`): upgrade ls_frames."""


class RegionError(LSFramesError, ValueError):
    """A region cannot be turned into a mask or a track.

    ``region`` names it (``task_id``, ``source``, ``source_id``, ``region_id`` as text)
    when the caller knows it; :func:`ls_frames.tables.rle_to_mask` alone does not.
    """

    def __init__(self, message: str, *, region: str | None = None) -> None:
        self.region = region
        super().__init__(f"region {region}: {message}" if region else message)
