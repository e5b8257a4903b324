"""Streamed, resumable, verified downloads.

The body goes in chunks of 1 MiB to a hidden ``.part`` file beside the target. An export
asks for ``Range: bytes=0-`` even first: Label Studio then answers 206 with a length, where
a plain GET gets a body that ends when the connection closes (a cut looks like the end).
Media files, many and small, start with a plain GET (``ranged=False``: answered about three
times faster); a cut is then caught where a length or chunks are sent, or by a checksum.
After a break the download goes on from the last byte written with ``Range: bytes=N-`` (a
server that ignores the range starts it over); so does a connection silent past the read
timeout. An HTML page where the file was due (a login portal, a gateway) is refused. The
size (when announced) and the MD5 (when known) are checked, the file flushed to disk
(unless ``fsync=False``), and only then renamed into place: a file under the final name is
always complete. On failure the ``.part`` file is removed and a typed error raised.

:func:`stream_into` is that loop on its own, for any source that can open a ranged GET (a
file behind Label Studio, a presigned URL): the media fetcher shares it. A source that
sends only part of the asked range at a time (Label Studio's storage proxy caps each answer)
is asked for the rest until the announced length is in. It can also send conditional
headers on the first request and report ``304 Not Modified``.
"""

from __future__ import annotations

import email.utils
import hashlib
import logging
import os
import re
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx

from ls_frames._progress import progress_bar
from ls_frames.errors import APIError, ChecksumMismatch, DownloadError, TransportError
from ls_frames.exports.names import (
    MAX_NAME_BYTES,
    filename_from_disposition,
    means_folder,
    safe_basename,
)
from ls_frames.transport import Connection, RetryPolicy

__all__ = [
    "CHUNK_SIZE",
    "MAX_NAME_BYTES",
    "Opener",
    "Received",
    "download_to",
    "filename_from_disposition",
    "means_folder",
    "resume_validator",
    "safe_basename",
    "stream_into",
    "strong_last_modified",
]

logger = logging.getLogger("ls_frames")

CHUNK_SIZE = 1 << 20
MAX_RESUMES = 5


def _content_range_start(response: httpx.Response) -> tuple[int, int | None] | None:
    """``(first byte, total or None)`` of a ``Content-Range`` header (``bytes */N`` of a 416
    gives ``(N, N)``)."""
    header = response.headers.get("Content-Range", "")
    match = re.match(r"bytes\s+(\d+)-\d+/(\d+|\*)", header)
    if not match:
        unsatisfied = re.match(r"bytes\s+\*/(\d+)", header)
        return (int(unsatisfied.group(1)),) * 2 if unsatisfied else None
    total = None if match.group(2) == "*" else int(match.group(2))
    return int(match.group(1)), total


def _refuse_html_page(
    response: httpx.Response, accept_html: bool, description: str, where: str
) -> None:
    """A login portal's or gateway's HTML page where a file was due: a typed error naming
    the page, never a file that looks like the one asked for."""
    if accept_html or "html" not in response.headers.get("Content-Type", "").lower():
        return
    page = b""
    for piece in response.iter_raw():
        page += piece
        if len(page) >= 65536:
            break
    title = re.search(rb"<title>(.*?)</title>", page, re.S | re.I)
    named = f" ({title.group(1).decode('utf-8', 'replace').strip()!r})" if title else ""
    raise DownloadError(
        f"{description}: the server answered with an HTML page{named} instead of the file "
        f"({where}, status {response.status_code}); a login portal, proxy or gateway in the "
        "way? Nothing was saved."
    )


#: Opens a GET with the given extra headers; the response's status is already checked
#: (an error status raises a typed :class:`~ls_frames.errors.HTTPError`).
Opener = Callable[[Mapping[str, str]], AbstractContextManager[httpx.Response]]


@dataclass(frozen=True)
class Received:
    """What :func:`stream_into` wrote: ``size`` bytes with these digests (``fetched`` of
    them in this call); ``headers`` of the first answer (``Content-Type``, ``ETag``,
    ``Last-Modified``, ...); ``not_modified`` when a conditional request was answered 304
    (nothing written then)."""

    size: int
    md5: str
    sha256: str
    headers: httpx.Headers
    not_modified: bool = False
    fetched: int = 0  # bytes that came over the wire (less than size after a resume)


