"""The HTTP connection every other layer talks through.

:class:`Connection` owns one ``httpx.Client``: the base URL (a sub-path such as
``https://host/label-studio`` works), the credential, and a
:class:`~ls_frames.transport.retry.RetryTransport` under it; an error answer becomes a
typed exception of :mod:`ls_frames.errors` (:mod:`ls_frames.transport.failures`). It knows
nothing about exports; the layers above build on ``request`` and ``stream``.

The key goes to the server's origin only (see :meth:`TokenAuth.guard`): ``request`` and
``stream`` accept an absolute URL (a presigned media link, say), which is fetched without
credentials when it is on another origin.

When a request is repeated and when a failure ends at once is decided in one place,
:mod:`ls_frames.transport.retry`, for this connection and for the media fetcher alike.

A URL that is a page of Label Studio rather than its address is refused when the
connection is made, and a server that turns out not to be Label Studio is named as such
after its first failed answer (:mod:`ls_frames.transport.identity`).
"""

from __future__ import annotations

import enum
import ipaddress
import logging
import os
import time
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Final, TypeVar

import httpx

from ls_frames._deprecation import renamed_kwargs
from ls_frames._version import __version__
from ls_frames.errors import APIError, ConfigurationError, HTTPError
from ls_frames.transport.auth import TokenAuth
from ls_frames.transport.failures import http_error, raise_for_status, server_message
from ls_frames.transport.identity import (
    PROBE_PATH,
    SUSPECT_STATUSES,
    base_url,
    is_probe,
    not_label_studio,
    verdict,
)
from ls_frames.transport.retry import RETRY, STREAM, ClientTransport, RetryPolicy, RetryTransport

__all__ = [
    "CLIENT_DEFAULT",
    "DEFAULT_TIMEOUT",
    "ClientDefault",
    "Connection",
    "InsecureTransportWarning",
]

logger = logging.getLogger("ls_frames")

#: Connect fast, but let the server take its time to answer: Label Studio Community builds
#: snapshots inside the request (44 s for 20,000 tasks on a small machine).
DEFAULT_TIMEOUT = httpx.Timeout(60.0, connect=10.0)

URL_ENV = "LABEL_STUDIO_URL"
KEY_ENV = "LABEL_STUDIO_API_KEY"


class ClientDefault(enum.Enum):
    """The type of :data:`CLIENT_DEFAULT`."""

    CLIENT_DEFAULT = "client default"


