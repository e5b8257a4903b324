"""What of a result item its table cannot give back as it is, kept as a JSON object.

The ``regions`` and ``relations`` tables hold an item's known keys in typed columns; what
they cannot hold exactly goes to the row's ``extra_json``: keys no column holds (a
ranker's ``source``, say, or a relation's ``id``), explicit nulls (a null column reads as
an absent key), and values whose JSON type the column would change (an ``image_rotation``
of ``0.0`` in a float column written back as ``0``, an integer ``score`` in a float
column, an ``id`` that is a number in a string column). Writing back
(:func:`ls_frames.to_results`) puts every such key back, unless its column was edited.

Most exports have none: :data:`~ls_frames.reading.decode.StrictItem` decodes them without
a look at each key, and only a chunk it refuses is walked here.
"""

from __future__ import annotations

from collections.abc import Callable
from operator import attrgetter
from typing import Any

import msgspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ls_frames.reading.columns import raw_array

__all__ = [
    "REGION_KEYS",
    "RELATION_KEYS",
    "attach_extras",
    "item_extra",
    "region_extras",
    "relation_extras",
]

_ENCODE = msgspec.json.Encoder()
_UNSET = msgspec.UNSET
_EXTRA = attrgetter("extra")
#: Keys of a relation that a region item has no column for.
RELATION_ONLY = ("from_id", "to_id", "direction", "labels")
_GET = {key: attrgetter(key) for key in RELATION_ONLY}
#: Item attributes a relation row has no column for (``None`` / ``UNSET`` when absent).
_NOT_RELATION: tuple[str, ...] = ("id", "from_name", "to_name", "origin", "score", "readonly")
_NOT_RELATION += ("parentID", "item_index", "original_width", "original_height", "image_rotation")
_NOT_RELATION_BLANK = (None,) * len(_NOT_RELATION) + (_UNSET, _UNSET)
_NOT_RELATION_GET = attrgetter(*_NOT_RELATION, "value", "meta")


def _str(v: Any) -> bool:
    return type(v) is str


def _int(v: Any) -> bool:
    return type(v) is int and -(2**63) <= v < 2**63


def _float(v: Any) -> bool:
    return type(v) is float


def _bool(v: Any) -> bool:
    return type(v) is bool


def _strs(v: Any) -> bool:
    return type(v) is list and all(type(s) is str for s in v)


def _any(v: Any) -> bool:
    return True


#: Keys a region row gives back as they are, with the test a value must pass.
REGION_KEYS: dict[str, Callable[[Any], bool]] = {
    "id": _str,
    "type": _str,
    "from_name": _str,
    "to_name": _str,
    "value": _any,  # value_json: the exact text
    "meta": _any,  # meta_json: the exact text
    "origin": _str,
    "score": _float,  # an int reads as a float: noted
    "readonly": _bool,
    "parentID": _str,
    "item_index": _int,
    "original_width": _int,
    "original_height": _int,
    "image_rotation": _int,  # written back as an int when whole: a float is noted
}
#: Keys a relation row gives back as they are.
RELATION_KEYS: dict[str, Callable[[Any], bool]] = {
    "from_id": _str,
    "to_id": _str,
    "type": _str,
    "direction": _str,
    "labels": _strs,
}


def item_extra(item: dict[str, Any]) -> dict[str, Any] | None:
    """The keys of ``item`` (a decoded result item) its row cannot give back, or ``None``."""
    keys = RELATION_KEYS if item.get("type") == "relation" else REGION_KEYS
    out = {}
    for key, value in item.items():
        test = keys.get(key)
        if test is None or value is None or not test(value):
            out[key] = value
    return out or None


def attach_extras(tasks: list[Any], objs: list[Any]) -> list[Any]:
    """Set ``extra`` on every result item of ``tasks`` (decoded with
    :class:`~ls_frames.reading.decode.Item`) from ``objs``, the same tasks as plain
    objects; returns ``tasks``."""
    for task, obj in zip(tasks, objs, strict=True):
        for key in ("annotations", "predictions", "drafts"):
            structs = getattr(task, key)
            if not structs:
                continue
            for struct, raw in zip(structs, obj[key], strict=True):
                result = getattr(struct, "result", None)
                if not result:
                    continue
                for item, raw_item in zip(result, raw["result"], strict=True):
                    extra = item_extra(raw_item)
                    item.extra = (
                        msgspec.UNSET if extra is None else msgspec.Raw(_ENCODE.encode(extra))
                    )
    return tasks


def region_extras(items: list[Any], cols: dict[str, pa.Array]) -> pa.Array:
    """``extra_json`` of region items: the ``extra`` the slow decoder noted, plus, for items
    the fast decoder took (it has no look at them), relation keys and integer scores (only
    a whole score, seen in the column already built, needs a look at its item)."""
    n = len(items)
    at: set[int] = set()
    for key in RELATION_ONLY:
        if any(map(_GET[key], items)):  # stops at the first one (there is none, as a rule)
            at.update(i for i, v in enumerate(map(_GET[key], items)) if v is not None)
    score = cols["score"]
    if score.null_count < n:
        whole = pc.equal(score, pc.floor(score)).fill_null(False)
        if pc.any(whole).as_py():
            ints = np.flatnonzero(np.asarray(whole)).tolist()
            at.update(i for i in ints if type(items[i].score) is int)
    if getattr(types_of(items), "strict", False):  # the fast decoder's: no ``extra``
        extras: list[Any] = [_UNSET] * n
    else:
        extras = list(map(_EXTRA, items))
    for i in at:
        if extras[i] is _UNSET:
            extras[i] = _extra_of(items[i])
    return raw_array(extras)


def relation_extras(items: list[Any]) -> pa.Array:
    """``extra_json`` of relation items (few: each is looked at)."""
    extras = list(map(_EXTRA, items))
    for i, got in enumerate(map(_NOT_RELATION_GET, items)):
        if got != _NOT_RELATION_BLANK and extras[i] is _UNSET:
            extras[i] = _extra_of(items[i])
    return raw_array(extras)


def types_of(items: list[Any]) -> type | None:
    """The one type of all ``items``, or ``None`` when they are of several."""
    types = set(map(type, items))
    return types.pop() if len(types) == 1 else None


def _extra_of(item: Any) -> Any:
    """``extra`` of an item the fast decoder took (its absent keys are ``None``)."""
    keys = {k: getattr(item, k) for k in item.__struct_fields__ if k != "extra"}
    found = item_extra({k: v for k, v in keys.items() if v is not None and v is not _UNSET})
    return _UNSET if found is None else msgspec.Raw(_ENCODE.encode(found))
