"""What a real Community server will not do on demand: cap the task list's page size, or
answer without a total. The deletion search must then page on or refuse, never guess."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

import ls_frames
from ls_frames import sync as sync_module
from ls_frames.errors import ExportFormatError
from ls_frames.exports import tasks as tasks_module


def task_list(ids: list[int], *, cap: int, with_total: bool = True) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        query = json.loads(request.url.params["query"])
        item = query["filters"]["items"][0] if query["filters"]["items"] else None
        lo, hi = (item["value"]["min"], item["value"]["max"]) if item else (0, 10**9)
        hits = [i for i in ids if lo <= i <= hi]
        size = min(int(request.url.params["page_size"]), cap)
        page = int(request.url.params["page"])
        body: dict[str, Any] = {"tasks": [{"id": i} for i in hits[(page - 1) * size : page * size]]}
        if with_total:
            body["total"] = len(hits)
        return httpx.Response(200, json=body)

    return httpx.MockTransport(handler)


def test_a_capped_page_size_is_paged_through(monkeypatch: pytest.MonkeyPatch) -> None:
    live = list(range(1, 2001))
    deleted = [7, 1500]
    server = [i for i in live if i not in deleted]
    assert tasks_module.PAGE_SIZE > 100  # the server's cap below it is what is tested
    with ls_frames.Client(
        "https://ls.test", "t" * 40, transport=task_list(server, cap=100)
    ) as client:
        assert sync_module.find_deleted_tasks(client, 1, live, missing=2) == deleted
        assert sync_module.find_deleted_tasks(client, 1, live) == deleted


def test_an_answer_without_a_total_is_refused() -> None:
    transport = task_list([1, 2], cap=100, with_total=False)
    with (
        ls_frames.Client("https://ls.test", "t" * 40, transport=transport) as client,
        pytest.raises(ExportFormatError, match="total"),
    ):
        sync_module.find_deleted_tasks(client, 1, [1, 2, 3])
