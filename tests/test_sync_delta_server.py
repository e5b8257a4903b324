"""sync_delta against the real server: the Delta tables equal a fresh export after every
run, earlier versions stay readable, a run with nothing changed commits nothing, two runs
at once leave one commit and a clear error, and the same on an S3-compatible server."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import ls_frames
from ls_frames.errors import ConcurrentWriteError, ConfigurationError
from ls_frames.sync import delta as delta_module
from ls_frames.tables.delta import delta_state, write_delta
from ls_frames.testing.compare import assert_same_frames
from ls_frames.testing.seed import _full_result, seed_demo_project

pytestmark = [pytest.mark.server]


@pytest.fixture
def client(label_studio: Any) -> Iterator[ls_frames.Client]:
    with ls_frames.Client(label_studio.url, label_studio.admin_key) as c:
        yield c


@pytest.fixture
def seeded(label_studio: Any) -> dict[str, Any]:
    return seed_demo_project(
        label_studio.url, label_studio.admin_key, n_tasks=8, title="ls_frames delta test"
    )


def fresh(client: ls_frames.Client, pid: int) -> ls_frames.Frames:
    return ls_frames.load_project(pid, client=client, progress=False)


def test_refreshes_equal_a_fresh_export_and_versions_stay_readable(
    client: ls_frames.Client, seeded: dict[str, Any], tmp_path: Path
) -> None:
    pid, tids = seeded["project_id"], seeded["task_ids"]
    uri = str(tmp_path / "labels")
    first = ls_frames.sync_delta(pid, uri, client=client, overlap=0, progress=False)
    assert (first.mode, first.changed_tasks, first.total_tasks) == ("full", 8, 8)
    assert first.commits >= 2 and first.bytes_written > 0 and first.bytes_removed == 0
    at_first = fresh(client, pid)
    assert_same_frames(ls_frames.read_delta(uri), at_first)

    time.sleep(1.1)  # past the watermark, in the server's clock
    client.post_json(
        f"api/tasks/{tids[0]}/annotations/",
        json={"result": _full_result("n", 1), "was_cancelled": False},
    )
    client.request("DELETE", f"api/tasks/{tids[1]}/")
    time.sleep(1.1)
    second = ls_frames.sync_delta(pid, uri, client=client, overlap=0, progress=False)
    assert (second.mode, second.changed_tasks, second.deleted_tasks) == ("incremental", 1, 1)
    assert second.version is not None and first.version is not None
    assert second.version > first.version
    assert second.bytes_written > 0 and second.files_removed > 0
    assert_same_frames(ls_frames.read_delta(uri), fresh(client, pid))
    # the first version is still there, by version and by time
    assert_same_frames(ls_frames.read_delta(uri, version=first.version), at_first)
    state = delta_state(uri, version=first.version)
    assert state is not None
    assert_same_frames(ls_frames.read_delta(uri, timestamp=state.timestamp), at_first)

    # nothing changed: no snapshot and no commit in any table
    before = delta_state(uri)
    assert before is not None
    third = ls_frames.sync_delta(pid, uri, client=client, overlap=0, progress=False)
    assert (third.changed_tasks, third.commits, third.export_id) == (0, 0, None)
    after = delta_state(uri)
    assert after is not None and after.versions == before.versions
    assert third.version == second.version

    # the watermark and the run history are in the tables
    provenance = ls_frames.read_delta(uri).provenance
    assert provenance is not None
    runs = provenance["sync"]["runs"]
    assert [r["mode"] for r in runs] == ["full", "incremental"]

    # other readers see the same rows
    import polars as pl

    regions = ls_frames.read_delta(uri).regions
    assert pl.read_delta(f"{uri}/regions").height == len(regions)
    assert pl.read_delta(f"{uri}/tasks")["task_id"].sort().to_list() == sorted(
        ls_frames.read_delta(uri).tasks["task_id"]
    )


def test_another_projects_tables_are_refused(
    client: ls_frames.Client, seeded: dict[str, Any], tmp_path: Path
) -> None:
    import polars as pl

    pid = seeded["project_id"]
    uri = str(tmp_path / "labels")
    ls_frames.sync_delta(pid, uri, client=client, progress=False, tasks_per_file=1000)
    tasks = pl.read_delta(f"{uri}/tasks")
    assert (tasks["task_range"] == tasks["task_id"] // 1000).all()
    with pytest.raises(ConfigurationError, match="tasks_per_file must be >= 1"):
        ls_frames.sync_delta(pid, uri, client=client, progress=False, tasks_per_file=0)
    with pytest.raises(ConfigurationError, match=f"holds project {pid}"):
        ls_frames.sync_delta(pid + 100000, uri, client=client, progress=False)


def test_two_runs_at_once_one_commits_the_other_fails(
    client: ls_frames.Client,
    seeded: dict[str, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    label_studio: Any,
) -> None:
    pid, tids = seeded["project_id"], seeded["task_ids"]
    uri = str(tmp_path / "labels")
    ls_frames.sync_delta(pid, uri, client=client, overlap=0, progress=False)
    time.sleep(1.1)
    client.post_json(
        f"api/tasks/{tids[2]}/annotations/",
        json={"result": _full_result("c", 1), "was_cancelled": False},
    )
    time.sleep(1.1)
    # both runs read the tables, then meet before either writes
    barrier = threading.Barrier(2, timeout=120)
    real: Callable[..., Any] = write_delta

    def meeting(*args: Any, **kwargs: Any) -> Any:
        barrier.wait()
        return real(*args, **kwargs)

    monkeypatch.setattr(delta_module, "write_delta", meeting)
    outcomes: list[object] = []

    def one() -> None:
        with ls_frames.Client(label_studio.url, label_studio.admin_key) as own:
            try:
                outcomes.append(
                    ls_frames.sync_delta(pid, uri, client=own, overlap=0, progress=False)
                )
            except Exception as exc:  # collected and asserted below
                outcomes.append(exc)

    threads = [threading.Thread(target=one) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    errors = [o for o in outcomes if isinstance(o, Exception)]
    assert len(outcomes) == 2 and len(errors) == 1, outcomes
    assert isinstance(errors[0], ConcurrentWriteError), errors[0]
    assert "commit" in str(errors[0])
    monkeypatch.undo()
    assert_same_frames(ls_frames.read_delta(uri), fresh(client, pid))


def test_tables_on_an_s3_compatible_server(
    client: ls_frames.Client, seeded: dict[str, Any], moto_s3: Any
) -> None:
    pid, tids = seeded["project_id"], seeded["task_ids"]
    moto_s3.create_bucket("labels")
    options = {
        "AWS_ENDPOINT_URL": moto_s3.endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-east-1",
        "AWS_ALLOW_HTTP": "true",
        "AWS_CONDITIONAL_PUT": "etag",
    }
    uri = "s3://labels/projects/demo"
    first = ls_frames.sync_delta(
        pid, uri, client=client, storage_options=options, overlap=0, progress=False
    )
    assert first.mode == "full"
    time.sleep(1.1)
    client.request("DELETE", f"api/tasks/{tids[0]}/")
    time.sleep(1.1)
    second = ls_frames.sync_delta(
        pid, uri, client=client, storage_options=options, overlap=0, progress=False
    )
    assert (second.mode, second.deleted_tasks) == ("incremental", 1)
    assert_same_frames(ls_frames.read_delta(uri, storage_options=options), fresh(client, pid))
    assert len(ls_frames.read_delta(uri, version=first.version, storage_options=options).tasks) == 8


def test_cli_sync_delta(
    label_studio: Any, seeded: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from ls_frames.frontends.cli import main

    argv = [
        "sync",
        str(seeded["project_id"]),
        "--delta",
        str(tmp_path / "labels"),
        "--quiet",
        "--url",
        label_studio.url,
        "--api-key",
        label_studio.admin_key,
    ]
    assert main(argv) == 0
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert out.count("full:") == 1 and out.count("incremental:") == 1
    assert "0 commit(s)" in out.splitlines()[-1]
    assert len(ls_frames.read_delta(str(tmp_path / "labels")).tasks) == 8
