"""The argument checks the end-to-end functions make first, before a client is made, a
snapshot created or a file written: each function calls the ones for its arguments at
its top (the closed sets' checks are :mod:`ls_frames.tables.dtypes`', the folders'
:mod:`ls_frames.tables.folders`', the object store's :mod:`ls_frames.tables.delta.storage`).
"""

from __future__ import annotations

import difflib
import inspect
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ls_frames.errors import ConfigurationError
from ls_frames.exports.download import means_folder
from ls_frames.media.dataset import fetch_dataset_media
from ls_frames.tables.folders import check_writable_dir

__all__ = [
    "check_destination",
    "check_media",
    "check_project",
    "check_workers",
]

#: what ``media_options`` may hold: fetch_dataset_media's keyword arguments the caller sets
_MEDIA_OPTIONS = tuple(
    name
    for name, p in inspect.signature(fetch_dataset_media).parameters.items()
    if p.kind is inspect.Parameter.KEYWORD_ONLY and name not in ("client", "changed", "progress")
)


def check_project(project: Any) -> None:
    """A project is an id (an ``int`` or a string of digits) or a non-empty title."""
    if isinstance(project, bool) or not (isinstance(project, int | str) or hasattr(project, "id")):
        raise ConfigurationError(f"project must be an id or a title, not {project!r}")
    if isinstance(project, str) and not project.strip():
        raise ConfigurationError("project must be an id or a title, not an empty string")


def check_workers(workers: Any) -> None:
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ConfigurationError(f"workers must be a whole number >= 1, not {workers!r}")


def check_destination(dest: str | os.PathLike[str] | None, what: str) -> None:
    """A file or folder a download goes to (``keep_file``, ``dest``): its folder must be
    writable."""
    if dest is None:
        return
    path = Path(dest)
    folder = means_folder(dest) or path.is_dir()
    check_writable_dir(path if folder else path.parent, what)


def check_media(
    media: str | os.PathLike[str] | None, media_options: Mapping[str, Any] | None
) -> None:
    """The media cache folder must be writable and ``media_options`` hold only what
    :func:`~ls_frames.fetch_media` takes here."""
    if media is not None:
        check_writable_dir(media, "media")
    if media_options is None:
        return
    if not isinstance(media_options, Mapping):
        raise ConfigurationError(f"media_options must be a dict, not {media_options!r}")
    for key in media_options:
        if key not in _MEDIA_OPTIONS:
            close = difflib.get_close_matches(str(key), _MEDIA_OPTIONS, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ConfigurationError(
                f"unknown media option {key!r}{hint} (known: {', '.join(_MEDIA_OPTIONS)})"
            )
