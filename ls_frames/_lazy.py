"""Names a package exports but imports on first use (module ``__getattr__``, PEP 562).

``import ls_frames`` stays light: pandas, pyarrow and httpx are imported by the first
function that needs them, not by the package. A package lists its names and the modules
that define them, and takes the two module hooks from :func:`attach`::

    __getattr__, __dir__ = attach(__name__, {"evaluate": "ls_frames.evaluation.scores"})
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["attach"]


def attach(
    package: str, names: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of ``package`` for ``names`` (name -> module).

    A name is imported from its module on first use and then kept in the package's
    namespace, so later lookups cost nothing.

    Parameters
    ----------
    package
        The package's ``__name__``.
    names
        Each exported name and the module that defines it.

    Returns
    -------
    tuple
        ``(__getattr__, __dir__)`` for the package's module namespace.
    """
    namespace = sys.modules[package].__dict__

    # A name that is also the name of the submodule defining it (``evaluation.agreement``
    # defines ``agreement``) is bound at once: the import system sets the package attribute
    # to the submodule whenever anything imports that submodule first, and this
    # ``__getattr__`` would then never be asked for the function.
    for name, module in names.items():
        if module == f"{package}.{name}":
            namespace[name] = getattr(importlib.import_module(module), name)

    def __getattr__(name: str) -> Any:
        module = names.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(names))

    return __getattr__, __dir__
