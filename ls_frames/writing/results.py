"""Region rows back into Label Studio result lists: the inverse of flattening.

A row of the ``regions`` table becomes one result item: ``id`` (``region_id``), ``type``,
``from_name``, ``to_name``, ``value`` (see :mod:`ls_frames.writing.values` for what wins
when a typed column was edited), ``original_width`` / ``original_height`` /
``image_rotation``, ``origin``, ``score``, ``readonly``, ``meta`` (``meta_json``),
``parentID`` (``parent_id``) and ``item_index``, each written only when not null. A row of
the ``relations`` table becomes ``{"from_id", "to_id", "type": "relation", "direction",
"labels"}``. Items are grouped by ``(task_id, source, source_id)`` and put in
``result_index`` order (rows without one follow, in row order), relations among the
regions where they were.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import msgspec
import pandas as pd
import pyarrow as pa

from ls_frames.errors import ConfigurationError
from ls_frames.reading.columns import array
from ls_frames.reading.schemas import SCHEMAS
from ls_frames.writing.values import EDITABLE, build_values, column_lists, parse_json

if TYPE_CHECKING:
    from ls_frames.reading.config import LabelConfig
    from ls_frames.tables.frames import Frames

__all__ = ["RESULT_COLUMNS", "as_arrow", "to_results"]

#: The columns of :func:`to_results`'s DataFrame.
RESULT_COLUMNS = ("task_id", "source", "source_id", "result", "model_version", "score")
#: item key -> region column, in the order items are written
_ITEM_KEYS = {
    "id": "region_id",
    "type": "type",
    "from_name": "from_name",
    "to_name": "to_name",
    "original_width": "original_width",
    "original_height": "original_height",
    "image_rotation": "image_rotation",
    "origin": "origin",
    "score": "score",
    "readonly": "readonly",
    "parentID": "parent_id",
    "item_index": "item_index",
}
#: item key -> the type of its column (what the reader made of the file's value)
_REGION_TYPES = {key: SCHEMAS["regions"].field(col).type for key, col in _ITEM_KEYS.items()}
_RELATION_TYPES = {
    key: SCHEMAS["relations"].field(key).type for key in ("from_id", "to_id", "direction", "labels")
}
_RELATION_TYPES["type"] = pa.string()
_KEY_COLUMNS = ("task_id", "source", "source_id", "result_index")
_ENCODE = msgspec.json.encode
_EXTRA = ("model_version", "prediction_score")


def as_arrow(rows: Any, table: str) -> tuple[pa.Table, dict[str, list[Any]]]:
    """Rows (a DataFrame or an Arrow table) in the schema of ``table``: columns cast to
    its types, absent ones null; plus the extra columns of :data:`_EXTRA` they carry."""
    if isinstance(rows, pd.DataFrame):
        rows = _from_pandas(rows, SCHEMAS[table])
    if isinstance(rows, pa.RecordBatch):
        rows = pa.Table.from_batches([rows])
    if not isinstance(rows, pa.Table):
        raise ConfigurationError(
            f"{table} rows must be a pandas DataFrame or an Arrow table, got {type(rows).__name__}"
        )
    schema = SCHEMAS[table]
    n = rows.num_rows
    arrays = []
    for field in schema:
        if field.name not in rows.column_names:
            arrays.append(pa.nulls(n, field.type))
            continue
        col = rows.column(field.name)
        if pa.types.is_dictionary(col.type):
            col = col.cast(col.type.value_type)
        try:
            arrays.append(col.cast(field.type))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
            raise ConfigurationError(
                f"{table} column {field.name!r} ({col.type}) cannot be read as {field.type}: {exc}"
            ) from None
    extra = {c: rows.column(c).to_pylist() for c in _EXTRA if c in rows.column_names}
    return pa.Table.from_arrays(arrays, schema=schema), extra


#: What pyarrow raises for a cell it cannot convert (a string where a list of labels is
#: expected raises ArrowNotImplementedError from its cast).
_ARROW_REFUSALS = (
    pa.ArrowInvalid,
    pa.ArrowTypeError,
    pa.ArrowNotImplementedError,
    TypeError,
    ValueError,
)


def _from_pandas(df: pd.DataFrame, schema: pa.Schema) -> pa.Table:
    """A DataFrame as Arrow, column by column; cells pandas left as numpy arrays (a list
    assigned with ``.at`` becomes a 0-d array) converted to Python values first."""
    names, arrays = [], []
    for name in df.columns:
        series = df[name]
        typ = schema.field(name).type if name in schema.names else None
        try:
            arr = pa.array(series, type=typ, from_pandas=True)
        except _ARROW_REFUSALS as exc:
            wrap = typ == pa.list_(pa.string())
            try:
                arr = pa.array([_cell(v, wrap) for v in series], type=typ, from_pandas=True)
            except _ARROW_REFUSALS:
                raise ConfigurationError(
                    f"column {name!r} ({series.dtype}) cannot be read as {typ}: {exc}"
                ) from None
        names.append(str(name))
        arrays.append(arr)
    return pa.Table.from_arrays(arrays, names=names)


def _cell(value: Any, wrap: bool) -> Any:
    if hasattr(value, "tolist"):
        value = value.tolist()
    if wrap and isinstance(value, str):  # a 0-d array of one string: a one-element list
        return [value]
    return value


def _region_items(regions: pa.Table) -> list[dict[str, Any]]:
    cols = column_lists(
        regions, [*_ITEM_KEYS.values(), "value_json", "meta_json", "extra_json", *EDITABLE]
    )
    values = build_values(cols, cols["type"])
    metas = cols["meta_json"]
    at = [i for i, m in enumerate(metas) if m is not None]
    parsed = dict(zip(at, parse_json([metas[i].encode() for i in at], "meta_json"), strict=True))
    extras = _extras(cols["extra_json"])
    items: list[dict[str, Any]] = []
    for i, value in enumerate(values):
        item: dict[str, Any] = {}
        for key, column in _ITEM_KEYS.items():
            v = cols[column][i]
            if v is not None:
                if key == "image_rotation" and type(v) is float and v.is_integer():
                    v = int(v)  # degrees, an integer as Label Studio writes them
                item[key] = v
            if key == "to_name":
                item["value"] = value
        if i in parsed:
            item["meta"] = parsed[i]
        if i in extras:
            row = {key: cols[column][i] for key, column in _ITEM_KEYS.items()}
            _put_back(item, extras[i], _REGION_TYPES, row)
        items.append(item)
    return items


def _extras(texts: list[Any]) -> dict[int, dict[str, Any]]:
    """The parsed ``extra_json`` objects, by row (rows without one left out)."""
    at = [i for i, t in enumerate(texts) if t is not None]
    out = dict(zip(at, parse_json([texts[i].encode() for i in at], "extra_json"), strict=True))
    odd = [i for i, e in out.items() if not isinstance(e, dict)]
    if odd:
        raise ConfigurationError(
            f"extra_json must be a JSON object (the item keys to put back); rows {odd[:10]} "
            "hold something else"
        )
    return out


def _put_back(
    item: dict[str, Any],
    extra: dict[str, Any],
    types: Mapping[str, pa.DataType],
    row: Mapping[str, Any],
) -> None:
    """Put ``extra``'s keys into ``item``: a key no column holds as it is; a key a column
    holds (whose JSON type the column changed, or an explicit null) as the file had it,
    unless the column was edited (it differs from what the reader makes of the file's
    value), when the column wins."""
    for key, value in extra.items():
        typ = types.get(key)
        if typ is None:
            item[key] = value
            continue
        given = row.get(key)
        if isinstance(given, float) and given != given:  # NaN from a pandas column
            given = None
        if typ == pa.list_(pa.string()) and isinstance(value, str):
            read = [value]  # the reader's one-element list of a lone label
        else:
            read = array([value], typ).to_pylist()[0]
        if given == read:
            item[key] = value


def _relation_items(relations: pa.Table) -> list[dict[str, Any]]:
    keys = ["from_id", "to_id", "direction", "labels"]
    cols = column_lists(relations, [*keys, "extra_json"])
    extras = _extras(cols["extra_json"])
    items = []
    for i in range(relations.num_rows):
        item: dict[str, Any] = {"from_id": cols["from_id"][i], "to_id": cols["to_id"][i]}
        item["type"] = "relation"
        for key in ("direction", "labels"):
            if cols[key][i] is not None:
                item[key] = cols[key][i]
        if i in extras:
            row = {key: cols[key][i] for key in keys}
            _put_back(item, extras[i], _RELATION_TYPES, {**row, "type": "relation"})
        items.append(item)
    return items


def to_results(
    regions: pd.DataFrame | pa.Table | Frames,
    relations: pd.DataFrame | pa.Table | None = None,
    *,
    model_version: str | None = None,
    score: float | None = None,
    label_config: str | LabelConfig | None = None,
    task_ids: Iterable[int] | Frames | None = None,
    as_json: bool = False,
) -> pd.DataFrame:
    """Region rows back into Label Studio result lists, one row per annotation, prediction
    or draft: the inverse of flattening.

    Parameters
    ----------
    regions
        The ``regions`` table (or a subset, or rows built with its columns, as the
        builders of :mod:`ls_frames.writing.builders` make), a pandas DataFrame or an
        Arrow table; or a :class:`~ls_frames.Frames` (its ``regions`` and ``relations``,
        and its ``predictions`` for ``model_version`` / ``score``). Absent columns are
        null. A typed column that differs from ``value_json`` wins (see
        :mod:`ls_frames.writing.values`).
    relations
        Rows of the ``relations`` table to put back in the same lists (only those whose
        ``(task_id, source, source_id)`` occur are useful; others make lists of their own).
    model_version, score
        The prediction's model version and score, for every prediction row; else taken from
        the rows' ``model_version`` / ``prediction_score`` columns, or a Frames'
        ``predictions`` table.
    label_config, task_ids
        When given, the lists are checked by :func:`~ls_frames.writing.check_results`
        before anything is returned.
    as_json
        ``result`` as each list's JSON text (a string column) instead of Python lists: the
        form to store in Parquet or CSV. Arrow would store lists of dicts as structs, whose
        absent keys come back as nulls, and refuses items whose values differ in type;
        :func:`~ls_frames.import_predictions` and ``ls-frames import-predictions`` take the
        text as it is.

    Returns
    -------
    pandas.DataFrame
        Columns ``task_id`` (null where the rows have none: a task of an import file),
        ``source`` (``annotation``, ``prediction`` or ``draft``; a row without one is a
        prediction), ``source_id`` (null for a new one), ``result`` (the list of items, in
        ``result_index`` order; its JSON text with ``as_json=True``), ``model_version`` and
        ``score`` (null where not known, always for annotations and drafts); in the order
        the lists first appear. An annotation with an empty result has no rows, so no list here.

    Raises
    ------
    ConfigurationError
        A column cannot be read as its type, or (with ``label_config`` or ``task_ids``) an
        item does not fit the config or its task is not known.

    Examples
    --------
    >>> frames = ls_frames.read_export("export.json")  # doctest: +SKIP
    >>> regions = frames.regions
    >>> regions.loc[regions.label == "cat", "label"] = "dog"  # doctest: +SKIP
    >>> results = ls_frames.to_results(regions, frames.relations)  # doctest: +SKIP
    """
    versions: Mapping[Any, tuple[Any, Any]] = {}
    if hasattr(regions, "regions") and hasattr(regions, "relations"):
        frames = regions
        regions, relations = frames.arrow["regions"], frames.arrow.get("relations")
        preds = frames.arrow.get("predictions")
        if preds is not None and preds.num_rows:
            cols = column_lists(preds, ["prediction_id", "model_version", "score"])
            versions = dict(
                zip(
                    cols["prediction_id"],
                    zip(cols["model_version"], cols["score"], strict=True),
                    strict=True,
                )
            )
    table, extra = as_arrow(regions, "regions")
    parts = [(table, _region_items(table), extra)]
    if relations is not None:
        rel, _ = as_arrow(relations, "relations")
        parts.append((rel, _relation_items(rel), {}))
    out = _group(parts, versions, model_version, score)
    if label_config is not None or task_ids is not None:
        from ls_frames.writing.checks import check_results

        check_results(out, label_config, task_ids=task_ids)
    if as_json:
        out["result"] = [_ENCODE(items).decode() for items in out["result"]]
    return out


def _group(
    parts: list[tuple[pa.Table, list[dict[str, Any]], dict[str, list[Any]]]],
    versions: Mapping[Any, tuple[Any, Any]],
    model_version: str | None,
    score: float | None,
) -> pd.DataFrame:
    """The items of every part gathered into one list per ``(task, source, source id)``.

    Lists without an id (those of an import file, or new ones) cannot be told apart by
    their keys: among region rows, a ``result_index`` that does not grow starts a new
    list; a relation joins the first list of its keys that lacks its ``result_index``.
    """
    groups: dict[tuple[Any, ...], list[tuple[tuple[Any, ...], dict[str, Any]]]] = {}
    used: dict[tuple[Any, ...], list[set[int]]] = {}  # per key without id: indexes by list
    known: dict[tuple[Any, ...], list[Any]] = {}
    seq = 0
    for part, (table, items, extra) in enumerate(parts):
        keys = column_lists(table, _KEY_COLUMNS)
        for i, item in enumerate(items):
            base = (keys["task_id"][i], keys["source"][i] or "prediction", keys["source_id"][i])
            index = keys["result_index"][i]
            key = (*base, _generation(used, base, index, relation=part > 0))
            order = (index is None, index if index is not None else 0, seq)
            seq += 1
            groups.setdefault(key, []).append((order, item))
            got = known.setdefault(key, [None, None])
            for k, column in enumerate(_EXTRA):
                if got[k] is None and column in extra:
                    got[k] = extra[column][i]
    rows = []
    for key, members in groups.items():
        members.sort(key=lambda m: m[0])
        version, pscore = known[key]
        if key[1] == "prediction":
            stored = versions.get(key[2], (None, None))
            version = model_version or version or stored[0]
            pscore = score if score is not None else pscore if pscore is not None else stored[1]
        else:
            version = pscore = None
        rows.append((*key[:3], [m[1] for m in members], version, pscore))
    df = pd.DataFrame(rows, columns=list(RESULT_COLUMNS))
    typed: pd.DataFrame = df.astype(
        {
            "task_id": "Int64",
            "source": "string",
            "source_id": "Int64",
            "model_version": "string",
            "score": "Float64",
        }
    )
    return typed


def _generation(
    used: dict[tuple[Any, ...], list[set[int]]],
    base: tuple[Any, ...],
    index: Any,
    *,
    relation: bool,
) -> int:
    """Which list of ``base`` (a key whose source id may be null) a row goes to."""
    if base[0] is not None and base[2] is not None:
        return 0
    lists = used.setdefault(base, [set()])
    if index is None:
        return len(lists) - 1
    if relation:
        k = next((k for k, s in enumerate(lists) if index not in s), len(lists) - 1)
    else:
        last = lists[-1]
        if last and index <= max(last):
            lists.append(set())
        k = len(lists) - 1
    lists[k].add(index)
    return k
