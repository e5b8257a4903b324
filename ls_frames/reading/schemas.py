"""The Arrow schema of every table (so an empty export still has typed columns).

Timestamps are ``timestamp[us, UTC]``. JSON text columns end in ``_json``. ``start`` and
``end`` of a region are int64 where the export holds integers (the character offsets of a
text span), null otherwise; ``start_text`` / ``end_text`` are the JSON text of every value
(a number of seconds for audio, an XPath-like string for paragraphs and hypertext), with
``start_offset``/``end_offset`` holding the ints of ``startOffset`` / ``endOffset`` where
present. ``label`` and ``choice`` are the first element of ``labels`` / ``choices`` (so
SQL over the Parquet files needs no list indexing); ``points_px`` is ``points`` in pixels
where ``original_width`` / ``original_height`` are known. ``tasks`` gains one
``data.<key>`` string column per key of ``data`` met in the export (strings as they are,
other values as JSON text); the set is only known at the end, see
:func:`expand_data_columns`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import msgspec
import pyarrow as pa
import pyarrow.compute as pc

from ls_frames.errors import ConfigurationError

__all__ = ["SCHEMAS", "TABLES", "choose_tables", "expand_data_columns", "tasks_schema"]

TS = pa.timestamp("us", tz="UTC")
_STR = pa.string()
_I64 = pa.int64()
_F64 = pa.float64()
_BOOL = pa.bool_()
_STRS = pa.list_(pa.string())

TASKS = pa.schema(
    [
        ("task_id", _I64),
        ("inner_id", _I64),
        ("project_id", _I64),
        ("created_at", TS),
        ("updated_at", TS),
        ("data_json", _STR),
        ("meta_json", _STR),
        ("total_annotations", _I64),
        ("cancelled_annotations", _I64),
        ("total_predictions", _I64),
        ("comment_count", _I64),
        ("unresolved_comment_count", _I64),
        ("last_comment_updated_at", TS),
        ("file_upload", _STR),
        ("updated_by", _I64),
        ("allow_skip", _BOOL),
        ("agreement", _F64),
        ("comment_authors_json", _STR),
        ("annotation_count", _I64),
        ("prediction_count", _I64),
        ("draft_count", _I64),
    ]
)

ANNOTATIONS = pa.schema(
    [
        ("annotation_id", _I64),
        ("task_id", _I64),
        ("project_id", _I64),
        ("completed_by_id", _I64),
        ("completed_by_email", _STR),
        ("was_cancelled", _BOOL),
        ("ground_truth", _BOOL),
        ("lead_time", _F64),
        ("created_at", TS),
        ("updated_at", TS),
        ("draft_created_at", TS),
        ("parent_prediction", _I64),
        ("parent_annotation", _I64),
        ("last_action", _STR),
        ("unique_id", _STR),
        ("result_count", _I64),
        ("updated_by", _I64),
        ("import_id", _I64),
        ("bulk_created", _BOOL),
        ("last_created_by", _I64),
        ("prediction_json", _STR),
        ("n_results", _I64),
    ]
)

PREDICTIONS = pa.schema(
    [
        ("prediction_id", _I64),
        ("task_id", _I64),
        ("project_id", _I64),
        ("model_version", _STR),
        ("score", _F64),
        ("cluster", _I64),
        ("mislabeling", _F64),
        ("created_at", TS),
        ("updated_at", TS),
        ("model", _I64),
        ("model_run", _I64),
        ("n_results", _I64),
    ]
)

DRAFTS = pa.schema(
    [
        ("draft_id", _I64),
        ("task_id", _I64),
        ("annotation_id", _I64),
        ("user", _STR),
        ("created_username", _STR),
        ("lead_time", _F64),
        ("was_postponed", _BOOL),
        ("import_id", _I64),
        ("created_at", TS),
        ("updated_at", TS),
        ("n_results", _I64),
    ]
)

REGIONS = pa.schema(
    [
        ("task_id", _I64),
        ("source", _STR),
        ("source_id", _I64),
        ("result_index", _I64),
        ("region_id", _STR),
        ("from_name", _STR),
        ("to_name", _STR),
        ("type", _STR),
        ("value_json", _STR),
        ("labels", _STRS),
        ("label", _STR),
        ("choices", _STRS),
        ("choice", _STR),
        ("text", _STRS),
        ("rating", _F64),
        ("number", _F64),
        ("taxonomy", pa.list_(_STRS)),
        ("datetime", _STR),
        ("x", _F64),
        ("y", _F64),
        ("width", _F64),
        ("height", _F64),
        ("rotation", _F64),
        ("radius_x", _F64),
        ("radius_y", _F64),
        ("points", pa.list_(pa.list_(_F64))),
        ("points_px", pa.list_(pa.list_(_F64))),
        ("start", _I64),
        ("end", _I64),
        ("start_text", _STR),
        ("end_text", _STR),
        ("start_offset", _I64),
        ("end_offset", _I64),
        ("original_width", _I64),
        ("original_height", _I64),
        ("image_rotation", _F64),
        ("x_px", _F64),
        ("y_px", _F64),
        ("width_px", _F64),
        ("height_px", _F64),
        ("parent_id", _STR),
        ("origin", _STR),
        ("score", _F64),
        ("readonly", _BOOL),
        ("item_index", _I64),
        ("meta_json", _STR),
        ("extra_json", _STR),
    ]
)

RELATIONS = pa.schema(
    [
        ("task_id", _I64),
        ("source", _STR),
        ("source_id", _I64),
        ("result_index", _I64),
        ("from_id", _STR),
        ("to_id", _STR),
        ("direction", _STR),
        ("labels", _STRS),
        ("extra_json", _STR),
    ]
)

SCHEMAS: dict[str, pa.Schema] = {
    "tasks": TASKS,
    "annotations": ANNOTATIONS,
    "predictions": PREDICTIONS,
    "drafts": DRAFTS,
    "regions": REGIONS,
    "relations": RELATIONS,
}
TABLES: tuple[str, ...] = tuple(SCHEMAS)


def choose_tables(tables: Iterable[str] | None) -> tuple[str, ...]:
    """The requested tables in :data:`TABLES` order (all when ``None``); an unknown name
    is a ``ValueError`` listing the choices."""
    chosen = tuple(TABLES if tables is None else tables)
    unknown = set(chosen) - set(TABLES)
    if unknown:
        raise ConfigurationError(f"unknown tables {sorted(unknown)}; choose from {list(TABLES)}")
    return tuple(t for t in TABLES if t in chosen)


_DATA_LIST = msgspec.json.Decoder(list[dict[str, msgspec.Raw]])
_DATA_VALUES = msgspec.json.Decoder(list[dict[str, Any]])


def _objects_doc(texts: pa.ChunkedArray) -> bytes:
    """``[data, data, ...]`` from a ``data_json`` column, ``{}`` for a null or a ``data``
    that is not an object; joined by Arrow, without a Python string per row."""
    texts = texts.cast(pa.large_string())  # the joined text may pass 2 GiB
    is_object = pc.fill_null(pc.starts_with(texts, "{"), False)
    objects = pc.if_else(is_object, texts, pa.scalar("{}", pa.large_string()))
    if isinstance(objects, pa.ChunkedArray):
        objects = objects.combine_chunks() if objects.num_chunks else pa.array([], objects.type)
    one_list = pa.LargeListArray.from_arrays(pa.array([0, len(objects)], pa.int64()), objects)
    joined = pc.binary_join(one_list, pa.scalar(",", pa.large_string()))[0]
    return b"".join((b"[", joined.as_buffer() or b"", b"]"))


def tasks_schema(data_keys: Iterable[str]) -> pa.Schema:
    """The tasks schema with one ``data.<key>`` string column per key, in the given order."""
    return pa.schema([*TASKS, *((f"data.{k}", _STR) for k in data_keys)])


def expand_data_columns(table: pa.Table | pa.RecordBatch, data_keys: Iterable[str]) -> pa.Table:
    """Add the ``data.<key>`` columns (from ``data_json``) to a tasks table or batch.

    Strings are taken as they are, ``null`` and absent keys as null, any other value as its
    exact JSON text.
    """
    keys = list(data_keys)
    if isinstance(table, pa.RecordBatch):
        table = pa.Table.from_batches([table])
    if not keys:
        return table
    doc = _objects_doc(table.column("data_json"))
    parsed = _DATA_VALUES.decode(doc)
    raws: list[dict[str, msgspec.Raw]] | None = None  # decoded when a value is not a string
    for k in keys:
        values = [p.get(k) for p in parsed]
        odd = [i for i, v in enumerate(values) if v is not None and type(v) is not str]
        if odd:
            raws = _DATA_LIST.decode(doc) if raws is None else raws
            for i in odd:
                values[i] = bytes(raws[i][k]).decode()
        table = table.append_column(pa.field(f"data.{k}", _STR), pa.array(values, _STR))
    return table
