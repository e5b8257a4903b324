"""Sphinx configuration of the user guide and the API reference (``make docs``; ``make
docs-check`` in make test and make check).

Besides Sphinx's own warnings (which ``-W`` turns into errors), two checks of the public
surface warn:

* every name in ``ls_frames.__all__`` has an entry in ``api.rst``;
* every public function in ``ls_frames.__all__``, and each method in ``CHECKED_METHODS``,
  has a docstring with a ``Parameters`` section naming each parameter, ``Returns`` or
  ``Yields`` (when it returns something) and ``Raises`` (numpy style, or Google style:
  ``Args:``, ``Returns:``, ``Raises:``).
"""

from __future__ import annotations

import inspect
import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import ls_frames  # noqa: E402

project = "ls_frames"
author = "the ls_frames authors"
copyright = "the ls_frames authors"
release = ls_frames.__version__
version = release

extensions = ["sphinx.ext.autodoc", "sphinx.ext.napoleon"]
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_rtype = False
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_default_options = {"members": True, "show-inheritance": True}
autodoc_class_signature = "separated"
html_theme = "alabaster"
html_title = f"ls_frames {release}"
exclude_patterns = ["_build"]
suppress_warnings: list[str] = []

#: Methods whose docstrings are held to the same rule as the public functions.
CHECKED_METHODS = [
    "Client.__init__",
    "Client.create_export",
    "Client.easy_export",
    "Client.list_exports",
    "Export.wait",
    "Export.convert",
    "Export.download",
    "Frames.regions_wide",
    "ExportPanel.__init__",
]

# numpy style ("Parameters" over a dashed line) or Google style ("Args:")
_SECTION = re.compile(
    r"^(?:(Parameters|Returns|Yields|Raises)\n-{3,}|(Args|Parameters|Returns|Yields|Raises):)$",
    re.MULTILINE,
)
_GOOGLE = {"Args": "Parameters"}


def _problems(name: str, func: Any, doc: str | None, *, constructor: bool = False) -> list[str]:
    """What ``doc`` lacks; a constructor (documented by its class) needs Parameters only."""
    if not doc:
        return [f"{name} has no docstring"]
    sections = {
        _GOOGLE.get(numpy or google, numpy or google)
        for numpy, google in _SECTION.findall(inspect.cleandoc(doc))
    }
    signature = inspect.signature(func)
    params = [p for p in signature.parameters if p not in ("self", "cls")]
    missing = []
    if params and "Parameters" not in sections:
        missing.append("Parameters")
    elif not constructor:
        # each parameter named at the start of a line: "name", "name:" or "a, name"
        text = inspect.cleandoc(doc)
        for param in params:
            if not re.search(rf"^\s*(?:\w+, )*\**{param}\b", text, re.MULTILINE):
                missing.append(f"an entry for {param!r} in its Parameters")
    returns = signature.return_annotation
    if (
        not constructor
        and returns not in (None, "None", inspect.Signature.empty)
        and not (sections & {"Returns", "Yields"})
    ):
        missing.append("Returns")
    if "Raises" not in sections and not constructor:
        missing.append("Raises")
    return [f"{name}: its docstring lacks {', '.join(missing)}"] if missing else []


def _check_public_surface(app: Any) -> None:
    from sphinx.util import logging

    logger = logging.getLogger("ls_frames.docs")
    api = (Path(app.srcdir) / "api.rst").read_text(encoding="utf-8")
    for name in ls_frames.__all__:
        if name.startswith("__"):
            continue
        if not re.search(rf"^\.\. auto\w+:: ls_frames\.{re.escape(name)}$", api, re.MULTILINE):
            logger.warning(f"ls_frames.{name} is public but has no entry in api.rst")
        obj = getattr(ls_frames, name)
        if inspect.isfunction(obj):
            for problem in _problems(name, obj, obj.__doc__):
                logger.warning(problem)
    for dotted in CHECKED_METHODS:
        owner, method = dotted.split(".")
        func = getattr(getattr(ls_frames, owner), method)
        # a constructor's parameters are described in its class's docstring
        doc = getattr(ls_frames, owner).__doc__ if method == "__init__" else func.__doc__
        for problem in _problems(dotted, func, doc, constructor=method == "__init__"):
            logger.warning(problem)


def setup(app: Any) -> None:
    app.connect("builder-inited", _check_public_surface)
