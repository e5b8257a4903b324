"""Exceptions raised by ls_frames.

Every exception the library raises on purpose derives from :class:`LSFramesError`::

    LSFramesError
    ├── ConfigurationError            missing URL or key, bad option or argument value
    │   │                             (unknown table, array of the wrong shape), unknown
    │   │                             option, missing extra (also a ``ValueError``)
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

No message, ``repr`` or ``str`` of these exceptions contains a credential: the request
headers are never rendered, and :func:`redact` scrubs known secrets from server text. Nor
does any attribute: ``request`` and ``response`` are copies with the ``Authorization``
header masked and known secrets scrubbed from the bodies, ``ExportFailed.raw`` is a
scrubbed copy of the server's answer.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
from collections import OrderedDict
from collections.abc import Iterable
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
    "StorageError",
    "TransportError",
    "raise_for_status",
    "redact",
]

_MAX_MESSAGE = 2000
# Known credentials, newest last. Bounded: a process that refreshes an access token every
# five minutes for months keeps the last 256 (about 21 hours of them: access tokens live
# five minutes) and forgets the oldest; a client registers its key again with every
# refresh, so the long-lived key stays.
_MAX_SECRETS = 256
_SECRETS: OrderedDict[str, None] = OrderedDict()
_SECRETS_LOCK = threading.Lock()


def register_secret(secret: str | None) -> None:
    """Remember a credential so :func:`redact` removes it from any text we render.

    At most ``_MAX_SECRETS`` are kept, the least recently registered dropped first.
    """
    with _SECRETS_LOCK:
        if secret and len(secret) >= 6:
            _SECRETS[secret] = None
            _SECRETS.move_to_end(secret)
            while len(_SECRETS) > _MAX_SECRETS:
                _SECRETS.popitem(last=False)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Return ``text`` with every known credential (and bearer/token headers) masked."""
    for s in (*tuple(_SECRETS), *secrets):
        if s:
            text = text.replace(s, "***")
    # A credential-looking value after the scheme (with a digit: "token authentication" in
    # the server's own words stays readable).
    return re.sub(r"(?i)\b(Token|Bearer)\s+(?=[A-Za-z._\-]*\d)[A-Za-z0-9._\-]{8,}", r"\1 ***", text)


