"""Where a Delta dataset stands: one dataset version is one commit of its ``tasks`` table.

Layout: ``uri/tasks``, ``uri/annotations``, ... each a Delta table partitioned by
``task_range = task_id // tasks_per_file`` (see :mod:`ls_frames.tables.delta.write`).
Every commit ls_frames makes carries a JSON document under the :data:`COMMIT_KEY` key of
its commit metadata::

    {"format": "ls_frames-delta", "format_version": 1, "run_id": "...", "table": "regions",
     "tasks_per_file": 100, "provenance": {...}}

and a ``tasks`` commit, made last by each run, adds ``"versions"`` (the version of every
table that belongs to this dataset version, its own included), ``"rows"`` and
``"data_keys"``. Readers go through that map, so a run killed after committing some
tables, or a run that lost a race, leaves nothing a reader sees.
"""

from __future__ import annotations

import importlib
import json
import math
import os
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pds

from ls_frames.errors import ConfigurationError
from ls_frames.provenance import Provenance
from ls_frames.tables.delta.storage import check_storage_options

if TYPE_CHECKING:
    from deltalake import DeltaTable

__all__ = [
    "COMMIT_KEY",
    "FORMAT",
    "FORMAT_VERSION",
    "RANGE_COLUMN",
    "DeltaState",
    "delta_state",
    "delta_task_ids",
    "delta_task_stamps",
    "deltalake",
    "open_table",
    "table_uri",
]

#: the commit-metadata key of ls_frames' JSON document
COMMIT_KEY = "ls_frames"
FORMAT = "ls_frames-delta"
FORMAT_VERSION = 1
#: the partition column: ``task_id // tasks_per_file``
RANGE_COLUMN = "task_range"
_INSTALL = "pip install 'ls_frames[delta]'"


def deltalake() -> Any:
    """The ``deltalake`` module, or a :class:`ConfigurationError` naming the pip line."""
    try:
        return importlib.import_module("deltalake")
    except ImportError:
        raise ConfigurationError(
            f"Delta Lake tables need the deltalake package: {_INSTALL}"
        ) from None


@dataclass(frozen=True)
class DeltaState:
    """One dataset version: one commit of the ``tasks`` table and the table versions it
    names."""

    version: int  # the tasks table's version
    versions: dict[str, int]  # every table's version in this dataset version
    provenance: Provenance  # what the run stored (its .sync for sync runs)
    rows: dict[str, int]  # rows per table at this version
    timestamp: datetime  # when the tasks commit was made (UTC)
    data_keys: tuple[str, ...] = ()  # the tasks' data keys (the data.<key> columns)
    tasks_per_file: dict[str, int] | None = None  # each table's task range width


def table_uri(uri: str | os.PathLike[str], name: str) -> str:
    """The URI of one table of the dataset at ``uri``."""
    text = os.fspath(uri)
    if "://" in text:
        return f"{text.rstrip('/')}/{name}"
    return str(Path(text) / name)


def open_table(
    uri: str | os.PathLike[str],
    name: str,
    version: int | None = None,
    storage_options: dict[str, str] | None = None,
) -> DeltaTable:
    """One table of the dataset, at ``version`` (the latest by default)."""
    table: DeltaTable = deltalake().DeltaTable(
        table_uri(uri, name), version=version, storage_options=storage_options
    )
    return table


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _unreachable(uri: str, exc: OSError) -> ConfigurationError:
    """The object store's error chain (one line per cause in delta-rs) in one line."""
    causes = [_ANSI.sub("", line).strip(" \u21b3") for line in str(exc).splitlines()]
    chain = " <- ".join(c for c in causes if c)
    return ConfigurationError(
        f"cannot read the Delta tables at {uri}: {chain or type(exc).__name__}; check "
        "storage_options (endpoint, region, credentials)"
    )


def _exists(uri: str, storage_options: dict[str, str] | None) -> bool:
    try:
        return bool(deltalake().DeltaTable.is_deltatable(uri, storage_options=storage_options))
    except OSError as exc:  # delta-rs's object-store errors (refused, credentials, ...)
        raise _unreachable(uri, exc) from exc


def _document(commit: dict[str, Any]) -> dict[str, Any] | None:
    raw = commit.get(COMMIT_KEY)
    if raw is None:
        return None
    try:
        doc = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        return None
    return doc if isinstance(doc, dict) and doc.get("format") == FORMAT else None


