"""Streamed, resumable, verified downloads.

The body goes in chunks of 1 MiB to a hidden ``.part`` file beside the target. Even the
first request asks for ``Range: bytes=0-``: Label Studio then answers 206 with a length,
where a plain GET gets a body that simply ends when the connection closes, so a cut could
not be told from the end. When the connection breaks, the download goes on from the last
byte written with ``Range: bytes=N-``; a server that ignores the range starts it over. A
connection that goes silent mid-body fails after the client's read timeout and is resumed
the same way. An HTML page where the file was due (a login portal, a gateway) is refused.
At the end the size (when announced) and the MD5 (when known) are checked, and only then is
the file renamed into place: a file under the final name is always complete. On failure
the ``.part`` file is removed and a typed error raised.

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
import unicodedata
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx

from ls_frames._progress import progress_bar
from ls_frames.errors import APIError, ChecksumMismatch, DownloadError, TransportError
from ls_frames.transport import Connection, RetryPolicy

__all__ = [
    "CHUNK_SIZE",
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
#: Longest file name taken from the server, in UTF-8 bytes (room left for the ``.part``).
MAX_NAME_BYTES = 200


def safe_basename(name: str) -> str:
    """Reduce a server-given name to a plain file name: no folders, no ``..``, no controls,
    at most :data:`MAX_NAME_BYTES` bytes."""
    name = unicodedata.normalize("NFC", name)
    name = name.replace("\\", "/").split("/")[-1]
    name = "".join(ch for ch in name if ch.isprintable() and ch not in '<>:"|?*')
    name = name.strip().lstrip(".").strip()
    return _fit(name, MAX_NAME_BYTES)


def _fit(name: str, limit: int) -> str:
    """Shorten ``name`` to ``limit`` UTF-8 bytes (file systems count bytes, 255 at most),
    keeping a short extension."""
    if len(name.encode()) <= limit:
        return name
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem or len(ext.encode()) > 16:
        stem, ext = name, ""
    tail = f".{ext}" if ext else ""
    room = limit - len(tail.encode())
    return stem.encode()[:room].decode("utf-8", "ignore").rstrip() + tail


def filename_from_disposition(header: str | None) -> str | None:
    """The file name a ``Content-Disposition`` header offers, made safe, or ``None``."""
    if not header:
        return None
    star = re.search(r"filename\*\s*=\s*([^']*)'[^']*'([^;]+)", header, re.I)
    if star:
        raw = unquote(star.group(2).strip().strip('"'), encoding=star.group(1) or "utf-8")
    else:
        plain = re.search(
            r'filename\s*=\s*"((?:[^"\\]|\\.)*)"|filename\s*=\s*([^;]+)', header, re.I
        )
        if not plain:
            return None
        raw = plain.group(1) if plain.group(1) is not None else plain.group(2).strip()
    name = safe_basename(raw)
    return name or None


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
    """The part file, its two digests and the byte bar."""

    def __init__(self, out: Any, bar: Any) -> None:
        self.out, self.bar = out, bar
        self.written = 0
        self.md5 = hashlib.md5(usedforsecurity=False)
        self.sha256 = hashlib.sha256()
        self.pending = bytearray()
        self.counted = 0  # bytes the bar has seen (absorbed ones are not)

    def absorb(self) -> None:
        """Take the bytes already in the file (a resumed partial download) as received."""
        self.out.seek(0)
        while block := self.out.read(CHUNK_SIZE):
            self.md5.update(block)
            self.sha256.update(block)
            self.written += len(block)
        self.out.seek(self.written)

    def restart(self) -> None:
        self.out.seek(0)
        self.out.truncate()
        self.bar.update(-self.counted)
        self.written = self.counted = 0
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
) -> Received:
    """GET a body into ``part`` (created or truncated), resuming with ``Range`` after a
    cut, and check it; return what was received.

    Every request but a conditional first one asks for ``Range: bytes=N-``; resumes carry
    ``If-Range`` so a file changed in between is started over rather than spliced. An HTML
    page where a file was due is refused (unless ``accept_html``). At the end the size is
    checked against the announced length and the MD5 against ``md5`` when given. ``bar``
    counts the bytes; ``sized_bar`` sets its total to this file's length (false for a bar
    shared by many files).

    ``resume_with`` (a strong ETag or a Last-Modified date) says ``part`` already holds the
    start of the body, as that version of the file: it is continued from its end with
    ``If-Range``, and started over if the file changed. ``on_answer`` is called with the
    headers of the first answer (the caller may keep a partial file with its validator).

    Raises :class:`~ls_frames.errors.DownloadError` (cut too often, short body, HTML page),
    :class:`~ls_frames.errors.ChecksumMismatch`, or the typed HTTP error of a failed answer.
    The caller owns ``part`` (renames or removes it).
    """
    total: int | None = None
    resumes = 0
    first: httpx.Headers | None = None
    if_range: str | None = resume_with
    with open(part, "r+b" if resume_with else "wb") as out:
        sink = _Sink(out, bar)
        if resume_with:
            sink.absorb()
        while True:
            headers = {"Accept-Encoding": "identity"}
            if first is None and conditional and not resume_with:
                headers.update(conditional)
            else:
                headers["Range"] = f"bytes={sink.written}-"
                if if_range and sink.written:
                    headers["If-Range"] = if_range
            before = sink.written
            try:
                with open_get(headers) as response:
                    if response.status_code == 304:
                        return Received(0, "", "", response.headers, not_modified=True)
                    if first is None:
                        _refuse_html_page(response, accept_html, description, where)
                        first = response.headers
                        if_range = resume_validator(first)
                        if on_answer is not None:
                            on_answer(first)
                    span = _content_range_start(response)
                    if response.status_code != 206 or span is None or span[0] != sink.written:
                        if sink.written:
                            logger.info(
                                "%s: server sent the whole file again, starting over", where
                            )
                            sink.restart()
                        span = None
                    length = response.headers.get("Content-Length")
                    partial = span is not None
                    if span is not None and span[1] is not None:
                        total = span[1]
                    elif length and length.isdigit():
                        total = sink.written + int(length)
                    else:
                        total = None  # the body ends when the connection does
                    if sized_bar:
                        bar.total = total
                        bar.refresh()
                    try:
                        for piece in response.iter_raw():
                            sink.add(piece)
                    finally:
                        sink.flush()
                if partial and total is not None and sink.written < total:
                    # A range answer shorter than asked (a proxy caps each one): ask for
                    # the rest. Only an answer that brought nothing counts as a failure.
                    if sink.written == before:
                        resumes += 1
                        if resumes > MAX_RESUMES:
                            break
                    continue
                break
            except APIError as exc:
                if exc.status != 416 or exc.response is None:
                    raise
                # Nothing lies after byte ``written``: the body is whole (an empty file, or
                # a break after the last byte). The checks below confirm it.
                span = _content_range_start(exc.response)
                total = span[1] if span is not None else sink.written
                if first is None:
                    first = exc.response.headers
                break
            except (httpx.TransportError, TransportError) as exc:
                if isinstance(exc, TransportError) and first is None:
                    raise  # never answered, and the opener has already retried
                sink.flush()
                resumes += 1
                if resumes > MAX_RESUMES:
                    raise DownloadError(
                        f"{description}: connection broke {resumes} times, "
                        f"gave up at byte {sink.written} of {where}: {exc}"
                    ) from exc
                logger.info("%s: broken at byte %d (%s), resuming", where, sink.written, exc)
                retry.sleep(retry.delay(resumes))
        out.flush()
        os.fsync(out.fileno())
    written = sink.written
    if total is not None and written != total:
        raise DownloadError(
            f"{description}: got {written} bytes, the server announced {total} ({where})"
        )
    digest = sink.md5.hexdigest()
    if md5 and digest != md5.lower():
        raise ChecksumMismatch(
            f"{description}: MD5 {digest} of the {written} bytes received does not match "
            f"the source's {md5} ({where}); nothing was kept"
        )
    return Received(
        written, digest, sink.sha256.hexdigest(), first or httpx.Headers(), fetched=sink.counted
    )


def means_folder(dest: str | os.PathLike[str]) -> bool:
    """Whether ``dest`` names a folder: an existing one, or a path written with a trailing
    slash (``"exports/"``)."""
    raw = os.fspath(dest)
    return raw.endswith(("/", os.sep)) or Path(raw).is_dir()


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
