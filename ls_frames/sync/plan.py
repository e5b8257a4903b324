"""What an incremental sync decides, as pure functions of what the server reported.

No I/O here: each function takes counts, listings and the dataset's state and returns a
decision, so every branch is tested offline (tests/test_sync_plan.py). The run
(:mod:`ls_frames.sync.run`) asks the server, calls these, and carries out what
they decide. The order of a run:

1. :func:`plan_export`: export the tasks changed in the window, or not (nothing changed, or
   the overlap's tasks are already held with the same ``updated_at`` and counters, checked
   by :func:`overlap_already_held` when :func:`window_to_check` says the window is small).
2. :func:`plan_deletions`: whether the server's task total means some tasks were deleted,
   then the search: :func:`first_ranges`, :func:`search_step` per level of counted
   ranges, until :func:`search_done`.
3. :func:`plan_write`: nothing to write, upsert, or a full export (the server holds
   fewer predictions than the dataset: a bulk deletion that left ``updated_at`` alone);
   after an upsert :func:`predictions_lost` is asked again with the rewritten counts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Literal

__all__ = [
    "CHECK_BELOW",
    "COUNTERS",
    "FANOUT",
    "LIST_BELOW",
    "DeletionCheck",
    "ExportPlan",
    "SearchStep",
    "WritePlan",
    "first_ranges",
    "overlap_already_held",
    "plan_deletions",
    "plan_export",
    "plan_write",
    "predictions_lost",
    "search_done",
    "search_step",
    "server_predictions",
    "server_time",
    "split_range",
    "unexplained_tasks",
    "window_start",
    "window_to_check",
]

#: a changed-task window this small is listed first, to skip re-exporting the overlap
CHECK_BELOW = 2000
#: below this many known tasks in a range, listing it is cheaper than splitting it further
LIST_BELOW = 600
#: how many parts a range that lost some tasks is split into
FANOUT = 4
#: the task counters compared besides ``updated_at`` (bulk actions commit them later)
COUNTERS = ("total_annotations", "cancelled_annotations", "total_predictions")

Range = tuple[int, int]  # [start, stop) indices into the sorted known ids


def server_time(ts: str) -> datetime:
    """A server timestamp (``...Z`` or with an offset) as an aware datetime."""
    parsed = datetime.fromisoformat(ts.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def window_start(watermark: str, overlap: float) -> datetime:
    """Where the changed-task window starts: ``overlap`` seconds before the watermark."""
    return server_time(watermark) - timedelta(seconds=overlap)


# -- 1. what to export ---------------------------------------------------------------------
@dataclass(frozen=True)
class ExportPlan:
    """Whether to export the window, and why."""

    export: bool
    reason: Literal[
        "changed after the watermark",
        "changed in the overlap",
        "overlap already held",
        "nothing changed",
    ]


def window_to_check(after_watermark: int, in_window: int) -> bool:
    """Whether the window's tasks are worth listing to compare with the dataset: nothing
    changed after the watermark itself, and the overlap holds a few tasks."""
    return after_watermark == 0 and 0 < in_window <= CHECK_BELOW


def overlap_already_held(
    stamps: Sequence[Mapping[str, Any]], ours: Mapping[int, tuple[Any, ...]]
) -> bool:
    """Whether every task in ``stamps`` (the server's ``id``, ``updated_at`` and
    :data:`COUNTERS`) is in ``ours`` (the dataset's ``{id: (updated_at, *COUNTERS)}``)
    with the same values: re-reading the overlap would then change nothing. (The counters
    catch a task whose counts the server committed after its timestamp.)"""
    wanted = {int(t["id"]): t for t in stamps}
    if not wanted or any(not isinstance(t.get("updated_at"), str) for t in wanted.values()):
        return False
    return all(
        ours.get(i) == (server_time(str(t["updated_at"])), *(t.get(c) for c in COUNTERS))
        for i, t in wanted.items()
    )


def plan_export(after_watermark: int, in_window: int | None, held: bool | None) -> ExportPlan:
    """Decide the export from the count of tasks changed after the watermark, the count in
    the window (``None`` when not asked) and whether the window is already held (``None``
    when not checked)."""
    if after_watermark > 0:
        return ExportPlan(True, "changed after the watermark")
    if not in_window:
        return ExportPlan(False, "nothing changed")
    if held:
        return ExportPlan(False, "overlap already held")
    return ExportPlan(True, "changed in the overlap")


# -- 2. deleted tasks ----------------------------------------------------------------------
@dataclass(frozen=True)
class DeletionCheck:
    """The ids the dataset will hold before deletions, and whether to search them."""

    believed: list[int]
    search: bool
    missing: int | None  # how many are gone, when the counts tell (stops the search early)


def plan_deletions(
    known: Iterable[int], exported: Iterable[int], server_total: int
) -> DeletionCheck:
    """Every task created since the last run is in the export, so the server holds
    ``|known | exported|`` tasks unless some were deleted. Fewer: that many were deleted.
    More: tasks created after the export (the next run brings them), and deletions hidden
    behind them are searched for all the same (``missing`` unknown)."""
    believed = sorted(set(known) | set(exported))
    if server_total == len(believed):
        return DeletionCheck(believed, False, None)
    gone = len(believed) - server_total
    return DeletionCheck(believed, True, gone if gone > 0 else None)


def split_range(start: int, stop: int, parts: int) -> list[Range]:
    """``[start, stop)`` cut into at most ``parts`` consecutive ranges."""
    step = max(1, -(-(stop - start) // max(1, parts)))
    return [(s, min(s + step, stop)) for s in range(start, stop, step)]


def first_ranges(n_ids: int, missing: int | None) -> list[Range]:
    """The first level of ranges to count: about two per missing task, so most ranges
    lost one or none; one range to list when there are few ids."""
    if n_ids <= LIST_BELOW:
        return [(0, n_ids)] if n_ids else []
    parts = max(FANOUT, min(2 * (missing or 1), -(-n_ids // max(1, LIST_BELOW // 2))))
    return split_range(0, n_ids, parts)


@dataclass(frozen=True)
class SearchStep:
    """What the counts of one level of ranges decide."""

    deleted: list[int] = field(default_factory=list)  # ranges that lost every task
    to_list: list[Range] = field(default_factory=list)  # small ranges that lost some
    deeper: list[Range] = field(default_factory=list)  # large ones, split to count again


def search_step(ids: Sequence[int], counted: Iterable[tuple[Range, int]]) -> SearchStep:
    """Given ``(range, tasks the server holds in it)`` for each range of the sorted known
    ``ids``: a range that lost none is done (or, rarely, holds as many unknown tasks as it
    lost: the next run's count shows it), one that lost all is all deleted, a small one is
    listed, a large one is split."""
    step = SearchStep()
    for (start, stop), there in counted:
        if there >= stop - start:
            continue
        if there == 0:
            step.deleted.extend(ids[start:stop])
        elif stop - start <= LIST_BELOW:
            step.to_list.append((start, stop))
        else:
            step.deeper.extend(split_range(start, stop, FANOUT))
    return step


def search_done(level: Sequence[Range], found: int, missing: int | None) -> bool:
    """No ranges left, or as many deleted tasks found as are known to be missing."""
    return not level or (missing is not None and found >= missing)


# -- 3. what to write ----------------------------------------------------------------------
@dataclass(frozen=True)
class WritePlan:
    """What the run writes: ``nothing``, an ``upsert`` of the export and deletions, or a
    ``full`` export (with the reason)."""

    action: Literal["nothing", "upsert", "full"]
    reason: str | None = None


def server_predictions(project: Mapping[str, Any], totals: Mapping[str, int]) -> int | None:
    """How many predictions the project holds. The project's ``total_predictions_number``
    counts the predictions themselves; the task list's ``total_predictions`` sums the
    tasks' stored counters, which the Data Manager's bulk "delete predictions" leaves
    stale on 1.23.2 (it collects the tasks to recount after deleting, so finds none). The
    first when the server gives it, else the second, else ``None``."""
    live = project.get("total_predictions_number")
    if isinstance(live, int) and not isinstance(live, bool):
        return live
    summed = totals.get("total_predictions")
    return summed if isinstance(summed, int) else None


def predictions_lost(server_predictions: int | None, ours: int) -> str | None:
    """The Data Manager's bulk "delete predictions" leaves ``updated_at`` alone (1.23.2):
    the server then holds fewer predictions than the dataset. New ones only make the
    server's number larger, so fewer means some went unseen. Returns the reason for a
    full export, or ``None``."""
    if server_predictions is None or server_predictions >= ours:
        return None
    return f"the server holds {server_predictions} predictions, the dataset {ours}"


def plan_write(
    exported: bool, deleted: int, server_predictions: int | None, ours_predictions: int
) -> WritePlan:
    """Nothing exported and nothing deleted: nothing to write, unless predictions went
    missing unseen (then ``full``). Otherwise an upsert (whose result is checked again
    with :func:`predictions_lost`)."""
    if exported or deleted:
        return WritePlan("upsert")
    reason = predictions_lost(server_predictions, ours_predictions)
    return WritePlan("full", reason) if reason else WritePlan("nothing")


def unexplained_tasks(server_total: int, believed: int, deleted: int) -> int:
    """Tasks on the server the dataset does not get this run: normally created after the
    export (the next run brings them). Still there a run later means tasks whose
    ``updated_at`` fell before the window (a transaction longer than the overlap)."""
    return max(0, server_total - (believed - deleted))
