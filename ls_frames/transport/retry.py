"""When to repeat a request, how long to wait first, and the transport that does it.

The rule, for every request the library sends (to Label Studio with the key, and to any
other host a media file is fetched from):

* **Fail at once** when a retry cannot help: the connection is refused (nothing listens on
  the port), the host name does not resolve, or the TLS handshake fails (https against a
  plain-http port, a certificate that is not trusted). The error names the origin and the
  reason. See :func:`unfixable`.
* **Repeat**, after a capped exponential backoff with full jitter (or the server's
  ``Retry-After``), a connection that could not be made (a reset, a connect timeout), a
  read that failed or timed out, and the statuses 408, 429, 502, 503 and 504, for a
  request that is safe to repeat: GET, HEAD, OPTIONS, PUT, DELETE, or any request marked
  with :data:`RETRY` ``= True``.
* A request that creates something (POST, PATCH, or one marked ``RETRY = False``) is never
  repeated blindly: only when the failure proves the server did not act on it, i.e. no
  connection was made or it was refused with 429. Otherwise the layer above decides how
  to recover (for a snapshot, by listing the snapshots to find the one the server
  finished).
* Never repeated: a request that waited too long for a free connection of the pool.

:class:`RetryTransport` applies the rule as an ``httpx`` transport wrapper, so the export
client and the media fetcher share it; the typed exception of a request that got no
usable answer is raised from it (:func:`ls_frames.transport.failures.no_answer`).
"""

from __future__ import annotations

import email.utils
import logging
import random
import socket
import ssl
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from ls_frames.transport.failures import named_origin, no_answer

__all__ = [
    "RETRY",
    "RETRY_STATUSES",
    "SAFE_METHODS",
    "STREAM",
    "ClientTransport",
    "RetryPolicy",
    "RetryTransport",
    "parse_retry_after",
    "repeatable",
    "unfixable",
]

logger = logging.getLogger("ls_frames")

RETRY_STATUSES = frozenset({408, 429, 502, 503, 504})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
#: Request extension: ``True`` or ``False`` overrides whether the request is safe to repeat
#: (absent: it is when its method is in :data:`SAFE_METHODS`).
RETRY = "ls_frames.retry"
#: Request extension: ``True`` when the caller reads the body itself (a streamed download
#: resumes a cut body on its own); otherwise the transport reads it, and a body cut short
#: is a failure like any other.
STREAM = "ls_frames.stream"


@dataclass
class RetryPolicy:
    """Capped exponential backoff with full jitter.

    ``attempts`` counts every try, the first included. The wait before try ``n`` (1-based
    retries) is a random value in ``[0, min(cap, base * 2**(n-1))]``, or the server's
    ``Retry-After`` when it sends one (capped at ``max_retry_after``). ``sleep`` is
    injectable so tests never wait.
    """

    attempts: int = 5
    base: float = 0.5
    cap: float = 20.0
    max_retry_after: float = 120.0
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)
    rng: Callable[[], float] = field(default=random.random, repr=False)

    def retryable_status(self, status: int) -> bool:
        """Whether an answer with this status may pass on a retry."""
        return status in RETRY_STATUSES

    def delay(self, retry: int, response: httpx.Response | None = None) -> float:
        """Seconds to wait before retry number ``retry`` (1 for the first retry)."""
        if response is not None:
            after = parse_retry_after(response.headers.get("Retry-After"))
            if after is not None:
                return min(after, self.max_retry_after)
        return float(self.rng() * min(self.cap, self.base * 2 ** (retry - 1)))


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def repeatable(request: httpx.Request) -> bool:
    """Whether ``request`` is safe to send again after the server may have acted on it."""
    override = request.extensions.get(RETRY)
    return request.method in SAFE_METHODS if override is None else bool(override)


def _causes(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        # httpx wraps httpcore's error with "from"; httpcore raises its own while handling
        # the socket's (the context): nothing else's context is followed
        wrapped = type(current).__module__.startswith("httpcore")
        current = current.__cause__ or (current.__context__ if wrapped else None)


def unfixable(exc: httpx.TransportError) -> str | None:
    """Why a failed connection cannot pass on a retry, or ``None`` when it might (a
    timeout, a reset, a name server that did not answer in time)."""
    for cause in _causes(exc):
        if isinstance(cause, ssl.SSLCertVerificationError):
            why = getattr(cause, "verify_message", None) or cause
            return f"the server's TLS certificate is not trusted ({why})"
        if isinstance(cause, ssl.SSLError):
            return (
                f"the TLS handshake failed ({cause.reason or cause}); if the server speaks "
                "plain http on that port, use an http:// URL"
            )
        if isinstance(cause, socket.gaierror) and cause.errno != socket.EAI_AGAIN:
            return f"the host name does not resolve ({cause.strerror or cause})"
        if isinstance(cause, ConnectionRefusedError):
            return (
                "connection refused: nothing listens on that port (is Label Studio "
                "running, and is the URL right?)"
            )
    return None


def _worth_repeating(exc: httpx.TransportError, request: httpx.Request) -> bool:
    """Whether a request that got no answer may be sent again (the failure is not
    :func:`unfixable`, checked first)."""
    if isinstance(exc, httpx.PoolTimeout):
        return False
    unsent = isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout))
    return unsent or repeatable(request)


