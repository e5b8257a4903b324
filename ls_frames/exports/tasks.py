"""The Data Manager's task list and views: counts, pages of ids, temporary filtered views.

What an incremental sync asks the server (verified on Label Studio 1.23.2):

- ``GET api/tasks/?project=P&query={"filters": ...}&include=...&page=N&page_size=S``
  answers ``{"tasks": [...], "total": T, "total_annotations": A, "total_predictions": R}``
  for the tasks under the filter; ``page_size=1`` makes it a cheap count.
- ``POST api/dm/views/`` with ``{"project": P, "data": {"title", "filters"}}`` makes a view
  a snapshot can be limited to (``TaskFilter(view=...)``); ``DELETE api/dm/views/ID/``
  removes it.

The filter helpers build the only two filters sync needs; the datetime one uses the one
form the server parses.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from ls_frames.errors import ExportFormatError
from ls_frames.transport import Connection

__all__ = [
    "ALL_TASKS",
    "PAGE_SIZE",
    "count_tasks",
    "create_view",
    "delete_view",
    "filter_time",
    "id_range_filter",
    "list_tasks",
    "updated_after_filter",
]

PAGE_SIZE = 1000
#: the Data Manager filter that matches every task
ALL_TASKS: dict[str, Any] = {"conjunction": "and", "items": []}


def filter_time(moment: datetime) -> str:
    """The one form the Data Manager's datetime filter parses (``%Y-%m-%dT%H:%M:%S.%fZ``,
    microseconds always present: without them the server answers 500)."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def updated_after_filter(since: datetime | str) -> dict[str, Any]:
    """The filter "``updated_at`` after ``since``" (a datetime, or a string already in
    :func:`filter_time`'s form)."""
    value = filter_time(since) if isinstance(since, datetime) else since
    return {
        "conjunction": "and",
        "items": [
            {
                "filter": "filter:tasks:updated_at",
                "operator": "greater",
                "type": "Datetime",
                "value": value,
            }
        ],
    }


def id_range_filter(lo: int, hi: int) -> dict[str, Any]:
    """The filter "task id between ``lo`` and ``hi``", both included."""
    return {
        "conjunction": "and",
        "items": [
            {
                "filter": "filter:tasks:id",
                "operator": "in",
                "type": "Number",
                "value": {"min": int(lo), "max": int(hi)},
            }
        ],
    }


def _page(
    conn: Connection, project: int, filters: dict[str, Any], include: str, page: int, size: int
) -> dict[str, Any]:
    answer = conn.get_json(
        "api/tasks/",
        params={
            "project": int(project),
            "include": include,
            "page": page,
            "page_size": size,
            "query": json.dumps({"filters": filters}),
        },
    )
    # deciding what was deleted from a guess would drop live tasks: refuse
    return checked_task_page(answer, f"/api/tasks/?project={project}")


def checked_task_page(answer: Any, path: str) -> dict[str, Any]:
    """``answer``, a page of the task list, when it has ``tasks`` (a list) and ``total``
    (an int); else :class:`~ls_frames.errors.ExportFormatError` naming ``path``."""
    if (
        not isinstance(answer, dict)
        or not isinstance(answer.get("tasks"), list)
        or not isinstance(answer.get("total"), int)
    ):
        raise ExportFormatError(
            "unexpected answer from the task list (no 'tasks' and 'total')", path=path
        )
    return answer


def count_tasks(
    conn: Connection, project: int, filters: dict[str, Any] | None = None
) -> dict[str, int]:
    """``total`` (tasks) and, when the server gives them, ``total_annotations`` and
    ``total_predictions`` under ``filters`` (default: all tasks); one request.

    Returns
    -------
    dict
        ``total`` and, when the server gives them, ``total_annotations`` and
        ``total_predictions``.

    Raises
    ------
    ExportFormatError
        The answer has no ``tasks`` list and integer ``total``.
    """
    answer = _page(conn, project, filters or ALL_TASKS, "id", 1, 1)
    return {k: int(v) for k, v in answer.items() if k.startswith("total") and isinstance(v, int)}


def list_tasks(
    conn: Connection,
    project: int,
    filters: dict[str, Any] | None = None,
    *,
    fields: str = "id",
    page_size: int = PAGE_SIZE,
) -> list[dict[str, Any]]:
    """Every task under ``filters`` (only ``fields``, comma-separated), page by page until
    ``total`` (a server may cap the page size below what was asked).

    Raises
    ------
    ExportFormatError
        A page has no ``tasks`` list and integer ``total``.
    """
    out: list[dict[str, Any]] = []
    page = 1
    while True:
        answer = _page(conn, project, filters or ALL_TASKS, fields, page, page_size)
        out.extend(answer["tasks"])
        if not answer["tasks"] or len(out) >= answer["total"]:
            return out
        page += 1


def create_view(conn: Connection, project: int, filters: dict[str, Any], title: str) -> int:
    """Create a Data Manager view of ``project`` under ``filters``; returns its id."""
    view = conn.post_json(
        "api/dm/views/",
        json={
            "project": int(project),
            "data": {
                "title": title,
                "filters": filters,
            },
        },
    )
    if not isinstance(view, dict) or not isinstance(view.get("id"), int):
        raise ExportFormatError(
            "the server did not return the new view's id", path="/api/dm/views/"
        )
    return int(view["id"])


def delete_view(conn: Connection, view_id: int) -> None:
    """Delete a Data Manager view."""
    conn.request("DELETE", f"api/dm/views/{int(view_id)}/")
