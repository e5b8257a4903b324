"""Client behaviour a real server cannot be made to show on demand, through a fake server."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path

import httpx
import pytest

import ls_frames
from ls_frames.errors import (
    AuthenticationError,
    ChecksumMismatch,
    ExportFailed,
    ExportTimeout,
    NotFound,
    RateLimited,
    ServerError,
)
from ls_frames.exports.download import filename_from_disposition, safe_basename
from ls_frames.transport import token_kind
from tests.fake_label_studio import LEGACY, PAT, FakeLabelStudio, client_for, make_jwt

BODY = json.dumps([{"id": i, "data": {"text": "x" * 5000}} for i in range(300)]).encode()


@pytest.fixture
def fake() -> FakeLabelStudio:
    return FakeLabelStudio()


# -- credentials ---------------------------------------------------------------------------
def test_token_kinds() -> None:
    assert token_kind(LEGACY) == "legacy"
    assert token_kind(PAT) == "personal_access_token"
    assert token_kind(make_jwt("access")) == "access"
    assert token_kind("a.b.c") == "legacy"


def test_legacy_token_sent_as_token(fake: FakeLabelStudio) -> None:
    client = client_for(fake)
    fake.add_export(BODY)
    assert client.get_export(1, 1).id == 1
    assert fake.requests[-1].headers["Authorization"] == f"Token {LEGACY}"
    assert not any(r.url.path.endswith("/token/refresh/") for r in fake.requests)


def test_pat_exchanged_and_sent_as_bearer(fake: FakeLabelStudio) -> None:
    client = client_for(fake, PAT)
    fake.add_export(BODY)
    client.get_export(1, 1)
    client.get_export(1, 1)
    refreshes = [r for r in fake.requests if r.url.path == "/api/token/refresh/"]
    assert len(refreshes) == 1, "a fresh access token is reused"
    assert fake.requests[-1].headers["Authorization"] == f"Bearer {fake.issued_access[0]}"


def test_access_token_refreshed_before_expiry(fake: FakeLabelStudio) -> None:
    fake.access_lifetime = 10  # shorter than the refresh margin: refreshed every time
    client = client_for(fake, PAT)
    fake.add_export(BODY)
    for _ in range(3):
        client.get_export(1, 1)
    assert len(fake.issued_access) == 3


def test_expired_access_token_refreshed_once_on_401(fake: FakeLabelStudio) -> None:
    client = client_for(fake, PAT)
    fake.add_export(BODY)
    client.get_export(1, 1)
    fake.revoked.add(fake.issued_access[0])  # the server now rejects that access token
    assert client.get_export(1, 1).id == 1
    assert len(fake.issued_access) == 2
    assert fake.requests[-1].headers["Authorization"] == f"Bearer {fake.issued_access[1]}"


def test_revoked_pat_is_a_clear_authentication_error(fake: FakeLabelStudio) -> None:
    client = client_for(fake, PAT)
    fake.add_export(BODY)
    client.get_export(1, 1)
    fake.revoked.update({PAT, fake.issued_access[0]})
    before = len(fake.requests)
    with pytest.raises(AuthenticationError) as info:
        client.get_export(1, 1)
    assert info.value.scheme == "Bearer"
    assert "Bearer" in str(info.value)
    assert PAT not in str(info.value) and PAT not in repr(info.value)
    assert len(fake.requests) - before <= 2, "no retry storm on a dead credential"


def test_wrong_legacy_token_names_the_scheme(fake: FakeLabelStudio) -> None:
    client = client_for(fake, "f" * 40)
    with pytest.raises(AuthenticationError) as info:
        client.list_exports(1)
    err = info.value
    assert err.status == 401 and err.method == "GET" and err.path == "/api/projects/1/exports/"
    assert "Token" in str(err) and "f" * 40 not in str(err)
    assert "credentials were not provided" in err.server_message


def test_base_url_with_sub_path() -> None:
    fake = FakeLabelStudio(prefix="/label-studio")
    fake.add_export(BODY)
    client = client_for(fake, PAT, url="https://ls.test/label-studio/")
    assert client.get_export(1, 1).id == 1
    assert fake.requests[0].url.path == "/label-studio/api/token/refresh/"
    assert fake.requests[-1].url.path == "/label-studio/api/projects/1/exports/1"


def test_secrets_never_in_repr_or_logs(
    fake: FakeLabelStudio, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    for key in (LEGACY, PAT):
        client = client_for(fake, key)
        fake.add_export(BODY)
        export = client.get_export(1, 1)
        for text in (repr(client), repr(client.auth), repr(export), caplog.text):
            assert key not in text
        for access in fake.issued_access:
            assert access not in caplog.text


def test_plain_http_to_remote_host_warns() -> None:
    with pytest.warns(ls_frames.transport.connection.InsecureTransportWarning):
        ls_frames.Client("http://example.org", LEGACY)
    ls_frames.Client("http://127.0.0.1:8080", LEGACY).close()  # loopback: no warning


def test_missing_configuration_is_explained(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LABEL_STUDIO_URL", raising=False)
    monkeypatch.delenv("LABEL_STUDIO_API_KEY", raising=False)
    with pytest.raises(ls_frames.ConfigurationError, match="LABEL_STUDIO_URL"):
        ls_frames.Client()
    monkeypatch.setenv("LABEL_STUDIO_URL", "https://ls.test")
    with pytest.raises(ls_frames.ConfigurationError, match="LABEL_STUDIO_API_KEY"):
        ls_frames.Client()
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", LEGACY)
    client = ls_frames.Client()
    assert str(client.base_url) == "https://ls.test/" and client.auth.scheme == "Token"


# -- errors and retries ------------------------------------------------------------------
def test_not_found_carries_method_path_and_message(fake: FakeLabelStudio) -> None:
    client = client_for(fake)
    with pytest.raises(NotFound) as info:
        client.get_export(7, 99)
    assert info.value.status == 404
    assert "GET /api/projects/7/exports/99" in str(info.value)
    assert info.value.server_message == "Not found."


def test_503_storm_is_retried_with_backoff(fake: FakeLabelStudio) -> None:
    client = client_for(fake)
    fake.add_export(BODY)
    fake.fail_next = [httpx.Response(503, text="busy")] * 3
    assert client.get_export(1, 1).id == 1
    assert len(client.sleeps) == 3
    assert all(0 <= s <= client.retry.cap for s in client.sleeps)


def test_storm_longer_than_the_retries_raises_server_error(fake: FakeLabelStudio) -> None:
    client = client_for(fake)
    fake.fail_next = [
        httpx.Response(
            502,
            text="<html><title>502 Bad Gateway</title></html>",
            headers={"content-type": "text/html"},
        )
    ] * 10
    with pytest.raises(ServerError) as info:
        client.list_exports(1)
    assert info.value.status == 502 and "Bad Gateway" in str(info.value)
    assert len(client.sleeps) == client.retry.attempts - 1


def test_retry_after_is_honoured(fake: FakeLabelStudio) -> None:
    client = client_for(fake)
    fake.fail_next = [httpx.Response(429, headers={"Retry-After": "7"})] * 10
    with pytest.raises(RateLimited):
        client.list_exports(1)
    assert client.sleeps == [7.0] * (client.retry.attempts - 1)


def test_create_is_not_blindly_repeated(fake: FakeLabelStudio) -> None:
    client = client_for(fake)
    fake.fail_next = [httpx.Response(500, text="busy")]
    with pytest.raises(ServerError):
        client.create_export(1)
    posts = [r for r in fake.requests if r.method == "POST"]
    assert len(posts) == 1 and client.sleeps == []


@pytest.mark.parametrize("fault", ["timeout", "504"])
def test_create_after_ambiguous_failure_finds_the_snapshot(
    fake: FakeLabelStudio, fault: str
) -> None:
    client = client_for(fake)
    fake.create_delay_fault = fault
    export = client.create_export(1, title="nightly")
    assert export.title == "nightly" and export.id == 1
    assert len(fake.exports) == 1, "no duplicate snapshot"
    assert sum(r.method == "POST" for r in fake.requests) == 1


# -- options -------------------------------------------------------------------------------
def test_default_options_ask_for_full_objects_and_every_annotation(fake: FakeLabelStudio) -> None:
    client = client_for(fake)
    client.create_export(1)
    body = fake.exports[1].request_body  # type: ignore[attr-defined]
    assert body["serialization_options"]["predictions"] == {"only_id": False}
    assert body["serialization_options"]["drafts"] == {"only_id": False}
    assert body["serialization_options"]["annotations__completed_by"] == {"only_id": False}
    assert body["annotation_filter_options"] == {
        "usual": True,
        "ground_truth": True,
        "skipped": True,
    }


def test_empty_annotation_filter_dict_does_not_mean_usual_only(fake: FakeLabelStudio) -> None:
    client = client_for(fake)
    client.create_export(1, annotation_filter={}, task_filter={"skipped": "exclude", "view": 3})
    body = fake.exports[1].request_body  # type: ignore[attr-defined]
    assert body["annotation_filter_options"] == {
        "usual": True,
        "ground_truth": True,
        "skipped": True,
    }
    assert body["task_filter_options"] == {
        "only_with_annotations": False,
        "view": 3,
        "skipped": "exclude",
    }
    client.create_export(1, annotation_filter={"skipped": True})
    body = fake.exports[2].request_body  # type: ignore[attr-defined]
    assert body["annotation_filter_options"] == {
        "usual": False,
        "ground_truth": False,
        "skipped": True,
    }


def test_bad_options_fail_before_any_request(fake: FakeLabelStudio) -> None:
    client = client_for(fake)
    with pytest.raises(ls_frames.ConfigurationError, match="skiped"):
        client.create_export(1, task_filter={"skiped": "only"})
    with pytest.raises(ls_frames.ConfigurationError, match="'only', 'exclude'"):
        ls_frames.TaskFilter(finished="yes")  # type: ignore[arg-type]
    assert fake.requests == []


# -- waiting ---------------------------------------------------------------------------------
def test_snapshot_stays_in_progress_then_fails(fake: FakeLabelStudio) -> None:
    client = client_for(fake)
    fake.add_export(BODY, ["in_progress"] * 3 + ["failed"], traceback="Traceback: boom")
    export = client.get_export(1, 1)
    with pytest.raises(ExportFailed) as info:
        export.wait(poll_interval=0)
    assert info.value.traceback == "Traceback: boom"
    assert "snapshot 1" in str(info.value) and "boom" in str(info.value)
    assert export.status is ls_frames.ExportStatus.FAILED


def test_wait_deadline_names_the_export(fake: FakeLabelStudio) -> None:
    client = client_for(fake)
    fake.add_export(BODY, ["in_progress"])
    export = client.get_export(1, 1)
    with pytest.raises(ExportTimeout, match="snapshot 1 of project 1 is still in_progress"):
        export.wait(timeout=0.05, poll_interval=0.01)


def test_conversion_that_fails_carries_the_traceback(fake: FakeLabelStudio) -> None:
    client = client_for(fake)
    exp = fake.add_export(BODY)
    exp.conversion_statuses["FAILCSV"] = ["in_progress", "failed"]
    conversion = client.get_export(1, 1).convert("FAILCSV")
    with pytest.raises(ExportFailed) as info:
        conversion.wait(poll_interval=0)
    assert "KeyError" in (info.value.traceback or "")
    assert "conversion of snapshot 1 to FAILCSV" in str(info.value)


def test_converting_again_reuses_the_started_conversion(fake: FakeLabelStudio) -> None:
    client = client_for(fake)
    exp = fake.add_export(BODY)
    exp.conversion_statuses["CSV"] = ["in_progress", "in_progress", "completed"]
    export = client.get_export(1, 1)
    first = export.convert("CSV")
    second = export.convert("CSV")
    assert first.id == second.id == 100
    assert second.wait(poll_interval=0).status is ls_frames.ExportStatus.COMPLETED


def test_enterprise_not_converted_yet_converts_then_downloads(tmp_path: Path) -> None:
    fake = FakeLabelStudio(enterprise=True)
    fake.add_export(BODY)
    client = client_for(fake)
    path = client.get_export(1, 1).download(tmp_path / "out.csv", "CSV", progress=False)
    assert path.read_bytes().startswith(b"converted CSV")
    assert any(r.url.path.endswith("/convert") for r in fake.requests)


# -- downloads ------------------------------------------------------------------------------
def test_download_cut_halfway_resumes_with_range(fake: FakeLabelStudio, tmp_path: Path) -> None:
    client = client_for(fake)
    fake.add_export(BODY)
    fake.cuts = [len(BODY) // 2, len(BODY) * 3 // 4]
    path = client.get_export(1, 1).download(tmp_path, progress=False)
    assert path.read_bytes() == BODY
    ranges = [r.headers.get("Range") for r in fake.requests if r.url.path.endswith("/download")]
    assert ranges == ["bytes=0-", f"bytes={len(BODY) // 2}-", f"bytes={len(BODY) * 3 // 4}-"]
    assert list(tmp_path.iterdir()) == [path], "no .part file left behind"


def test_server_ignoring_range_restarts_cleanly(fake: FakeLabelStudio, tmp_path: Path) -> None:
    client = client_for(fake)
    fake.add_export(BODY)
    fake.honour_range = False
    fake.cuts = [1000]
    path = client.get_export(1, 1).download(tmp_path / "a.json", progress=False)
    assert path.read_bytes() == BODY


def test_checksum_mismatch_leaves_nothing(fake: FakeLabelStudio, tmp_path: Path) -> None:
    client = client_for(fake)
    fake.add_export(BODY)
    fake.corrupt_download = True
    with pytest.raises(ChecksumMismatch, match="does not match"):
        client.get_export(1, 1).download(tmp_path, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_connection_that_keeps_breaking_gives_up_cleanly(
    fake: FakeLabelStudio, tmp_path: Path
) -> None:
    client = client_for(fake)
    fake.add_export(BODY)
    fake.cuts = [100] * 20
    with pytest.raises(ls_frames.DownloadError, match="gave up at byte 100"):
        client.get_export(1, 1).download(tmp_path, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_download_file_name_is_a_safe_basename(fake: FakeLabelStudio, tmp_path: Path) -> None:
    client = client_for(fake)
    fake.add_export(BODY)
    path = client.get_export(1, 1).download(tmp_path, progress=False)
    assert path == tmp_path / "evil-1.json"
    assert hashlib.md5(path.read_bytes()).hexdigest() == client.get_export(1, 1).md5


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ('attachment; filename="export/1/project-1-at-2026.json"', "project-1-at-2026.json"),
        ("attachment; filename=/etc/passwd", "passwd"),
        ('attachment; filename="..\\\\..\\\\win.ini"', "win.ini"),
        ("attachment; filename*=UTF-8''r%C3%A9sum%C3%A9.csv", "résumé.csv"),
        ('attachment; filename=".."', None),
        (None, None),
    ],
)
def test_filename_from_disposition(header: str | None, expected: str | None) -> None:
    assert filename_from_disposition(header) == expected


def test_safe_basename_strips_control_characters() -> None:
    assert safe_basename("a\x00b\nc.json") == "abc.json"


def test_progress_can_be_switched_off_by_environment(
    fake: FakeLabelStudio,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    client = client_for(fake)
    fake.add_export(BODY)
    monkeypatch.setenv("LS_FRAMES_DISABLE_PROGRESS_BARS", "1")
    client.get_export(1, 1).download(tmp_path)
    assert "snapshot 1" not in capsys.readouterr().err
    monkeypatch.delenv("LS_FRAMES_DISABLE_PROGRESS_BARS")
    client.get_export(1, 1).download(tmp_path / "b.json")
    assert "snapshot 1" in capsys.readouterr().err
    assert os.path.exists(tmp_path / "b.json")


# -- what older and newer releases answer (both are also run for real by make compat) ------
def _answering(status: int, body: dict[str, str]) -> ls_frames.Client:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json=body)

    return ls_frames.Client("https://ls.test", LEGACY, transport=httpx.MockTransport(handler))


def test_a_release_without_personal_access_tokens_says_so() -> None:
    # Label Studio 1.13 has no /api/token/refresh/ at all (but answers /api/version)
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/version":
            return httpx.Response(200, json={"release": "1.13.1"})
        return httpx.Response(404, json={"detail": "Not found."})

    with (
        ls_frames.Client("https://ls.test", PAT, transport=httpx.MockTransport(handler)) as client,
        pytest.raises(AuthenticationError, match="no personal access tokens") as info,
    ):
        client.list_projects()
    assert info.value.status == 404 and info.value.path == "/api/token/refresh/"
    assert client.is_label_studio is True


def test_legacy_tokens_turned_off_say_what_to_use() -> None:
    message = (
        "Authentication token no longer valid: legacy token authentication has been "
        "disabled for this organization"
    )
    with (
        _answering(401, {"detail": message}) as client,
        pytest.raises(AuthenticationError, match="use a personal access token") as info,
    ):
        client.list_projects()
    assert info.value.status == 401 and info.value.scheme == "Token"
    assert LEGACY not in str(info.value)