class _Sink:
    """The part file, its digests (the MD5 only while wanted) and the byte bar."""

    def __init__(self, out: Any, bar: Any, *, md5: bool = True) -> None:
        self.out, self.bar = out, bar
        self.written = 0
        self.md5: Any = hashlib.md5(usedforsecurity=False) if md5 else None
        self.sha256 = hashlib.sha256()
        self.pending = bytearray()
        self.counted = 0  # bytes the bar has seen (absorbed ones are not)

    def absorb(self) -> None:
        """Take the bytes already in the file (a resumed partial download) as received."""
        self.out.seek(0)
        while block := self.out.read(CHUNK_SIZE):
            if self.md5 is not None:
                self.md5.update(block)
            self.sha256.update(block)
            self.written += len(block)
        self.out.seek(self.written)

    def restart(self) -> None:
        self.out.seek(0)
        self.out.truncate()
        self.bar.update(-self.counted)
        self.written = self.counted = 0
        if self.md5 is not None:
            self.md5 = hashlib.md5(usedforsecurity=False)
        self.sha256 = hashlib.sha256()

    def add(self, piece: bytes) -> None:
        # Bytes are gathered into 1 MiB blocks before they are written; on a broken
        # connection the partial block is kept (it is good data) and the download resumes
        # right after it.
        self.pending += piece
        if len(self.pending) >= CHUNK_SIZE:
            self.flush()

    def flush(self) -> None:
        n = len(self.pending)
        if n:
            self.out.write(self.pending)
            if self.md5 is not None:
                self.md5.update(self.pending)
            self.sha256.update(self.pending)
            self.bar.update(n)
            self.pending.clear()
            self.written += n
            self.counted += n


def strong_last_modified(headers: httpx.Headers) -> str | None:
    """``Last-Modified`` when it can tell versions apart: at least a second before the
    answer's ``Date`` (RFC 9110, 8.8.2.2). A date is only as fine as a second, so a file
    changed in the second it was served keeps the date it was served with, and a later
    ``If-Modified-Since`` or ``If-Range`` with that date would take the new file for the
    old one. None otherwise (no date, an unreadable one, or a weak one)."""
    modified: str | None = headers.get("Last-Modified")
    if not modified:
        return None
    try:
        then = email.utils.parsedate_to_datetime(modified)
        served = headers.get("Date")
        now = email.utils.parsedate_to_datetime(served) if served else datetime.now(timezone.utc)
        age = (now - then).total_seconds()
    except (TypeError, ValueError):  # unreadable, or a date without a zone
        return None
    return modified if age >= 1 else None


def resume_validator(headers: httpx.Headers) -> str | None:
    """What an ``If-Range`` may carry: a strong ETag, else a strong ``Last-Modified``."""
    etag: str | None = headers.get("ETag")
    if etag and not etag.startswith("W/"):
        return etag
    return strong_last_modified(headers)