def redact_payload(value: Any) -> Any:
    """A copy of a decoded JSON payload with :func:`redact` applied to every string in it
    (keys included); other values are kept as they are."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {redact_payload(k): redact_payload(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_payload(v) for v in value]
    return value


_AUTH_HEADERS = frozenset({"authorization", "proxy-authorization"})
_COOKIE_HEADERS = frozenset({"cookie", "set-cookie"})
# The copies hold decoded bodies: what described the bytes on the wire no longer applies.
_WIRE_HEADERS = frozenset({"content-length", "content-encoding", "transfer-encoding"})


def _scrub_body(body: bytes) -> bytes:
    if not body or not (_SECRETS or b"oken" in body or b"earer" in body):
        return body
    text = body.decode("utf-8", "surrogateescape")
    scrubbed = redact(text)
    return body if scrubbed == text else scrubbed.encode("utf-8", "surrogateescape")


def _scrub_headers(headers: httpx.Headers) -> list[tuple[str, str]]:
    out = []
    for name, value in headers.multi_items():
        key = name.lower()
        if key in _WIRE_HEADERS:
            continue
        if key in _AUTH_HEADERS:
            value = f"{value.split(' ', 1)[0]} ***" if " " in value.strip() else "***"
        elif key in _COOKIE_HEADERS:
            value = "***"
        else:
            value = redact(value)
        out.append((name, value))
    return out


def scrub_request(request: httpx.Request | None) -> httpx.Request | None:
    """A copy of ``request`` safe to keep on an exception: same method, URL and extensions,
    credentials masked in the headers and known secrets scrubbed from the body."""
    if request is None:
        return None
    import httpx

    try:
        body = request.content
    except httpx.RequestNotRead:
        body = b""
    return httpx.Request(
        request.method,
        request.url,
        headers=_scrub_headers(request.headers),
        content=_scrub_body(body),
        extensions=request.extensions,
    )


def scrub_response(
    response: httpx.Response | None, request: httpx.Request | None = None
) -> httpx.Response | None:
    """A copy of ``response`` safe to keep on an exception: same status and headers (cookies
    masked), known secrets scrubbed from the body (empty when it was never read)."""
    if response is None:
        return None
    import httpx

    try:
        body = response.content
    except httpx.ResponseNotRead:
        body = b""
    if request is None:
        with contextlib.suppress(RuntimeError):
            request = scrub_request(response.request)
    copy = httpx.Response(
        response.status_code,
        headers=_scrub_headers(response.headers),
        content=_scrub_body(body),
        request=request,
        extensions=response.extensions,
    )
    return copy


class LSFramesError(Exception):
    """Base class of every error ls_frames raises on purpose."""


class ConfigurationError(LSFramesError, ValueError):
    """The library was asked to do something that cannot work as configured."""


class HTTPError(LSFramesError):
    """A request to Label Studio failed.

    Attributes: ``method``, ``path`` (without the host and query), ``status`` (``None`` when
    no response arrived), ``server_message`` (the server's own words, redacted), and the
    ``request`` / ``response`` objects when there are any.
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
        self.server_message = redact(server_message)
        self.request = scrub_request(request)
        self.response = scrub_response(response, self.request)
        where = f"{method} {path}".strip()
        head = f"{status} " if status is not None else ""
        text = f"{head}{message}" + (f" ({where})" if where else "")
        if server_message and server_message not in message:
            text += f": {server_message}"
        super().__init__(redact(text))

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


class ExportError(LSFramesError):
    """A job on the server (snapshot, conversion) did not end well."""


class ExportFailed(ExportError):
    """The job ended in ``failed``. ``traceback`` holds the server's traceback, if any,
    ``raw`` the server's last answer (both with known credentials scrubbed)."""

    def __init__(self, message: str, *, traceback: str | None = None, raw: Any = None) -> None:
        self.traceback = redact(traceback) if traceback else traceback
        self.raw = redact_payload(raw)
        text = message
        if traceback:
            text += f"\nServer traceback:\n{traceback.strip()[-_MAX_MESSAGE:]}"
        super().__init__(redact(text))


class ExportTimeout(ExportError, TimeoutError):
    """``wait()`` passed its deadline before the job finished."""


class DownloadError(LSFramesError):
    """A download could not be completed; nothing was left under the final name."""


class ChecksumMismatch(DownloadError):
    """The downloaded bytes do not match the MD5 the server recorded."""


class StorageError(LSFramesError):
    """An export storage request failed or its sync ended in ``failed``."""

    def __init__(self, message: str, *, traceback: str | None = None) -> None:
        self.traceback = redact(traceback) if traceback else traceback
        tail = f"\nServer traceback:\n{traceback}" if traceback else ""
        super().__init__(redact(message + tail))


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
    failed reference; the files that did arrive are in the cache all the same.
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
            redact(
                f"{len(self.failures)} media reference(s) could not be fetched:\n"
                + "\n".join(lines)
            )
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


def _server_message(response: httpx.Response) -> str:
    """Extract the human part of an error body (JSON detail, validation errors, or text)."""
    try:
        body = response.json()
    except Exception:
        ctype = response.headers.get("content-type", "")
        text = response.text if response.is_stream_consumed or not response.is_closed else ""
        if "html" in ctype or text.lstrip().startswith("<"):
            title = re.search(r"<title>(.*?)</title>", text, re.S | re.I)
            return f"HTML error page{': ' + title.group(1).strip() if title else ''}"
        return text.strip()[:_MAX_MESSAGE]
    if isinstance(body, dict):
        for key in ("detail", "message", "error"):
            value = body.get(key)
            if isinstance(value, str):
                extra = body.get("validation_errors")
                return value + (f" {extra}" if extra else "")
        return str(body)[:_MAX_MESSAGE]
    return str(body)[:_MAX_MESSAGE]


_BY_STATUS: dict[int, type[APIError]] = {
    401: AuthenticationError,
    403: PermissionDenied,
    404: NotFound,
    429: RateLimited,
}


def raise_for_status(response: httpx.Response, *, scheme: str | None = None) -> None:
    """Turn an error response into the matching :class:`APIError`; do nothing on success."""
    if response.is_success or response.is_redirect:
        return
    status = response.status_code
    request = response.request
    if status >= 500:
        cls: type[APIError] = ServerError
    else:
        cls = _BY_STATUS.get(status, BadRequest)
    with contextlib.suppress(Exception):  # body unavailable (stream broken): keep the status
        response.read()
    message = redact(_server_message(response))
    kw: dict[str, Any] = dict(
        method=request.method,
        path=request.url.path,
        status=status,
        server_message=message,
        request=request,
        response=response,
    )
    phrase = response.reason_phrase or "error"
    if cls is AuthenticationError:
        if scheme == "Token" and "legacy token authentication has been disabled" in message:
            # Label Studio 1.17+ turns legacy tokens off for new organizations.
            phrase = (
                "legacy tokens are turned off for this organization (the default since "
                "Label Studio 1.17): use a personal access token, or turn legacy tokens "
                "on in the organization's settings"
            )
        raise AuthenticationError(phrase, scheme=scheme, **kw)
    raise cls(phrase, **kw)
