"""One reference's file into the cache: cached, revalidated, or downloaded and checked.

:class:`Fetcher` is what each worker thread runs. It looks the reference up in the cache
(a complete entry is used as is, without a request, unless ``refresh``), else streams it
through the reference's chain of hops (:mod:`ls_frames.media.http`) with the shared
download loop (:func:`ls_frames.exports.download.stream_into`: Range resume, announced
length, HTML pages refused), checks the MD5 where the source gives one (``Content-MD5``,
``x-goog-hash``, or a storage object's ETag), and commits it. Any failure becomes an
:class:`FileOutcome` with a short ``error``; nothing half-written is left under a final name.

What a file costs beyond its transfer is kept small, as many are small: the first request
is a plain GET (a range only to resume: Label Studio answers a ranged GET about three
times slower), the MD5 is computed only when the source vouches for one, and the file is
not flushed to disk one by one (``fsync`` per file cost more than the transfer; after a
power cut an entry whose file is shorter than its sidecar says is fetched again).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import logging
import re
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx

from ls_frames.errors import (
    APIError,
    ChecksumMismatch,
    DownloadError,
    HTTPError,
    LSFramesError,
    NotFound,
    RequestTimeout,
    TransportError,
)
from ls_frames.exports.download import (
    Received,
    resume_validator,
    stream_into,
    strong_last_modified,
)
from ls_frames.media.cache import CachedFile, CacheEntry, MediaCache, extension, identity
from ls_frames.media.guard import Refused
from ls_frames.media.http import Hop, Hops, TooManyRedirects
from ls_frames.media.references import Reference, canonical, classify
from ls_frames.media.resolve import NO_STORAGE, Resolver, Unresolvable
from ls_frames.transport.failures import named_origin

__all__ = ["Fetcher", "FileOutcome", "LockedBar"]

logger = logging.getLogger("ls_frames")

_HEX32 = re.compile(r"[0-9a-f]{32}")
# Label Studio's storage proxy prefixes the object's ETag with the user id and an access
# flag (``"11<md5>"``), see io_storages/proxy_api.py prepare_headers.
_PROXIED_ETAG = re.compile(r"\d{2,}([0-9a-f]{32})")
# the reasons a summary names the host of: they say nothing of the file itself
_CONNECTION = ("connection failed", "timeout", "connection broke")


@dataclass(frozen=True)
class FileOutcome:
    """The result for one file: where it is and what it holds, or why it is not there.
    ``status`` is ``downloaded``, ``cached``, ``not_modified``, ``unchanged`` or
    ``failed``."""

    status: str
    path: str | None = None
    size: int | None = None
    sha256: str | None = None
    content_type: str | None = None
    error: str | None = None
    downloaded_bytes: int = 0
    where: str | None = None  # of a failure: the origin of the request that failed

    def reason(self) -> str | None:
        """The failure as reported in a summary: the ``error``, with the origin for those
        that depend on where the request went (``connection failed (http://ls:8080)``)."""
        if self.error is None:
            return None
        if self.where and self.error.startswith(_CONNECTION):
            return f"{self.error} ({self.where})"
        return self.error


class _Resume:
    """The partial download a fetch starts from, and the validator of what it received."""

    def __init__(self, validator: str | None) -> None:
        self._pending = validator
        self.validator = validator

    def take(self) -> str | None:
        """The validator to resume under, once (a second attempt starts afresh)."""
        pending, self._pending = self._pending, None
        return pending

    def note(self, headers: httpx.Headers) -> None:
        self.validator = resume_validator(headers)


class LockedBar:
    """A progress bar updated from several threads."""

    def __init__(self, bar: Any) -> None:
        self._bar, self._lock = bar, threading.Lock()

    def update(self, n: int = 1) -> None:
        with self._lock:
            self._bar.update(n)

    def refresh(self) -> None:  # the shared bar has no per-file total
        pass

    def close(self) -> None:
        self._bar.close()


def _b64_md5(value: str) -> str | None:
    try:
        raw = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw.hex() if len(raw) == 16 else None


def expected_md5(headers: httpx.Headers, storage: bool) -> str | None:
    """The MD5 the source vouches for: ``Content-MD5``, ``x-goog-hash: md5=``, or (for a
    storage object) an ETag that is a plain MD5 (single-part S3 objects, also behind Label
    Studio's proxy). Multipart ETags (``...-N``) and weak ones say nothing."""
    content_md5 = headers.get("Content-MD5")
    if content_md5 and (md5 := _b64_md5(content_md5)):
        return md5
    for part in headers.get("x-goog-hash", "").split(","):
        name, _, value = part.strip().partition("=")
        if name.lower() == "md5" and (md5 := _b64_md5(value)):
            return md5
    etag: str = headers.get("ETag", "")
    if storage and etag and not etag.startswith("W/"):
        tag = etag.strip('"').lower()
        if _HEX32.fullmatch(tag):
            return tag
        proxied = _PROXIED_ETAG.fullmatch(tag)
        if proxied:
            return proxied.group(1)
    return None


def reason(exc: BaseException) -> str:
    """The short ``error`` text of a failure."""
    if isinstance(exc, (Refused, Unresolvable)):
        return str(exc)
    if isinstance(exc, TooManyRedirects):
        return "too many redirects"
    if isinstance(exc, RequestTimeout):
        return "timeout"
    if isinstance(exc, TransportError):
        return "connection failed"
    if isinstance(exc, APIError):
        text = f"HTTP {exc.status}"
        message = exc.server_message
        if exc.status == 500 and "protocol 'data'" in (message or ""):
            # before 1.20 a storage with presign off inlines objects as data: URIs and
            # /presign/ cannot redirect there: no proxy to fetch them through
            return (
                f"{text}: this Label Studio release cannot serve objects of a storage "
                "with presigned URLs off (no storage proxy before 1.20); turn presign on"
            )
        code = re.search(r"<Code>(\w+)</Code>", message or "")  # a storage's XML error
        if code:
            text += f": {code.group(1)}"
        elif message and not message.startswith("HTML") and len(message) <= 200:
            text += f": {message}"
        return text
    if isinstance(exc, ChecksumMismatch):
        return "MD5 mismatch: the bytes received are not the source's"
    if isinstance(exc, DownloadError):
        if isinstance(exc.__cause__, (RequestTimeout, httpx.TimeoutException)):
            return "timeout"
        text = str(exc)
        if "HTML page" in text:
            title = re.search(r"HTML page( \(.*?\))? instead", text)
            named = title.group(1) if title and title.group(1) else ""
            return f"an HTML page{named} instead of the file (a login page?)"
        announced = re.search(r"got \d+ bytes, the server announced \d+", text)
        if announced:
            return f"incomplete: {announced.group(0)}"
        gave_up = re.search(r"gave up at byte (\d+)", text)
        if gave_up:
            return f"connection broke too often (at byte {gave_up.group(1)})"
        return text[:200]
    if isinstance(exc, HTTPError):
        return str(exc)[:200]
    return f"{type(exc).__name__}: {exc}"[:200]


def failed_at(exc: BaseException) -> str | None:
    """``scheme://host:port`` of the request ``exc`` (or what it was raised from) was
    about, as the request named it (a pinned request goes to an address)."""
    seen: BaseException | None = exc
    for _ in range(8):  # down the chain of causes, never round a loop in it
        if seen is None:
            break
        request: Any = None
        if isinstance(seen, httpx.RequestError):
            with contextlib.suppress(RuntimeError):
                request = seen.request
        else:
            request = getattr(seen, "request", None)
        if isinstance(request, httpx.Request):
            return named_origin(request)
        seen = seen.__cause__ or seen.__context__
    return None


def _route_missing(exc: NotFound) -> bool:
    """A 404 with an HTML page: the route does not exist (an older server), as opposed to
    the resolve view's own empty 404 (no storage matches)."""
    response = exc.response
    return response is not None and "html" in response.headers.get("Content-Type", "").lower()


class Fetcher:
    """Fetches references into one cache; shared by the worker threads of one run."""

    def __init__(
        self,
        cache: MediaCache,
        hops: Hops,
        resolver: Resolver,
        *,
        origin: str | None,
        refresh: bool,
        bytes_bar: LockedBar,
    ) -> None:
        self.cache, self.hops, self.resolver = cache, hops, resolver
        self.origin, self.refresh, self.bar = origin, refresh, bytes_bar

    def key(self, ref: Reference) -> str:
        """The cache identity: a plain URL on another host is itself; anything Label Studio
        resolves also depends on the server and the project."""
        uri = canonical(ref.uri)
        if classify(uri) == "url" and not self.hops.on_label_studio_uri(uri):
            return identity(uri, None, None)
        return identity(uri, self.origin, ref.project_id)

    def fetch(self, ref: Reference) -> FileOutcome:
        """Bring ``ref``'s file into the cache; never raises for a bad reference."""
        try:
            entry = self.cache.entry(self.key(ref), extension(canonical(ref.uri)))
        except ValueError as exc:
            return FileOutcome("failed", error=str(exc))
        cached = self.cache.load(entry)
        if cached is not None and not self.refresh:
            return self._from_cache(entry, cached, "cached")
        try:
            return self._download(ref, entry, cached)
        except (
            LSFramesError,
            Refused,
            Unresolvable,
            OSError,
            ValueError,
            httpx.HTTPError,
            httpx.InvalidURL,
        ) as exc:  # e.g. a redirect to a Location that is no URL
            logger.info("media %r (task %s): %s", ref.uri, ref.task_id, exc)
            return FileOutcome("failed", error=reason(exc), where=failed_at(exc))

    def _from_cache(self, entry: CacheEntry, cached: CachedFile, status: str) -> FileOutcome:
        return FileOutcome(status, str(entry.path), cached.size, cached.sha256, cached.content_type)

    def _stream(
        self, ref: Reference, hop: Hop, part: Path, conditional: Any, resume: _Resume
    ) -> Received:
        storage = classify(canonical(ref.uri)) == "storage"
        return stream_into(
            self.hops.opener(hop),
            part,
            description=f"media {ref.uri!r}",
            where=f"GET {hop.url.host}{hop.url.path}",
            retry=self.hops.retry,
            bar=self.bar,
            accept_html=ref.accept_html or extension(canonical(ref.uri)) in (".html", ".htm"),
            conditional=conditional,
            sized_bar=False,
            resume_with=resume.take(),
            on_answer=resume.note,
            ranged=False,
            md5_from=lambda headers: expected_md5(headers, storage),
            fsync=False,
        )

    def _download(
        self, ref: Reference, entry: CacheEntry, cached: CachedFile | None
    ) -> FileOutcome:
        storage = classify(canonical(ref.uri)) == "storage"
        conditional = cached.validators() if cached is not None else None
        part = entry.part()
        resume = _Resume(self.cache.claim_partial(entry, part))
        try:
            route = self.resolver.route
            hop = self.resolver.first_hop(ref, route)
            try:
                received = self._stream(ref, hop, part, conditional, resume)
            except NotFound as exc:
                if not storage or not self._from_label_studio(exc):
                    raise  # a 404 behind the redirect (the storage's own) is reported as is
                if route == "resolve" and _route_missing(exc):
                    # An older server: only /presign/ is routed there.
                    self.resolver.use_presign()
                    try:
                        received = self._stream(
                            ref,
                            self.resolver.first_hop(ref, "presign"),
                            part,
                            conditional,
                            resume,
                        )
                    except NotFound as again:
                        if not self._from_label_studio(again):
                            raise
                        return FileOutcome("failed", error=NO_STORAGE)
                else:
                    return FileOutcome("failed", error=NO_STORAGE)
            except ChecksumMismatch:
                raise  # wrong bytes: nothing worth keeping
            except (DownloadError, TransportError, httpx.TransportError, KeyboardInterrupt):
                self._keep_partial(entry, part, resume)
                raise
            if received.not_modified and cached is not None:
                self._keep_validators(entry, cached, received.headers)
                return self._from_cache(entry, cached, "not_modified")
            if received.not_modified:
                raise DownloadError("the source answered 304 Not Modified to a plain request")
            fresh = CachedFile(
                uri=ref.uri,
                size=received.size,
                sha256=received.sha256,
                content_type=received.headers.get("Content-Type"),
                etag=received.headers.get("ETag"),
                last_modified=strong_last_modified(received.headers),
                fetched_at=datetime.now(timezone.utc).isoformat(),
            )
            if cached is not None and cached.sha256 == received.sha256:
                # Revalidated by content: the same bytes; the file stays, the validators
                # are updated.
                self.cache.describe(entry, fresh)
                return FileOutcome(
                    "unchanged",
                    str(entry.path),
                    fresh.size,
                    fresh.sha256,
                    fresh.content_type,
                    downloaded_bytes=received.fetched,
                )
            self.cache.commit(entry, part, fresh)
            return FileOutcome(
                "downloaded",
                str(entry.path),
                fresh.size,
                fresh.sha256,
                fresh.content_type,
                downloaded_bytes=received.fetched,
            )
        finally:
            with contextlib.suppress(FileNotFoundError):
                part.unlink()

    def _from_label_studio(self, exc: NotFound) -> bool:
        """Whether the 404 came from Label Studio (no route, or no storage matches) rather
        than from the storage a presigned redirect led to."""
        base, request = self.resolver.base_url, exc.request
        if exc.response is not None:
            with contextlib.suppress(RuntimeError):
                request = exc.response.request
        if base is None or request is None:
            return True
        url = request.url
        return (url.scheme, url.host, url.port) == (base.scheme, base.host, base.port)

    def _keep_partial(self, entry: CacheEntry, part: Path, resume: _Resume) -> None:
        """A download cut short (not a wrong one: a checksum mismatch or an HTML page is
        thrown away) is kept for the next run when there is a validator to resume it
        under."""
        with contextlib.suppress(OSError):
            if resume.validator and part.stat().st_size > 0:
                self.cache.keep_partial(entry, part, resume.validator)

    def _keep_validators(
        self, entry: CacheEntry, cached: CachedFile, headers: httpx.Headers
    ) -> None:
        etag, modified = headers.get("ETag"), strong_last_modified(headers)
        if (etag and etag != cached.etag) or (modified and modified != cached.last_modified):
            self.cache.describe(
                entry,
                CachedFile(
                    uri=cached.uri,
                    size=cached.size,
                    sha256=cached.sha256,
                    content_type=cached.content_type,
                    etag=etag or cached.etag,
                    last_modified=modified or cached.last_modified,
                    fetched_at=cached.fetched_at,
                ),
            )
