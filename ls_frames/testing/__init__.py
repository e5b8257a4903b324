"""Helpers for tests, CI and demos: a real Label Studio in a subprocess, and seed data.

* :class:`LocalLabelStudio` starts ``label-studio`` on 127.0.0.1 with an admin, a legacy
  token and a personal access token.
* :func:`install_label_studio` puts Label Studio in a virtual environment of its own.
* :mod:`ls_frames.testing.seed` creates a demo project whose expected counts are known.

Command line: ``python -m ls_frames.testing serve`` and ``python -m ls_frames.testing
install DIR``.
"""

from __future__ import annotations

from ls_frames.testing.install import DEFAULT_VERSION, install_label_studio
from ls_frames.testing.server import LabelStudioStartError, LocalLabelStudio, find_executable

__all__ = [
    "DEFAULT_VERSION",
    "LabelStudioStartError",
    "LocalLabelStudio",
    "find_executable",
    "install_label_studio",
]
