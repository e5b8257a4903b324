"""The notebook panel: :class:`ExportPanel`, an ipywidgets front end over the same
functions a notebook user calls. Needs the ``widgets`` extra."""

from ls_frames.errors import ConfigurationError

try:
    import ipywidgets  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised in a subprocess test
    raise ConfigurationError(
        "ExportPanel needs ipywidgets, which is not installed: pip install 'ls-frames[widgets]'"
    ) from exc

from ls_frames.frontends.widgets.panel import ExportPanel

__all__ = ["ExportPanel"]
