"""The Data Manager calls on the Client (task counts and pages, temporary views) against
the real server."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import ls_frames
from ls_frames.errors import ServerError
from ls_frames.exports.tasks import id_range_filter, updated_after_filter
from ls_frames.testing.seed import seed_demo_project

pytestmark = pytest.mark.server


@pytest.fixture
def client(label_studio: Any) -> Iterator[ls_frames.Client]:
    with ls_frames.Client(label_studio.url, label_studio.legacy_token) as c:
        yield c


@pytest.fixture
def seeded(label_studio: Any) -> dict[str, Any]:
    return seed_demo_project(
        label_studio.url, label_studio.legacy_token, n_tasks=7, title="ls_frames task list test"
    )


def test_counts_and_pages(client: ls_frames.Client, seeded: dict[str, Any]) -> None:
    pid, tids = seeded["project_id"], sorted(seeded["task_ids"])
    totals = client.count_tasks(pid)
    assert totals["total"] == len(tids)
    project = client.get_project(pid)
    assert totals["total_predictions"] == project["total_predictions_number"]
    # pages smaller than the project: every task once, in id order
    rows = client.list_tasks(pid, fields="id,updated_at", page_size=3)
    assert [r["id"] for r in rows] == tids
    assert all(isinstance(r["updated_at"], str) for r in rows)
    middle = id_range_filter(tids[2], tids[4])
    assert client.count_tasks(pid, middle)["total"] == 3
    assert [r["id"] for r in client.list_tasks(pid, middle)] == tids[2:5]
    latest = max(r["updated_at"] for r in rows)
    assert client.count_tasks(pid, updated_after_filter(latest))["total"] == 0
    with pytest.raises(ServerError):  # the one datetime form the server parses
        client.count_tasks(pid, updated_after_filter(latest.replace("Z", "+00:00")[:19]))


def test_a_view_limits_a_snapshot_and_is_deleted(
    client: ls_frames.Client, seeded: dict[str, Any], tmp_path: Any
) -> None:
    pid, tids = seeded["project_id"], sorted(seeded["task_ids"])
    view = client.create_view(pid, id_range_filter(tids[0], tids[1]), "ls_frames view test")
    try:
        assert view in [int(v["id"]) for v in client.list_views(pid)]
        out = ls_frames.export_project(
            pid,
            tmp_path / "ds",
            client=client,
            progress=False,
            task_filter=ls_frames.TaskFilter(view=view),
        )
        assert sorted(int(t) for t in ls_frames.read_parquet(out).tasks.task_id) == tids[:2]
    finally:
        client.delete_view(view)
    assert view not in [int(v["id"]) for v in client.list_views(pid)]
