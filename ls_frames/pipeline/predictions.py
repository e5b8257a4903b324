"""Predictions into a project in bulk: :func:`import_predictions`.

One run: every argument and row is checked, the project's task ids are listed (one paged
request) and rows on other tasks refused, then (``replace=True``) the model version's
predictions on those tasks are removed, then the rows go to the bulk endpoint in batches
(see :mod:`ls_frames.exports.imports`) under one progress bar.

Reruns: without ``replace`` every run adds predictions, so running it twice leaves two of
each. With ``replace=True`` a rerun, or a rerun of a run cut midway, leaves exactly one
prediction of that model version per row.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

from ls_frames._progress import progress_bar
from ls_frames.errors import ConfigurationError
from ls_frames.exports import Client, project_label_config
from ls_frames.exports.imports import (
    count_model_versions,
    delete_model_version,
    delete_prediction,
    id_set_filters,
    import_predictions_batch,
    list_predictions,
)
from ls_frames.pipeline.checks import check_project
from ls_frames.pipeline.clients import using_client
from ls_frames.writing import check_results, to_results

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["ImportResult", "import_predictions"]

#: predictions per request. Fewer, larger requests: Label Studio 1.23.2 (unless its
#: memory-efficient import flag is on) recounts every task of the project after each
#: request, so 20,000 predictions in batches of 1,000 took 200 s on the test server, the
#: later batches five times slower than the first
BATCH_SIZE = 5000
#: columns of a region table (one row per region): what ``ls_frames.to_results`` takes
_REGION_COLUMNS = {"region_id", "from_name", "value"}


@dataclass(frozen=True)
class ImportResult:
    """What :func:`import_predictions` did.

    Attributes
    ----------
    project
        The project's id.
    model_version
        The model version the predictions carry.
    created
        Predictions the server created.
    replaced
        Predictions of that model version removed from those tasks first
        (``replace=True``).
    refused
        Rows not sent because their task is not in the project
        (``skip_missing=True``; otherwise such rows raise before anything is written).
    refused_tasks
        The task ids of the refused rows, sorted, each once.
    """

    project: int
    model_version: str
    created: int = 0
    replaced: int = 0
    refused: int = 0
    refused_tasks: tuple[int, ...] = field(default_factory=tuple)

    def __str__(self) -> str:
        text = (
            f"project {self.project}, model version {self.model_version!r}: "
            f"{self.created} created, {self.replaced} replaced, {self.refused} refused"
        )
        if self.refused_tasks:
            shown = ", ".join(map(str, self.refused_tasks[:10]))
            more = "" if len(self.refused_tasks) <= 10 else ", ..."
            text += f" (tasks not in the project: {shown}{more})"
        return text


def _check_against_config(client: Client, project: int, rows: list[dict[str, Any]]) -> None:
    """Every item's control, object, type, labels and geometry against the project's label
    config (:func:`ls_frames.writing.check_results`), before anything is written; rows
    (checked by :func:`_check_row`) go a few thousand at a time."""
    config = project_label_config(client, project, None)
    if config is None:
        return
    step = 5000
    for start in range(0, len(rows), step):
        part = rows[start : start + step]
        results = pd.DataFrame(
            {"task_id": [r["task"] for r in part], "result": [r["result"] for r in part]},
            index=range(start, start + len(part)),
        )
        check_results(results, config)


def _as_results(predictions: Any) -> list[dict[str, Any]]:
    """Rows in the prediction-dict shape (``task``, ``result``, optional ``score`` and
    ``model_version``), from a DataFrame in ``ls_frames.to_results``' shape or a list of
    dicts; region rows (one row per region) go through :func:`ls_frames.to_results`."""
    if hasattr(predictions, "columns") and hasattr(predictions, "to_dict"):
        columns = set(map(str, predictions.columns))
        if "result" not in columns and _REGION_COLUMNS & columns:
            # region rows (the regions table's columns, or a builder's): one list per task
            predictions = to_results(predictions)
            columns = set(map(str, predictions.columns))
        missing = {"task_id", "result"} - columns
        if missing:
            raise ConfigurationError(
                "a predictions DataFrame needs the columns task_id and result "
                f"(ls_frames.to_results' shape); missing: {', '.join(sorted(missing))}"
            )
        keep = [c for c in ("task_id", "result", "score", "model_version") if c in columns]
        rows: list[dict[str, Any]] = predictions[keep].to_dict("records")
        for row in rows:
            row["task"] = row.pop("task_id")
        return rows
    if isinstance(predictions, Mapping | str | bytes) or not isinstance(predictions, Sequence):
        raise ConfigurationError(
            "predictions must be a DataFrame or a list of {'task', 'result', ...} dicts, "
            f"not {type(predictions).__name__}"
        )
    return [dict(p) if isinstance(p, Mapping) else p for p in predictions]


def _without_nulls(value: Any) -> Any:
    """A result cell read from Parquet (Arrow structs, numpy arrays) as Python lists and
    dicts, without the null keys Arrow adds when items of one column have different keys
    (a rectangle's value gets ``choices: None``). An explicit null cannot be told from
    those: store ``to_results(..., as_json=True)`` to keep everything."""
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def _missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return bool(value != value)  # NaN, pd.NA compare unequal (or raise)
    except (TypeError, ValueError):
        return False


def _check_row(i: int, row: Any, model_version: str) -> dict[str, Any]:
    """One prediction as the server takes it, or a ConfigurationError naming row ``i``."""
    if not isinstance(row, Mapping):
        raise ConfigurationError(f"prediction {i} is not a dict: {row!r}")
    unknown = set(row) - {"task", "result", "score", "model_version"}
    if unknown:
        raise ConfigurationError(f"prediction {i} has unknown keys: {', '.join(sorted(unknown))}")
    task: Any = row.get("task")
    if hasattr(task, "item"):
        task = task.item()  # numpy integers
    if isinstance(task, bool) or not isinstance(task, int):
        raise ConfigurationError(f"prediction {i}: task must be a task id, not {task!r}")
    result: Any = row.get("result")
    if isinstance(result, str):
        try:
            result = json.loads(result)
        except ValueError:
            raise ConfigurationError(f"prediction {i}: result is not JSON") from None
    if hasattr(result, "tolist"):  # a list column read back from Parquet: Arrow structs
        result = _without_nulls(result)
    if not isinstance(result, list) or not all(
        type(r) is dict or isinstance(r, Mapping) for r in result
    ):
        raise ConfigurationError(
            f"prediction {i} (task {task}): result must be a list of result items"
        )
    # numpy values inside (a user's array of points, say) are encoded when sent
    out: dict[str, Any] = {"task": task, "result": result}
    score: Any = row.get("score")
    if not _missing(score):
        if isinstance(score, bool) or not isinstance(score, int | float):
            score = getattr(score, "item", lambda: score)()
        if isinstance(score, bool) or not isinstance(score, int | float) or math.isinf(score):
            raise ConfigurationError(f"prediction {i} (task {task}): score must be a number")
        out["score"] = float(score)
    own = row.get("model_version")
    if not _missing(own) and str(own) != model_version:
        raise ConfigurationError(
            f"prediction {i} (task {task}) has model_version {own!r}, the call "
            f"{model_version!r}: keep one model version per call"
        )
    out["model_version"] = model_version
    return out


def _check_args(model_version: Any, batch_size: Any) -> None:
    if not isinstance(model_version, str) or not model_version.strip():
        raise ConfigurationError(f"model_version must be a non-empty string, not {model_version!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ConfigurationError(f"batch_size must be a whole number >= 1, not {batch_size!r}")


def _not_in_project(client: Client, pid: int, wanted: set[int]) -> list[int]:
    """The ids of ``wanted`` that are no task of the project, sorted. One count under a
    filter on those ids when they make few runs of consecutive ids (the usual case: 0.1 s
    where listing 20,000 ids takes 13 s), else the project's ids listed page by page."""
    if not wanted:
        return []
    filters = id_set_filters(sorted(wanted))
    if len(filters) == 1 and client.count_tasks(pid, filters[0])["total"] == len(wanted):
        return []
    known = {int(t["id"]) for t in client.list_tasks(pid, fields="id")}
    return sorted(wanted - known)


def _replace(client: Client, pid: int, model_version: str, tasks: set[int]) -> int:
    """Remove ``model_version``'s predictions on ``tasks``: in one request when they are
    all the project holds of that version, else one by one. Returns how many. A version
    the project holds none of (a first run) costs one grouped count, not a listing."""
    if not count_model_versions(client, pid).get(model_version):
        return 0
    listed = list_predictions(client, pid)
    of_version = [p for p in listed if p.get("model_version") == model_version]
    targets = [p for p in of_version if p.get("task") in tasks]
    if not targets:
        return 0
    if len(targets) == len(of_version):
        delete_model_version(client, pid, model_version)
    else:
        for p in targets:
            delete_prediction(client, int(p["id"]))
    return len(targets)


def import_predictions(
    project: int | str,
    predictions: pd.DataFrame | Sequence[Mapping[str, Any]],
    *,
    model_version: str,
    client: Client | None = None,
    replace: bool = False,
    skip_missing: bool = False,
    batch_size: int = BATCH_SIZE,
    progress: bool | None = None,
) -> ImportResult:
    """Import predictions into a project through the bulk endpoint.

    Parameters
    ----------
    project
        The project's id or title.
    predictions
        A DataFrame in ``ls_frames.to_results``' shape (``task_id``, ``result``, optional
        ``score`` and ``model_version``; ``result`` a list of Label Studio result items, or
        its JSON text), or a list of ``{"task": id, "result": [...], "score": ...}``.
    model_version
        The model version every prediction carries (what Label Studio shows and what
        ``replace`` removes). Rows with their own model version must agree.
    client
        The client to use (default: one made from the environment).
    replace
        First remove this model version's predictions on the tasks of ``predictions``, so
        a rerun, or a rerun after a run cut midway, leaves no duplicate.
    skip_missing
        Rows whose task is not in the project are skipped and counted as refused; by
        default they raise before anything is written.
    batch_size
        Predictions per request.
    progress
        Show a progress bar (default: the ``LS_FRAMES_DISABLE_PROGRESS_BARS`` switch).

    Returns
    -------
    ImportResult
        Counts of created, replaced and refused predictions.

    Raises
    ------
    ConfigurationError
        A bad argument or row (named by its position), region rows instead of results, or
        (without ``skip_missing``) rows on tasks the project does not hold; all before any
        request writes anything.
    HTTPError
        A request failed; batches sent before it stay imported (rerun with
        ``replace=True``).
    """
    check_project(project)
    _check_args(model_version, batch_size)
    records = _as_results(predictions)
    # every row checked once, now (the checked rows share the records' item lists)
    checked = [_check_row(i, r, model_version) for i, r in enumerate(records)]
    tasks = [row["task"] for row in checked]
    with using_client(client) as c:
        pid = c.resolve_project(project)
        _check_against_config(c, pid, checked)
        refused = _not_in_project(c, pid, set(tasks))
        if refused and not skip_missing:
            shown = ", ".join(map(str, refused[:10])) + (", ..." if len(refused) > 10 else "")
            raise ConfigurationError(
                f"{len(refused)} task id(s) are not in project {pid}: {shown}; nothing was "
                "written (skip_missing=True imports the others)"
            )
        gone = set(refused)
        send = [i for i, t in enumerate(tasks) if t not in gone]
        replaced = _replace(c, pid, model_version, {tasks[i] for i in send}) if replace else 0
        created = 0
        with progress_bar(progress, total=len(send), unit="prediction", desc="import") as bar:
            for start in range(0, len(send), batch_size):
                rows = send[start : start + batch_size]
                batch = [checked[i] for i in rows]
                created += import_predictions_batch(c, pid, batch)
                bar.update(len(batch))
    return ImportResult(
        project=pid,
        model_version=model_version,
        created=created,
        replaced=replaced,
        refused=len(records) - len(send),
        refused_tasks=tuple(refused),
    )
