"""HTML pages (a login portal, a gateway's error page) where Label Studio's JSON or a file was
due: a typed error that says what happened, nothing saved, no snapshot made twice.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import ls_frames
from ls_frames.errors import HTTPError, ServerError
from tests.faults.conftest import Seeded, Sleeps, files_in, make_client
from tests.faults.figures import count
from tests.faults.proxy import FaultProxy, html_page, status

pytestmark = pytest.mark.server

CALLS: dict[str, tuple[str, Callable[[ls_frames.Client, Seeded], Any]]] = {
    "list": (r"/exports/$", lambda c, s: c.list_exports(s.project)),
    "get": (r"/exports/\d+$", lambda c, s: c.get_export(s.project, s.export_id)),
    "formats": (r"/export/formats$", lambda c, s: c.export_formats(s.project)),
    "projects": (r"/api/projects/$", lambda c, s: c.list_projects()),
}


@pytest.mark.parametrize("call", sorted(CALLS))
def test_a_login_page_instead_of_json_is_a_typed_error_that_says_so(
    label_studio: Any, seeded: Seeded, proxy: FaultProxy, sleeps: Sleeps, call: str
) -> None:
    path, fn = CALLS[call]
    proxy.script(path, html_page(200, "Sign in - Corporate SSO"))
    with (
        make_client(proxy.url, label_studio.admin_key, sleeps) as client,
        pytest.raises(HTTPError) as info,
    ):
        fn(client, seeded)
    text = str(info.value)
    assert "HTML" in text and "Sign in - Corporate SSO" in text, text
    assert "<html" not in text.lower(), "a summary, not the page's markup"
    assert info.value.method == "GET" and info.value.status == 200
    assert len(proxy.requests(path)) == 1, "not retried: the answer was a success status"
    count("html pages", "typed-errors")


def test_an_empty_answer_instead_of_json_is_a_typed_error(
    label_studio: Any, seeded: Seeded, proxy: FaultProxy, sleeps: Sleeps
) -> None:
    proxy.script(r"/exports/\d+$", status(200, b"", content_type="application/json"))
    with (
        make_client(proxy.url, label_studio.admin_key, sleeps) as client,
        pytest.raises(HTTPError, match="empty"),
    ):
        client.get_export(seeded.project, seeded.export_id)


def test_gateway_html_error_pages_are_retried_then_named(
    label_studio: Any, seeded: Seeded, proxy: FaultProxy, sleeps: Sleeps
) -> None:
    proxy.script(r"/exports/$", *[html_page(502, "502 Bad Gateway")] * 2)
    with make_client(proxy.url, label_studio.admin_key, sleeps) as client:
        assert client.list_exports(seeded.project)
        proxy.script(r"/exports/$", *[html_page(503, "Service Temporarily Unavailable")] * 9)
        with pytest.raises(ServerError, match="Service Temporarily Unavailable"):
            client.list_exports(seeded.project)


def test_polling_answered_by_a_login_page_ends_the_wait_with_a_typed_error(
    label_studio: Any, seeded: Seeded, proxy: FaultProxy, sleeps: Sleeps
) -> None:
    with make_client(proxy.url, label_studio.admin_key, sleeps) as client:
        export = client.get_export(seeded.project, seeded.export_id)
        export.raw = {**export.raw, "status": "in_progress"}
        proxy.script(rf"/exports/{seeded.export_id}$", html_page(200, "Session expired"))
        with pytest.raises(HTTPError, match="Session expired"):
            export.wait(timeout=30, poll_interval=0.01)


@pytest.mark.parametrize("export_type", ["JSON", "CSV"])
def test_a_download_answered_by_an_html_page_saves_nothing(
    label_studio: Any,
    seeded: Seeded,
    proxy: FaultProxy,
    sleeps: Sleeps,
    tmp_path: Path,
    export_type: str,
) -> None:
    proxy.script(r"/download$", html_page(200, "Sign in - Corporate SSO"))
    with make_client(proxy.url, label_studio.admin_key, sleeps) as client:
        export = client.get_export(seeded.project, seeded.export_id)
        with pytest.raises(ls_frames.DownloadError, match="HTML") as info:
            export.download(tmp_path, export_type, progress=False)
    assert "Sign in - Corporate SSO" in str(info.value)
    assert files_in(tmp_path) == []
    count("html pages", "downloads-refused")


def test_create_answered_by_an_html_page_after_the_server_made_it(
    label_studio: Any, seeded: Seeded, proxy: FaultProxy, sleeps: Sleeps
) -> None:
    """The server made the snapshot, but a proxy replaced its answer with a page: the
    snapshot is found by title instead of being lost (and made again by the caller)."""
    title = "html after create"
    proxy.script(r"/exports/$", html_page(200, "Proxy notice", forward=True), method="POST")
    with make_client(proxy.url, label_studio.admin_key, sleeps) as client:
        export = client.create_export(seeded.project, title=title)
    with ls_frames.Client(label_studio.url, label_studio.admin_key) as direct:
        made = [e.id for e in direct.list_exports(seeded.project) if e.title == title]
    assert made == [export.id]
    assert len(proxy.requests(r"/exports/$", method="POST")) == 1
