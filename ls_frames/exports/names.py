"""File names from the server, made safe to write under, what names a folder, and the
titles the library gives its snapshots.

A name a server offers (``Content-Disposition``) can hold a storage path, ``..``, control
characters or more bytes than a file system takes: only a plain basename is kept.

Every snapshot the library makes is titled ``ls_frames <UTC time> <random suffix>``
(:func:`snapshot_title`): unique, so that a create whose answer was lost (a proxy's 502, a
killed worker's 500) can find the snapshot it left by its title.
"""

from __future__ import annotations

import os
import re
import unicodedata
import uuid
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import unquote

__all__ = [
    "MAX_NAME_BYTES",
    "SNAPSHOT_TITLE_PREFIX",
    "filename_from_disposition",
    "means_folder",
    "safe_basename",
    "snapshot_title",
]

#: The first word of the title of every snapshot the library makes.
SNAPSHOT_TITLE_PREFIX = "ls_frames"

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


def means_folder(dest: str | os.PathLike[str]) -> bool:
    """Whether ``dest`` names a folder: an existing one, or a path written with a trailing
    slash (``"exports/"``)."""
    raw = os.fspath(dest)
    return raw.endswith(("/", os.sep)) or Path(raw).is_dir()


def snapshot_title() -> str:
    """A new snapshot's title: ``ls_frames <UTC time> <8 random hex digits>``."""
    now = datetime.now(timezone.utc)
    return f"{SNAPSHOT_TITLE_PREFIX} {now:%Y-%m-%d %H:%M:%S} {uuid.uuid4().hex[:8]}"
