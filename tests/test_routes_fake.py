"""The two routes in (a snapshot, the paged task list) and ``source="auto"``'s fallback,
against the httpx.MockTransport fake: the kills a production server's worker timeout
causes, which the real test server cannot be made to do on demand."""

from __future__ import annotations

import json
import warnings
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest

import ls_frames
from ls_frames.exports import route
from ls_frames.exports.options import AnnotationFilter, Serialization
from ls_frames.exports.pages import to_export_task
from tests.fake_label_studio import FakeLabelStudio, client_for


@pytest.fixture
def fake() -> FakeLabelStudio:
    server = FakeLabelStudio()
    for tid in range(1, 8):
        server.put_task(tid, annotations=tid % 3, predictions=1)
    return server


def creates(fake: FakeLabelStudio) -> int:
    return sum(1 for r in fake.requests if r.method == "POST" and r.url.path.endswith("/exports/"))


def pages(fake: FakeLabelStudio) -> list[httpx.Request]:
    return [r for r in fake.requests if r.url.params.get("fields") == "all"]


def ranges(fake: FakeLabelStudio) -> list[tuple[int, int]]:
    """The id range each page request asked for, in order."""
    out = []
    for r in pages(fake):
        (item,) = json.loads(r.url.params["query"])["filters"]["items"]
        out.append((item["value"]["min"], item["value"]["max"]))
    return out


def load(fake: FakeLabelStudio, **kwargs: Any) -> Any:
    with client_for(fake) as client:
        return ls_frames.load_project(1, client=client, progress=False, **kwargs)


def expected_annotations(fake: FakeLabelStudio) -> list[int]:
    return sorted(a["id"] for t in fake.tasks.values() for a in t["annotations"])


def test_a_killed_create_is_read_through_the_task_list_once_warned(
    fake: FakeLabelStudio,
) -> None:
    fake.create_kill = "500"
    with pytest.warns(ls_frames.SnapshotFallbackWarning) as caught:
        frames = load(fake)
    assert len(caught) == 1
    warning = caught[0].message
    assert isinstance(warning, ls_frames.SnapshotFallbackWarning)
    assert "harakiri" in str(warning) and "task list" in str(warning)
    assert "raise the server's worker timeout" not in str(warning)  # the fix is done
    assert warning.snapshot_id is not None and warning.project == 1
    # the stuck snapshot was deleted, the tables are the project's
    assert fake.exports == {}
    assert creates(fake) == 1 and pages(fake)
    assert frames.tasks["task_id"].tolist() == sorted(fake.tasks)
    assert sorted(frames.annotations["annotation_id"].tolist()) == expected_annotations(fake)
    assert frames.provenance["route"] == "tasks"
    assert "stopped the snapshot build" in frames.provenance["route_reason"]
    assert "500 answer" in frames.provenance["route_reason"]
    assert "export_id" not in frames.provenance


@pytest.mark.parametrize("kill", ["504", "drop"])
def test_a_gateway_give_up_whose_snapshot_stalls_falls_back(
    fake: FakeLabelStudio, monkeypatch: pytest.MonkeyPatch, kill: str
) -> None:
    fake.create_kill = kill  # the create is found in progress, and stays so
    fake.clock = datetime.now(timezone.utc)  # found by its title and creation time
    monkeypatch.setattr(route, "STALL_LIMIT", 0.0)
    with pytest.warns(ls_frames.SnapshotFallbackWarning, match="stopped the snapshot build"):
        frames = load(fake)
    assert fake.exports == {}
    assert frames.provenance["route"] == "tasks"
    assert frames.tasks["task_id"].tolist() == sorted(fake.tasks)


def test_the_snapshot_route_raises_the_kill_and_leaves_no_stuck_snapshot(
    fake: FakeLabelStudio,
) -> None:
    fake.create_kill = "500"
    with pytest.raises(ls_frames.ServerError):
        load(fake, source="snapshot")
    assert fake.exports == {} and not pages(fake)


def test_auto_cannot_fall_back_when_only_a_snapshot_applies_the_options(
    fake: FakeLabelStudio,
) -> None:
    fake.create_kill = "500"
    with warnings.catch_warnings():
        warnings.simplefilter("error", ls_frames.SnapshotFallbackWarning)
        with pytest.raises(ls_frames.ServerError):
            load(fake, task_filter={"finished": "only"})
    assert fake.exports == {} and not pages(fake)


def test_a_healthy_snapshot_is_used_by_auto(fake: FakeLabelStudio) -> None:
    frames = load(fake)
    assert frames.provenance["route"] == "snapshot" and creates(fake) == 1
    assert not pages(fake) and fake.exports == {}


def test_a_large_project_goes_to_the_task_list_at_once(
    fake: FakeLabelStudio, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(route, "TASKS_ROUTE_THRESHOLD", len(fake.tasks) - 1)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ls_frames.SnapshotFallbackWarning)
        frames = load(fake)
    assert creates(fake) == 0
    assert frames.provenance["route"] == "tasks"
    assert f"{len(fake.tasks)} tasks" in frames.provenance["route_reason"]
    monkeypatch.setattr(route, "TASKS_ROUTE_THRESHOLD", len(fake.tasks))
    assert load(fake).provenance["route"] == "snapshot"


