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
from typing import Any

import msgspec

__all__ = ["REGION_KEYS", "RELATION_KEYS", "attach_extras", "item_extra"]

_ENCODE = msgspec.json.Encoder()


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
                    item.extra = msgspec.UNSET if extra is None else msgspec.Raw(_ENCODE.encode(extra))
    return tasks
