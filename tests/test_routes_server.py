"""The two routes in against the real server: a project read through the paged task list
gives the same tables as through a snapshot, column by column, for every project here
(the export-case projects, the demo project, corpus exports imported as projects), in
both serializations and under the filters the tasks route applies itself.

Four columns exist only in a snapshot (the task list does not carry them, and they cannot
be derived): they are null on the tasks route, checked here, and left out of the
comparison."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import ls_frames
from ls_frames.exports import tasks as dm
from ls_frames.testing.compare import KEYS
from ls_frames.testing.seed import _full_result, seed_demo_project, seed_many_tasks
from tests.test_server_exports import http, projects  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.server, pytest.mark.compat]

CORPUS = Path(__file__).parent / "corpus" / "label-studio-1.23.2"
#: (table, column) a snapshot has and the task list cannot give
SNAPSHOT_ONLY = {
    ("tasks", "allow_skip"),
    ("annotations", "unique_id"),
    ("annotations", "result_count"),
    ("annotations", "prediction_json"),
}
IDS = ls_frames.Serialization(predictions="id", drafts="id", annotators="id")


@pytest.fixture(scope="module")
def client(label_studio: Any) -> Iterator[ls_frames.Client]:
    with ls_frames.Client(label_studio.url, label_studio.admin_key) as c:
        yield c


@pytest.fixture(scope="module")
def corpus_projects(client: ls_frames.Client) -> list[int]:
    """Real exports imported as projects (annotations, predictions, ground truth, masks)."""
    out = []
    for name, config in (
        ("snapshot_full_objects.json", (CORPUS / "label_config.xml").read_text()),
        ("masks_export.json", "<View></View>"),
        ("three_tasks_two_gts.json", "<View></View>"),
        ("tasks_annotations_predictions.json", "<View></View>"),
    ):
        project = client.post_json(
            "api/projects", {"title": f"routes {name}"[:50], "label_config": config}
        )
        client.post_json(
            f"api/projects/{project['id']}/import", json.loads((CORPUS / name).read_text())
        )
        out.append(int(project["id"]))
    return out


def both(client: ls_frames.Client, pid: int, **kwargs: Any) -> tuple[Any, Any]:
    """The project through a snapshot and through the task list."""
    snap = ls_frames.load_project(pid, client=client, progress=False, source="snapshot", **kwargs)
    pages = ls_frames.load_project(pid, client=client, progress=False, source="tasks", **kwargs)
    return snap, pages


def assert_same_routes(snap: Any, pages: Any) -> None:
    assert snap.provenance["route"] == "snapshot" and pages.provenance["route"] == "tasks"
    assert "export_id" in snap.provenance and "export_id" not in pages.provenance
    for table, column in SNAPSHOT_ONLY:
        # null on the tasks route (1.13.1's task list still carries allow_skip: then equal)
        got = pages[table][column]
        assert got.isna().all() or got.equals(snap[table][column]), (table, column)
        if len(snap[table]):
            assert snap[table][column].notna().any(), (table, column)
    # the same rows in the same order (both by task id), every other column equal
    assert pages.tasks["task_id"].tolist() == snap.tasks["task_id"].tolist()
    assert_same_but_snapshot_only(snap, pages)


def assert_same_but_snapshot_only(snap: Any, pages: Any) -> None:
    """The same tables, rows and values but for :data:`SNAPSHOT_ONLY`."""
    assert sorted(snap) == sorted(pages)
    for name in snap:
        x, y = snap[name], pages[name]
        assert list(x.columns) == list(y.columns), name
        cols = [c for c in x.columns if (name, c) not in SNAPSHOT_ONLY]
        keys = [k for k in KEYS if k in cols]
        x = x[cols].sort_values(keys).reset_index(drop=True)
        y = y[cols].sort_values(keys).reset_index(drop=True)
        pd.testing.assert_frame_equal(x, y, obj=name)


def test_every_export_case_reads_the_same_through_both_routes(
    client: ls_frames.Client,
    projects: dict[str, dict[str, Any]],  # noqa: F811
) -> None:
    for name, project in projects.items():
        for serialization in (None, IDS):
            snap, pages = both(client, project["project_id"], serialization=serialization)
            assert len(snap.tasks) == len(project["tasks"]), name
            assert_same_routes(snap, pages)


def test_the_demo_and_corpus_projects_read_the_same_through_both_routes(
    client: ls_frames.Client, demo_project: dict[str, Any], corpus_projects: list[int]
) -> None:
    for pid in [demo_project["project_id"], *corpus_projects]:
        snap, pages = both(client, pid)
        assert len(snap.annotations) and len(snap.regions), pid
        assert_same_routes(snap, pages)
    # completed_by filled from the user list, as the snapshot writes it
    assert pages.annotations["completed_by_email"].notna().all()


def test_the_filters_the_tasks_route_applies_match_the_servers(
    client: ls_frames.Client, demo_project: dict[str, Any]
) -> None:
    pid, tids = demo_project["project_id"], demo_project["task_ids"]
    for kwargs in (
        {"annotation_filter": {"usual": True}},
        {"annotation_filter": {"skipped": True, "ground_truth": True}},
        {"task_filter": {"only_with_annotations": True}},
    ):
        snap, pages = both(client, pid, **kwargs)
        assert_same_routes(snap, pages)
    view = client.create_view(pid, dm.id_range_filter(tids[2], tids[6]), "ls_frames routes")
    try:
        snap, pages = both(client, pid, task_filter={"view": view})
        assert pages.tasks["task_id"].tolist() == tids[2:7]
        assert_same_routes(snap, pages)
    finally:
        client.delete_view(view)


def test_a_sync_whose_first_run_read_the_task_list_stays_right(
    client: ls_frames.Client, label_studio: Any, tmp_path: Path
) -> None:
    info = seed_demo_project(  # a project of its own: it is changed
        label_studio.url, label_studio.admin_key, n_tasks=6, title="ls_frames routes sync"
    )
    pid, tids = info["project_id"], info["task_ids"]
    out = tmp_path / "ds"
    first = ls_frames.sync_parquet(
        pid, out, client=client, overlap=0, progress=False, source="tasks"
    )
    assert first.mode == "full" and first.export_id is None and first.total_tasks == 6
    provenance = ls_frames.read_parquet(out).provenance
    assert provenance is not None and provenance["route"] == "tasks"
    time.sleep(1.1)  # the server's clock past the watermark
    client.post_json(
        f"api/tasks/{tids[0]}/annotations/",
        json={"result": _full_result("r", 1), "was_cancelled": False},
    )
    second = ls_frames.sync_parquet(pid, out, client=client, overlap=0, progress=False)
    assert second.mode == "incremental" and second.changed_tasks >= 1
    fresh = ls_frames.export_project(
        pid, tmp_path / "fresh", client=client, progress=False, source="snapshot"
    )
    # the changed task came through a snapshot: it has the snapshot-only columns
    assert_same_but_snapshot_only(ls_frames.read_parquet(fresh), ls_frames.read_parquet(out))


def test_a_large_project_reads_the_same_through_both_routes(
    client: ls_frames.Client, label_studio: Any, tmp_path: Path
) -> None:
    # Always run: 2,500 tasks span three of the tasks route's 1,024-id ranges, read two at
    # a time; LS_FRAMES_SLOW=1 makes it the 20,000-task project (minutes to seed on SQLite).
    default = "20000" if os.environ.get("LS_FRAMES_SLOW") else "2500"
    n = int(os.environ.get("LS_FRAMES_SLOW_TASKS", default))
    sent = seed_many_tasks(label_studio.url, label_studio.admin_key, None, n)
    pid = sent["project_id"]
    snap = ls_frames.export_project(
        pid, tmp_path / "snap", client=client, progress=False, source="snapshot"
    )
    pages = ls_frames.export_project(
        pid, tmp_path / "pages", client=client, progress=False, source="tasks", fetch_workers=2
    )
    a, b = ls_frames.read_parquet(snap), ls_frames.read_parquet(pages)
    assert len(b.tasks) == n and len(b.annotations) == sent["annotations"]
    assert len(b.regions) == len(a.regions)
    assert_same_routes(a, b)
    left = [e for e in client.list_exports(pid) if e.status is not ls_frames.ExportStatus.COMPLETED]
    assert not left
