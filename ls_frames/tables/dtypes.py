"""Arrow tables to pandas with documented dtypes.

=====================  ==========================  ===========================
Arrow type             ``"numpy_nullable"``        ``"pyarrow"``
=====================  ==========================  ===========================
int64                  ``Int64``                   ``int64[pyarrow]``
float64                ``Float64``                 ``double[pyarrow]``
bool                   ``boolean``                 ``bool[pyarrow]``
string                 ``string``                  ``string[pyarrow]``
timestamp[us, UTC]     ``datetime64[us, UTC]``     ``timestamp[us, tz=UTC][pyarrow]``
list<...>              ``object`` (numpy arrays)   ``list<...>[pyarrow]``
=====================  ==========================  ===========================

``regions`` has ``label`` and ``choice``: the first element of ``labels`` / ``choices``
(added here for Parquet datasets written before they were columns of the files). With a
label config, ``from_name``, ``label`` and ``choice`` are pandas ``category`` columns whose
categories are the config's control names / label values / choice values *in config
order, unused ones included*, followed by any value found in the data but missing from
the config (sorted), so nothing is ever turned into NaN.
"""

from __future__ import annotations

import difflib
import typing
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Literal

import pyarrow as pa

from ls_frames.errors import ConfigurationError
from ls_frames.reading import LabelConfig
from ls_frames.reading.columns import first_element
from ls_frames.reading.schemas import choose_tables

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "COMPRESSIONS",
    "DTYPE_BACKENDS",
    "check_compression",
    "check_dtype_backend",
    "check_tables",
    "first_element",
    "table_to_pandas",
    "types_mapper",
]

#: pandas' own words for the dtypes of the tables.
DtypeBackend = Literal["numpy_nullable", "pyarrow"]
#: The Parquet codecs pyarrow writes.
Compression = Literal["zstd", "snappy", "gzip", "brotli", "lz4", "none"]
DTYPE_BACKENDS: tuple[str, ...] = typing.get_args(DtypeBackend)
COMPRESSIONS: tuple[str, ...] = typing.get_args(Compression)


def _closed(name: str, value: Any, choices: tuple[str, ...]) -> None:
    if value not in choices:
        close = difflib.get_close_matches(str(value), choices, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigurationError(
            f"{name} must be one of {', '.join(map(repr, choices))}, not {value!r}{hint}"
        )


def check_compression(compression: Any) -> None:
    """Refuse a Parquet codec pyarrow does not write, before any work (ConfigurationError)."""
    _closed("compression", compression, COMPRESSIONS)


def check_dtype_backend(dtype_backend: Any) -> None:
    """Refuse a ``dtype_backend`` other than pandas' two words (ConfigurationError)."""
    _closed("dtype_backend", dtype_backend, DTYPE_BACKENDS)


def check_tables(
    tables: Iterable[str] | None, extra: tuple[str, ...] = ()
) -> tuple[str, ...] | None:
    """``tables`` as a tuple (``None`` stays ``None``; a generator is read once), or a
    ConfigurationError for a name that is not one of the six (or of ``extra``); a single
    string is refused too (it would be read as its letters)."""
    if tables is None:
        return None
    if isinstance(tables, str | bytes):
        raise ConfigurationError(f"tables takes a list of table names, not the string {tables!r}")
    chosen = tuple(tables)
    choose_tables([t for t in chosen if t not in extra])
    return chosen


def _nullable() -> dict[pa.DataType, Any]:
    import pandas as pd

    return {
        pa.int64(): pd.Int64Dtype(),
        pa.float64(): pd.Float64Dtype(),
        pa.bool_(): pd.BooleanDtype(),
        pa.string(): pd.StringDtype(),
        pa.large_string(): pd.StringDtype(),
    }


def types_mapper(dtype_backend: str) -> Callable[[pa.DataType], Any]:
    """The ``types_mapper`` for :meth:`pyarrow.Table.to_pandas` for a backend name."""
    import pandas as pd

    if dtype_backend == "pyarrow":
        return pd.ArrowDtype
    check_dtype_backend(dtype_backend)
    return _nullable().get


def _categorical(series: pd.Series, categories: Iterable[str]) -> pd.Series:
    import pandas as pd

    cats = list(dict.fromkeys(categories))
    extra = sorted(set(series.dropna().astype(str)) - set(cats))
    dtype = pd.CategoricalDtype([*cats, *extra], ordered=False)
    result: pd.Series = series.astype(object).where(series.notna(), None).astype(dtype)
    return result


def table_to_pandas(
    name: str,
    table: pa.Table,
    *,
    dtype_backend: str = "numpy_nullable",
    config: LabelConfig | None = None,
) -> pd.DataFrame:
    """One table to pandas with the documented dtypes (see the module docstring)."""
    mapper = types_mapper(dtype_backend)
    if name == "regions":
        for col, src in (("label", "labels"), ("choice", "choices")):
            if src in table.column_names and col not in table.column_names:
                table = table.append_column(col, first_element(table.column(src)))
    df: pd.DataFrame = table.to_pandas(types_mapper=mapper, split_blocks=True)
    if config is not None and name == "regions":
        df["from_name"] = _categorical(df["from_name"], (c.name for c in config.controls))
        df["label"] = _categorical(df["label"], config.values_of("labels"))
        df["choice"] = _categorical(df["choice"], config.values_of("choices"))
    return df
