"""Python lists to Arrow arrays: tolerant conversion and zero-parse JSON text columns."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timezone
from itertools import repeat
from operator import attrgetter, is_
from typing import Any

import msgspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["array", "attr_columns", "first_element", "is_whole", "json_text", "raw_array"]

TS = pa.timestamp("us", tz="UTC")
_UNSET = msgspec.UNSET
_ERRORS = (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, OverflowError)


def json_text(value: Any) -> str | None:
    """A string as it is, ``None`` as null, anything else as its JSON text."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value)


def raw_array(raws: list[Any]) -> pa.Array:
    """A string array of :class:`msgspec.Raw` values (``UNSET`` -> null), without parsing:
    the bytes are joined once and cut by offsets."""
    n = len(raws)
    validity = None
    try:  # fast path: no value is missing (a missing one fails the join at once)
        data = b"".join(raws)
        lengths = np.fromiter(map(len, raws), dtype=np.int64, count=n)
    except TypeError:
        if raws.count(_UNSET) == n:  # a key no item has (``meta``, say): nothing to cut
            return pa.nulls(n, pa.string())
        missing = np.fromiter(map(is_, raws, repeat(_UNSET)), dtype=bool, count=n)
        parts = [b"" if r is _UNSET else r for r in raws]
        lengths = np.fromiter(map(len, parts), dtype=np.int64, count=n)
        data = b"".join(parts)
        bits = np.packbits(~missing, bitorder="little")
        validity = pa.py_buffer(bits.tobytes())
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    typ = pa.string() if offsets[-1] < 2**31 - 1 else pa.large_string()
    offs = offsets.astype(np.int32) if typ == pa.string() else offsets
    arr = pa.Array.from_buffers(
        typ, n, [validity, pa.py_buffer(offs.tobytes()), pa.py_buffer(data)]
    )
    return arr if typ == pa.string() else arr.cast(pa.string())


def is_whole(value: Any) -> bool:
    """An integer an int64 column holds as it is: an ``int`` (not a ``bool``) or a float
    with no fraction, within the int64 range."""
    if type(value) is float:
        return value.is_integer() and -(2**63) <= value < 2**63
    return type(value) is int and -(2**63) <= value < 2**63


def _fix(value: Any, typ: pa.DataType) -> Any:
    """Best effort conversion of one odd value to ``typ`` (``None`` when impossible)."""
    if value is None:
        return None
    try:
        if pa.types.is_string(typ):
            return value if isinstance(value, str) else json.dumps(value)
        if pa.types.is_list(typ):
            inner = typ.value_type
            if isinstance(value, str) and pa.types.is_string(inner):
                return [value]
            if not isinstance(value, list):
                return None
            return [_fix(v, inner) for v in value]
        if pa.types.is_integer(typ):
            if isinstance(value, bool):
                return int(value)
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            if isinstance(value, int) and -(2**63) <= value < 2**63:
                return value
            return None
        if pa.types.is_floating(typ):
            return float(value) if isinstance(value, (int, float)) else float(str(value))
        if pa.types.is_boolean(typ):
            return value if isinstance(value, bool) else None
    except (TypeError, ValueError):
        return None
    return None


def _parse_ts(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def array(values: list[Any], typ: pa.DataType, changed: list[int] | None = None) -> pa.Array:
    """``pa.array(values, typ)``, converting odd elements one by one when that fails.

    ``changed``, when given, receives the index of every element that had to be converted
    (or became null); only the slow path, after ``pa.array`` failed, looks for them. Note
    that ``pa.array`` itself accepts ``True`` as ``1.0`` and truncates ``640.5`` into an
    integer column: callers that must see those check the types themselves.

    Timestamps arrive as ISO 8601 strings and are parsed into ``timestamp[us, UTC]``
    (strings without an offset are taken as UTC, unparsable ones become null).
    """
    if typ == TS:
        return _timestamps(array(values, pa.string()))
    try:
        return pa.array(values, typ)
    except _ERRORS:
        out = []
        for i, v in enumerate(values):
            try:
                pa.array([v], typ)
                out.append(v)
            except _ERRORS:
                out.append(_fix(v, typ))
                if changed is not None:
                    changed.append(i)
        return pa.array(out, typ)


def _timestamps(strings: pa.Array) -> pa.Array:
    try:
        return strings.cast(TS)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return pa.array([_parse_ts(v) for v in strings.to_pylist()], TS)


def attr_columns(
    objs: Sequence[Any],
    names: dict[str, str],
    schema: pa.Schema,
    changed: dict[str, list[int]] | None = None,
) -> dict[str, pa.Array]:
    """Columns of attributes of objects (``names``: column -> attribute), typed by
    ``schema``, as :func:`array` converts them; ``changed`` receives, by column, the
    indexes of the values :func:`array` had to convert.

    All columns are converted in one call when every value fits its type: each object's
    attributes as a tuple (one ``attrgetter`` call), the tuples as a struct array whose
    children are the columns (a third faster than a list per column: one pass over the
    objects instead of one per attribute). Otherwise each column is converted on its own,
    converting odd values one by one.
    """
    fields = [schema.field(column) for column in names]
    if len(fields) > 1:
        getter = attrgetter(*names.values())
        struct = pa.struct([(f.name, pa.string() if f.type == TS else f.type) for f in fields])
        try:
            children = pa.array(list(map(getter, objs)), struct).flatten()
        except _ERRORS:
            pass
        else:
            return {
                f.name: _timestamps(child) if f.type == TS else child
                for f, child in zip(fields, children, strict=True)
            }
    out: dict[str, pa.Array] = {}
    for column, attr in names.items():
        odd: list[int] | None = None if changed is None else []
        out[column] = array(list(map(attrgetter(attr), objs)), schema.field(column).type, odd)
        if odd and changed is not None:
            changed.setdefault(column, []).extend(odd)
    return out


def first_element(arr: pa.ChunkedArray | pa.Array) -> pa.Array:
    """First element of each list (null for null or empty lists)."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks() if arr.num_chunks else pa.array([], arr.type)
    n = len(arr)
    if n == 0:
        return pa.array([], arr.type.value_type)
    offsets = np.asarray(arr.offsets)
    lengths = np.diff(offsets)
    valid = np.asarray(arr.is_valid()) & (lengths > 0)
    idx = np.where(valid, offsets[:-1], 0)
    values = arr.values
    if len(values) == 0:
        return pa.nulls(n, arr.type.value_type)
    taken = values.take(pa.array(idx))
    return pc.if_else(pa.array(valid), taken, pa.scalar(None, arr.type.value_type))
