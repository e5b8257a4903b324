"""Asking the server about a project's tasks for a sync run: counted requests, and the
search for deleted tasks (its decisions are in :mod:`~ls_frames.sync.plan`).

Listing tasks costs the server about 0.5 ms each (all 20,000 ids took 12 s); counting a
range of ids costs 0.1 s, and a range that lost nothing is not looked at again.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ls_frames.exports import Client
from ls_frames.exports.tasks import id_range_filter
from ls_frames.sync.plan import Range, first_ranges, search_done, search_step

__all__ = ["TaskQueries", "find_deleted_tasks"]

_THREADS = 4


class TaskQueries:
    """One project's task list through ``client``, with the requests counted (the run
    history records them)."""

    def __init__(self, client: Client, project: int) -> None:
        self.client = client
        self.project = int(project)
        self.requests = {"count": 0, "list": 0}
        self._lock = threading.Lock()

    def _counted(self, kind: str) -> None:
        with self._lock:
            self.requests[kind] += 1

    def totals(self, filters: dict[str, Any] | None = None) -> dict[str, int]:
        """:meth:`Client.count_tasks` under ``filters``."""
        self._counted("count")
        return self.client.count_tasks(self.project, filters)

    def count(self, filters: dict[str, Any] | None = None) -> int:
        """How many tasks match ``filters``."""
        return self.totals(filters)["total"]

    def rows(
        self, filters: dict[str, Any] | None = None, fields: str = "id"
    ) -> list[dict[str, Any]]:
        """:meth:`Client.list_tasks` under ``filters``."""
        self._counted("list")
        return self.client.list_tasks(self.project, filters, fields=fields)

    def ids(self, filters: dict[str, Any] | None = None) -> set[int]:
        """The ids of the tasks matching ``filters``."""
        return {int(t["id"]) for t in self.rows(filters)}


def find_deleted_tasks(
    client: Client,
    project: int,
    known: Sequence[int],
    *,
    missing: int | None = None,
) -> list[int]:
    """Which of the ``known`` task ids no longer exist on the server.

    Splits the sorted ids into ranges and counts each range on the server (one request
    each, a few at a time); a range that lost none is done, one that lost all is all
    deleted, and a small one is listed.

    Parameters
    ----------
    client
        The server.
    project
        The project's id.
    known
        The task ids to check.
    missing
        How many are gone, when known; the search stops once that many are found.

    Returns
    -------
    list of int
        The deleted ids, sorted.

    Raises
    ------
    ExportFormatError
        The task list answered without ``tasks`` and ``total``.
    """
    return search(TaskQueries(client, project), sorted(set(known)), missing)


def search(tasks: TaskQueries, ids: list[int], missing: int | None) -> list[int]:
    """Count ranges of the sorted ``ids`` (index ranges, so each holds a known number of
    tasks) level by level, as :func:`~ls_frames.sync.plan.search_step` decides."""

    def listed(node: Range) -> list[int]:
        part = ids[node[0] : node[1]]
        there = tasks.ids(id_range_filter(part[0], part[-1]))
        return [i for i in part if i not in there]

    def counted(node: Range) -> tuple[Range, int]:
        part = ids[node[0] : node[1]]
        return node, tasks.count(id_range_filter(part[0], part[-1]))

    level = first_ranges(len(ids), missing)
    if len(level) == 1 and level[0] == (0, len(ids)):
        return listed(level[0])  # few ids: one listing
    deleted: list[int] = []
    with ThreadPoolExecutor(_THREADS, thread_name_prefix="ls_frames-sync") as pool:
        while not search_done(level, len(deleted), missing):
            step = search_step(ids, pool.map(counted, level))
            deleted.extend(step.deleted)
            for gone in pool.map(listed, step.to_list):
                deleted.extend(gone)
            level = step.deeper
    return sorted(deleted)