def test_pages_are_fetched_in_parallel_in_order_and_a_failed_one_is_retried(
    fake: FakeLabelStudio, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("ls_frames.exports.pages.PAGE_SIZE", 2)
    fake.page_faults = [httpx.Response(502, text="bad gateway")]
    client: Any
    with client_for(fake) as client:
        frames = ls_frames.load_project(
            1, client=client, progress=False, source="tasks", fetch_workers=3
        )
        assert client.sleeps
    asked = ranges(fake)  # ranges of 2 ids; one failed once and was asked again
    assert sorted(set(asked)) == [(1, 2), (3, 4), (5, 6), (7, 7)] and len(asked) == 5
    assert frames.tasks["task_id"].tolist() == sorted(fake.tasks)
    assert creates(fake) == 0


def test_the_tasks_route_refuses_what_only_a_snapshot_applies(fake: FakeLabelStudio) -> None:
    for kwargs in (
        {"task_filter": {"skipped": "exclude"}},
        {"serialization": {"interpolate_key_frames": True}},
        {"export_id": 3},
        {"keep_snapshot": True},
    ):
        with pytest.raises(ls_frames.ConfigurationError, match="only a snapshot"):
            load(fake, source="tasks", **kwargs)
    with pytest.raises(ls_frames.ConfigurationError, match="source must be"):
        load(fake, source="pages")
    assert not fake.requests  # all before any request


def test_a_page_task_becomes_a_snapshot_task() -> None:
    page_task = {
        "id": 5,
        "data": {"text": "é"},
        "annotators": [3],
        "annotations_results": "",
        "is_labeled": True,
        "file_upload": None,
        "updated_by": [{"user_id": 3}],
        "annotations": [
            {
                "id": 1,
                "completed_by": 3,
                "was_cancelled": False,
                "ground_truth": True,
                "created_username": "x",
                "created_ago": "1 minute",
            },
            {"id": 2, "completed_by": 4, "was_cancelled": True, "ground_truth": False},
            {"id": 3, "completed_by": 3, "was_cancelled": False, "ground_truth": False},
        ],
        "predictions": [{"id": 9, "result": []}],
        "drafts": [{"id": 8, "result": []}],
    }
    users = {3: {"id": 3, "email": "a@b", "first_name": "A", "last_name": "B"}}
    full = to_export_task(
        json.loads(json.dumps(page_task)),
        annotation_filter=AnnotationFilter(),
        serialization=Serialization(),
        users=users,
    )
    assert "annotators" not in full and "is_labeled" not in full and "file_upload" not in full
    assert full["updated_by"] == 3
    assert [a["completed_by"] for a in full["annotations"]] == [users[3], {"id": 4}, users[3]]
    assert "created_username" not in full["annotations"][0]
    assert full["predictions"] == page_task["predictions"]
    only_ids = to_export_task(
        json.loads(json.dumps(page_task)),
        annotation_filter=AnnotationFilter(usual=False, ground_truth=True, skipped=True),
        serialization=Serialization(predictions="id", drafts="id", annotators="id"),
    )
    assert [a["id"] for a in only_ids["annotations"]] == [1, 2]
    assert [a["completed_by"] for a in only_ids["annotations"]] == [3, 4]
    assert only_ids["predictions"] == [9] and only_ids["drafts"] == [8]


def test_the_file_the_tasks_route_writes_is_a_snapshot_file(
    fake: FakeLabelStudio, tmp_path: Path
) -> None:
    keep = tmp_path / "kept.json"
    load(fake, source="tasks", keep_file=keep)
    tasks = json.loads(keep.read_text())
    assert [t["id"] for t in tasks] == sorted(fake.tasks)
    assert all(isinstance(a["completed_by"], dict) for t in tasks for a in t["annotations"])
    assert not list(tmp_path.glob(".*partial"))


def test_a_page_the_server_fails_on_is_asked_again_in_halves(
    fake: FakeLabelStudio, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("ls_frames.exports.pages.PAGE_SIZE", 4)
    monkeypatch.setattr("ls_frames.exports.pages.MIN_PAGE_SIZE", 1)
    # the first full page is killed (a worker timeout), then one of its halves
    fake.page_faults = [httpx.Response(500, text="killed"), httpx.Response(500, text="killed")]
    frames = load(fake, source="tasks", fetch_workers=1)
    asked = ranges(fake)
    assert asked[:2] == [(1, 4), (1, 2)]  # the range failed, then its first half
    # then ranges of one id, the width that worked, for the rest: no more failed tries
    assert asked[2:] == [(n, n) for n in range(1, len(fake.tasks) + 1)]
    assert frames.tasks["task_id"].tolist() == sorted(fake.tasks)
