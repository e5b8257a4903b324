"""The notebook panels: :class:`ExportPanel` (export) and :class:`ReviewPanel` (a review
gallery), ipywidgets front ends over the same functions a notebook user calls. Need the
``widgets`` extra."""

from ls_frames.errors import ConfigurationError

try:
    import ipywidgets  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised in a subprocess test
    raise ConfigurationError(
        "ExportPanel and ReviewPanel need ipywidgets, which is not installed: "
        "pip install 'ls-frames[widgets]'"
    ) from exc

from ls_frames.frontends.widgets.panel import ExportPanel
from ls_frames.frontends.widgets.review import ReviewPanel

__all__ = ["ExportPanel", "ReviewPanel"]
