"""What the builders share: the control a region is for, image sizes, per-row arguments,
and the rows themselves (the ``regions`` table's columns).

One rule each: :func:`control_for` picks ``from_name`` / ``to_name`` / ``type`` from the
label config when unambiguous; :func:`image_sizes` reads ``image_size=`` (a ``(width,
height)``, a mapping by task id, a table with image sizes, or a :class:`~ls_frames.Frames`);
:func:`region_rows` writes every row's ``value_json`` and the typed columns the reader
would make of it, so :func:`~ls_frames.to_results` takes them as they are.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import msgspec
import numpy as np
import pandas as pd
import pyarrow as pa

from ls_frames.errors import ConfigurationError
from ls_frames.reading.config import resolve_label_config
from ls_frames.reading.controls import LABEL_KEYS, kind_of
from ls_frames.reading.schemas import SCHEMAS
from ls_frames.reading.values import value_columns

__all__ = ["column_or", "control_for", "image_sizes", "per_row", "region_rows"]

_ENCODE = msgspec.json.Encoder().encode


def control_for(
    kind: str, label_config: Any, from_name: str | None, to_name: str | None
) -> tuple[str, str, str]:
    """``(from_name, to_name, type)`` of the control drawing ``kind`` (a kind of
    :data:`~ls_frames.reading.controls.CONTROL_KINDS`).

    With a config: the control named ``from_name``, else the only control of that kind
    (several or none: a :class:`ConfigurationError` listing them); ``to_name`` its only
    object unless given. Without one, ``from_name`` and ``to_name`` are needed and the type
    is the ``*labels`` tag of the kind (``choices`` for choices).
    """
    config = resolve_label_config(label_config) if label_config is not None else None
    if config is None:
        if not from_name or not to_name:
            raise ConfigurationError(
                "from_name and to_name are needed without a label_config "
                "(pass label_config=... to take them from the project's config)"
            )
        tags = [t for t in LABEL_KEYS if kind_of(t) == kind] or ["choices"]
        return from_name, to_name, tags[0]
    found = [c for c in config.controls if kind_of(c.type) == kind]
    if from_name is not None:
        found = [c for c in found if c.name == from_name]
        if not found:
            names = [c.name for c in config.controls if kind_of(c.type) == kind]
            raise ConfigurationError(
                f"from_name {from_name!r} is not a {kind} control of the config ({names})"
            )
    if len(found) != 1:
        names = [c.name for c in found]
        what = "no" if not found else "several"
        raise ConfigurationError(
            f"the config has {what} {kind} controls ({names}): pass from_name=... to choose"
        )
    control = found[0]
    if to_name is None:
        if len(control.to_name) != 1:
            raise ConfigurationError(
                f"{control.name!r} points to {list(control.to_name)}: pass to_name=... to choose"
            )
        to_name = control.to_name[0]
    elif control.to_name and to_name not in control.to_name:
        raise ConfigurationError(
            f"to_name {to_name!r} is not an object of {control.name!r} ({list(control.to_name)})"
        )
    return control.name, to_name, control.type


def per_row(value: Any, n: int, name: str) -> list[Any]:
    """A scalar repeated ``n`` times, or a sequence of ``n`` values, as a list."""
    if value is None or isinstance(value, str | int | float | np.integer | np.floating):
        return [value.item() if isinstance(value, np.generic) else value] * n
    values = list(value.tolist() if hasattr(value, "tolist") else value)
    if len(values) != n:
        raise ConfigurationError(f"{name} has {len(values)} values for {n} regions")
    return values


def column_or(data: Any, names: Sequence[str], given: Any) -> Any:
    """``given`` when not ``None``, else the first of ``names`` that ``data`` (a
    DataFrame) has as a column, else ``None``."""
    if given is not None or not isinstance(data, pd.DataFrame):
        return given
    for name in names:
        if name in data.columns:
            return data[name].to_numpy()
    return None


def image_sizes(image_size: Any, task_ids: list[Any]) -> tuple[list[Any], list[Any]]:
    """Each row's ``(width, height)`` in pixels (``None`` where not known).

    ``image_size`` is ``(width, height)`` for every row, a mapping task id -> ``(width,
    height)``, a table with ``task_id`` and ``original_width`` / ``original_height`` (the
    ``regions`` table) or ``width`` / ``height`` columns, or a :class:`~ls_frames.Frames`
    (its regions' sizes); ``None``: not known.
    """
    n = len(task_ids)
    if image_size is None:
        return [None] * n, [None] * n
    if isinstance(image_size, tuple) and len(image_size) == 2:
        return [int(image_size[0])] * n, [int(image_size[1])] * n
    if hasattr(image_size, "arrow"):
        image_size = image_size.arrow["regions"].to_pandas()
    if isinstance(image_size, pd.DataFrame | pa.Table):
        image_size = _sizes_by_task(image_size)
    if isinstance(image_size, Mapping):
        sizes = [image_size.get(t) for t in task_ids]
        return [s and int(s[0]) for s in sizes], [s and int(s[1]) for s in sizes]
    raise ConfigurationError(
        "image_size must be (width, height), a mapping task id -> (width, height), "
        f"a table of image sizes or Frames, got {type(image_size).__name__}"
    )


def _sizes_by_task(table: Any) -> dict[Any, tuple[int, int]]:
    df = table.to_pandas() if isinstance(table, pa.Table) else table
    for w, h in (("original_width", "original_height"), ("width", "height")):
        if {"task_id", w, h} <= set(df.columns):
            known = df[["task_id", w, h]].dropna().drop_duplicates("task_id")
            return {int(t): (int(a), int(b)) for t, a, b in known.itertuples(index=False)}
    raise ConfigurationError(
        "the image_size table needs task_id and original_width / original_height "
        "(or width / height) columns"
    )


def new_region_id() -> str:
    """A fresh region id, ten characters as the frontend makes them."""
    return uuid.uuid4().hex[:10]


def region_rows(common: dict[str, list[Any]], values: list[dict[str, Any]]) -> pd.DataFrame:
    """Region rows: ``common`` columns (task_id, from_name, ... as lists) plus ``value_json``
    and the typed columns the reader makes of each value."""
    n = len(values)
    raws = list(map(_ENCODE, values))
    texts = [r.decode() for r in raws]
    typed = value_columns(raws, SCHEMAS["regions"])
    cols: dict[str, Any] = {
        "source": ["prediction"] * n,
        "region_id": [new_region_id() for _ in range(n)],
        **common,
        "value_json": texts,
    }
    for name, arr in typed.items():
        cols[name] = arr.to_pylist()
    cols["label"] = [v[0] if v else None for v in cols["labels"]]
    cols["choice"] = [v[0] if v else None for v in cols["choices"]]
    table = pa.table(
        {f.name: pa.array(cols[f.name], f.type) for f in SCHEMAS["regions"] if f.name in cols}
    )
    rows: pd.DataFrame = table.to_pandas(types_mapper=_nullable)
    return rows


def _nullable(typ: pa.DataType) -> Any:
    mapping = {
        pa.int64(): pd.Int64Dtype(),
        pa.float64(): pd.Float64Dtype(),
        pa.string(): pd.StringDtype(),
        pa.bool_(): pd.BooleanDtype(),
    }
    return mapping.get(typ)