class _Transfer:
    """What one :func:`stream_into` call knows across its requests: the bytes in the part
    file (``sink``), the announced ``total``, the resumes so far, the first answer's
    headers and the validator a resume is asked under."""

    def __init__(
        self,
        sink: _Sink,
        *,
        description: str,
        where: str,
        accept_html: bool,
        sized_bar: bool,
        resume_with: str | None,
        on_answer: Callable[[httpx.Headers], None] | None,
        ranged: bool = True,
        md5: str | None = None,
        md5_from: Callable[[httpx.Headers], str | None] | None = None,
    ) -> None:
        self.sink, self.description, self.where = sink, description, where
        self.accept_html, self.sized_bar, self.on_answer = accept_html, sized_bar, on_answer
        self.total: int | None = None
        self.resumes = 0
        self.first: httpx.Headers | None = None
        self.if_range = resume_with
        self.ranged, self.md5, self.md5_from = ranged, md5, md5_from

    def headers(self, conditional: Mapping[str, str] | None) -> dict[str, str]:
        """The next request's headers: ``conditional`` ones on a first request (or none
        at all when not ``ranged``), a ``Range`` from the last byte written (with
        ``If-Range``) otherwise."""
        headers = {"Accept-Encoding": "identity"}
        if self.first is None and conditional:
            headers.update(conditional)
        elif self.first is not None or self.ranged or self.sink.written:
            headers["Range"] = f"bytes={self.sink.written}-"
            if self.if_range and self.sink.written:
                headers["If-Range"] = self.if_range
        return headers

    def receive(self, response: httpx.Response) -> bool:
        """Write an answer's body; whether it was a range answer (which may stop short of
        the announced total)."""
        sink = self.sink
        if self.first is None:
            _refuse_html_page(response, self.accept_html, self.description, self.where)
            self.first = response.headers
            self.if_range = resume_validator(self.first)
            if self.md5 is None and self.md5_from is not None:
                self.md5 = self.md5_from(self.first)
            if self.md5 and sink.md5 is None:  # no byte yet: hash from the first one
                sink.md5 = hashlib.md5(usedforsecurity=False)
            if self.on_answer is not None:
                self.on_answer(self.first)
        span = _content_range_start(response)
        if response.status_code != 206 or span is None or span[0] != sink.written:
            if sink.written:
                logger.info("%s: server sent the whole file again, starting over", self.where)
                sink.restart()
            span = None
        length = response.headers.get("Content-Length")
        if span is not None and span[1] is not None:
            self.total = span[1]
        elif length and length.isdigit():
            self.total = sink.written + int(length)
        else:
            self.total = None  # the body ends when the connection does
        if self.sized_bar:
            sink.bar.total = self.total
            sink.bar.refresh()
        try:
            for piece in response.iter_raw():
                sink.add(piece)
        finally:
            sink.flush()
        return span is not None

    def nothing_left(self, exc: APIError) -> bool:
        """Whether ``exc`` is a 416 that says nothing lies after the last byte written (an
        empty file, or a break after the last byte): the body is whole."""
        if exc.status != 416 or exc.response is None:
            return False
        span = _content_range_start(exc.response)
        self.total = span[1] if span is not None else self.sink.written
        if self.first is None:
            self.first = exc.response.headers
        return True

    def cut(self, exc: httpx.TransportError | TransportError, retry: RetryPolicy) -> None:
        """Count a broken connection and wait before resuming; raise when it broke too
        often."""
        self.sink.flush()
        self.resumes += 1
        if self.resumes > MAX_RESUMES:
            raise DownloadError(
                f"{self.description}: connection broke {self.resumes} times, "
                f"gave up at byte {self.sink.written} of {self.where}: {exc}"
            ) from exc
        logger.info("%s: broken at byte %d (%s), resuming", self.where, self.sink.written, exc)
        retry.sleep(retry.delay(self.resumes))

    def received(self) -> Received:
        """Check the size against the announced length and the MD5 against the one given
        or vouched for by the first answer."""
        sink, written, md5 = self.sink, self.sink.written, self.md5
        if self.total is not None and written != self.total:
            raise DownloadError(
                f"{self.description}: got {written} bytes, the server announced {self.total} "
                f"({self.where})"
            )
        digest = sink.md5.hexdigest() if sink.md5 is not None else ""
        if md5 and digest != md5.lower():
            raise ChecksumMismatch(
                f"{self.description}: MD5 {digest} of the {written} bytes received does not "
                f"match the source's {md5} ({self.where}); nothing was kept"
            )
        headers = self.first or httpx.Headers()
        return Received(written, digest, sink.sha256.hexdigest(), headers, fetched=sink.counted)


