"""New tasks from a DataFrame: :func:`import_tasks`.

Each row becomes a task. Its data comes from the columns named ``data.<key>`` and from
the plain columns named after a ``$variable`` of the project's label config; the columns
in ``files`` hold local paths, uploaded first (one request per batch, see
:mod:`ls_frames.exports.imports`) with the task's data pointing at the uploaded file; the
optional ``predictions`` and ``annotations`` columns hold lists of result items.
Annotations are sent with ``ground_truth: false`` (the server makes imported annotations
ground truth by default).

``key`` names a column kept in each task's data: the project's tasks are looked up by it
first, so a rerun skips the rows already imported and maps them to their tasks.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ls_frames._progress import progress_bar
from ls_frames.errors import ConfigurationError
from ls_frames.exports import Client
from ls_frames.exports.imports import import_tasks_batch, upload_files
from ls_frames.pipeline.checks import check_project
from ls_frames.pipeline.clients import using_client
from ls_frames.reading.config import parse_label_config

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["import_tasks"]

#: tasks (and files) per request
TASK_BATCH = 200
_SPECIAL = ("predictions", "annotations")


def _plain(value: Any) -> Any:
    """A cell as JSON takes it (numpy scalars and arrays to Python; NaN to None)."""
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _data_columns(columns: Sequence[str], variables: set[str], skip: set[str]) -> dict[str, str]:
    """column -> data key; a plain column that is no ``$variable`` is refused."""
    out: dict[str, str] = {}
    unknown = []
    for col in columns:
        if col in skip:
            continue
        if col.startswith("data."):
            out[col] = col[5:]
        elif col in variables:
            out[col] = col
        else:
            unknown.append(col)
    if unknown:
        raise ConfigurationError(
            f"columns {', '.join(map(repr, unknown))} are not data keys of the label config "
            f"(its $variables: {', '.join(sorted(variables)) or 'none'}): name them "
            "'data.<key>' to store them anyway"
        )
    return out


def _results(row: int, column: str, cell: Any) -> list[dict[str, Any]] | None:
    cell = _plain(cell)
    if cell is None:
        return None
    if not isinstance(cell, list) or not all(isinstance(r, dict) for r in cell):
        raise ConfigurationError(f"row {row}: {column} must be a list of result items")
    return cell


def _check(table: Any, key: str | None, files: Sequence[str]) -> None:
    if not hasattr(table, "columns") or not hasattr(table, "index"):
        raise ConfigurationError(f"table must be a pandas DataFrame, not {type(table).__name__}")
    columns = set(map(str, table.columns))
    if key is not None and key not in columns:
        raise ConfigurationError(f"key {key!r} is not a column of the table")
    if key is not None and table[key].isna().any():
        raise ConfigurationError(f"key column {key!r} has missing values")
    if key is not None and table[key].duplicated().any():
        raise ConfigurationError(f"key column {key!r} has repeated values")
    for col in files:
        if col not in columns:
            raise ConfigurationError(f"files column {col!r} is not a column of the table")
        for i, path in enumerate(table[col]):
            if not Path(str(path)).is_file():
                raise ConfigurationError(f"row {i}: {col} {str(path)!r} is not a file")


def _existing(client: Client, pid: int, key: str) -> dict[Any, int]:
    """The project's tasks by their ``data[key]``."""
    tasks = client.list_tasks(pid, fields="id,data")
    return {
        t["data"][key]: int(t["id"])
        for t in tasks
        if isinstance(t.get("data"), dict) and key in t["data"]
    }


def import_tasks(
    project: int | str,
    table: pd.DataFrame,
    *,
    client: Client | None = None,
    key: str | None = None,
    files: str | Sequence[str] = (),
    model_version: str | None = None,
    batch_size: int = TASK_BATCH,
    progress: bool | None = None,
) -> pd.Series:
    """Create one task per row of ``table``.

    Parameters
    ----------
    project
        The project's id or title.
    table
        Columns ``data.<key>`` (stored under ``<key>``) and plain columns named after the
        label config's ``$variables``; the ``files`` columns; optional ``predictions`` and
        ``annotations`` columns holding a list of result items (or nothing) per row.
    client
        The client to use (default: one made from the environment).
    key
        A column stored in each task's data that identifies the row: rows whose key a
        task of the project already holds are not imported again.
    files
        Columns of local file paths: each file is uploaded to the project and the task's
        data holds its address (``/data/upload/...``) under the column's data key.
    model_version
        The model version of the ``predictions`` column.
    batch_size
        Tasks (and files) per request.
    progress
        Show a progress bar.

    Returns
    -------
    pandas.Series
        The task id of each row (``Int64``), on the table's index; rows skipped through
        ``key`` get the id of the task already holding them.

    Raises
    ------
    ConfigurationError
        A column that is no data key, a missing file, a repeated or missing key, a bad
        ``predictions`` or ``annotations`` cell; all before any request writes.
    """
    import pandas as pd

    check_project(project)
    files = [files] if isinstance(files, str) else list(files)
    _check(table, key, files)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ConfigurationError(f"batch_size must be a whole number >= 1, not {batch_size!r}")
    columns = [str(c) for c in table.columns]
    skip = {*_SPECIAL, *files, *([key] if key is not None else [])}
    data_key = {c: c[5:] if c.startswith("data.") else c for c in [*files, *([key] if key else [])]}
    with using_client(client) as c:
        pid = c.resolve_project(project)
        config = parse_label_config(str(c.get_project(pid).get("label_config") or ""))
        variables = {o.field for o in config.objects}
        mapping = _data_columns(columns, variables, skip)
        records = table.to_dict("records")
        tasks: list[dict[str, Any]] = []
        for i, rec in enumerate(records):
            task: dict[str, Any] = {"data": {mapping[k]: _plain(rec[k]) for k in mapping}}
            if key is not None:
                task["data"][data_key[key]] = _plain(rec[key])
            preds = _results(i, "predictions", rec.get("predictions"))
            if preds is not None:
                task["predictions"] = [
                    {"result": preds, **({"model_version": model_version} if model_version else {})}
                ]
            anns = _results(i, "annotations", rec.get("annotations"))
            if anns is not None:
                task["annotations"] = [{"result": anns, "ground_truth": False}]
            tasks.append(task)
        done = _existing(c, pid, data_key[key]) if key is not None else {}
        ids: list[int | None] = [
            done.get(task["data"][data_key[key]]) if key is not None else None for task in tasks
        ]
        todo = [i for i, t in enumerate(ids) if t is None]
        with progress_bar(progress, total=len(todo), unit="task", desc="import") as bar:
            for start in range(0, len(todo), batch_size):
                rows = todo[start : start + batch_size]
                for col in files:
                    refs = upload_files(c, pid, [Path(str(records[i][col])) for i in rows])
                    for i, ref in zip(rows, refs, strict=True):
                        tasks[i]["data"][data_key[col]] = ref
                for i, tid in zip(
                    rows, import_tasks_batch(c, pid, [tasks[i] for i in rows]), strict=True
                ):
                    ids[i] = tid
                bar.update(len(rows))
    return pd.Series(ids, index=table.index, name="task_id", dtype="Int64")
