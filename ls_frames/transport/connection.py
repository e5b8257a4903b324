"""The HTTP connection every other layer talks through.

:class:`Connection` owns one ``httpx.Client``: the base URL (a sub-path such as
``https://host/label-studio`` works), the credential, the retry loop and the mapping of
failures to the typed exceptions of :mod:`ls_frames.errors`. It knows nothing about
exports; the layers above build on ``request`` and ``stream``.

The key goes to the server's origin only (see :meth:`TokenAuth.guard`): ``request`` and
``stream`` accept an absolute URL (a presigned media link, say), which is fetched without
credentials when it is on another origin.

Failures that a retry cannot fix end at once, naming the origin: a refused connection, a
host name that does not resolve, a TLS handshake that fails (https against a plain-http
port, a certificate not trusted). Timeouts, resets and 408/429/5xx are retried by the
:class:`RetryPolicy`.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import socket
import ssl
import time
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TypeVar

import httpx
from httpx import USE_CLIENT_DEFAULT
from httpx._client import UseClientDefault

from ls_frames._deprecation import renamed_kwargs
from ls_frames._version import __version__
from ls_frames.errors import (
    APIError,
    ConfigurationError,
    HTTPError,
    RequestTimeout,
    TransportError,
    _server_message,
    raise_for_status,
)
from ls_frames.transport.auth import TokenAuth, origin_of, render_origin
from ls_frames.transport.retry import SAFE_METHODS, RetryPolicy

__all__ = ["DEFAULT_TIMEOUT", "Connection", "InsecureTransportWarning"]

logger = logging.getLogger("ls_frames")

#: Connect fast, but let the server take its time to answer: Label Studio Community builds
#: snapshots inside the request (44 s for 20,000 tasks on a small machine).
DEFAULT_TIMEOUT = httpx.Timeout(60.0, connect=10.0)

URL_ENV = "LABEL_STUDIO_URL"
KEY_ENV = "LABEL_STUDIO_API_KEY"


_C = TypeVar("_C", bound="Connection")


class InsecureTransportWarning(UserWarning):
    """A token is about to be sent in clear text to a host that is not this machine."""


def _is_loopback(host: str) -> bool:
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _path_of(url: httpx.URL) -> str:
    return url.path


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
            return f"the server's TLS certificate is not trusted ({cause.verify_message})"
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


def _failed_url(exc: httpx.TransportError, default: httpx.URL) -> httpx.URL:
    """The URL of the request that failed (a redirect target or a token refresh may differ
    from the request that was sent)."""
    try:
        return exc.request.url
    except RuntimeError:  # no request attached
        return default


class Connection:
    """A connection to one Label Studio server with one API key.

    ``url`` and ``api_key`` default to the environment variables ``LABEL_STUDIO_URL`` and
    ``LABEL_STUDIO_API_KEY`` (the names the official SDK reads). ``transport`` is handed to
    ``httpx.Client`` (tests pass an ``httpx.MockTransport``).
    """

    @renamed_kwargs(timeout="http_timeout")
    def __init__(
        self,
        url: str | None = None,
        api_key: str | None = None,
        *,
        http_timeout: float | httpx.Timeout | None = DEFAULT_TIMEOUT,
        transport: httpx.BaseTransport | None = None,
        retry: RetryPolicy | None = None,
        headers: Mapping[str, str] | None = None,
        verify: bool | str = True,
    ) -> None:
        url = url or os.environ.get(URL_ENV)
        api_key = api_key or os.environ.get(KEY_ENV)
        if not url:
            raise ConfigurationError(
                f"no Label Studio URL: pass url=... or set {URL_ENV} (e.g. http://localhost:8080)"
            )
        if not api_key:
            raise ConfigurationError(
                f"no API key: pass api_key=... or set {KEY_ENV} (a legacy token or a "
                "personal access token from Account & Settings)"
            )
        base = httpx.URL(url.rstrip("/") + "/")
        if base.scheme not in ("http", "https"):
            raise ConfigurationError(
                f"the Label Studio URL must start with http:// or https://: {url!r}"
            )
        if base.scheme == "http" and not _is_loopback(base.host):
            warnings.warn(
                f"sending a Label Studio token over plain http to {base.host}; use https",
                InsecureTransportWarning,
                stacklevel=3,
            )
        self.base_url = base
        self.auth = TokenAuth(api_key, base.join("api/token/refresh/"))
        self.retry = retry or RetryPolicy()
        self._client = httpx.Client(
            base_url=base,
            auth=self.auth,
            timeout=http_timeout,
            transport=transport,
            verify=verify,
            follow_redirects=True,
            event_hooks={"request": [self.auth.guard]},
            headers={"User-Agent": f"ls-frames/{__version__}", **(headers or {})},
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(url={str(self.base_url)!r}, auth={self.auth.kind!r})"

    def close(self) -> None:
        self._client.close()

    def __enter__(self: _C) -> _C:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- requests ------------------------------------------------------------------------
    def _url(self, path: str) -> str:
        return path.lstrip("/")

    def _send(
        self,
        request: httpx.Request,
        *,
        stream: bool,
        retry: bool | None,
        follow_redirects: bool = True,
    ) -> httpx.Response:
        """Send with the retry loop; return a successful response or raise a typed error.

        A request that is not safe to repeat (``retry=False``, or a POST by default) is still
        repeated when the failure proves the server did not act on it: it could not be
        connected, it was refused with 429, or the token refresh in front of it failed.
        """
        method = request.method
        path = _path_of(request.url)
        where = render_origin(origin_of(request.url))
        repeatable = (method in SAFE_METHODS) if retry is None else retry
        attempts = self.retry.attempts
        for attempt in range(1, attempts + 1):
            last = attempt == attempts
            started = time.monotonic()
            try:
                response = self._client.send(
                    request, stream=stream, follow_redirects=follow_redirects
                )
            except httpx.TimeoutException as exc:
                unsent = isinstance(exc, httpx.ConnectTimeout) or self._in_refresh(exc)
                if not last and (repeatable or unsent) and not isinstance(exc, httpx.PoolTimeout):
                    self._backoff(attempt, None, f"{type(exc).__name__}", method, path)
                    continue
                raise RequestTimeout(
                    f"timed out ({type(exc).__name__}) talking to {where} after "
                    f"{attempt} attempt(s)",
                    method=method,
                    path=path,
                    request=request,
                ) from exc
            except httpx.TransportError as exc:
                reason = unfixable(exc)
                if reason is not None:
                    failed = _failed_url(exc, request.url)
                    raise TransportError(
                        f"cannot reach {render_origin(origin_of(failed))}: {reason}",
                        method=method,
                        path=path,
                        request=request,
                    ) from exc
                unsent = isinstance(exc, httpx.ConnectError) or self._in_refresh(exc)
                if not last and (repeatable or unsent):
                    self._backoff(attempt, None, f"{type(exc).__name__}", method, path)
                    continue
                raise TransportError(
                    f"connection to {where} failed ({type(exc).__name__}: {exc}) after "
                    f"{attempt} attempt(s)",
                    method=method,
                    path=path,
                    request=request,
                ) from exc
            except APIError as exc:  # raised by the auth flow: the token refresh failed
                retryable = exc.status is not None and self.retry.retryable_status(exc.status)
                if not last and retryable and self.auth.is_refresh(exc.request):
                    self._backoff(
                        attempt, exc.response, f"token refresh {exc.status}", method, path
                    )
                    continue
                raise
            logger.debug(
                "%s %s -> %s in %.2fs",
                method,
                path,
                response.status_code,
                time.monotonic() - started,
            )
            code = response.status_code
            if not last and self.retry.retryable_status(code) and (repeatable or code == 429):
                response.close()
                self._backoff(attempt, response, str(code), method, path)
                continue
            if not response.is_success:
                try:
                    raise_for_status(response, scheme=self.auth.scheme)
                finally:
                    response.close()
            return response
        raise AssertionError("unreachable")  # pragma: no cover

    def _in_refresh(self, exc: httpx.TransportError) -> bool:
        """Whether the error hit the token refresh the auth flow sends before a request (so
        that request never reached the server)."""
        try:
            failed: httpx.Request | None = exc.request
        except RuntimeError:  # no request attached
            return False
        return self.auth.is_refresh(failed)

    def _backoff(
        self, attempt: int, response: httpx.Response | None, why: str, method: str, path: str
    ) -> None:
        delay = self.retry.delay(attempt, response)
        logger.info("%s %s: %s, retry %d in %.1fs", method, path, why, attempt, delay)
        self.retry.sleep(delay)

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | list[tuple[str, Any]] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | httpx.Timeout | UseClientDefault | None = USE_CLIENT_DEFAULT,
        retry: bool | None = None,
    ) -> httpx.Response:
        """Send a request and return the (read) response, or raise a typed error.

        ``path`` is relative to the server URL, or an absolute URL: on another origin (a
        presigned media link) it is fetched without the key.

        ``retry=None`` repeats only safe methods; ``True``/``False`` overrides that (a request
        the server provably did not act on, refused with 429 or never connected, is repeated
        in any case).
        ``timeout`` overrides the client's timeout for this request (``None``: no limit).
        """
        kwargs: dict[str, Any] = {"params": params, "json": json, "headers": headers}
        kwargs["timeout"] = timeout
        request = self._client.build_request(method, self._url(path), **kwargs)
        response = self._send(request, stream=False, retry=retry)
        return response

    def get_json(self, path: str, **kwargs: Any) -> Any:
        return self._decode(self.request("GET", path, **kwargs))

    def post_json(self, path: str, json: Any = None, **kwargs: Any) -> Any:
        return self._decode(self.request("POST", path, json=json, **kwargs))

    def _decode(self, response: httpx.Response) -> Any:
        """The JSON of a successful answer; a typed error when something else came (an empty
        body, a login portal's or a gateway's HTML page), summarised rather than dumped."""
        request = response.request
        where: dict[str, Any] = {
            "method": request.method,
            "path": request.url.path,
            "status": response.status_code,
        }
        if not response.content:
            if response.status_code == 204:
                return None
            raise HTTPError("expected JSON, got an empty answer (a proxy in the way?)", **where)
        try:
            return response.json()
        except ValueError as exc:
            summary = _server_message(response)
            if summary.startswith("HTML"):
                message = (
                    "expected JSON from Label Studio, got an HTML page (a login portal, "
                    "proxy or gateway in the way?)"
                )
            else:
                ctype = response.headers.get("content-type", "?")
                message = f"expected JSON, got {ctype!r} that does not parse"
            raise HTTPError(message, server_message=summary[:200], **where) from exc

    @contextmanager
    def stream(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | list[tuple[str, Any]] | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | httpx.Timeout | UseClientDefault | None = USE_CLIENT_DEFAULT,
        retry: bool | None = None,
        follow_redirects: bool = True,
    ) -> Iterator[httpx.Response]:
        """A streamed response (status already checked); the body is read by the caller.

        ``follow_redirects=False`` hands a redirect back to the caller (status 3xx, body
        unread) instead of following it, for callers that check each hop themselves.

        ``timeout`` bounds the wait for the answer (a server may work a long time before it
        starts one, e.g. converting an export); the body is then read with the client's own
        timeouts, so a connection that goes silent halfway fails fast instead of hanging
        for as long as the server was allowed to think.
        """
        kwargs: dict[str, Any] = {"params": params, "headers": headers, "timeout": timeout}
        request = self._client.build_request(method, self._url(path), **kwargs)
        response = self._send(request, stream=True, retry=retry, follow_redirects=follow_redirects)
        # httpx hands this dict to httpcore, which looks the read timeout up when the body
        # starts to be read, i.e. after this point.
        response.request.extensions["timeout"] = self._client.timeout.as_dict()
        try:
            yield response
        finally:
            response.close()
