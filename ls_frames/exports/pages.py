"""The tasks route: a whole project read through the paged task list, written as the
export's JSON.

A snapshot is built by the server inside one request (Label Studio Community), which a
production server's worker timeout (uwsgi's ``harakiri``, gunicorn's ``--timeout``) can
kill on a large project. The Data Manager's task list answers the same tasks in pages,
each far below any timeout (verified on Label Studio 1.23.2)::

    GET api/tasks/?project=P&fields=all&resolve_uri=false&review=true&page=N&page_size=K
        &query={"filters": <task id in lo..hi>, "ordering": ["tasks:id"]}
    -> {"tasks": [...], "total": T, "total_annotations": A, "total_predictions": R}

Every page request makes the server count the listed tasks (and their annotations and
predictions), so pages of the whole list cost more the larger the project: the route asks
for ranges of task ids instead (page 1 of the list filtered to ``lo..hi``), a cost
proportional to the page (a 1,024-task page of a 20,000-task project: 11 s instead of
21.5 s on the loaded test machine). A view (``TaskFilter(view=)``) keeps its own filters,
order and page numbering.

``fields=all`` adds annotations (``completed_by`` as a user id), predictions and drafts;
``resolve_uri=false`` keeps the task data as stored (the default rewrites storage links
into presign URLs, which a snapshot does not); ``review=true`` leaves out the Data
Manager's per-task summary columns (which cost the server time) and never asks an ML
backend for predictions (the plain list does for tasks that have none).
:func:`read_task_pages` fetches the pages in parallel (``workers`` requests at a time, at
most ``2 * workers`` pages held, as bytes), turns each task into the object a snapshot
with full serialization writes (:func:`to_export_task`) and writes them, in page order,
into one JSON array: the file the flattener reads, whose memory stays bounded whatever
the project's size. A page that fails is repeated by the
connection's retry policy (it is a ``GET``); a page the server fails on (a 5xx or a
dropped connection: what a worker timeout does to a request serving too many tasks) is
asked again as its two halves, down to :data:`MIN_PAGE_SIZE` tasks, and later pages
start at the size that worked.

What the pages do not carry, and what is done about it:

* ``completed_by`` of an annotation is the user id: the user's ``email``, ``first_name``
  and ``last_name`` are filled from the organisation's member list (``api/users/``, one
  request) when full annotators are asked for.
* ``updated_by`` of a task is ``[{"user_id": U}]`` there: written as ``U`` (or null).
* Not in the pages and not derivable, so null in the tables on this route: the task's
  ``allow_skip``, the annotation's ``unique_id``, ``result_count`` (0 for imported
  annotations, the number of result ids for saved ones) and ``prediction`` (the
  prediction shown when it was made: ``prediction_json``).
* ``drafts`` and ``predictions`` are full objects; ``Serialization(predictions="id")``
  (or ``drafts``) keeps their ids only, as a snapshot does.
* Task fields the Data Manager adds (``annotators``, ``annotations_results``,
  ``predictions_score``, ...) are left out, so the tables have the same columns.

The snapshot's task filters ``skipped``, ``finished``, ``annotated`` and ``reviewed``, and
the serialization options ``interpolate_key_frames`` and ``annotation_history``, cannot be
applied here: :func:`check_tasks_route` refuses them. ``view`` (the tab's filters and
order), ``only_with_annotations`` and the annotation filter are applied.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections import deque
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import msgspec

from ls_frames._progress import progress_bar
from ls_frames.errors import (
    ConfigurationError,
    ExportFormatError,
    HTTPError,
    NotFound,
    TransportError,
)
from ls_frames.exports.options import AnnotationFilter, ExportOptions, Serialization
from ls_frames.exports.tasks import ALL_TASKS, checked_task_page, id_range_filter
from ls_frames.transport import Connection

__all__ = [
    "MIN_PAGE_SIZE",
    "PAGE_SIZE",
    "TaskPagesResult",
    "check_tasks_route",
    "read_task_pages",
    "to_export_task",
]

#: tasks asked per page (a server may cap it: ``TASK_API_PAGE_SIZE_MAX``); a power of two,
#: so that a page halves exactly into pages of the task list's own numbering
PAGE_SIZE = 1024
#: the smallest page a failed page is split into (see :func:`read_task_pages`)
MIN_PAGE_SIZE = 16
#: task fields of the Data Manager's answer a snapshot does not write
_DM_ONLY = frozenset(
    {
        "annotators",
        "annotators_count",
        "annotations_results",
        "annotations_ids",
        "predictions_results",
        "predictions_score",
        "predictions_model_versions",
        "completed_at",
        "storage_filename",
        "reviewers",
        "reviewers_count",
        "reviewed",
        "comments",
        "avg_lead_time",
        "draft_exists",
        "ground_truth",
        "is_labeled",
        "overlap",
        "precomputed_agreement",
        "total_annotations_count",
        "unique_lock_id",
        "state",
    }
)
#: annotation fields of the Data Manager's answer a snapshot does not write
_ANNOTATION_DM_ONLY = frozenset({"created_ago", "created_username"})
#: the server's own writer of a snapshot (``", "`` and ``": "``, UTF-8 kept), so the
#: tables' JSON text columns hold the same text on both routes
_encode = json.JSONEncoder(ensure_ascii=False).encode
_decoder = msgspec.json.Decoder()
logger = logging.getLogger("ls_frames")


@dataclass(frozen=True)
class TaskPagesResult:
    """What :func:`read_task_pages` wrote: ``tasks`` in the file, ``total`` the task list's
    count before and ``total_after`` after the read, ``server_time`` the server's clock
    when the read began (its ``Date`` header), ``pages`` requested, ``seconds`` taken."""

    path: Path
    tasks: int
    total: int
    total_after: int
    server_time: datetime
    pages: int
    seconds: float


def check_tasks_route(options: ExportOptions) -> str | None:
    """Why the tasks route cannot serve ``options``, or ``None`` when it can (see
    :meth:`ExportOptions.tasks_route_refusal
    <ls_frames.exports.options.ExportOptions.tasks_route_refusal>`)."""
    return options.tasks_route_refusal()


def _keep_annotation(ann: dict[str, Any], flt: AnnotationFilter) -> bool:
    if flt.usual and flt.ground_truth and flt.skipped:
        return True
    cancelled, gt = bool(ann.get("was_cancelled")), bool(ann.get("ground_truth"))
    return (
        (flt.usual and not cancelled and not gt)
        or (flt.ground_truth and gt)
        or (flt.skipped and cancelled)
        or not (flt.usual or flt.ground_truth or flt.skipped)
    )


def to_export_task(
    task: dict[str, Any],
    *,
    annotation_filter: AnnotationFilter,
    serialization: Serialization,
    users: dict[int, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """One task of the task list (``fields=all``) as a snapshot with ``serialization``
    writes it (see the module's docstring); ``users`` maps a user id to the
    ``{id, email, first_name, last_name}`` a snapshot gives as ``completed_by``."""
    out = {k: v for k, v in task.items() if k not in _DM_ONLY}
    if out.get("file_upload") is None:
        out.pop("file_upload", None)  # a snapshot writes it only for an uploaded file
    by_whom = task.get("updated_by")
    if isinstance(by_whom, list):  # [{"user_id": U}] or []: a snapshot gives U or null
        first = by_whom[0] if by_whom else None
        out["updated_by"] = first.get("user_id") if isinstance(first, dict) else first
    annotations = [
        {k: v for k, v in a.items() if k not in _ANNOTATION_DM_ONLY}
        for a in task.get("annotations") or []
        if _keep_annotation(a, annotation_filter)
    ]
    if serialization.annotators == "full":
        for ann in annotations:
            by = ann.get("completed_by")
            if isinstance(by, int):
                ann["completed_by"] = (users or {}).get(by) or {"id": by}
    else:
        for ann in annotations:
            by = ann.get("completed_by")
            if isinstance(by, dict):
                ann["completed_by"] = by.get("id")
    out["annotations"] = annotations
    for key in ("predictions", "drafts"):
        items = task.get(key) or []
        if getattr(serialization, key) == "id":
            items = [i.get("id") if isinstance(i, dict) else i for i in items]
        out[key] = items
    out.setdefault("comment_authors", [])
    return out


#: a slice of the task list: ``("page", number, size)`` of the view's own numbering, or
#: ``("range", lo, hi)``: the tasks whose id is in ``lo..hi`` (one page of the filtered list)
Piece = tuple[str, int, int]


def _params(project: int, view: int | None, piece: Piece) -> dict[str, Any]:
    kind, a, b = piece
    params: dict[str, Any] = {
        "project": int(project),
        "fields": "all",
        "resolve_uri": "false",
        # the review listing: the same task objects without the Data Manager's summary
        # columns (annotators, results as text, ...) computed per task, and without asking
        # an ML backend for missing predictions
        "review": "true",
        "page": a if kind == "page" else 1,
        "page_size": b if kind == "page" else b - a + 1,
    }
    if view is not None:
        params["view"] = int(view)
    else:
        # the snapshot's order, by id; a range filter keeps each request's cost (the
        # server counts the filtered tasks for every page) to its own tasks
        flt = id_range_filter(a, b) if kind == "range" else ALL_TASKS
        params["query"] = json.dumps({"filters": flt, "ordering": ["tasks:id"]})
    return params


def _decode(content: bytes, project: int, page: int) -> Any:
    """A page's body, decoded and checked."""
    try:
        answer = _decoder.decode(content)
    except msgspec.DecodeError as exc:
        raise ExportFormatError(
            f"page {page} of the task list is not JSON: {exc}",
            path=f"/api/tasks/?project={project}&page={page}",
        ) from None
    return checked_task_page(answer, f"/api/tasks/?project={project}&page={page}")


def _users(conn: Connection) -> dict[int, dict[str, Any]]:
    """The organisation's members as a snapshot's ``completed_by`` gives them."""
    answer = conn.get_json("api/users/")
    items = answer.get("results", answer) if isinstance(answer, dict) else answer
    out: dict[int, dict[str, Any]] = {}
    for user in items if isinstance(items, list) else []:
        if isinstance(user, dict) and isinstance(user.get("id"), int):
            out[user["id"]] = {
                "id": user["id"],
                "email": user.get("email", ""),
                "first_name": user.get("first_name", ""),
                "last_name": user.get("last_name", ""),
            }
    return out


def _server_time(response: Any) -> datetime:
    from email.utils import parsedate_to_datetime

    try:
        return parsedate_to_datetime(response.headers["Date"])
    except (KeyError, TypeError, ValueError):
        return datetime.now(timezone.utc)


def _in_order(
    fetch: Callable[[int], Any], pages: range, workers: int
) -> Generator[tuple[int, Any], None, None]:
    """``fetch(page)`` for every page, ``workers`` at a time, yielded in page order with at
    most ``2 * workers`` answers held."""
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ls_frames-pages") as pool:
        pending: deque[tuple[int, Future[Any]]] = deque()
        todo = iter(pages)
        try:
            for page in todo:
                pending.append((page, pool.submit(fetch, page)))
                if len(pending) >= 2 * workers:
                    done, future = pending.popleft()
                    yield done, future.result()
            while pending:
                done, future = pending.popleft()
                yield done, future.result()
        finally:
            for _, future in pending:
                future.cancel()


def _probe(
    conn: Connection, project: int, view: int | None, size: int, descending: bool = False
) -> tuple[Any, Any, int]:
    """One cheap request (ids only): the response (its ``Date``), the answer (the first
    ids) and the page size the server allows (it may cap it: ``TASK_API_PAGE_SIZE_MAX``)."""
    params = {**_params(project, view, ("page", 1, size)), "include": "id"}
    del params["fields"]
    if descending and view is None:
        params["query"] = json.dumps({"filters": ALL_TASKS, "ordering": ["-tasks:id"]})
    response = conn.request("GET", "api/tasks/", params=params)
    answer = _decode(response.content, project, 1)
    total, got = int(answer["total"]), len(answer["tasks"])
    return response, answer, max(1, got) if got < min(total, size) else size


def _pieces(
    conn: Connection, project: int, view: int | None, answer: Any, size: int
) -> list[Piece]:
    """The slices to fetch: id ranges of ``size`` ids from the lowest id to the highest
    (a view: its pages, in its order)."""
    total = int(answer["total"])
    if view is not None or not total:
        return [("page", n, size) for n in range(1, max(1, -(-total // size)) + 1)]
    lo = int(answer["tasks"][0]["id"])
    hi = int(_probe(conn, project, view, 1, descending=True)[1]["tasks"][0]["id"])
    return [("range", a, min(a + size - 1, hi)) for a in range(lo, hi + 1, size)]


def _width(piece: Piece) -> int:
    kind, a, b = piece
    return b if kind == "page" else b - a + 1


def _split(piece: Piece) -> list[Piece]:
    kind, a, b = piece
    if kind == "page":
        return [("page", 2 * a - 1, b // 2), ("page", 2 * a, b // 2)]
    mid = (a + b) // 2
    return [("range", a, mid), ("range", mid + 1, b)]


def _fetch_split(
    conn: Connection, project: int, view: int | None, piece: Piece, total: int, ceiling: list[int]
) -> list[bytes]:
    """A slice of the task list, as bodies. One the server fails on (a 5xx, a dropped
    connection: a worker timeout kills a request serving too many tasks) is asked again as
    its two halves, down to :data:`MIN_PAGE_SIZE` tasks, where the connection's retries
    take over; ``ceiling[0]``, shared by the slices, is the width that last failed halved,
    so later slices start below it."""
    kind, a, b = piece
    if kind == "page" and (a - 1) * b >= total:  # a half past the end
        return []
    width = _width(piece)
    halves = width // 2 >= MIN_PAGE_SIZE and (kind == "range" or width % 2 == 0)
    if halves and width > ceiling[0]:
        return [
            body
            for p in _split(piece)
            for body in _fetch_split(conn, project, view, p, total, ceiling)
        ]
    try:
        params = _params(project, view, piece)
        retry = False if halves else None
        return [conn.request("GET", "api/tasks/", params=params, retry=retry).content]
    except NotFound:
        return []  # the project shrank meanwhile (the count afterwards says so)
    except HTTPError as exc:
        if not halves or not (isinstance(exc, TransportError) or (exc.status or 0) >= 500):
            raise
        logger.info("%s of %d tasks failed (%s): asking for its halves", piece, width, exc)
        ceiling[0] = min(ceiling[0], width // 2)
        return [
            body
            for p in _split(piece)
            for body in _fetch_split(conn, project, view, p, total, ceiling)
        ]


def _write_pages(
    out: Any, bodies: Iterator[bytes], project: int, options: ExportOptions, users: Any, bar: Any
) -> int:
    """Every task of the pages' ``bodies`` (in order) into the open JSON array ``out``, in
    a snapshot's shape; returns how many were written."""
    seen: set[int] = set()
    written = 0
    for body in bodies:
        answer = _decode(body, project, 0)
        for task in answer["tasks"]:
            tid = task.get("id")
            if tid in seen:  # a page shifted by a task added meanwhile
                continue
            seen.add(tid)
            if options.task_filter.only_with_annotations and not task.get("annotations"):
                continue
            item = to_export_task(
                task,
                annotation_filter=options.annotation_filter,
                serialization=options.serialization,
                users=users,
            )
            out.write(b"," if written else b"\n")
            out.write(_encode(item).encode("utf-8"))
            written += 1
        bar.update(len(answer["tasks"]))
        del answer, body
    return written


def read_task_pages(
    conn: Connection,
    project: int,
    dest: str | os.PathLike[str],
    options: ExportOptions,
    *,
    workers: int = 2,
    page_size: int | None = None,
) -> TaskPagesResult:
    """Write every task of ``project`` (under ``options``' filters) to the JSON file
    ``dest`` in a snapshot's shape, read through the paged task list.

    The file is written under a temporary name and renamed when complete.

    Raises
    ------
    ConfigurationError
        ``options`` ask for what only a snapshot gives (:func:`check_tasks_route`).
    ExportFormatError
        A page is not the task list's answer.
    HTTPError
        A page failed after the retries.
    """
    reason = check_tasks_route(options)
    if reason:
        raise ConfigurationError(reason)
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ConfigurationError(f"fetch workers must be a whole number >= 1, not {workers!r}")
    view = options.task_filter.view
    started = time.monotonic()
    users = _users(conn) if options.serialization.annotators == "full" else None
    response, first, size = _probe(
        conn, project, view, PAGE_SIZE if page_size is None else page_size
    )
    total = int(first["total"])
    pieces = _pieces(conn, project, view, first, size)
    path = Path(dest)
    partial = path.with_name(f".{path.name}.partial")
    ceiling = [size]

    def fetch(i: int) -> list[bytes]:
        # bodies only: pages wait for their turn as bytes, decoded one at a time
        return _fetch_split(conn, project, view, pieces[i], total, ceiling)

    pages = _in_order(fetch, range(len(pieces)), workers)
    bodies = (body for _, split in pages for body in split)
    with (
        progress_bar(options.progress, total=total, unit="task", desc="tasks") as bar,
        open(partial, "wb") as out,
    ):
        try:
            out.write(b"[")
            written = _write_pages(out, bodies, project, options, users, bar)
            out.write(b"\n]\n")
        except BaseException:
            out.close()
            partial.unlink(missing_ok=True)
            raise
        finally:
            pages.close()
    os.replace(partial, path)
    after = int(_probe(conn, project, view, 1)[1]["total"]) if len(pieces) > 1 else total
    return TaskPagesResult(
        path=path,
        tasks=written,
        total=total,
        total_after=after,
        server_time=_server_time(response),
        pages=len(pieces),
        seconds=time.monotonic() - started,
    )