def _not_ours(uri: str | os.PathLike[str], why: str) -> ConfigurationError:
    return ConfigurationError(f"{os.fspath(uri)} is not an ls_frames Delta dataset: {why}")


def delta_state(
    uri: str | os.PathLike[str],
    *,
    storage_options: dict[str, str] | None = None,
    version: int | None = None,
    timestamp: datetime | str | None = None,
) -> DeltaState | None:
    """The dataset version at ``uri``: the latest, ``version`` (a version of the
    ``tasks`` table) or the one current at ``timestamp``.

    Parameters
    ----------
    uri
        The dataset's folder or URI (``s3://bucket/prefix``).
    storage_options
        Options for the object store (``AWS_ENDPOINT_URL``, ``AWS_REGION``, ...).
    version
        A dataset version (a version of the ``tasks`` table).
    timestamp
        A point in time (an aware datetime or an ISO 8601 string): the dataset version
        current then.

    Returns
    -------
    DeltaState or None
        ``None`` when there is no Delta table at ``uri``.

    Raises
    ------
    ConfigurationError
        ``uri`` holds something that is not an ls_frames Delta dataset, ``version`` does
        not exist (the message names the versions there), a key of ``storage_options``
        is unknown for the URI's store (before any request), or deltalake is not
        installed.
    """
    check_storage_options(uri, storage_options)
    tasks_uri = table_uri(uri, "tasks")
    if not _exists(tasks_uri, storage_options):
        if _exists(os.fspath(uri), storage_options):
            raise _not_ours(uri, "it is a Delta table itself, with no tasks table inside")
        if "://" not in os.fspath(uri):
            root = Path(uri)
            if root.is_file() or (root.is_dir() and any(root.iterdir())):
                raise _not_ours(uri, "it holds no Delta tasks table")
        return None
    table = open_table(uri, "tasks", storage_options=storage_options)
    latest = table.version()
    history = table.history()
    if timestamp is not None:
        moment = datetime.fromisoformat(timestamp) if isinstance(timestamp, str) else timestamp
        moment = moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
        # the commits' own timestamps, those DeltaState.timestamp reports (delta-rs's
        # load_as_version goes by the log files' modification times, which can be a few
        # milliseconds later)
        ms = math.floor(moment.timestamp() * 1000 + 1e-3)
        then = [int(c["version"]) for c in history if int(c["timestamp"]) <= ms]
        if then:
            version = max(then)
        else:
            at = open_table(uri, "tasks", storage_options=storage_options)
            at.load_as_version(moment)
            version = at.version()
    ours = [
        (int(c["version"]), c, doc)
        for c in history
        if (doc := _document(c)) is not None and "versions" in doc
    ]
    if not ours:
        raise _not_ours(uri, "its tasks table has no commit written by ls_frames")
    if version is not None:
        if not 0 <= version <= latest:
            raise ConfigurationError(
                f"{os.fspath(uri)} has no dataset version {version}: the tasks table has "
                f"versions 0..{latest}; dataset versions "
                f"{sorted(v for v, _, _ in ours)}"
            )
        ours = [entry for entry in ours if entry[0] <= version]
        if not ours:
            raise ConfigurationError(
                f"{os.fspath(uri)} has no dataset version at or before {version}"
            )
    number, commit, doc = max(ours, key=lambda entry: entry[0])
    if int(doc.get("format_version", 1)) > FORMAT_VERSION:
        raise ConfigurationError(
            f"{os.fspath(uri)} was written in Delta format version {doc['format_version']}; "
            f"this ls_frames reads up to {FORMAT_VERSION}: upgrade ls_frames"
        )
    return DeltaState(
        version=number,
        versions={str(k): int(v) for k, v in doc["versions"].items()},
        provenance=Provenance.from_dict(doc.get("provenance") or {}),
        rows={str(k): int(v) for k, v in (doc.get("rows") or {}).items()},
        timestamp=datetime.fromtimestamp(int(commit["timestamp"]) / 1000, timezone.utc),
        data_keys=tuple(doc.get("data_keys") or ()),
        tasks_per_file={str(k): int(v) for k, v in (doc.get("tasks_per_file") or {}).items()},
    )


