"""Read a Delta dataset version into :class:`~ls_frames.Frames`."""

from __future__ import annotations

import os
from collections.abc import Iterable
from datetime import datetime
from typing import Literal

import pyarrow as pa
import pyarrow.compute as pc

from ls_frames.errors import ConfigurationError
from ls_frames.reading import SCHEMAS, TABLES, LabelConfig, resolve_label_config, tasks_schema
from ls_frames.tables.delta.state import (
    DeltaState,
    delta_state,
    files_dataset,
    open_table,
    table_uri,
)
from ls_frames.tables.dtypes import DtypeBackend, check_tables, types_mapper
from ls_frames.tables.frames import Frames

__all__ = ["read_delta"]


def _schema(name: str, state: DeltaState) -> pa.Schema:
    return tasks_schema(list(state.data_keys)) if name == "tasks" else SCHEMAS[name]


def _table(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """Delta's columns back in ls_frames' schema (list fields named ``item``, no range
    column), rows in ``task_id`` order."""
    columns = []
    for f in schema:
        i = table.schema.get_field_index(f.name)
        column = table.column(i) if i >= 0 else pa.nulls(table.num_rows, f.type)
        columns.append(column if column.type == f.type else column.cast(f.type))
    out = pa.Table.from_arrays(columns, schema=schema)
    if out.num_rows > 1:
        out = out.take(pc.sort_indices(out, [("task_id", "ascending")]))
    return out


def dataset_state(
    uri: str | os.PathLike[str],
    storage_options: dict[str, str] | None,
    version: int | None = None,
    timestamp: datetime | str | None = None,
) -> DeltaState:
    state = delta_state(uri, storage_options=storage_options, version=version, timestamp=timestamp)
    if state is None:
        raise ConfigurationError(f"no ls_frames Delta dataset at {os.fspath(uri)}")
    return state


def read_delta(
    uri: str | os.PathLike[str],
    *,
    version: int | None = None,
    timestamp: datetime | str | None = None,
    storage_options: dict[str, str] | None = None,
    dtype_backend: DtypeBackend = "numpy_nullable",
    tables: Iterable[str] | None = None,
    label_config: str | LabelConfig | Literal[False] | None = None,
) -> Frames:
    """Read a dataset version written by :func:`~ls_frames.tables.delta.write_delta` (or
    ``sync_delta``) into :class:`~ls_frames.Frames`: the tables, columns and dtypes
    :func:`~ls_frames.read_parquet` gives for the same data, rows in ``task_id`` order.

    Parameters
    ----------
    uri
        The dataset's folder or URI (``s3://bucket/prefix``).
    version
        A dataset version (a version of its ``tasks`` table); the latest by default.
    timestamp
        Read the dataset version current at this time (aware datetime or ISO 8601).
    storage_options
        Options for the object store (``AWS_ENDPOINT_URL``, ``AWS_REGION``, keys, ...).
    dtype_backend
        ``"numpy_nullable"`` (the default) or ``"pyarrow"``.
    tables
        Only these of ``tasks, annotations, predictions, drafts, regions, relations``.
    label_config
        Use this label config (XML) instead of the one stored in the provenance.

    Returns
    -------
    Frames
        The tables; ``.provenance`` is what the run that wrote the version stored.

    Raises
    ------
    ConfigurationError
        Nothing (or something else) at ``uri``, a version that does not exist (the
        message names the versions there), files of an old version already vacuumed,
        the object store cannot be reached with ``storage_options`` (the message gives
        its error chain), or deltalake is not installed.
    """
    types_mapper(dtype_backend)
    tables = check_tables(tables)
    state = dataset_state(uri, storage_options, version, timestamp)
    wanted = [t for t in TABLES if t in state.versions and (tables is None or t in set(tables))]
    arrow: dict[str, pa.Table] = {}
    for name in wanted:
        table = open_table(uri, name, state.versions[name], storage_options)
        try:
            read = files_dataset(table, table_uri(uri, name), storage_options).to_table()
        except (FileNotFoundError, OSError) as exc:
            raise ConfigurationError(
                f"dataset version {state.version} of {os.fspath(uri)} can no longer be read: "
                f"its files were removed by a vacuum ({exc})"
            ) from None
        arrow[name] = _table(read, _schema(name, state))
    config = resolve_label_config(label_config, state.provenance.get("label_config"))
    return Frames(
        arrow, dtype_backend=dtype_backend, label_config=config, provenance=state.provenance
    )
