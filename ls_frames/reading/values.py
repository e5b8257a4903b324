"""Typed columns from the ``value`` of result items, decoded in one msgspec call per chunk.

The values of a chunk are decoded into a struct holding only the keys that occur in the
export (learnt as we go): ``forbid_unknown_fields`` makes msgspec report a key the struct
does not know yet, which is then added (once per process). Keys we do not type (``rle``,
``sequence``, ...) are kept as :class:`msgspec.Raw`, so they cost almost nothing; absent
keys cost nothing at all. ``value_json`` is cut from the file's bytes elsewhere, so this
module never has to be lossless.
"""

from __future__ import annotations

import re
from operator import attrgetter
from typing import Any

import msgspec
import pyarrow as pa
import pyarrow.compute as pc

from ls_frames.reading.columns import array, attr_columns, json_text
from ls_frames.reading.controls import LABEL_KEYS

__all__ = ["LABEL_KEYS", "TYPED_KEYS", "value_columns"]

# column name -> value key
_COLUMNS = {
    "x": "x",
    "y": "y",
    "width": "width",
    "height": "height",
    "rotation": "rotation",
    "radius_x": "radiusX",
    "radius_y": "radiusY",
    "points": "points",
    "choices": "choices",
    "text": "text",
    "rating": "rating",
    "number": "number",
    "taxonomy": "taxonomy",
    "datetime": "datetime",
    "start_offset": "startOffset",
    "end_offset": "endOffset",
}
TYPED_KEYS = frozenset({*_COLUMNS.values(), *LABEL_KEYS, "start", "end"})
_UNKNOWN = re.compile(r"unknown field `(.*?)`")
_UNSET = msgspec.UNSET


# Learning stops (and the struct switches to "every typed key, skip the rest") when a value
# key is odd (control characters, quotes, very long) or there are too many of them: exports
# whose values carry free-form keys must not grow the struct without bound.
_PLAIN_KEY = re.compile(r"[A-Za-z0-9_.:\-]{1,64}")
_MAX_LEARNT_KEYS = 64


class _Shape:
    """A struct type for one set of keys, its list decoder and key -> attribute names.

    ``closed`` shapes report unknown keys (so they can be learnt); the open shape skips them.
    """

    def __init__(self, keys: frozenset[str], *, closed: bool = True) -> None:
        self.keys = keys
        self.closed = closed
        ordered = sorted(keys)
        self.attr = {k: f"f{i}" for i, k in enumerate(ordered)}
        fields = [(self.attr[k], Any if k in TYPED_KEYS else msgspec.Raw, None) for k in ordered]
        self.struct: Any = msgspec.defstruct(
            "Value",
            fields,
            rename={a: k for k, a in self.attr.items()},
            forbid_unknown_fields=closed,
            gc=False,
        )
        self.empty = self.struct()
        self.decoder = msgspec.json.Decoder(list[self.struct | None])  # type: ignore[name-defined]


_shape = _Shape(frozenset({"x", "y", "width", "height", "rotation", "choices", "text"}))


def _learn(keys: set[str]) -> _Shape:
    """The shape for ``keys`` added to the current one, or the open shape when they are odd."""
    if _shape.closed and keys <= _shape.keys:
        return _open_shape()  # the key was not read back as reported: stop learning
    wanted = _shape.keys | keys
    if (
        not _shape.closed
        or len(wanted) > _MAX_LEARNT_KEYS
        or not all(k in TYPED_KEYS or _PLAIN_KEY.fullmatch(k) for k in keys)
    ):
        return _open_shape()
    return _Shape(frozenset(wanted))


def _open_shape() -> _Shape:
    keys = frozenset(k for k in _shape.keys if k in TYPED_KEYS or _PLAIN_KEY.fullmatch(k))
    return _Shape(keys | TYPED_KEYS, closed=False)


