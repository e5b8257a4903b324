"""Every branch of an incremental sync's decisions, offline: the plan is a pure function
of what the server reported and what the dataset holds."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from ls_frames.sync import plan

T0 = "2026-01-02T03:04:05.123456Z"
T0_DT = datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=timezone.utc)


def test_server_time_and_window_start() -> None:
    assert plan.server_time(T0) == T0_DT
    assert plan.server_time("2026-01-02T03:04:05.123456") == T0_DT  # naive: UTC
    assert plan.server_time("2026-01-02T05:04:05.123456+02:00") == T0_DT
    assert plan.window_start(T0, 60) == T0_DT - timedelta(seconds=60)


# -- 1. what to export ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("after", "in_window", "held", "export", "reason"),
    [
        (3, None, None, True, "changed after the watermark"),
        (0, 0, None, False, "nothing changed"),
        (0, None, None, False, "nothing changed"),
        (0, 5, True, False, "overlap already held"),
        (0, 5, False, True, "changed in the overlap"),
        (0, 5000, None, True, "changed in the overlap"),  # too many to check: export
    ],
)
def test_plan_export(
    after: int, in_window: int | None, held: bool | None, export: bool, reason: str
) -> None:
    decided = plan.plan_export(after, in_window, held)
    assert (decided.export, decided.reason) == (export, reason)


def test_window_is_checked_only_when_small_and_nothing_after_the_watermark() -> None:
    assert plan.window_to_check(0, 1)
    assert plan.window_to_check(0, plan.CHECK_BELOW)
    assert not plan.window_to_check(0, plan.CHECK_BELOW + 1)
    assert not plan.window_to_check(0, 0)
    assert not plan.window_to_check(1, 5)


def _stamp(
    tid: int, ts: str = T0, ann: int = 1, cancelled: int = 0, preds: int = 1
) -> dict[str, Any]:
    return {
        "id": tid,
        "updated_at": ts,
        "total_annotations": ann,
        "cancelled_annotations": cancelled,
        "total_predictions": preds,
    }


def test_overlap_already_held() -> None:
    ours = {1: (T0_DT, 1, 0, 1), 2: (T0_DT, 2, 0, 0)}
    assert plan.overlap_already_held([_stamp(1), _stamp(2, ann=2, preds=0)], ours)
    # a later timestamp, another counter, an unknown task, a missing stamp, nothing listed
    assert not plan.overlap_already_held([_stamp(1, ts="2026-01-02T03:04:06.000000Z")], ours)
    assert not plan.overlap_already_held([_stamp(1, preds=0)], ours)
    assert not plan.overlap_already_held([_stamp(3)], ours)
    assert not plan.overlap_already_held([{"id": 1, "updated_at": None}], ours)
    assert not plan.overlap_already_held([], ours)


# -- 2. deleted tasks ----------------------------------------------------------------------
def test_plan_deletions() -> None:
    same = plan.plan_deletions([1, 2, 3], [3, 4], 4)
    assert (same.believed, same.search, same.missing) == ([1, 2, 3, 4], False, None)
    fewer = plan.plan_deletions([1, 2, 3], [3, 4], 2)
    assert (fewer.search, fewer.missing) == (True, 2)
    more = plan.plan_deletions([1, 2, 3], [], 5)  # created after the export: count unknown
    assert (more.search, more.missing) == (True, None)


def test_first_ranges() -> None:
    assert plan.first_ranges(0, None) == []
    assert plan.first_ranges(plan.LIST_BELOW, None) == [(0, plan.LIST_BELOW)]
    ranges = plan.first_ranges(10_000, 3)
    assert len(ranges) == 6  # two per missing task
    assert ranges[0][0] == 0 and ranges[-1][1] == 10_000
    assert all(a[1] == b[0] for a, b in itertools.pairwise(ranges))
    assert len(plan.first_ranges(10_000, None)) == plan.FANOUT
    assert len(plan.first_ranges(10_000, 10_000)) == -(-10_000 // (plan.LIST_BELOW // 2))


def test_search_step_sorts_ranges_by_what_their_counts_say() -> None:
    ids = list(range(100, 3100))  # 3000 ids
    counted = [
        ((0, 500), 500),  # lost none: done
        ((500, 1000), 0),  # lost all: every id deleted
        ((1000, 1500), 499),  # small, lost one: listed
        ((1500, 3000), 1490),  # large, lost some: split
        ((3000, 3000), 0),  # empty: nothing
    ]
    step = plan.search_step(ids, counted)
    assert step.deleted == ids[500:1000]
    assert step.to_list == [(1000, 1500)]
    assert step.deeper == plan.split_range(1500, 3000, plan.FANOUT)
    assert len(step.deeper) == plan.FANOUT


def test_search_done() -> None:
    assert plan.search_done([], 0, None)
    assert plan.search_done([(0, 5)], 2, 2)
    assert not plan.search_done([(0, 5)], 1, 2)
    assert not plan.search_done([(0, 5)], 7, None)


def test_split_covers_the_range_once() -> None:
    for start, stop, parts in [(0, 10, 3), (5, 6, 4), (0, 1000, 7), (3, 3, 2)]:
        pieces = plan.split_range(start, stop, parts)
        covered = [i for a, b in pieces for i in range(a, b)]
        assert covered == list(range(start, stop))
        assert len(pieces) <= parts


# -- 3. what to write ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("exported", "deleted", "server", "ours", "action"),
    [
        (True, 0, 5, 5, "upsert"),
        (False, 2, 5, 5, "upsert"),
        (True, 0, 1, 5, "upsert"),  # the rewritten dataset is checked afterwards
        (False, 0, 5, 5, "nothing"),
        (False, 0, 9, 5, "nothing"),  # more on the server: new ones, brought next run
        (False, 0, None, 5, "nothing"),  # a server without the total
        (False, 0, 4, 5, "full"),  # fewer: a bulk deletion left updated_at alone
    ],
)
def test_plan_write(
    exported: bool, deleted: int, server: int | None, ours: int, action: str
) -> None:
    outcome = plan.plan_write(exported, deleted, server, ours)
    assert outcome.action == action
    assert (outcome.reason is not None) == (action == "full")
    if action == "full":
        assert outcome.reason == f"the server holds {server} predictions, the dataset {ours}"


def test_predictions_lost() -> None:
    assert plan.predictions_lost(None, 3) is None
    assert plan.predictions_lost(3, 3) is None
    assert plan.predictions_lost(2, 3) == "the server holds 2 predictions, the dataset 3"


def test_server_predictions_prefers_the_projects_live_count() -> None:
    # 1.23.2 after a bulk "delete predictions": the summed counters are stale
    assert plan.server_predictions({"total_predictions_number": 4}, {"total_predictions": 5}) == 4
    assert plan.server_predictions({}, {"total_predictions": 5}) == 5
    assert plan.server_predictions({"total_predictions_number": None}, {"total": 3}) is None
    assert plan.server_predictions({"total_predictions_number": True}, {}) is None


def test_unexplained_tasks() -> None:
    assert plan.unexplained_tasks(10, 10, 0) == 0
    assert plan.unexplained_tasks(10, 10, 2) == 2
    assert plan.unexplained_tasks(8, 10, 2) == 0
    assert plan.unexplained_tasks(5, 10, 0) == 0
