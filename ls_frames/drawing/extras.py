"""The ``plot`` extra: Pillow draws the images, matplotlib the plots. A missing one is a
:class:`~ls_frames.errors.ConfigurationError` naming the pip line."""

from __future__ import annotations

import importlib
from typing import Any

from ls_frames.errors import ConfigurationError

__all__ = ["INSTALL", "matplotlib_pyplot", "pillow"]

INSTALL = "pip install 'ls-frames[plot]'"


def _module(name: str, what: str) -> Any:
    try:
        return importlib.import_module(name)
    except ImportError:
        raise ConfigurationError(f"{what}: {INSTALL}") from None


def pillow() -> Any:
    """The ``PIL`` package, its ``Image``, ``ImageDraw``, ``ImageFont`` and ``ImageColor``
    modules imported."""
    _module("PIL.Image", "drawing regions needs Pillow, which is not installed")
    _module("PIL.ImageDraw", "drawing regions needs Pillow")
    _module("PIL.ImageFont", "drawing regions needs Pillow")
    _module("PIL.ImageColor", "drawing regions needs Pillow")
    return importlib.import_module("PIL")


def matplotlib_pyplot() -> Any:
    """``matplotlib.pyplot`` (the Agg backend is used when no display is set up)."""
    return _module("matplotlib.pyplot", "plots need matplotlib, which is not installed")
