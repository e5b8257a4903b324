"""A region row's ``value``: ``value_json`` as it is, with the typed columns a user edited.

The rule, in one place: for each typed column (``labels``, ``label``, ``choices``,
``choice``, ``text``, ``x`` ... ``points``, ``rating``, ``number``, ``taxonomy``,
``datetime``, ``start`` / ``end`` (or ``start_text`` / ``end_text``), ``start_offset`` /
``end_offset``), the column is compared with what the reader makes of ``value_json``
(:func:`ls_frames.reading.values.value_columns`, the same code). Where they are equal the
value is ``value_json`` parsed, untouched (so its exact numbers and every key the tables do
not type come back); where a column differs, the column wins and its key is written into
the value. A null column never removes a key: it means "not given". A row without
``value_json`` (one a user or a builder made) gets its value from its typed columns alone.
The pixel columns (``x_px`` ..., ``points_px``) are derived, never read back: edit the
percent columns.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import msgspec
import pyarrow as pa

from ls_frames.errors import ConfigurationError
from ls_frames.reading.controls import LABEL_KEYS, SPAN_TYPES
from ls_frames.reading.schemas import SCHEMAS
from ls_frames.reading.values import VALUE_KEYS, value_columns

__all__ = ["EDITABLE", "build_values", "column_lists", "parse_json"]

_DECODE = msgspec.json.decode

#: typed region column -> the value key it is written to: the reader's own mapping, but
#: ``text`` (a span's ``text`` is written with its offsets, see below)
_KEYS = {column: key for column, key in VALUE_KEYS.items() if column != "text"}
#: every region column read back into ``value`` when it differs from ``value_json``
EDITABLE = (
    *_KEYS,
    "labels",
    "label",
    "choice",
    "text",
    *("start", "end", "start_text", "end_text"),
)


def _same(given: Any, derived: Any) -> bool:
    if isinstance(given, float) and given != given:  # NaN from a pandas float column
        return True
    return bool(given == derived)


def build_values(columns: dict[str, list[Any]], types: Sequence[Any]) -> list[dict[str, Any]]:
    """The ``value`` of each row (see the module docstring for the rule).

    Parameters
    ----------
    columns
        ``value_json`` and the :data:`EDITABLE` columns as Python lists (a missing column
        is all null).
    types
        Each row's ``type`` (it names the label key of a row without ``value_json``).
    """
    texts = columns["value_json"]
    n = len(texts)
    raws = [b"{}" if t is None else t.encode() for t in texts]
    parsed = parse_json(raws, "value_json")
    derived = {
        name: col.to_pylist()
        for name, col in value_columns(raws, SCHEMAS["regions"]).items()
        if name in EDITABLE
    }
    derived["label"] = [v[0] if v else None for v in derived["labels"]]
    derived["choice"] = [v[0] if v else None for v in derived["choices"]]
    # a column equal to its derived form as a whole (the common case) is not looked at again
    differ = [name for name in EDITABLE if columns[name] != derived[name]]
    values: list[dict[str, Any]] = []
    for i in range(n):
        value = parsed[i]
        if not isinstance(value, dict):
            values.append(value)  # a malformed value: as it was
            continue
        edited = {
            name: columns[name][i]
            for name in differ
            if columns[name][i] is not None and not _same(columns[name][i], derived[name][i])
        }
        if edited:
            _apply(value, edited, derived, i, types[i])
        values.append(value)
    return values


def _apply(
    value: dict[str, Any],
    edited: dict[str, Any],
    derived: dict[str, list[Any]],
    i: int,
    type_: Any,
) -> None:
    """Write the edited columns of row ``i`` into its value."""
    for name, key in _KEYS.items():
        if name in edited:
            value[key] = _plain(edited[name])
    for one, many in (("label", "labels"), ("choice", "choices")):
        if one in edited and many not in edited:
            rest = list(derived[many][i] or [])[1:]
            edited[many] = [edited[one], *rest]
    if "choices" in edited:
        value["choices"] = _plain(edited["choices"])
    if "labels" in edited:
        present = [k for k in LABEL_KEYS if k in value]
        key = present[0] if present else type_ if type_ in LABEL_KEYS else "labels"
        value[key] = _plain(edited["labels"])
    if "text" in edited:
        text = _plain(edited["text"])
        lone = isinstance(value.get("text"), str) or ("text" not in value and type_ in SPAN_TYPES)
        value["text"] = text[0] if lone and len(text) == 1 else text
    for end in ("start", "end"):
        if end in edited:
            value[end] = int(edited[end])
        elif f"{end}_text" in edited:
            text = edited[f"{end}_text"]
            try:
                value[end] = json.loads(text)
            except ValueError:  # a string such as an XPath
                value[end] = text


def parse_json(raws: list[bytes], column: str) -> list[Any]:
    """Each JSON text parsed (one decode for all); a text that is not JSON is a
    :class:`ConfigurationError` naming its row."""
    try:
        out: list[Any] = _DECODE(b"[" + b",".join(raws) + b"]")
        if len(out) == len(raws):
            return out
    except msgspec.DecodeError:
        pass
    for i, raw in enumerate(raws):  # find the culprit (or texts holding several values)
        try:
            _DECODE(raw)
        except msgspec.DecodeError as exc:
            raise ConfigurationError(f"row {i}: {column} is not JSON ({exc})") from None
    raise ConfigurationError(f"some {column} holds more than one JSON value")


def _plain(value: Any) -> Any:
    """Numpy arrays and scalars (from pandas cells) as Python lists and numbers."""
    if hasattr(value, "tolist"):
        return _plain(value.tolist())
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def column_lists(table: pa.Table, names: Sequence[str]) -> dict[str, list[Any]]:
    """These columns of ``table`` as Python lists (all null where a column is absent)."""
    n = table.num_rows
    return {
        name: table.column(name).to_pylist() if name in table.column_names else [None] * n
        for name in names
    }
