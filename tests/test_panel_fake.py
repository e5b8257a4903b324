"""The panel against the fake Label Studio, for what the real one cannot be made to do:
a snapshot that fails on the server, one that never finishes, a request that hangs."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path
from typing import Any

import httpx
import pytest

import ls_frames
from tests.fake_label_studio import LEGACY, FakeExport, FakeLabelStudio, client_for

PROJECT = 7
TRACEBACK = "Traceback (most recent call last):\nKeyError: 'boom'"


class PanelFake(FakeLabelStudio):
    """The fake plus the project routes the panel reads; new snapshots follow ``script``."""

    def __init__(self, script: list[str], traceback: str | None = None) -> None:
        super().__init__()
        self.script, self.tb = script, traceback
        self.hold: threading.Event | None = None  # set: the create request waits for it
        self.hold_list: threading.Event | None = None  # set: the project list waits for it
        self.slow = False  # downloads trickle, so the panel's byte count can be seen
        self.body = b"[]"

    def add_export(
        self,
        body: bytes = b"[]",
        statuses: list[str] | None = None,
        title: str = "t",
        traceback: str | None = None,
    ) -> FakeExport:
        return super().add_export(self.body, list(self.script), title, self.tb)

    def _route(self, request: httpx.Request, path: str) -> httpx.Response:
        if path == "/api/projects/":
            if self.hold_list is not None:
                assert self.hold_list.wait(30)
            return httpx.Response(
                200, json={"results": [{"id": PROJECT, "title": "fake"}], "next": None}
            )
        if path == f"/api/projects/{PROJECT}/":
            return httpx.Response(200, json={"id": PROJECT, "label_config": "<View/>"})
        if path == "/api/dm/views/":
            return httpx.Response(200, json=[])
        if re.fullmatch(rf"/api/projects/{PROJECT}/export/formats", path):
            return httpx.Response(
                200,
                json=[
                    {"name": "JSON", "title": "JSON"},
                    {"name": "COCO", "title": "COCO", "disabled": True},
                ],
            )
        if request.method == "POST" and self.hold is not None:
            assert self.hold.wait(30)
        return super()._route(request, path)

    def _download(self, request: httpx.Request, exp: FakeExport) -> httpx.Response:
        response = super()._download(request, exp)
        if self.slow:  # about 1.5 s for the whole body
            response.stream = SlowStream(exp.body[:], 24)
        return response


class SlowStream(httpx.SyncByteStream):
    def __init__(self, data: bytes, pieces: int) -> None:
        self.data, self.size = data, -(-len(data) // pieces)

    def __iter__(self) -> Iterator[bytes]:
        for i in range(0, len(self.data), self.size):
            time.sleep(0.06)
            yield self.data[i : i + self.size]


def _panel(fake: PanelFake, tmp_path: Path, **kw: Any) -> Any:
    panel = ls_frames.ExportPanel(PROJECT, client=client_for(fake), work_dir=tmp_path, **kw)
    panel.wait(timeout=30)
    assert panel.error is None, panel.error_box.value
    return panel


def test_a_failed_snapshot_is_shown_with_the_servers_traceback(tmp_path: Path) -> None:
    fake = PanelFake(["in_progress", "failed"], TRACEBACK)
    panel = _panel(fake, tmp_path)
    assert panel.formats.boxes["COCO"].disabled and not panel.formats.boxes["JSON"].disabled
    panel.export_button.click()
    panel.wait(timeout=30)
    assert isinstance(panel.error, ls_frames.ExportFailed)
    assert "failed on the server" in panel.error_box.value
    assert "KeyError: &#x27;boom&#x27;" in panel.error_box.value
    assert LEGACY not in panel.error_box.value
    assert panel.frames is None and panel.preview.counts.value == ""
    assert "export failed" in panel.status.value
    assert not panel.export_button.disabled  # ready for another try


def test_a_snapshot_that_never_finishes_times_out_in_the_panel(tmp_path: Path) -> None:
    fake = PanelFake(["in_progress"])
    panel = _panel(fake, tmp_path, timeout=0.2)
    panel.export_button.click()
    panel.wait(timeout=30)
    assert isinstance(panel.error, ls_frames.ExportTimeout)
    assert "still in_progress after 0.2 s" in panel.error_box.value
    assert panel.frames is None
    assert not panel.export_button.disabled


def test_the_export_button_is_disabled_while_a_job_runs(tmp_path: Path) -> None:
    fake = PanelFake(["completed"])
    fake.hold = threading.Event()
    panel = _panel(fake, tmp_path)
    assert not panel.export_button.disabled
    panel.export_button.click()
    try:
        assert panel.busy
        assert panel.export_button.disabled and panel.project_picker.disabled
        with pytest.raises(futures.TimeoutError):
            panel.wait(timeout=0.2)
    finally:
        fake.hold.set()
    panel.wait(timeout=30)
    assert panel.error is None, panel.error_box.value
    assert not panel.busy and not panel.export_button.disabled
    assert panel.frames is not None and len(panel.frames.tasks) == 0  # the fake's "[]"


def test_snapshot_ages_read_plainly() -> None:
    from datetime import datetime, timedelta, timezone

    from ls_frames.frontends.widgets.controls import age

    now = datetime(2026, 1, 2, tzinfo=timezone.utc)
    assert age(now - timedelta(seconds=5), now) == "5 s ago"
    assert age(now - timedelta(minutes=3, seconds=59), now) == "3 min ago"
    assert age(now - timedelta(hours=2), now) == "2 h ago"
    assert age(now - timedelta(days=400), now) == "400 d ago"
    assert age(None, now) == "age unknown"


def test_download_progress_shows_in_the_panel(tmp_path: Path) -> None:
    fake = PanelFake(["completed"])
    fake.slow = True
    fake.body = b"[" + b" " * 2_000_000 + b"]"  # a valid, empty, 2 MB export
    panel = _panel(fake, tmp_path)
    seen: list[str] = []
    panel.status.observe(lambda change: seen.append(change["new"]), names="value")
    panel.export_button.click()
    panel.wait(timeout=60)
    assert panel.error is None, panel.error_box.value
    shown = [text for text in seen if re.fullmatch(r"downloading snapshot 1: [\d.]+ [kM]B", text)]
    assert shown, seen
    assert panel.paths["snapshot"].stat().st_size == len(fake.body)
    assert "reading" in " ".join(seen) and len(panel.frames.tasks) == 0


def test_an_export_clicked_while_the_panel_loads_runs_after_the_load(tmp_path: Path) -> None:
    """The first click comes while the project list is still on its way: it is queued,
    not dropped, and runs on the loaded project (its label config read first)."""
    fake = PanelFake(["completed"])
    fake.body = b'[{"id": 1, "data": {"text": "x"}}]'
    fake.hold_list = threading.Event()
    panel = ls_frames.ExportPanel(PROJECT, client=client_for(fake), work_dir=tmp_path)
    try:
        assert panel.busy and not panel.export_button.disabled, "clickable while loading"
        panel.export_button.click()
        assert panel.export_button.disabled, "one click, one export"
        fake.hold_list.set()
        panel.wait(timeout=30)
    finally:
        fake.hold_list.set()
    assert panel.error is None, panel.error_box.value
    assert panel.label_config == "<View/>" and panel.project_picker.value == PROJECT
    assert panel.frames is not None and len(panel.frames.tasks) == 1
    assert panel.export is not None and len(fake.exports) == 1
    assert not panel.export_button.disabled and not panel.save_button.disabled


def test_the_client_first_order_warns_and_close_releases_what_the_panel_made(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ls_frames.frontends.widgets import panel as panel_module

    fake = PanelFake(["completed"])
    given = client_for(fake)
    with pytest.warns(DeprecationWarning, match=r"use ExportPanel\(project, client=client\)"):
        old = ls_frames.ExportPanel(given, PROJECT, work_dir=tmp_path)
    old.wait(timeout=30)
    assert old.client is given and old.project_picker.value == PROJECT
    old.close()
    assert not given._client.is_closed and tmp_path.is_dir()  # the caller's: left alone
    given.close()

    class FromEnvironment(ls_frames.Client):  # what Client() would make, wired to the fake
        def __init__(self) -> None:
            super().__init__("https://ls.test", LEGACY, transport=httpx.MockTransport(fake))

    monkeypatch.setattr(panel_module, "Client", FromEnvironment)
    own = ls_frames.ExportPanel(PROJECT)
    own.wait(timeout=30)
    folder = own.work_dir
    assert own.project_picker.value == PROJECT and folder.is_dir()
    own.close()
    assert own.client._client.is_closed and not folder.exists()


class _TasksFake(FakeLabelStudio):
    """The fake with tasks (project 1), plus the project list and formats the panel reads."""

    def _route(self, request: httpx.Request, path: str) -> httpx.Response:
        if path == "/api/projects/":
            return httpx.Response(200, json={"results": [{"id": 1, "title": "f"}], "next": None})
        if path == "/api/projects/1/export/formats":
            return httpx.Response(200, json=[{"name": "JSON", "title": "JSON"}])
        return super()._route(request, path)


def test_the_panel_load_project_and_the_syncs_record_the_same_provenance_fields(
    tmp_path: Path,
) -> None:
    fake = _TasksFake()
    fake.release = "1.23.2"
    for tid in (1, 2, 3):
        fake.put_task(tid, annotations=1, predictions=1)
    fake.tick()
    with client_for(fake) as client:
        loaded = ls_frames.load_project(1, client=client, progress=False).provenance
        panel = ls_frames.ExportPanel(1, client=client, work_dir=tmp_path / "w", background=False)
        panel.export_button.click()
        assert panel.error is None, panel.error_box.value
        assert panel.frames is not None
        panel.parquet_path.value = str(tmp_path / "saved")
        panel.save_button.click()
        assert panel.error is None, panel.error_box.value
        ls_frames.sync_parquet(1, tmp_path / "synced", client=client, progress=False)
        exported = ls_frames.export_project(1, tmp_path / "exported", client=client, progress=False)
        panel.close()
    assert loaded is not None
    fields = set(loaded)
    assert {"requested_options", "snapshot_kept", "label_config", "server_version"} <= fields
    assert set(panel.frames.provenance or {}) == fields
    on_disk = {
        name: set(ls_frames.read_parquet(path).provenance or {}) - {"source_file"}
        for name, path in (
            ("panel", tmp_path / "saved"),
            ("sync", tmp_path / "synced"),
            ("export", exported),
        )
    }
    assert on_disk == {"panel": fields, "sync": fields | {"sync"}, "export": fields}


def test_an_existing_folder_is_refused_naming_the_check_box(tmp_path: Path) -> None:
    fake = PanelFake(["completed"])
    panel = _panel(fake, tmp_path, background=False)
    panel.export_button.click()
    assert panel.error is None and panel.frames is not None
    taken = tmp_path / "taken"
    taken.mkdir()
    panel.parquet_path.value = str(taken)
    panel.save_button.click()
    assert isinstance(panel.error, ls_frames.OutputExistsError)
    message = str(panel.error)
    assert "overwrite=" not in message and panel.overwrite.description in message
    assert "overwrite=" not in panel.error_box.value
    panel.overwrite.value = True
    panel.save_button.click()
    assert panel.error is None and (taken / "_SUCCESS").is_file()
    panel.close()


def test_the_panel_shows_the_fallback_to_the_task_list_in_its_status_line(
    tmp_path: Path,
) -> None:
    fake = _TasksFake()
    for tid in (1, 2, 3):
        fake.put_task(tid, annotations=1, predictions=1)
    fake.create_kill = "500"
    with client_for(fake) as client:
        panel = ls_frames.ExportPanel(1, client=client, work_dir=tmp_path / "w", background=False)
        assert panel.options.source.value == "auto"
        with pytest.warns(ls_frames.SnapshotFallbackWarning):
            panel.export_button.click()
        assert panel.error is None, panel.error_box.value
        assert "read through the task list" in panel.status.value
        assert "stopped the snapshot build" in panel.status.value
        assert panel.frames is not None and len(panel.frames.tasks) == 3
        assert panel.frames.provenance is not None
        assert panel.frames.provenance.route == "tasks"
        assert fake.exports == {}  # the killed build's snapshot is not kept
        panel.parquet_path.value = str(tmp_path / "saved")
        panel.save_button.click()
        assert panel.error is None, panel.error_box.value
        fake.create_kill = None
        panel.options.source.value = "tasks"
        panel.export_button.click()
        assert panel.error is None, panel.error_box.value
        assert "read through the task list: 3 tasks" in panel.status.value
        panel.close()
    saved = ls_frames.read_parquet(tmp_path / "saved").provenance
    assert saved is not None and saved.route == "tasks"
