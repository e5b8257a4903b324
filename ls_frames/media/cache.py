"""The media cache: one file per reference, and a small sidecar that vouches for it.

Layout under ``cache_dir``::

    ab/ab12...ef.png          the file (named from the SHA-256 of its identity)
    ab/ab12...ef.meta.json    size, sha256, content type and validators (ETag,
                              Last-Modified) of exactly that file
    ab/.ab12...ef.<pid>.<thread>.part   a download in progress
    ab/.ab12...ef.partial(.json)        a download cut short, kept to be resumed next
                                        time (only with a validator to resume it under)

The identity is the reference as written in the task plus where it resolves: the Label
Studio origin and the project (``/data/upload/3/x.png`` on two servers is two files); a
plain URL on another host resolves to itself, so projects share its file. The
extension of the referenced name is kept so that tools which go by it still work.

The cache never lies: a file appears under its final name only when complete and checked
(renamed from its ``.part``), and a sidecar exists only while it describes the file beside
it (removed before the file is replaced, written after). An entry counts as cached when both
are there and the sizes agree; anything else is fetched again.

Two runs may share a cache folder one after the other, or at once on different files. Two
processes fetching the *same* reference at the *same* time while its source changes could
pair one's file with the other's sidecar (same size, other hash): give concurrent runs
their own folders.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from ls_frames.errors import ConfigurationError

__all__ = ["CacheEntry", "CachedFile", "MediaCache", "identity"]

_EXT = re.compile(r"\.([A-Za-z0-9]{1,10})$")


def identity(uri: str, origin: str | None, project: int | None) -> str:
    """The hex SHA-256 naming a reference's file: the URI, the server origin, the project."""
    text = "\n".join((origin or "", "" if project is None else str(project), uri))
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def extension(uri: str) -> str:
    """A short, safe extension taken from the referenced name (``".png"``), else ``""``."""
    parts = urlsplit(uri)
    name = parts.path
    if parts.path.rstrip("/").endswith("local-files"):
        name = (parse_qs(parts.query).get("d") or [""])[0]
    match = _EXT.search(unquote(name).rsplit("/", 1)[-1])
    return f".{match.group(1).lower()}" if match else ""


@dataclass(frozen=True)
class CachedFile:
    """What the sidecar records about the file beside it."""

    uri: str
    size: int
    sha256: str
    content_type: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    fetched_at: str | None = None

    def validators(self) -> dict[str, str]:
        """Conditional request headers that ask "has it changed since?"."""
        headers = {}
        if self.etag:
            headers["If-None-Match"] = self.etag
        if self.last_modified:
            headers["If-Modified-Since"] = self.last_modified
        return headers


@dataclass(frozen=True)
class CacheEntry:
    """Where one reference's file, sidecar and part files go."""

    path: Path
    meta: Path

    @property
    def partial(self) -> Path:
        return self.path.with_name(f".{self.path.stem}.partial")

    @property
    def partial_meta(self) -> Path:
        return self.path.with_name(f".{self.path.stem}.partial.json")

    def part(self) -> Path:
        return self.path.with_name(f".{self.path.stem}.{os.getpid()}.{threading.get_ident()}.part")


class MediaCache:
    """The files of one ``cache_dir``."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).expanduser().absolute()
        if self.root.exists() and not self.root.is_dir():
            raise ConfigurationError(f"the media cache {str(self.root)!r} is a file, not a folder")
        self.root.mkdir(parents=True, exist_ok=True)
        self._real_root = self.root.resolve()
        self._checked: set[str] = set()  # subfolders made and checked in this run

    def entry(self, key: str, ext: str) -> CacheEntry:
        """The entry for identity ``key`` (a hex digest); raises ``ValueError`` when its
        place would lie outside the cache directory (a symlinked subfolder)."""
        if not re.fullmatch(r"[0-9a-f]{16,128}", key) or (ext and not _EXT.fullmatch(ext)):
            raise ConfigurationError(f"not a cache key: {key!r}{ext!r}")
        folder = self.root / key[:2]
        if key[:2] not in self._checked:
            folder.mkdir(exist_ok=True)
            real = folder.resolve()
            if real.parent != self._real_root:
                raise ConfigurationError(
                    f"refused: {folder} leads outside the cache directory ({real})"
                )
            self._checked.add(key[:2])
        return CacheEntry(folder / f"{key}{ext}", folder / f"{key}.meta.json")

    def load(self, entry: CacheEntry) -> CachedFile | None:
        """The sidecar of a complete entry, or ``None`` (absent, unreadable, or the file
        beside it is missing or of another size)."""
        try:
            raw = json.loads(entry.meta.read_text("utf-8"))
            cached = CachedFile(**{k: raw.get(k) for k in CachedFile.__dataclass_fields__})
            if entry.path.stat().st_size != int(cached.size):
                return None
        except (OSError, ValueError, TypeError):
            return None
        return cached

    def forget(self, entry: CacheEntry) -> None:
        """Remove the sidecar (the file is about to change)."""
        with contextlib.suppress(FileNotFoundError):
            entry.meta.unlink()

    def commit(self, entry: CacheEntry, part: Path, cached: CachedFile) -> None:
        """Move a checked ``part`` into place, then write the sidecar that describes it."""
        self.forget(entry)
        os.replace(part, entry.path)
        self.describe(entry, cached)

    def keep_partial(self, entry: CacheEntry, part: Path, validator: str) -> None:
        """Keep a download cut short for the next run, with the ``If-Range`` validator of
        the version it holds (the note first, then the file: a partial without its note
        is thrown away)."""
        self._write_json(entry.partial_meta, {"validator": validator})
        os.replace(part, entry.partial)

    def claim_partial(self, entry: CacheEntry, part: Path) -> str | None:
        """Take over a kept partial download as ``part`` (an atomic rename: of two
        processes, one wins); return its validator, or ``None`` when there is none."""
        try:
            validator = json.loads(entry.partial_meta.read_text("utf-8"))["validator"]
        except (OSError, ValueError, KeyError, TypeError):
            validator = None
        try:
            os.replace(entry.partial, part)
        except FileNotFoundError:
            return None
        finally:
            with contextlib.suppress(FileNotFoundError):
                entry.partial_meta.unlink()
        if not isinstance(validator, str) or not validator:
            part.unlink()
            return None
        return validator

    def describe(self, entry: CacheEntry, cached: CachedFile) -> None:
        """Write the sidecar atomically (temporary name, then rename)."""
        self._write_json(entry.meta, asdict(cached))

    def _write_json(self, path: Path, payload: dict[str, Any]) -> None:
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
        try:
            tmp.write_text(json.dumps(payload, sort_keys=True), "utf-8")
            os.replace(tmp, path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
