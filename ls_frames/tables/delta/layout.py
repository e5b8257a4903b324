"""How a Delta dataset lays its rows out: the tables' schemas with the range column,
rows conformed to them and the order tables are committed in.

Shared by :mod:`~ls_frames.tables.delta.write` (full writes and refreshes) and
:mod:`~ls_frames.tables.delta.compact` (re-layout): an internal API, documented so that
the two rewrite rows the same way. Every table is partitioned by
``task_range = task_id // tasks_per_file`` (:data:`~ls_frames.tables.delta.state.RANGE_COLUMN`).
"""

from __future__ import annotations

from collections.abc import Iterable

import pyarrow as pa
import pyarrow.compute as pc

from ls_frames.reading import SCHEMAS, TABLES, tasks_schema
from ls_frames.tables.delta.state import RANGE_COLUMN

__all__ = ["commit_order", "conform", "target_schema"]


def target_schema(name: str, keys: list[str]) -> pa.Schema:
    """The Delta schema of table ``name``: ls_frames' schema (for ``tasks``, with the data
    ``keys`` as ``data.*`` columns), without metadata, plus the range column."""
    schema = tasks_schema(keys) if name == "tasks" else SCHEMAS[name]
    return schema.remove_metadata().append(pa.field(RANGE_COLUMN, pa.int64()))


def conform(table: pa.Table, schema: pa.Schema, width: int, sort: bool = True) -> pa.Table:
    """``table`` with exactly ``schema``'s columns (missing ones null, types cast, the
    range column computed for ``width`` tasks a range), sorted by ``task_id`` (stable)
    unless ``sort`` is false."""
    columns = []
    for f in schema:
        if f.name == RANGE_COLUMN:
            ids = table.column("task_id").cast(pa.int64())
            columns.append(
                pc.floor(pc.divide(ids.cast(pa.float64()), float(width))).cast(pa.int64())
            )
            continue
        i = table.schema.get_field_index(f.name)
        column = table.column(i) if i >= 0 else pa.nulls(table.num_rows, f.type)
        columns.append(column if column.type == f.type else column.cast(f.type))
    out = pa.Table.from_arrays(columns, schema=schema)
    if sort and out.num_rows > 1:
        ids = out.column("task_id")
        if not pc.all(pc.greater_equal(ids.slice(1), ids.slice(0, out.num_rows - 1))).as_py():
            out = out.take(pc.sort_indices(out, [("task_id", "ascending")]))
    return out


def commit_order(names: Iterable[str]) -> list[str]:
    """The tables of ``names`` in commit order: the others in ``TABLES`` order, ``tasks``
    last (its commit records the dataset version)."""
    return [n for n in TABLES if n in set(names) and n != "tasks"] + ["tasks"]
