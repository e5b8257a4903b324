"""The requests of a media fetch: Label Studio with its key, every other host without.

A reference is fetched through a chain of hops. A hop on the Label Studio origin goes
through the :class:`~ls_frames.exports.Client` (its connection pool, its credential). Any
other hop goes through a plain ``httpx.Client`` for that origin (one connection pool per
origin, no credential), after :class:`~ls_frames.media.guard.HostGuard` has checked and
pinned the host. Both send through the same kind of
:class:`~ls_frames.transport.retry.RetryTransport`: a fault gets the same treatment (the
same retries, the same failing at once, the same typed error) on either side. Redirects
are followed here, one hop at a time, so each hop is checked and a hop that leaves the
Label Studio origin never carries the key (nor does any hop after it).
"""

from __future__ import annotations

import logging
import ssl
import threading
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass

import httpx

from ls_frames._version import __version__
from ls_frames.errors import APIError, HTTPError
from ls_frames.exports import Client
from ls_frames.media.guard import HostGuard
from ls_frames.transport import RetryPolicy
from ls_frames.transport.connection import CLIENT_DEFAULT, DEFAULT_TIMEOUT, ClientDefault
from ls_frames.transport.failures import raise_for_status
from ls_frames.transport.retry import STREAM, ClientTransport, RetryTransport

__all__ = ["MAX_REDIRECTS", "Hop", "Hops", "TooManyRedirects"]

logger = logging.getLogger("ls_frames")

MAX_REDIRECTS = 10


class TooManyRedirects(HTTPError):
    """A chain of redirects longer than :data:`MAX_REDIRECTS`."""


@dataclass(frozen=True)
class Hop:
    """One request of a chain: an absolute ``url`` and whether it goes with the key."""

    url: httpx.URL
    keyed: bool


def same_origin(a: httpx.URL, b: httpx.URL) -> bool:
    return (a.scheme, a.host, a.port or a.scheme) == (b.scheme, b.host, b.port or b.scheme)


class Hops:
    """Opens GET chains; owns the plain per-origin pools (close it when done).

    Parameters
    ----------
    client
        The Label Studio client (hops on its origin go through it, with the key), or None.
    guard
        Checks and pins every other host.
    workers
        Connections kept per origin.
    retry
        The retry policy of the other hosts (by default the client's).
    timeout
        The timeout of every hop (by default the client's, or :data:`DEFAULT_TIMEOUT`).
    verify
        TLS verification of the other hosts.
    transport
        Sends the requests to other hosts (tests pass an ``httpx.MockTransport``); it
        is wrapped in the same :class:`~ls_frames.transport.retry.RetryTransport` as the
        default one.
    """

    def __init__(
        self,
        client: Client | None,
        guard: HostGuard,
        *,
        workers: int = 8,
        retry: RetryPolicy | None = None,
        timeout: httpx.Timeout | None = None,
        verify: ssl.SSLContext | bool = True,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.client = client
        self.guard = guard
        self.retry = retry or (client.retry if client is not None else RetryPolicy())
        self._timeout = timeout or DEFAULT_TIMEOUT
        self._verify = verify
        self._transport = transport
        self._keyed_timeout: httpx.Timeout | ClientDefault = timeout or CLIENT_DEFAULT
        self._limits = httpx.Limits(max_connections=workers, max_keepalive_connections=workers)
        self._pools: dict[tuple[str, str, int | None], httpx.Client] = {}
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            pool.close()

    # -- Label Studio --------------------------------------------------------------------
    def on_label_studio(self, url: httpx.URL) -> bool:
        return self.client is not None and same_origin(url, self.client.base_url)

    def on_label_studio_uri(self, uri: str) -> bool:
        try:
            return self.on_label_studio(httpx.URL(uri))
        except (httpx.InvalidURL, ValueError):
            return False

    def _label_studio_path(self, url: httpx.URL) -> str:
        """``url`` relative to the client's base URL when under it (a sub-path install),
        else the absolute URL (same origin, so the client may send it)."""
        assert self.client is not None
        base = str(self.client.base_url)
        text = str(url)
        return text[len(base) :] if text.startswith(base) else text

    # -- other hosts ---------------------------------------------------------------------
    def _pool(self, url: httpx.URL) -> httpx.Client:
        key = (url.scheme, url.host, url.port)
        with self._lock:
            pool = self._pools.get(key)
            if pool is None:
                sender = self._transport or ClientTransport(
                    limits=self._limits, verify=self._verify
                )
                pool = httpx.Client(
                    timeout=self._timeout,
                    transport=RetryTransport(sender, self.retry),
                    follow_redirects=False,
                    headers={"User-Agent": f"ls-frames/{__version__}"},
                )
                self._pools[key] = pool
            return pool

    def _send_plain(self, url: httpx.URL, headers: Mapping[str, str]) -> httpx.Response:
        """One GET to a host that is not Label Studio: checked, pinned, retried; an error
        status raises the typed error; a redirect or a 304 is returned as is."""
        pinned = self.guard.pin(url)  # raises Refused
        pool = self._pool(url)
        extensions: dict[str, object] = {STREAM: True}
        if pinned.sni:
            extensions["sni_hostname"] = pinned.sni
        request = pool.build_request(
            "GET", pinned.url, headers={**headers, "Host": pinned.host}, extensions=extensions
        )
        response = pool.send(request, stream=True)
        if response.status_code != 304 and not response.is_success:
            try:
                raise_for_status(response)
            finally:
                response.close()
        return response

    # -- a chain -------------------------------------------------------------------------
    @contextmanager
    def _open_hop(self, hop: Hop, headers: Mapping[str, str]) -> Iterator[httpx.Response]:
        if not hop.keyed:
            response = self._send_plain(hop.url, headers)
            try:
                yield response
            finally:
                response.close()
            return
        assert self.client is not None
        try:
            with self.client.stream(
                "GET",
                self._label_studio_path(hop.url),
                headers=headers,
                follow_redirects=False,
                timeout=self._keyed_timeout,
            ) as response:
                yield response
        except APIError as exc:
            if exc.status == 304 and exc.response is not None:
                yield exc.response  # "not modified" is an answer, not a failure
                return
            raise

    @contextmanager
    def open(self, start: Hop, headers: Mapping[str, str]) -> Iterator[httpx.Response]:
        """GET ``start`` and follow redirects hop by hop; yields the final response (status
        2xx or 304, body unread). A hop keeps the key only while every hop so far was on
        the Label Studio origin. Raises :class:`~ls_frames.media.guard.Refused`, the typed
        HTTP errors, or :class:`TooManyRedirects`."""
        hop = start
        for _ in range(MAX_REDIRECTS + 1):
            with self._open_hop(hop, headers) as response:
                location = response.headers.get("Location")
                if not (response.is_redirect and location):
                    yield response
                    return
            target = hop.url.join(location)
            keyed = hop.keyed and self.on_label_studio(target)
            logger.debug("redirect %s -> %s (key: %s)", hop.url.host, target.host, keyed)
            hop = Hop(target, keyed)
        raise TooManyRedirects(
            f"more than {MAX_REDIRECTS} redirects", method="GET", path=start.url.path
        )

    def opener(self, start: Hop) -> _Opener:
        return _Opener(self, start)


class _Opener:
    """``headers -> context manager of the final response``, as ``stream_into`` wants."""

    def __init__(self, hops: Hops, start: Hop) -> None:
        self.hops, self.start = hops, start

    def __call__(self, headers: Mapping[str, str]) -> AbstractContextManager[httpx.Response]:
        return self.hops.open(self.start, headers)