class RetryTransport(httpx.BaseTransport):
    """An ``httpx`` transport that applies :class:`RetryPolicy` around another one.

    It hands back an answer of any status: turning an error status into an exception is
    the caller's (:func:`ls_frames.transport.failures.raise_for_status`). When no usable
    answer came it raises :class:`~ls_frames.errors.TransportError` (or its
    ``RequestTimeout``), chained to httpx's error.

    Parameters
    ----------
    transport
        The transport that sends each try (``httpx.HTTPTransport``, a
        :class:`ClientTransport`, an ``httpx.MockTransport`` in tests).
    policy
        How many tries and how long to wait between them.
    """

    def __init__(self, transport: httpx.BaseTransport, policy: RetryPolicy | None = None):
        self.transport = transport
        self.policy = policy or RetryPolicy()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.transport!r}, {self.policy!r})"

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        attempts = self.policy.attempts
        for attempt in range(1, attempts + 1):
            last = attempt == attempts
            try:
                response = self._try(request)
            except httpx.TransportError as exc:
                reason = unfixable(exc)
                if reason is None and not last and _worth_repeating(exc, request):
                    self._wait(attempt, None, type(exc).__name__, request)
                    continue
                raise no_answer(exc, request, attempt, reason) from exc
            code = response.status_code
            # a 429 was refused, not acted on: repeated whatever the request
            again = repeatable(request) or code == 429
            if not last and self.policy.retryable_status(code) and again:
                response.close()
                self._wait(attempt, response, str(code), request)
                continue
            return response
        raise AssertionError("unreachable")  # pragma: no cover

    def _try(self, request: httpx.Request) -> httpx.Response:
        response = self.transport.handle_request(request)
        if request.extensions.get(STREAM):
            return response
        try:
            response.read()
        except BaseException:
            response.close()
            raise
        return response

    def _wait(
        self, attempt: int, response: httpx.Response | None, why: str, request: httpx.Request
    ) -> None:
        delay = self.policy.delay(attempt, response)
        where = f"{named_origin(request)}{request.url.path}"
        logger.info("%s %s: %s, retry %d in %.1fs", request.method, where, why, attempt, delay)
        self.policy.sleep(delay)

    def close(self) -> None:
        self.transport.close()


class ClientTransport(httpx.BaseTransport):
    """The connections of a plain ``httpx.Client``, as a transport.

    httpx chooses how to reach a URL (a proxy from ``HTTP_PROXY`` / ``HTTPS_PROXY`` /
    ``ALL_PROXY`` unless ``NO_PROXY`` says otherwise, the TLS settings, the pool) only
    inside a client; wrapping such a client keeps every one of those choices under the
    :class:`RetryTransport`. Each request is sent as it is: no redirects followed, no
    credentials added, the body not read, its own timeouts (a request without any, such
    as the token refresh the auth flow sends, gets none here either, as with httpx's own
    transports). When the environment names no proxy (httpx reads it as
    ``urllib.request.getproxies``), that client would send every request through its one
    ``httpx.HTTPTransport``: the request goes there directly, without a second client's
    work per request (its cookie jar, its URL handling), which costs more than a small
    file's transfer on loopback.

    Parameters
    ----------
    **options
        Keyword arguments of ``httpx.Client`` (``verify``, ``limits``, ...).
    """

    def __init__(self, **options: Any) -> None:
        options.setdefault("timeout", None)
        self._direct: httpx.HTTPTransport | None = None
        self._client: httpx.Client | None = None
        if set(options) <= {"verify", "limits", "timeout"} and not _environment_proxies():
            direct = {k: v for k, v in options.items() if k in ("verify", "limits")}
            self._direct = httpx.HTTPTransport(**direct)
        else:
            self._client = httpx.Client(follow_redirects=False, **options)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self._direct is not None:
            return self._direct.handle_request(request)
        assert self._client is not None
        return self._client.send(request, stream=True)

    def close(self) -> None:
        if self._direct is not None:
            self._direct.close()
        if self._client is not None:
            self._client.close()


def _environment_proxies() -> bool:
    """Whether the environment names a proxy httpx would use for some URL."""
    found = urllib.request.getproxies()
    return any(found.get(scheme) for scheme in ("http", "https", "all"))
