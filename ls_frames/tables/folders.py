"""Checks of the folders a call will write, made before any request or file: an output
that exists (without ``overwrite``), a path that is a file, a place that cannot be
written. Every front end calls them first (the functions, the CLI, the panel)."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from ls_frames.errors import ConfigurationError, OutputExistsError

__all__ = ["check_output_dir", "check_writable_dir"]


def _nearest_existing(path: Path) -> Path:
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return Path(".")


def check_writable_dir(path: str | os.PathLike[str], what: str = "folder") -> None:
    """Refuse, before any work, a folder that is a file or cannot be made or written.

    The nearest folder that exists is tried for real (an empty folder made and removed at
    once): permission bits say yes to root on a read-only or virtual file system.

    Raises
    ------
    ConfigurationError
        ``path`` (or a parent of it) is a file, or the nearest existing folder cannot be
        written.
    """
    target = Path(path)
    _probe(target, _nearest_existing(target), what)


def _probe(target: Path, existing: Path, what: str) -> None:
    if not existing.is_dir():
        blocker = "it" if existing == target else existing
        raise ConfigurationError(f"{what} {target} is not a folder: {blocker} is a file")
    try:
        probe = tempfile.mkdtemp(prefix=".ls_frames-probe-", dir=existing)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ConfigurationError(f"cannot write {what} {target}: {existing}: {reason}") from None
    shutil.rmtree(probe, ignore_errors=True)


def check_output_dir(path: str | os.PathLike[str], overwrite: bool, what: str = "out_dir") -> None:
    """Refuse, before any work, an output folder that exists (without ``overwrite``), is a
    file, or cannot be written (see :func:`check_writable_dir`).

    Raises
    ------
    OutputExistsError
        ``path`` exists and ``overwrite`` is false.
    ConfigurationError
        ``path`` is a file, or its place cannot be written.
    """
    target = Path(path)
    if target.is_file():
        raise ConfigurationError(f"{what} {target} is a file, not a dataset folder")
    if target.exists() and not overwrite:
        raise OutputExistsError(target)
    # the dataset is written beside it first, then renamed into place
    _probe(target, _nearest_existing(target.parent), what)
