"""The calls that write into a project: bulk predictions, their listing and deletion, tabs.

What the server does (read in Label Studio 1.23.2's source and run against it):

- ``POST api/projects/P/import/predictions`` takes a list of ``{"task", "result",
  "score", "model_version"}`` and answers ``201 {"created": N}``. A task id that is not in
  the project makes the whole request a 400 (1.23.2 checks each batch of 500 before
  writing it, so nothing of a request with one bad id in its first batch is written: the
  caller checks the ids first). A missing ``model_version`` is stored as ``"undefined"``.
- ``GET api/predictions/?project=P`` lists every prediction of the project (one page, no
  pagination), each with ``id``, ``task``, ``model_version``, ``score`` and its
  ``result``: read as it arrives, keeping only the first four.
- ``DELETE api/projects/P/model-versions/`` with ``{"model_version": V}`` deletes every
  prediction of that version in the project in one request and answers
  ``{"deleted_predictions": N}``; ``DELETE api/predictions/ID/`` deletes one.
- ``POST api/dm/views/`` makes a Data Manager tab (see :mod:`ls_frames.exports.tasks`).
- ``POST api/projects/P/import?return_task_ids=true`` with a JSON list of tasks answers
  ``task_ids`` in the order sent. With multipart files and ``commit_to_project=false`` it
  stores the files without making tasks and answers ``file_upload_ids`` in the order of
  the form fields; the server reads one file per field name, so each file goes under its
  own. ``GET api/projects/P/file-uploads?ids=[...]`` names where each was stored
  (``upload/P/<8 hex>-<name>``, served at ``/data/upload/P/...``).

These creating POSTs are never retried blindly by the transport.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import msgspec

from ls_frames.errors import ExportFormatError
from ls_frames.exports.snapshot import LONG_TIMEOUT
from ls_frames.transport import Connection

__all__ = [
    "MAX_FILTER_ITEMS",
    "count_model_versions",
    "delete_model_version",
    "delete_prediction",
    "id_ranges",
    "id_set_filters",
    "import_predictions_batch",
    "import_tasks_batch",
    "list_predictions",
    "upload_files",
]

#: filter items in one tab: SQLite refuses a deeper expression tree than 1000 (2,000
#: single ids fail with "Expression tree is too large"); measured to hold on 1.23.2
MAX_FILTER_ITEMS = 400


def _builtin(value: Any) -> Any:
    """numpy arrays and scalars (in a user's result items) as Python values."""
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


#: JSON bodies in one C call (``json.dumps`` of 20,000 predictions takes seconds); NaN is
#: written as null, never as the ``NaN`` no JSON parser takes
_encode = msgspec.json.Encoder(enc_hook=_builtin).encode


def import_predictions_batch(
    conn: Connection, project: int, predictions: Sequence[dict[str, Any]]
) -> int:
    """Send one batch to ``POST api/projects/P/import/predictions``; returns how many the
    server created.

    Raises
    ------
    BadRequest
        The server refused the batch (a task id not in the project, a malformed item).
    ExportFormatError
        The answer has no integer ``created``.
    """
    answer = conn.post_json(
        f"api/projects/{int(project)}/import/predictions",
        content=_encode(predictions),
        headers={"Content-Type": "application/json"},
        timeout=LONG_TIMEOUT,  # thousands of predictions: the server recounts its tasks
    )
    if not isinstance(answer, dict) or not isinstance(answer.get("created"), int):
        raise ExportFormatError(
            "the server did not say how many predictions it created",
            path=f"/api/projects/{project}/import/predictions",
        )
    return int(answer["created"])


def import_tasks_batch(
    conn: Connection, project: int, tasks: Sequence[dict[str, Any]]
) -> list[int]:
    """Create ``tasks`` (``{"data", "predictions"?, "annotations"?}``) in one request;
    returns their ids in the order sent.

    Raises
    ------
    ExportFormatError
        The answer does not list one id per task.
    """
    answer = conn.post_json(
        f"api/projects/{int(project)}/import", json=list(tasks), params={"return_task_ids": "true"}
    )
    ids = answer.get("task_ids") if isinstance(answer, dict) else None
    if not isinstance(ids, list) or len(ids) != len(tasks):
        raise ExportFormatError(
            f"the server did not return one task id per task ({len(tasks)} sent)",
            path=f"/api/projects/{project}/import",
        )
    return [int(t) for t in ids]


def upload_files(conn: Connection, project: int, paths: Sequence[Path]) -> list[str]:
    """Upload local files to ``project`` without making tasks, in one request; returns
    the reference task data uses for each (``/data/upload/P/<8 hex>-<name>``), in order.

    Raises
    ------
    ExportFormatError
        The server's answers do not name one stored file per file sent.
    """
    where = f"/api/projects/{project}/import"
    handles = [p.open("rb") for p in paths]
    try:
        form = [
            (f"file{k}", (p.name, h, "application/octet-stream"))
            for k, (p, h) in enumerate(zip(paths, handles, strict=True))
        ]
        answer = conn.post_json(
            f"api/projects/{int(project)}/import",
            params={"commit_to_project": "false"},
            files=form,
            timeout=LONG_TIMEOUT,
        )
    finally:
        for h in handles:
            h.close()
    ids = answer.get("file_upload_ids") if isinstance(answer, dict) else None
    if not isinstance(ids, list) or len(ids) != len(paths):
        raise ExportFormatError("the server did not store one file per file sent", path=where)
    listed = conn.get_json(
        f"api/projects/{int(project)}/file-uploads", params={"ids": json.dumps(ids)}
    )
    stored = {int(f["id"]): str(f["file"]) for f in listed if isinstance(f, dict)}
    if any(int(i) not in stored for i in ids):
        raise ExportFormatError("the server did not list every file it stored", path=where)
    return ["/data/" + stored[int(i)].lstrip("/") for i in ids]


_DECODER = json.JSONDecoder()
_SKIP = " \t\r\n,["


def _items(chunks: Iterable[str]) -> Iterator[Any]:
    """The items of a JSON array arriving in pieces, one at a time (the array is never
    held whole)."""
    buffer, pos = "", 0
    for chunk in chunks:
        buffer = buffer[pos:] + chunk
        pos = 0
        while True:
            while pos < len(buffer) and buffer[pos] in _SKIP:
                pos += 1
            if pos >= len(buffer) or buffer[pos] == "]":
                break
            try:
                item, end = _DECODER.raw_decode(buffer, pos)
            except ValueError:
                break  # the item goes on in the next piece
            yield item
            pos = end
    rest = buffer[pos:].strip(_SKIP + "]")
    if rest:
        raise ValueError(f"the JSON array ends with {rest[:80]!r}")


def list_predictions(conn: Connection, project: int) -> list[dict[str, Any]]:
    """Every prediction of ``project`` as ``{"id", "task", "model_version", "score"}``, in
    one request read as it arrives: the server sends the results too (megabytes for a
    large project), which are dropped item by item.

    Raises
    ------
    ExportFormatError
        The answer is not a JSON list of predictions.
    """
    where = f"/api/predictions/?project={project}"
    keep = ("id", "task", "model_version", "score")
    out: list[dict[str, Any]] = []
    with conn.stream("GET", "api/predictions/", params={"project": int(project)}) as response:
        try:
            for item in _items(response.iter_text()):
                if not isinstance(item, dict) or "id" not in item:
                    raise ExportFormatError("the prediction list is not a list", path=where)
                out.append({k: item.get(k) for k in keep})
        except ValueError as exc:
            raise ExportFormatError(
                f"the prediction list is not JSON ({exc})", path=where
            ) from None
    return out


def count_model_versions(conn: Connection, project: int) -> dict[str, int]:
    """How many predictions ``project`` holds of each model version (``GET
    api/projects/P/model-versions/``: one grouped count, where listing the predictions
    sends every result).

    Raises
    ------
    ExportFormatError
        The answer is not an object of counts.
    """
    answer = conn.get_json(f"api/projects/{int(project)}/model-versions/")
    if not isinstance(answer, dict):
        raise ExportFormatError(
            "the model versions are not an object of counts",
            path=f"/api/projects/{project}/model-versions/",
        )
    return {str(k): v for k, v in answer.items() if isinstance(v, int)}


def delete_model_version(conn: Connection, project: int, model_version: str) -> int:
    """Delete every prediction of ``model_version`` in ``project`` (one request); returns
    how many the server deleted (``-1`` when it does not say)."""
    response = conn.request(
        "DELETE",
        f"api/projects/{int(project)}/model-versions/",
        json={"model_version": model_version},
    )
    try:
        answer = response.json()
    except ValueError:
        return -1
    count = answer.get("deleted_predictions") if isinstance(answer, dict) else answer
    return int(count) if isinstance(count, int) else -1


def delete_prediction(conn: Connection, prediction_id: int) -> None:
    """Delete one prediction."""
    conn.request("DELETE", f"api/predictions/{int(prediction_id)}/")


def id_ranges(ids: Sequence[int]) -> list[tuple[int, int]]:
    """``ids`` as sorted runs of consecutive ids, each ``(first, last)``."""
    runs: list[tuple[int, int]] = []
    for i in sorted(set(int(x) for x in ids)):
        if runs and i == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], i)
        else:
            runs.append((i, i))
    return runs


def _item(lo: int, hi: int) -> dict[str, Any]:
    if lo == hi:
        return {"filter": "filter:tasks:id", "operator": "equal", "type": "Number", "value": lo}
    return {
        "filter": "filter:tasks:id",
        "operator": "in",
        "type": "Number",
        "value": {"min": lo, "max": hi},
    }


def id_set_filters(ids: Sequence[int], max_items: int = MAX_FILTER_ITEMS) -> list[dict[str, Any]]:
    """Data Manager filters that together select exactly ``ids``: runs of consecutive ids
    become ranges, at most ``max_items`` items per filter (one filter per tab)."""
    items = [_item(lo, hi) for lo, hi in id_ranges(ids)]
    return [
        {"conjunction": "or", "items": items[i : i + max_items]}
        for i in range(0, len(items), max_items)
    ]
