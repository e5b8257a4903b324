"""Renamed keyword arguments: the old name keeps working for a while, with a warning.

::

    @renamed_kwargs(out_dir="path")
    def read_parquet(path, ...): ...

    read_parquet(out_dir="data")   # DeprecationWarning naming ``path``; same result
"""

from __future__ import annotations

import functools
import inspect
import warnings
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


def renamed_kwargs(**renames: str) -> Callable[[F], F]:
    """Accept each old keyword (the key) for the new one (the value), with a
    :class:`DeprecationWarning` naming the new one. Giving both is a ``TypeError``, as
    Python says for any argument given twice. The signature shown is the new one."""

    def decorate(fn: F) -> F:
        names = list(inspect.signature(fn).parameters)

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            for old, new in renames.items():
                if old in kwargs:
                    if new in kwargs or names.index(new) < len(args):
                        raise TypeError(
                            f"{fn.__qualname__}() got both {old!r} (deprecated) and {new!r}"
                        )
                    warnings.warn(
                        f"{fn.__qualname__}(): the {old!r} argument is deprecated; use {new!r}",
                        DeprecationWarning,
                        stacklevel=2,
                    )
                    kwargs[new] = kwargs.pop(old)
            return fn(*args, **kwargs)

        wrapper.__deprecated_kwargs__ = dict(renames)  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate
