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
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import unicodedata
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx

from ls_frames._progress import progress_bar
from ls_frames.errors import APIError, ChecksumMismatch, DownloadError, TransportError
from ls_frames.transport import Connection

__all__ = [
    "CHUNK_SIZE", "download_to", "filename_from_disposition", "means_folder", "safe_basename",
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
    response: httpx.Response, name: str, description: str, where: str
) -> None:
    """A login portal's or gateway's HTML page where a file was due: a typed error naming
    the page, never a file that looks like the export."""
    if "html" not in response.headers.get("Content-Type", "").lower():
        return
    if name.lower().endswith((".html", ".htm")):
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


def _flush(out: Any, hasher: Any, pending: bytearray, bar: Any) -> int:
    n = len(pending)
    if n:
        out.write(pending)
        hasher.update(pending)
        bar.update(n)
        pending.clear()
    return n


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
    hasher = hashlib.md5(usedforsecurity=False)
    written = 0
    total: int | None = None
    final: Path | None = None if into_dir else dest
    resumes = 0
    bar = progress_bar(progress, unit="B", unit_scale=True, unit_divisor=1024, desc=description)
    try:
        with open(part, "wb") as out:
            while True:
                headers = {"Accept-Encoding": "identity", "Range": f"bytes={written}-"}
                try:
                    with connection.stream(
                        "GET", path, params=params, headers=headers,
                        timeout=httpx.Timeout(timeout, connect=10.0),
                    ) as response:
                        if final is None:
                            name = filename_from_disposition(
                                response.headers.get("Content-Disposition")
                            )
                            final = directory / (name or default_name)
                        _refuse_html_page(response, default_name, description, where)
                        span = _content_range_start(response)
                        if response.status_code != 206 or span is None or span[0] != written:
                            if written:
                                logger.info("%s: server ignored Range, starting over", path)
                                out.seek(0)
                                out.truncate()
                                hasher = hashlib.md5(usedforsecurity=False)
                                written = 0
                                bar.reset()
                            span = None
                        length = response.headers.get("Content-Length")
                        if span is not None and span[1] is not None:
                            total = span[1]
                        elif length and length.isdigit():
                            total = written + int(length)
                        else:
                            total = None  # the body ends when the connection does
                        bar.total = total
                        bar.refresh()
                        # Bytes are gathered into 1 MiB blocks before they are written; on a
                        # broken connection the partial block is kept (it is good data) and the
                        # download resumes right after it.
                        pending = bytearray()
                        try:
                            for piece in response.iter_raw():
                                pending += piece
                                if len(pending) >= CHUNK_SIZE:
                                    written += _flush(out, hasher, pending, bar)
                        finally:
                            written += _flush(out, hasher, pending, bar)
                    break
                except APIError as exc:
                    if exc.status != 416 or exc.response is None:
                        raise
                    # Nothing lies after byte ``written``: the body is whole (an empty file,
                    # or a break after the last byte). The checks below confirm it.
                    span = _content_range_start(exc.response)
                    total = span[1] if span is not None else written
                    break
                except (httpx.TransportError, TransportError) as exc:
                    resumes += 1
                    if resumes > MAX_RESUMES:
                        raise DownloadError(
                            f"{description}: connection broke {resumes} times, "
                            f"gave up at byte {written} of {where}: {exc}"
                        ) from exc
                    logger.info("%s: broken at byte %d (%s), resuming", path, written, exc)
                    connection.retry.sleep(connection.retry.delay(resumes))
            out.flush()
            os.fsync(out.fileno())
        if total is not None and written != total:
            raise DownloadError(
                f"{description}: got {written} bytes, the server announced {total} ({where})"
            )
        if md5 and hasher.hexdigest() != md5.lower():
            raise ChecksumMismatch(
                f"{description}: MD5 {hasher.hexdigest()} of the {written} bytes received does "
                f"not match the server's {md5} ({where}); nothing was kept"
            )
        final = final or directory / default_name  # (only when the first answer was a 416)
        os.replace(part, final)
        return final
    finally:
        bar.close()
        if part.exists():
            part.unlink()
