"""Every branch of an incremental sync run, offline against the fake server, whose clock
and task list the test controls (what a real server cannot do on demand: the exact
watermark, an overlap holding only known tasks, a bulk deletion that leaves updated_at)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

import ls_frames
from ls_frames.sync import run as run_module
from tests.fake_label_studio import FakeLabelStudio, client_for


@pytest.fixture
def fake() -> FakeLabelStudio:
    server = FakeLabelStudio()
    for tid in range(1, 11):
        server.put_task(tid, annotations=1, predictions=1)
    server.tick()
    return server


def sync(fake: FakeLabelStudio, out: Path, **kwargs: Any) -> ls_frames.SyncResult:
    with client_for(fake) as client:
        return ls_frames.sync_parquet(1, out, client=client, progress=False, **kwargs)


def exports_made(fake: FakeLabelStudio) -> list[dict[str, Any]]:
    return [
        json.loads(r.content)
        for r in fake.requests
        if r.method == "POST" and r.url.path.endswith("/exports/")
    ]


def task_ids(out: Path) -> list[int]:
    return sorted(int(t) for t in ls_frames.read_parquet(out).tasks.task_id)


def test_first_run_is_full_then_nothing_changed_makes_no_snapshot(
    fake: FakeLabelStudio, tmp_path: Path
) -> None:
    out = tmp_path / "ds"
    first = sync(fake, out, overlap=0)
    assert (first.mode, first.total_tasks) == ("full", 10)
    before = (out / "_SUCCESS").read_bytes()
    fake.tick()
    again = sync(fake, out, overlap=0)
    assert (again.mode, again.changed_tasks, again.export_id) == ("incremental", 0, None)
    assert len(exports_made(fake)) == 1 and not fake.views
    assert (out / "_SUCCESS").read_bytes() == before  # nothing written


def test_changed_tasks_are_exported_through_a_view_that_is_deleted(
    fake: FakeLabelStudio, tmp_path: Path
) -> None:
    out = tmp_path / "ds"
    sync(fake, out, overlap=0)
    fake.tick()
    fake.put_task(3, annotations=2, predictions=1)
    fake.put_task(11, annotations=0, predictions=0)  # a new task
    fake.tick()
    r = sync(fake, out, overlap=0)
    assert (r.mode, r.changed_tasks, r.deleted_tasks, r.total_tasks) == ("incremental", 2, 0, 11)
    made = exports_made(fake)[-1]
    assert made["task_filter_options"]["view"] in fake.deleted_views and not fake.views
    frames = ls_frames.read_parquet(out)
    assert task_ids(out) == list(range(1, 12))
    assert (frames.annotations.task_id == 3).sum() == 2
    assert not fake.exports  # the snapshot was deleted once downloaded
    history = frames.provenance["sync"]["runs"]  # type: ignore[index]
    assert [h["mode"] for h in history] == ["full", "incremental"]
    assert history[-1]["searched_deletions"] is False


def test_an_overlap_holding_only_known_tasks_is_not_exported(
    fake: FakeLabelStudio, tmp_path: Path
) -> None:
    """Tasks changed just before the watermark are in the overlap window every run; when
    the dataset holds them with the same stamps, no snapshot is made."""
    out = tmp_path / "ds"
    fake.put_task(4, annotations=1, predictions=1)  # updated_at == the snapshot's now
    sync(fake, out, overlap=0)
    fake.tick(5)
    r = sync(fake, out, overlap=30)
    assert (r.mode, r.export_id) == ("incremental", None)
    assert r.requests["list"] == 1  # the window's stamps were listed and matched
    assert len(exports_made(fake)) == 1
    # the same window with a counter the dataset does not have: exported
    fake.tasks[4]["total_annotations"] = 5
    r = sync(fake, out, overlap=30)
    assert r.export_id is not None and len(exports_made(fake)) == 2


def test_deleted_tasks_are_found_and_dropped(fake: FakeLabelStudio, tmp_path: Path) -> None:
    out = tmp_path / "ds"
    sync(fake, out, overlap=0)
    del fake.tasks[2], fake.tasks[9]
    fake.tick()
    r = sync(fake, out, overlap=0)
    assert (r.changed_tasks, r.deleted_tasks, r.export_id) == (0, 2, None)
    assert task_ids(out) == [1, 3, 4, 5, 6, 7, 8, 10]
    last = ls_frames.read_parquet(out).provenance["sync"]["runs"][-1]  # type: ignore[index]
    assert last["searched_deletions"] is True and last["deleted_tasks"] == 2


def test_many_tasks_deleted_are_searched_by_ranges(
    fake: FakeLabelStudio, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ls_frames.sync import plan

    monkeypatch.setattr(plan, "LIST_BELOW", 2)
    out = tmp_path / "ds"
    sync(fake, out, overlap=0)
    for tid in (1, 2, 7):
        del fake.tasks[tid]
    fake.tick()
    fake.put_task(5, annotations=0, predictions=1)  # changed at the same time
    fake.tick()
    r = sync(fake, out, overlap=0)
    assert (r.changed_tasks, r.deleted_tasks) == (1, 3)
    assert task_ids(out) == [3, 4, 5, 6, 8, 9, 10]
    assert r.requests["count"] > 3  # ranges were counted, not everything listed


@pytest.mark.parametrize("shape", ["1.23.2", "live task counters, no project count"])
def test_predictions_deleted_without_touching_updated_at_force_a_full_run(
    fake: FakeLabelStudio, tmp_path: Path, shape: str
) -> None:
    """1.23.2's bulk "delete predictions" leaves updated_at and the tasks' stored counters
    (which the task list sums) as they were; the project's live count tells. A server
    without that count but with live task counters is read from the task list."""
    fake.project_counts = shape == "1.23.2"
    out = tmp_path / "ds"
    sync(fake, out, overlap=0)
    fake.put_task(6, annotations=1, predictions=0, touch=False, recount=shape != "1.23.2")
    with client_for(fake) as client:
        summed = client.count_tasks(1)["total_predictions"]
    assert summed == (10 if shape == "1.23.2" else 9)
    fake.tick()
    r = sync(fake, out, overlap=0)
    assert r.mode == "full"
    frames = ls_frames.read_parquet(out)
    assert 6 not in set(frames.predictions.task_id)
    last = frames.provenance["sync"]["runs"][-1]  # type: ignore[index]
    assert "the server holds 9 predictions, the dataset 10" in last["reason"]


def test_predictions_lost_behind_a_change_are_noticed_after_the_upsert(
    fake: FakeLabelStudio, tmp_path: Path
) -> None:
    out = tmp_path / "ds"
    sync(fake, out, overlap=0)
    fake.put_task(6, annotations=1, predictions=0, touch=False, recount=False)
    fake.tick()
    fake.put_task(7, annotations=2, predictions=1)  # a change exported this run
    fake.tick()
    r = sync(fake, out, overlap=0)
    assert r.mode == "full"
    last = ls_frames.read_parquet(out).provenance["sync"]["runs"][-1]  # type: ignore[index]
    assert "the refreshed dataset 10" in last["reason"]


def test_a_failed_snapshot_keeps_the_dataset_and_deletes_the_view(
    fake: FakeLabelStudio, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "ds"
    sync(fake, out, overlap=0)
    before = (out / "_SUCCESS").read_bytes()
    fake.tick()
    fake.put_task(1, annotations=3)
    fake.tick()

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise ls_frames.ExportFailed("the snapshot failed")

    monkeypatch.setattr(run_module, "one_off_snapshot", broken)
    with pytest.raises(ls_frames.ExportFailed):
        sync(fake, out, overlap=0)
    assert (out / "_SUCCESS").read_bytes() == before
    assert fake.deleted_views and not fake.views


def test_tasks_the_dataset_never_got_are_warned_about_on_the_second_run(
    fake: FakeLabelStudio, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    out = tmp_path / "ds"
    sync(fake, out, overlap=0)
    # a task that appears with an updated_at before the watermark (a long transaction)
    fake.tasks[12] = {**fake.tasks[1], "id": 12, "updated_at": "2020-01-01T00:00:00.000000Z"}
    fake.tick()
    fake.put_task(2, annotations=2, predictions=1)
    fake.tick()
    with caplog.at_level("WARNING", logger="ls_frames"):
        sync(fake, out, overlap=0)
        assert "full=True" not in caplog.text
        fake.tick()
        fake.put_task(3, annotations=2, predictions=1)
        fake.tick()
        sync(fake, out, overlap=0)
    assert "full=True" in caplog.text


class _DownloadsFail(FakeLabelStudio):
    """The fake whose snapshot downloads answer 500 while ``failing``."""

    failing = False

    def _route(self, request: httpx.Request, path: str) -> httpx.Response:
        if self.failing and path.endswith("/download"):
            return httpx.Response(500, json={"detail": "broken"})
        return super()._route(request, path)


def test_a_failed_download_leaves_no_snapshot_behind(tmp_path: Path) -> None:
    fake = _DownloadsFail()
    for tid in range(1, 6):
        fake.put_task(tid, annotations=1)
    fake.tick()
    out = tmp_path / "ds"
    fake.failing = True
    with pytest.raises(ls_frames.ServerError):  # the full run
        sync(fake, out, overlap=0)
    assert len(exports_made(fake)) == 1 and fake.exports == {} and not out.exists()
    fake.failing = False
    sync(fake, out, overlap=0)
    before = (out / "_SUCCESS").read_bytes()
    fake.tick()
    fake.put_task(2, annotations=2)
    fake.tick()
    fake.failing = True
    with pytest.raises(ls_frames.ServerError):  # an incremental run
        sync(fake, out, overlap=0)
    assert len(exports_made(fake)) == 3 and fake.exports == {} and not fake.views
    assert (out / "_SUCCESS").read_bytes() == before


def test_a_dataset_with_the_old_dict_provenance_is_synced_on(
    fake: FakeLabelStudio, tmp_path: Path
) -> None:
    out = tmp_path / "ds"
    sync(fake, out, overlap=0)
    # the dataset as 0.1 wrote it: the same rows, the provenance a plain dict without
    # provenance_version, a null and a key this release does not know
    stored = dict(ls_frames.read_parquet(out).provenance or {})
    old = {**stored, "someone_elses": 1, "export_created_at": None}
    old.pop("provenance_version")
    old["sync"]["runs"][-1]["export_id"] = None
    frames = ls_frames.read_parquet(out)
    ls_frames.to_parquet(
        json.dumps([fake.tasks[t] for t in sorted(fake.tasks)]).encode(),
        out,
        provenance=old,
        overwrite=True,
        progress=False,
    )
    assert len(ls_frames.read_parquet(out).tasks) == len(frames.tasks)
    fake.tick()
    fake.put_task(3, annotations=2)
    fake.tick()
    again = sync(fake, out, overlap=0)
    assert (again.mode, again.changed_tasks) == ("incremental", 1)
    after = ls_frames.read_parquet(out).provenance
    assert after is not None and after.sync is not None
    assert [r.mode for r in after.sync.runs] == ["full", "incremental"]
    assert (
        after.provenance_version == ls_frames.provenance.PROVENANCE_VERSION
        and after["someone_elses"] == 1
    )
