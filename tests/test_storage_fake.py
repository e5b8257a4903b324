"""Local-files storage behaviour the Community server cannot show: a sync that runs in the
background, ``completed_with_errors``, ``failed``, serving disabled."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

import ls_frames
from ls_frames.errors import ExportTimeout, StorageError

SERVING_OFF = (
    "Serving local files can be dangerous, so it's disabled by default. "
    "LOCAL_FILES_SERVING_ENABLED is disabled by default."
)


class FakeStorageServer:
    """Routes of the local-files export storage; ``statuses`` is what each GET after the
    sync answers, in turn (the last one repeats)."""

    def __init__(self, statuses: list[str], *, serving: bool = True) -> None:
        self.statuses = statuses
        self.serving = serving
        self.gets = 0
        self.raw: dict[str, Any] = {
            "id": 7,
            "project": 3,
            "path": "/data/root/out",
            "status": "initialized",
            "last_sync_count": None,
            "traceback": None,
        }

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if not self.serving and request.method == "POST" and path.endswith("localfiles"):
            return httpx.Response(
                400, json={"validation_errors": {"non_field_errors": [SERVING_OFF]}}
            )
        if request.method == "POST" and path.endswith("/localfiles"):
            self.raw.update(json.loads(request.content))
            return httpx.Response(201, json=self.raw)
        if request.method == "POST" and path.endswith("/sync"):
            self.raw["status"] = "queued"
            return httpx.Response(200, json=self.raw)
        if request.method == "GET" and path.endswith("/localfiles/7"):
            status = self.statuses[min(self.gets, len(self.statuses) - 1)]
            self.gets += 1
            self.raw["status"] = status
            if status.startswith("completed"):
                self.raw["last_sync_count"] = 41
            if status in ("failed", "completed_with_errors"):
                self.raw["traceback"] = "Traceback: disk full"
            return httpx.Response(200, json=self.raw)
        return httpx.Response(404, json={"detail": "Not found."})


def client_for(fake: FakeStorageServer) -> ls_frames.Client:
    retry = ls_frames.RetryPolicy(sleep=lambda s: None)
    return ls_frames.Client(
        "https://ls.test", "a" * 40, transport=httpx.MockTransport(fake), retry=retry
    )


def test_background_sync_is_awaited() -> None:
    fake = FakeStorageServer(["queued", "in_progress", "in_progress", "completed"])
    with client_for(fake) as client:
        storage = client.create_export_storage(3, "/data/root/out")
        storage.sync(progress=False)
    assert fake.gets == 4
    assert storage.status is ls_frames.StorageStatus.COMPLETED
    assert storage.last_sync_count == 41


def test_sync_without_waiting_returns_the_queued_storage() -> None:
    fake = FakeStorageServer(["completed"])
    with client_for(fake) as client:
        storage = client.create_export_storage(3, "/data/root/out").sync(wait=False)
    assert storage.status is ls_frames.StorageStatus.QUEUED and fake.gets == 0


def test_completed_with_errors() -> None:
    fake = FakeStorageServer(["in_progress", "completed_with_errors"])
    with client_for(fake) as client:
        storage = client.create_export_storage(3, "/data/root/out").sync(progress=False)
        assert storage.status is ls_frames.StorageStatus.COMPLETED_WITH_ERRORS
        assert storage.traceback == "Traceback: disk full"
        with pytest.raises(StorageError, match=r"completed with errors \(41 written") as info:
            storage.sync(progress=False, strict=True)
    assert info.value.traceback == "Traceback: disk full"


def test_failed_sync_raises_with_the_traceback() -> None:
    fake = FakeStorageServer(["in_progress", "failed"])
    with client_for(fake) as client:
        storage = client.create_export_storage(3, "/data/root/out")
        with pytest.raises(StorageError, match="sync of storage 7 failed") as info:
            storage.sync(progress=False)
    assert "disk full" in str(info.value)


def test_wait_times_out_naming_the_storage() -> None:
    fake = FakeStorageServer(["in_progress"])
    with client_for(fake) as client:
        storage = client.create_export_storage(3, "/data/root/out").sync(wait=False)
        with pytest.raises(ExportTimeout, match="sync of storage 7 is still"):
            storage.wait(timeout=0, progress=False)


def test_serving_disabled_says_what_to_change() -> None:
    fake = FakeStorageServer(["completed"], serving=False)
    with (
        client_for(fake) as client,
        pytest.raises(StorageError, match="must run with LOCAL_FILES_SERVING_ENABLED=true"),
    ):
        client.create_export_storage(3, "/data/root/out")
