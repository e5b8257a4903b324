"""Label Studio served as production serves it (gunicorn, two workers, a worker timeout of
a few seconds): a snapshot whose build runs past the timeout is killed with its request.

What the server does (a 500 and a snapshot left ``in_progress`` for ever), what the library
does about it (:class:`~ls_frames.SnapshotBuildStopped` naming the cause and the fix, no
snapshot left behind) and the stale-snapshot listing, all against the real server. The
project is sized from the worker timeout so that its snapshot takes several times longer
(about 1.3 ms a task on SQLite on an idle machine): 4,000 tasks for the suite's 3 s;
``LS_FRAMES_TEST_WORKER_TIMEOUT=15`` runs the 20,000-task case.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

import ls_frames
from ls_frames.errors import ServerError, SnapshotBuildStopped
from ls_frames.exports.stale import delete_stale_snapshots, stale_snapshots
from ls_frames.frontends.cli import main
from ls_frames.testing.seed import auth_headers, seed_many_tasks

pytestmark = pytest.mark.server

#: tasks a second of worker timeout, rounded up to thousands: 1.3 ms a task would take
#: the timeout itself, on an idle machine, so the build is killed with margin
_TASKS_PER_SECOND = 1300
#: tasks an import request carries (each request well under the worker timeout)
_BATCH = 100


def _tasks_for(worker_timeout: float) -> int:
    return max(4000, 1000 * math.ceil(worker_timeout * _TASKS_PER_SECOND / 1000))


@pytest.fixture(scope="module")
def client(production_label_studio: Any) -> Iterator[ls_frames.Client]:
    with ls_frames.Client(production_label_studio.url, production_label_studio.admin_key) as client:
        yield client


@pytest.fixture(scope="module")
def big_project(production_label_studio: Any) -> dict[str, Any]:
    """A project whose snapshot build runs past the worker timeout; ``seconds``: seeding."""
    timeout = production_label_studio.worker_timeout
    if timeout is None:
        pytest.fail("the production-shaped server has no worker timeout")
    started = time.monotonic()
    seeded = seed_many_tasks(
        production_label_studio.url,
        production_label_studio.admin_key,
        None,
        _tasks_for(timeout),
        batch=_BATCH,
    )
    return {**seeded, "seconds": time.monotonic() - started, "timeout": timeout}


def _unfinished(client: ls_frames.Client, project: int) -> list[int]:
    return [e.id for e in client.list_exports(project) if e.status.value != "completed"]


def test_the_server_kills_a_long_snapshot_build_and_leaves_it_in_progress(
    production_label_studio: Any, client: ls_frames.Client, big_project: dict[str, Any]
) -> None:
    """What a plain client meets today: a 500 after the worker timeout, and the snapshot
    stuck in progress; the stale listing finds it and removes it."""
    pid = big_project["project_id"]
    headers = auth_headers(production_label_studio.url, production_label_studio.admin_key)
    started = time.monotonic()
    answer = httpx.post(
        f"{production_label_studio.url}/api/projects/{pid}/exports/",
        json={"title": "plain create"},
        headers=headers,
        timeout=600,
    )
    took = time.monotonic() - started
    assert answer.status_code == 500, answer.text[:300]
    assert took >= big_project["timeout"] * 0.9
    stuck = [e for e in client.list_exports(pid) if e.title == "plain create"]
    assert [e.status.value for e in stuck] == ["in_progress"]
    time.sleep(2)  # stays so: nobody builds it any more
    assert stuck[0].refresh().status.value == "in_progress"

    assert stuck[0].id not in [
        e.id for e in stale_snapshots(pid, client=client)
    ]  # younger than 1 h
    assert stuck[0].id in [e.id for e in stale_snapshots(pid, older_than=0, client=client)]
    assert stuck[0].id in [
        e.id for e in stale_snapshots(older_than=1, client=client)
    ]  # all projects
    deleted = delete_stale_snapshots(pid, older_than=0, client=client)
    assert stuck[0].id in [e.id for e in deleted]
    assert _unfinished(client, pid) == []


def test_load_project_names_the_timeout_and_leaves_no_snapshot(
    client: ls_frames.Client, big_project: dict[str, Any]
) -> None:
    pid = big_project["project_id"]
    before = {e.id for e in client.list_exports(pid)}
    with pytest.raises(SnapshotBuildStopped) as info:
        ls_frames.load_project(pid, client=client, progress=False, source="snapshot")
    error = info.value
    assert isinstance(error, ServerError) and error.status == 500  # old code still catches it
    assert error.project == pid and error.deleted and error.export_id not in before
    assert error.seconds >= big_project["timeout"] * 0.9
    text = str(error)
    assert f"after {error.seconds:.0f} s" in text
    assert "worker timeout" in text and "harakiri" in text and "gunicorn's --timeout" in text
    assert 'source="tasks"' in text
    assert {e.id for e in client.list_exports(pid)} == before  # nothing left behind
    assert _unfinished(client, pid) == []


def test_the_cli_says_the_same_and_lists_stale_snapshots(
    production_label_studio: Any,
    big_project: dict[str, Any],
    client: ls_frames.Client,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Any,
) -> None:
    pid = big_project["project_id"]
    server = ["--url", production_label_studio.url, "--api-key", production_label_studio.admin_key]
    out = str(tmp_path / "out")
    status = main(["export", str(pid), "--out", out, "--source", "snapshot", "-q", *server])
    err = capsys.readouterr().err
    assert status == 1
    assert "SnapshotBuildStopped" in err and "--source tasks" in err and "worker timeout" in err
    assert not (tmp_path / "out").exists()
    assert _unfinished(client, pid) == []

    # a stuck snapshot made by someone else: listed, then deleted, by the command
    headers = auth_headers(production_label_studio.url, production_label_studio.admin_key)
    answer = httpx.post(
        f"{production_label_studio.url}/api/projects/{pid}/exports/",
        json={"title": "from the UI"},
        headers=headers,
        timeout=600,
    )
    assert answer.status_code == 500
    (stuck,) = _unfinished(client, pid)
    assert main(["snapshots", str(pid), "--stale", *server]) == 0
    assert str(stuck) not in capsys.readouterr().out  # younger than the default hour
    assert main(["snapshots", "--stale", "--older-than", "0", *server]) == 0
    assert [line.split()[0] for line in capsys.readouterr().out.splitlines()] == [str(stuck)]
    assert main(["snapshots", str(pid), "--stale", "--older-than", "0s", "--delete", *server]) == 0
    assert "1 snapshot(s) deleted" in capsys.readouterr().err
    assert _unfinished(client, pid) == []


def test_auto_reads_a_killed_snapshot_through_the_task_list_in_one_call(
    client: ls_frames.Client, big_project: dict[str, Any]
) -> None:
    """What a new user meets with the defaults: one call, one warning saying what happened,
    every task with its annotations and result items, no snapshot left in progress."""
    pid = big_project["project_id"]
    with pytest.warns(ls_frames.SnapshotFallbackWarning) as caught:
        frames = ls_frames.load_project(pid, client=client, progress=False)
    assert len(caught) == 1
    said = str(caught[0].message)
    assert "stopped the snapshot build" in said and "500 answer" in said
    assert "task list" in said and "deleted" in said
    assert len(frames.tasks) == big_project["tasks"]
    assert frames.tasks["task_id"].is_unique and frames.tasks["task_id"].is_monotonic_increasing
    assert len(frames.annotations) == big_project["annotations"]
    assert len(frames.predictions) == big_project["predictions"]
    from_annotations = frames.regions[frames.regions["source"] == "annotation"]
    relations = frames.relations[frames.relations["source"] == "annotation"]
    assert len(from_annotations) + len(relations) == big_project["result_items"]
    assert frames.annotations["completed_by_email"].notna().all()
    assert frames.provenance is not None and frames.provenance.route == "tasks"
    assert "500 answer" in (frames.provenance.route_reason or "")
    assert _unfinished(client, pid) == []
    # the tasks route asked for at once: the same tables, without trying a snapshot
    before = {e.id for e in client.list_exports(pid)}
    direct = ls_frames.load_project(pid, client=client, progress=False, source="tasks")
    assert {e.id for e in client.list_exports(pid)} == before
    for name in frames:
        assert frames[name].equals(direct[name]), name


def test_the_cli_reads_a_killed_snapshot_through_the_task_list(
    production_label_studio: Any,
    big_project: dict[str, Any],
    client: ls_frames.Client,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Any,
) -> None:
    pid = big_project["project_id"]
    server = ["--url", production_label_studio.url, "--api-key", production_label_studio.admin_key]
    with pytest.warns(ls_frames.SnapshotFallbackWarning):
        status = main(["export", str(pid), "--out", str(tmp_path / "out"), "-q", *server])
    assert status == 0, capsys.readouterr().err
    dataset = ls_frames.read_parquet(tmp_path / "out")
    assert len(dataset.tasks) == big_project["tasks"]
    assert dataset.provenance is not None and dataset.provenance.route == "tasks"
    assert _unfinished(client, pid) == []


def test_a_small_project_loads_through_the_workers(
    production_label_studio: Any, client: ls_frames.Client
) -> None:
    seeded = seed_many_tasks(
        production_label_studio.url, production_label_studio.admin_key, None, 30
    )
    frames = ls_frames.load_project(seeded["project_id"], client=client, progress=False)
    assert len(frames.tasks) == 30 and len(frames.annotations) == 30
    assert len(frames.predictions) == 30
    assert _unfinished(client, seeded["project_id"]) == []