def stream_into(
    open_get: Opener,
    part: Path,
    *,
    description: str,
    where: str,
    retry: RetryPolicy,
    bar: Any,
    md5: str | None = None,
    accept_html: bool = False,
    conditional: Mapping[str, str] | None = None,
    sized_bar: bool = True,
    resume_with: str | None = None,
    on_answer: Callable[[httpx.Headers], None] | None = None,
    ranged: bool = True,
    md5_from: Callable[[httpx.Headers], str | None] | None = None,
    fsync: bool = True,
) -> Received:
    """GET a body into ``part`` (created or truncated), resuming with ``Range`` after a
    cut, and check it; return what was received.

    Every request but a conditional first one asks for ``Range: bytes=N-`` (with
    ``ranged=False`` only the resumes do); resumes carry ``If-Range`` so a file changed in
    between is started over rather than spliced. An HTML page where a file was due is
    refused (unless ``accept_html``). At the end the size is checked against the announced
    length and the MD5 against ``md5`` (or ``md5_from``'s) when there is one.

    Parameters
    ----------
    open_get
        Opens the GET with the given extra headers (see :data:`Opener`).
    part
        The file the body goes to; the caller owns it (renames or removes it).
    description, where
        What is downloaded and from where, for messages.
    retry
        The waits between resumes.
    bar
        Counts the bytes.
    md5
        The MD5 the body must have.
    accept_html
        An HTML page is the file asked for.
    conditional
        Headers of a conditional first request (``If-None-Match``, ...): a 304 answer is
        reported as ``not_modified``.
    sized_bar
        Set the bar's total to this file's length (false for a bar shared by many files).
    resume_with
        A strong ETag or a Last-Modified date: ``part`` already holds the start of the
        body, as that version of the file; it is continued from its end with ``If-Range``,
        and started over if the file changed.
    on_answer
        Called with the headers of the first answer (the caller may keep a partial file
        with its validator).
    ranged
        Ask for ``Range: bytes=0-`` on the first request too (false: a plain GET).
    md5_from
        The MD5 the first answer's headers vouch for, or None; the MD5 is computed only
        when there is one to check (or ``md5`` is given).
    fsync
        Flush the file to disk before returning.

    Returns
    -------
    Received
        The size, digests and first headers of what was written (``md5`` is empty when
        none was computed).

    Raises
    ------
    DownloadError
        Cut too often, a body shorter than announced, or an HTML page.
    ChecksumMismatch
        The bytes do not match ``md5``.
    HTTPError
        The typed error of a failed answer.
    """
    with open(part, "r+b" if resume_with else "wb") as out:
        # (a resumed body's first bytes are hashed before an answer says if an MD5 is due)
        sink = _Sink(out, bar, md5=bool(md5 or resume_with or md5_from is None))
        if resume_with:
            sink.absorb()
        transfer = _Transfer(
            sink,
            description=description,
            where=where,
            accept_html=accept_html,
            sized_bar=sized_bar,
            resume_with=resume_with,
            on_answer=on_answer,
            ranged=ranged,
            md5=md5,
            md5_from=md5_from,
        )
        while True:
            before = sink.written
            try:
                with open_get(transfer.headers(None if resume_with else conditional)) as answer:
                    if answer.status_code == 304:
                        return Received(0, "", "", answer.headers, not_modified=True)
                    partial = transfer.receive(answer)
                if partial and transfer.total is not None and sink.written < transfer.total:
                    # A range answer shorter than asked (a proxy caps each one): ask for
                    # the rest. Only an answer that brought nothing counts as a failure.
                    if sink.written == before:
                        transfer.resumes += 1
                        if transfer.resumes > MAX_RESUMES:
                            break
                    continue
                break
            except APIError as exc:
                if not transfer.nothing_left(exc):
                    raise
                break  # the checks below confirm the body is whole
            except (httpx.TransportError, TransportError) as exc:
                if isinstance(exc, TransportError) and transfer.first is None:
                    raise  # never answered, and the opener has already retried
                transfer.cut(exc, retry)
        out.flush()
        if fsync:
            os.fsync(out.fileno())
    return transfer.received()


def download_to(
    connection: Connection,
    path: str,
    dest: str | os.PathLike[str],
    *,
    params: Mapping[str, Any] | list[tuple[str, Any]] | None = None,
    default_name: str,
    md5: str | None = None,
    progress: bool | None = None,
    timeout: float | None = None,
    description: str = "download",
) -> Path:
    """GET ``path`` into ``dest`` and return the final path.

    ``dest`` is a folder when it is one already or is a string ending with a slash (it is
    then created, and the name comes from ``Content-Disposition``, reduced to a safe
    basename, else ``default_name``); otherwise it is the file's path (the caller's name
    wins).
    """
    into_dir = means_folder(dest)
    dest = Path(dest)
    directory = dest if into_dir else dest.parent
    directory.mkdir(parents=True, exist_ok=True)
    part = directory / f".{default_name}.{os.getpid()}.part"
    where = f"GET /{path.lstrip('/')}"
    bar = progress_bar(progress, unit="B", unit_scale=True, unit_divisor=1024, desc=description)

    def open_get(headers: Mapping[str, str]) -> AbstractContextManager[httpx.Response]:
        return connection.stream(
            "GET",
            path,
            params=params,
            headers=headers,
            timeout=httpx.Timeout(timeout, connect=10.0),
        )

    try:
        received = stream_into(
            open_get,
            part,
            description=description,
            where=where,
            retry=connection.retry,
            bar=bar,
            md5=md5,
            accept_html=default_name.lower().endswith((".html", ".htm")),
        )
        final = dest
        if into_dir:
            name = filename_from_disposition(received.headers.get("Content-Disposition"))
            final = directory / (name or default_name)
        os.replace(part, final)
        return final
    finally:
        bar.close()
        if part.exists():
            part.unlink()