def files_dataset(
    table: DeltaTable,
    uri: str,
    storage_options: dict[str, str] | None = None,
    ranges: list[int] | None = None,
    ordered: bool = False,
    actions: pa.Table | None = None,
) -> pds.Dataset:
    """The files of ``table`` at its loaded version (only those of the task ``ranges``
    when given) as a ``pyarrow.dataset``, without the partition column; ``ordered``: the
    files in the order of their smallest ``task_id`` (each holds its rows in task order
    and the ranges do not overlap, so the rows come in task order). ``actions``: the
    table's add actions (``get_add_actions(flatten=True)``) when the caller has them.

    ``DeltaTable.to_pyarrow_dataset`` builds an expression from every file's statistics,
    which costs seconds for a table of ten thousand files; the tables ls_frames writes have
    no deletion vectors and no column mapping, so their files are read as they are.
    """
    import pyarrow.fs as pa_fs

    if actions is None:
        actions = pa.table(table.get_add_actions(flatten=True))
    column = f"partition.{RANGE_COLUMN}"
    if ranges is not None and column in actions.column_names:
        wanted = pc.is_in(actions.column(column).cast(pa.int64()), pa.array(ranges, pa.int64()))
        actions = actions.filter(wanted)
    if ordered and "min.task_id" in actions.column_names:
        actions = actions.take(pc.sort_indices(actions, [("min.task_id", "ascending")]))
    paths = actions.column("path").to_pylist()
    sizes = dict(zip(paths, actions.column("size_bytes").to_pylist(), strict=True))
    schema = pa.schema(table.schema().to_arrow())
    schema = schema.remove(schema.get_field_index(RANGE_COLUMN))
    if "://" not in uri or uri.startswith("file://"):  # local: Arrow's own file system
        root = Path(uri.removeprefix("file://"))
        local = [str(root / unquote(p)) for p in paths]
        return pds.dataset(local, schema=schema, format="parquet")
    handler = importlib.import_module("deltalake.fs").DeltaStorageHandler
    filesystem = pa_fs.PyFileSystem(handler(uri, storage_options, sizes))
    return pds.dataset(paths, schema=schema, format="parquet", filesystem=filesystem)


def dataset(
    uri: str | os.PathLike[str],
    name: str,
    state: DeltaState,
    storage_options: dict[str, str] | None = None,
) -> pds.Dataset:
    """A table of the dataset at ``state``, as a ``pyarrow.dataset``."""
    table = open_table(uri, name, state.versions[name], storage_options)
    return files_dataset(table, table_uri(uri, name), storage_options)


def delta_task_ids(
    uri: str | os.PathLike[str],
    state: DeltaState,
    *,
    storage_options: dict[str, str] | None = None,
) -> pa.Array:
    """The ``task_id`` column (int64) of the dataset's ``tasks`` at ``state``.

    Parameters
    ----------
    uri
        The dataset's folder or URI.
    state
        A dataset version (from :func:`delta_state`).
    storage_options
        Options for the object store.

    Returns
    -------
    pyarrow.Array
        The task ids, int64.
    """
    ids = dataset(uri, "tasks", state, storage_options).to_table(columns=["task_id"]).column(0)
    return ids.combine_chunks().cast(pa.int64()) if ids.num_chunks else pa.array([], pa.int64())


def delta_task_stamps(
    uri: str | os.PathLike[str],
    state: DeltaState,
    ids: Any,
    columns: Any = (),
    *,
    storage_options: dict[str, str] | None = None,
) -> dict[int, tuple[Any, ...]]:
    """``{task_id: (updated_at, *columns)}`` (``updated_at`` an aware datetime) for those
    of ``ids`` in the dataset's ``tasks`` at ``state`` (as
    :func:`~ls_frames.tables.dataset.dataset_task_stamps` for a Parquet dataset).

    Parameters
    ----------
    uri
        The dataset's folder or URI.
    state
        A dataset version (from :func:`delta_state`).
    ids
        The task ids wanted.
    columns
        More columns of ``tasks`` to return after ``updated_at``.
    storage_options
        Options for the object store.

    Returns
    -------
    dict
        One tuple per task found.
    """
    wanted = pa.array(sorted({int(i) for i in ids}), pa.int64())
    names = ["updated_at", *columns]
    table = dataset(uri, "tasks", state, storage_options).to_table(
        columns=["task_id", *names], filter=pc.field("task_id").isin(wanted)
    )
    values = zip(*(table.column(n).to_pylist() for n in names), strict=True)
    return dict(zip(table.column("task_id").to_pylist(), values, strict=True))