def _decode(raws: list[Any]) -> tuple[_Shape, list[Any]]:
    global _shape
    try:
        doc = b"[" + b",".join(raws) + b"]"
    except TypeError:  # some item has no value
        doc = b"[" + b",".join(b"null" if r is _UNSET else r for r in raws) + b"]"
    for _ in range(10_000):
        try:
            return _shape, _shape.decoder.decode(doc)
        except msgspec.ValidationError as exc:
            m = _UNKNOWN.search(str(exc))
            if m is None:
                break  # a value that is not an object: one by one below
            _shape = _learn({m.group(1)})
    out = []
    for r in raws:
        try:
            got = _shape.decoder.decode(b"[" + bytes(r) + b"]")[0] if r is not _UNSET else None
        except msgspec.ValidationError as exc:
            m = _UNKNOWN.search(str(exc))
            if m is None:
                got = None
            else:  # unknown keys in a lone value: learn them all through the generic path
                return _decode_learning(raws)
        out.append(got)
    return _shape, out


def _decode_learning(raws: list[Any]) -> tuple[_Shape, list[Any]]:
    global _shape
    keys: set[str] = set()
    for r in raws:
        if r is not _UNSET:
            obj = msgspec.json.decode(r)
            if isinstance(obj, dict):
                keys.update(obj)
    _shape = _learn(keys - _shape.keys) if keys - _shape.keys else _open_shape()
    return _decode(raws)


_STRINGS = pa.list_(pa.string())


def _column(values: list[Any], attr: str, typ: pa.DataType) -> list[Any]:
    """The values of one key; for a list-of-strings column a lone string becomes a
    one-element list (``pa.array`` would split it into characters): the ``text`` of a
    text span (``Labels`` on ``Text``) is the span's string, not a list."""
    got = list(map(attrgetter(attr), values))
    if typ == _STRINGS and str in set(map(type, got)):
        return [[v] if type(v) is str else v for v in got]
    return got


def value_columns(raws: list[Any], schema: pa.Schema) -> dict[str, pa.Array]:
    """Typed region columns (``x`` ... ``labels``, ``start``, ``end``) of these values.

    ``start`` / ``end`` are the value's integers (character offsets of a text span), null
    for anything else; ``start_text`` / ``end_text`` hold the JSON text of every value
    (seconds of audio, the XPath of a paragraphs or hypertext span).

    ``labels`` is the value's label list: the first present of :data:`LABEL_KEYS`
    (``rectanglelabels``, ``labels``, ``polygonlabels``, ...); values hold only one.
    """
    shape, decoded = _decode(raws)
    values = decoded if None not in decoded else [shape.empty if v is None else v for v in decoded]
    n = len(values)
    cols: dict[str, pa.Array] = {}
    # numbers (and nested lists) in one conversion; lists of strings one by one (a lone
    # string there is a one-element list, see _column)
    plain = {c: shape.attr[k] for c, k in _COLUMNS.items() if k in shape.attr}
    for column in [c for c in plain if schema.field(c).type == _STRINGS]:
        cols[column] = array(_column(values, plain.pop(column), _STRINGS), _STRINGS)
    cols.update(attr_columns(values, plain, schema))
    for column in _COLUMNS:
        if column not in cols:
            cols[column] = pa.nulls(n, schema.field(column).type)
    label_arrays = [
        array(_column(values, shape.attr[k], _STRINGS), _STRINGS)
        for k in LABEL_KEYS
        if k in shape.attr
    ]
    if not label_arrays:
        cols["labels"] = pa.nulls(n, pa.list_(pa.string()))
    else:
        cols["labels"] = label_arrays[0] if len(label_arrays) == 1 else pc.coalesce(*label_arrays)
    for column in ("start", "end"):
        attr = shape.attr.get(column)
        if attr is None:
            cols[column] = pa.nulls(n, pa.int64())
            cols[f"{column}_text"] = pa.nulls(n, pa.string())
        else:
            got = list(map(attrgetter(attr), values))
            cols[f"{column}_text"] = pa.array([json_text(v) for v in got], pa.string())
            cols[column] = pa.array(
                [v if type(v) is int and _I64_MIN <= v <= _I64_MAX else None for v in got],
                pa.int64(),
            )
    return cols


_I64_MIN, _I64_MAX = -(2**63), 2**63 - 1
