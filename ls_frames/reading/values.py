"""Typed columns from the ``value`` of result items, decoded in one msgspec call per chunk.

The values of a chunk are decoded into a struct holding only the keys that occur in the
export (learnt as we go): ``forbid_unknown_fields`` makes msgspec report a key the struct
does not know yet, which is then added (once per process). Keys we do not type (``rle``,
``sequence``, ...) are kept as :class:`msgspec.Raw`, so they cost almost nothing; absent
keys cost nothing at all. ``value_json`` is cut from the file's bytes elsewhere, so this
module never has to be lossless.

Coordinates, offsets, ``rating`` and ``number`` are decoded as numbers (:data:`NUMBER_KEYS`):
when a value holds anything else there (``"x": "12"``, ``true``), the decode fails and the
chunk is decoded again with every typed key as ``Any``, as before; only then are the
columns checked value by value, so a clean export pays nothing for the check.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from operator import attrgetter
from types import MappingProxyType
from typing import Annotated, Any

import msgspec
import pyarrow as pa
import pyarrow.compute as pc

from ls_frames.reading.columns import array, attr_columns, is_whole, json_text
from ls_frames.reading.controls import LABEL_KEYS

__all__ = [
    "COORDINATES",
    "LABEL_KEYS",
    "NUMBER_KEYS",
    "TYPED_KEYS",
    "VALUE_KEYS",
    "value_columns",
]

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
#: typed region column -> the key of ``value`` it is read from (the writing side writes it
#: back to the same key)
VALUE_KEYS: Mapping[str, str] = MappingProxyType(_COLUMNS)
_Int64 = Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)]
_Number = int | float  # as fast to decode as Any (``float`` alone: a third slower)
#: Value keys decoded as numbers (and the type msgspec checks them against).
NUMBER_KEYS: dict[str, Any] = {
    **dict.fromkeys(("x", "y", "width", "height", "rotation", "radiusX", "radiusY"), _Number),
    **dict.fromkeys(("rating", "number"), _Number),
    **dict.fromkeys(("startOffset", "endOffset"), _Int64),
    "points": list[list[_Number]],
}
#: The region columns that hold coordinates (a value there that is not a number is a
#: malformed item of its own kind; see :mod:`ls_frames.reading.report`).
COORDINATES = frozenset(
    {"x", "y", "width", "height", "rotation", "radius_x", "radius_y", "points"}
    | {"start_offset", "end_offset"}
)
_UNKNOWN = re.compile(r"unknown field `(.*?)`")
_UNSET = msgspec.UNSET


# Learning stops (and the struct switches to "every typed key, skip the rest") when a value
# key is odd (control characters, quotes, very long) or there are too many of them: exports
# whose values carry free-form keys must not grow the struct without bound.
_PLAIN_KEY = re.compile(r"[A-Za-z0-9_.:\-]{1,64}")
_MAX_LEARNT_KEYS = 64


class _Shape:
    """A struct type for one set of keys, its list decoders and key -> attribute names.

    ``closed`` shapes report unknown keys (so they can be learnt); the open shape skips them.
    ``decoder`` checks :data:`NUMBER_KEYS` are numbers; ``lenient`` takes any JSON there.
    """

    def __init__(self, keys: frozenset[str], *, closed: bool = True) -> None:
        self.keys = keys
        self.closed = closed
        ordered = sorted(keys)
        self.attr = {k: f"f{i}" for i, k in enumerate(ordered)}
        checked = self._struct(ordered, checked=True)
        lenient = self._struct(ordered, checked=False)
        self.empty = lenient()
        self.decoder = msgspec.json.Decoder(list[checked | None])  # type: ignore[valid-type]
        self.lenient = msgspec.json.Decoder(list[lenient | None])  # type: ignore[valid-type]

    def _struct(self, ordered: list[str], *, checked: bool) -> Any:
        def kind(k: str) -> Any:
            if k not in TYPED_KEYS:
                return msgspec.Raw
            return NUMBER_KEYS[k] | None if checked and k in NUMBER_KEYS else Any

        return msgspec.defstruct(
            "Value",
            [(self.attr[k], kind(k), None) for k in ordered],
            rename={a: k for k, a in self.attr.items()},
            forbid_unknown_fields=self.closed,
            gc=False,
        )


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


def _decode(raws: list[Any]) -> tuple[_Shape, list[Any], bool]:
    """The shape, the decoded values (``None`` for a value that is not an object) and
    whether the lenient decoder was needed (some number key holds something else, or
    some value is not an object)."""
    global _shape
    try:
        doc = b"[" + b",".join(raws) + b"]"
    except TypeError:  # some item has no value
        doc = b"[" + b",".join(b"null" if r is _UNSET else r for r in raws) + b"]"
    lenient = False
    for _ in range(10_000):
        try:
            decoder = _shape.lenient if lenient else _shape.decoder
            return _shape, decoder.decode(doc), lenient
        except msgspec.ValidationError as exc:
            m = _UNKNOWN.search(str(exc))
            if m is not None:
                _shape = _learn({m.group(1)})
            elif lenient:
                break  # a value that is not an object: one by one below
            else:
                lenient = True  # an odd number, or a value that is not an object
    out: list[Any] = []
    for r in raws:
        try:
            got = _shape.lenient.decode(b"[" + bytes(r) + b"]")[0] if r is not _UNSET else None
        except msgspec.ValidationError as exc:
            m = _UNKNOWN.search(str(exc))
            if m is None:
                got = None
            else:  # unknown keys in a lone value: learn them all through the generic path
                return _decode_learning(raws)
        out.append(got)
    return _shape, out, True


def _decode_learning(raws: list[Any]) -> tuple[_Shape, list[Any], bool]:
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


def _column(
    values: list[Any], attr: str, typ: pa.DataType, wrapped: list[int] | None = None
) -> list[Any]:
    """The values of one key; for a list-of-strings column a lone string becomes a
    one-element list (``pa.array`` would split it into characters): the ``text`` of a
    text span (``Labels`` on ``Text``) is the span's string, not a list. ``wrapped``
    receives the indexes of those strings."""
    got = list(map(attrgetter(attr), values))
    if typ == _STRINGS and str in set(map(type, got)):
        if wrapped is not None:
            wrapped.extend(i for i, v in enumerate(got) if type(v) is str)
        return [[v] if type(v) is str else v for v in got]
    return got


def value_columns(
    raws: list[Any], schema: pa.Schema, changed: dict[str, list[int]] | None = None
) -> dict[str, pa.Array]:
    """Typed region columns (``x`` ... ``labels``, ``start``, ``end``) of these values.

    ``start`` / ``end`` are the value's integers (character offsets of a text span), null
    for anything else; ``start_text`` / ``end_text`` hold the JSON text of every value
    (seconds of audio, the XPath of a paragraphs or hypertext span).

    ``labels`` is the value's label list: the first present of :data:`LABEL_KEYS`
    (``rectanglelabels``, ``labels``, ``polygonlabels``, ...); values hold only one.

    ``changed``, when given, receives by column the indexes of values that did not fit
    it: converted (``"12"`` -> 12.0, ``true`` -> 1.0) or dropped (null). ``start`` / ``end``
    are never in it (their ``_text`` column keeps any value).
    """
    shape, decoded, lenient = _decode(raws)
    values = decoded if None not in decoded else [shape.empty if v is None else v for v in decoded]
    n = len(values)
    cols: dict[str, pa.Array] = {}
    # numbers (and nested lists) in one conversion; lists of strings one by one (a lone
    # string there is a one-element list, see _column)
    plain = {c: shape.attr[k] for c, k in _COLUMNS.items() if k in shape.attr}
    if lenient and changed is not None:
        _check_numbers(values, shape, changed)
    for column in [c for c in plain if schema.field(c).type == _STRINGS]:
        odd: list[int] = []
        # a text span's ``text`` is a string; a lone string elsewhere is converted
        got = _column(values, plain.pop(column), _STRINGS, None if column == "text" else odd)
        cols[column] = array(got, _STRINGS, odd)
        _note(changed, column, odd)
    cols.update(attr_columns(values, plain, schema, changed))
    for column in _COLUMNS:
        if column not in cols:
            cols[column] = pa.nulls(n, schema.field(column).type)
    label_arrays = []
    for k in LABEL_KEYS:
        if k in shape.attr:
            odd = []
            got = _column(values, shape.attr[k], _STRINGS, odd)
            label_arrays.append(array(got, _STRINGS, odd))
            _note(changed, "labels", odd)
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


def _note(changed: dict[str, list[int]] | None, column: str, odd: list[int]) -> None:
    if odd and changed is not None:
        changed.setdefault(column, []).extend(odd)


def _is_number(value: Any) -> bool:
    return type(value) is float or type(value) is int


def _is_points(value: Any) -> bool:
    return type(value) is list and all(type(p) is list and all(map(_is_number, p)) for p in value)


_CHECKS = {
    **{k: _is_number for k in NUMBER_KEYS},
    "startOffset": is_whole,
    "endOffset": is_whole,
    "points": _is_points,
}
_COLUMN_OF = {k: c for c, k in _COLUMNS.items()}


def _check_numbers(values: list[Any], shape: _Shape, changed: dict[str, list[int]]) -> None:
    """The slow path's check of :data:`NUMBER_KEYS` (the lenient decoder let anything
    through): ``pa.array`` would take ``true`` as 1.0 and ``3.5`` as offset 3 silently."""
    for key, ok in _CHECKS.items():
        attr = shape.attr.get(key)
        if attr is not None:
            got = map(attrgetter(attr), values)
            odd = [i for i, v in enumerate(got) if v is not None and not ok(v)]
            _note(changed, _COLUMN_OF[key], odd)