#: ``timeout=CLIENT_DEFAULT``: the connection's own timeout (``None`` means no limit).
CLIENT_DEFAULT: Final = ClientDefault.CLIENT_DEFAULT


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
        if url is not None and not url.strip():
            raise ConfigurationError(
                f"url is empty: give the server's address (http://localhost:8080), or None "
                f"to read {URL_ENV}"
            )
        if api_key is not None and not api_key.strip():
            raise ConfigurationError(
                f"api_key is empty: give a legacy token or a personal access token, or None "
                f"to read {KEY_ENV}"
            )
        url = url if url is not None else os.environ.get(URL_ENV)
        api_key = api_key if api_key is not None else os.environ.get(KEY_ENV)
        if not url or not url.strip():
            raise ConfigurationError(
                f"no Label Studio URL: pass url=... or set {URL_ENV} (e.g. http://localhost:8080)"
            )
        if not api_key or not api_key.strip():
            raise ConfigurationError(
                f"no API key: pass api_key=... or set {KEY_ENV} (a legacy token or a "
                "personal access token from Account & Settings)"
            )
        base = base_url(url)
        if base.scheme == "http" and not _is_loopback(base.host):
            warnings.warn(
                f"sending a Label Studio token over plain http to {base.host}; use https",
                InsecureTransportWarning,
                stacklevel=3,
            )
        self.base_url = base
        #: Whether the server answered ``GET /api/version`` as Label Studio does (None: not
        #: asked yet; asked only after a request failed, see
        #: :mod:`ls_frames.transport.identity`).
        self.is_label_studio: bool | None = None
        self._probe_answer: httpx.Response | None = None
        self.auth = TokenAuth(api_key, base.join("api/token/refresh/"))
        self.retry = retry or RetryPolicy()
        sender = transport if transport is not None else ClientTransport(verify=verify)
        self._client = httpx.Client(
            base_url=base,
            auth=self.auth,
            timeout=http_timeout,
            transport=RetryTransport(sender, self.retry),
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

    def _build(
        self,
        method: str,
        path: str,
        *,
        timeout: float | httpx.Timeout | ClientDefault | None,
        retry: bool | None,
        stream: bool,
        **kwargs: Any,
    ) -> httpx.Request:
        if timeout is not CLIENT_DEFAULT:
            kwargs["timeout"] = timeout
        extensions: dict[str, Any] = {STREAM: stream}
        if retry is not None:
            extensions[RETRY] = retry
        return self._client.build_request(method, self._url(path), extensions=extensions, **kwargs)

    def _send(
        self, request: httpx.Request, *, stream: bool, follow_redirects: bool = True
    ) -> httpx.Response:
        """Send through the retrying transport; return a successful response (or a redirect
        not followed) or raise a typed error."""
        started = time.monotonic()
        try:
            response = self._client.send(request, stream=stream, follow_redirects=follow_redirects)
        except APIError as exc:  # a token refresh refused inside the auth flow
            self._check_server(request, exc, None)
            raise
        logger.debug(
            "%s %s -> %s in %.2fs",
            request.method,
            request.url.path,
            response.status_code,
            time.monotonic() - started,
        )
        if not response.is_success:
            try:
                raise_for_status(response, scheme=self.auth.scheme)
            except APIError as exc:
                self._check_server(request, exc, response)
                raise
            finally:
                response.close()
        return response

    def _check_server(
        self, request: httpx.Request, failure: APIError, response: httpx.Response | None
    ) -> None:
        """After a failure another kind of server would give (404, 405, 501) on the
        server's origin, ask once whether this is Label Studio; raise a
        ``ConfigurationError`` that says so when it is not (see
        :mod:`ls_frames.transport.identity`). A server found not to be is not asked again."""
        if self.is_label_studio or failure.status not in SUSPECT_STATUSES:
            return
        if not self.auth.owns(request.url) or is_probe(request):
            # the version request's own failure is its caller's to read: Client.server_version
            # takes it for "the server does not say" (a gateway may hide that one route)
            return
        probe = self._probe_answer if self._probe_answer is not None else self._probe()
        found = verdict(probe)
        if found is None or probe is None:
            return
        self.is_label_studio = found
        if not found:
            self._probe_answer = probe
            raise not_label_studio(self.base_url, failure, probe) from failure

    def _probe(self) -> httpx.Response | None:
        """``GET /api/version`` without the key (Label Studio answers it to anyone), or
        None when no answer came."""
        try:
            # not repeated on a 5xx: it only adds to an error already on its way
            return self._client.get(PROBE_PATH, auth=None, timeout=10.0, extensions={RETRY: False})
        except (httpx.HTTPError, HTTPError):
            return None

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | list[tuple[str, Any]] | None = None,
        json: Any = None,
        content: bytes | None = None,
        files: Any = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | httpx.Timeout | ClientDefault | None = CLIENT_DEFAULT,
        retry: bool | None = None,
    ) -> httpx.Response:
        """Send a request and return the (read) response, or raise a typed error.

        ``content`` is a body already encoded (JSON a caller encoded faster than ``json=``
        would; set its ``Content-Type`` in ``headers``). ``files`` is a multipart body as
        httpx takes it (``[(field, (name, file, type))]``).

        ``path`` is relative to the server URL, or an absolute URL: on another origin (a
        presigned media link) it is fetched without the key.

        ``retry=None`` repeats only safe methods; ``True``/``False`` overrides that (a request
        the server provably did not act on, refused with 429 or never connected, is repeated
        in any case); see :mod:`ls_frames.transport.retry`.
        ``timeout`` overrides the client's timeout for this request (``None``: no limit).
        """
        request = self._build(
            method,
            path,
            timeout=timeout,
            retry=retry,
            stream=False,
            params=params,
            json=json,
            content=content,
            files=files,
            headers=headers,
        )
        return self._send(request, stream=False)

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
            raise http_error(
                HTTPError, "expected JSON, got an empty answer (a proxy in the way?)", **where
            )
        try:
            return response.json()
        except ValueError as exc:
            summary = server_message(response)
            if summary.startswith("HTML"):
                message = (
                    "expected JSON from Label Studio, got an HTML page (a login portal, "
                    "proxy or gateway in the way?)"
                )
            else:
                ctype = response.headers.get("content-type", "?")
                message = f"expected JSON, got {ctype!r} that does not parse"
            raise http_error(HTTPError, message, server_message=summary[:200], **where) from exc

    @contextmanager
    def stream(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | list[tuple[str, Any]] | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | httpx.Timeout | ClientDefault | None = CLIENT_DEFAULT,
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
        request = self._build(
            method, path, timeout=timeout, retry=retry, stream=True, params=params, headers=headers
        )
        response = self._send(request, stream=True, follow_redirects=follow_redirects)
        # httpx hands this dict to httpcore, which looks the read timeout up when the body
        # starts to be read, i.e. after this point.
        response.request.extensions["timeout"] = self._client.timeout.as_dict()
        try:
            yield response
        finally:
            response.close()
