"""Token hygiene: no credential (the legacy token, the personal access token, any access token
issued for it) in the ``repr`` of any object, in DEBUG logs, or in an exception's message,
even when a proxy or the server echoes the credential back in an error page.

The proxy records every credential that passes through it (``Authorization`` values, the
refresh token in the refresh request, the access tokens in its answers); the test then
searches everything the library rendered for each of them.
"""

from __future__ import annotations

import json
import logging
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import ls_frames
from tests.faults.conftest import Seeded, Sleeps, make_client
from tests.faults.figures import count
from tests.faults.proxy import (
    Fault,
    FaultProxy,
    ProxyRequest,
    html_page,
    reset,
    rewrite_json,
    stall,
    status,
)

pytestmark = pytest.mark.server


def _echo(code: int, html: bool = False) -> Callable[[ProxyRequest], Fault]:
    """An error answer that repeats the request's credential (as careless servers do)."""

    def fault(req: ProxyRequest) -> Fault:
        auth = req.header("Authorization") or ""
        if html:
            return html_page(code, f"Denied for {auth}")
        body = json.dumps({"detail": f"credential {auth} refused", "header": auth})
        return status(code, body, content_type="application/json")

    return fault


def _texts_of(exc: BaseException) -> list[str]:
    out = [str(exc), repr(exc), "".join(traceback.format_exception(exc)), repr(exc.args)]
    for attr in ("request", "response"):
        obj = getattr(exc, attr, None)
        if obj is not None:
            out += [repr(obj), repr(obj.headers)]
    for attr in ("server_message", "traceback"):
        value = getattr(exc, attr, None)
        if value:
            out.append(str(value))
    return out


def test_no_credential_in_reprs_logs_or_errors(
    label_studio: Any, api_key: str, seeded: Seeded, proxy: FaultProxy, sleeps: Sleeps,
    tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger: ls_frames, httpx, httpcore
    texts: list[str] = []
    errors: list[BaseException] = []

    def expect_error(fn: Callable[[], Any]) -> None:
        try:
            fn()
        except ls_frames.LSFramesError as exc:
            errors.append(exc)
        else:
            raise AssertionError(f"{fn} did not fail")

    with make_client(proxy.url, api_key, sleeps, attempts=3) as client:
        pid, eid = seeded.project, seeded.export_id
        export = client.get_export(pid, eid)
        conversion = export.convert("CSV")
        conversion.wait(timeout=60, poll_interval=0.05)
        export.download(tmp_path, progress=False)
        texts += [repr(o) for o in (client, client.auth, client.retry, client._client, export,
                                    conversion, *client.list_exports(pid),
                                    *client.export_formats(pid))]

        # Error answers that echo the credential back, in JSON and in HTML.
        for code in (400, 401, 403, 404, 500):
            proxy.rule(_echo(code), path=rf"/exports/{eid}$")
            expect_error(lambda: client.get_export(pid, eid))
            proxy.clear()
        proxy.rule(_echo(502, html=True), path=r"/exports/$")
        expect_error(lambda: client.list_exports(pid))
        proxy.clear()
        proxy.rule(_echo(200, html=True), path=r"/export/formats$")
        expect_error(lambda: client.export_formats(pid))
        proxy.clear()
        # No answer at all.
        proxy.script(r"/exports/$", *[reset()] * 3)
        expect_error(lambda: client.list_exports(pid))
        proxy.script(r"/exports/$", *[stall(5.0)] * 3)
        expect_error(lambda: client.list_exports(pid))
        # A failed job whose server traceback holds the credential.
        secrets_now = sorted(proxy.secrets_seen)
        failing = client.get_export(pid, eid)
        failing.raw["status"] = "in_progress"
        proxy.script(rf"/exports/{eid}$", rewrite_json(lambda raw: {
            **raw, "status": "failed",
            "traceback": "Traceback ...\nKeyError: " + " ".join(secrets_now)}))
        expect_error(lambda: failing.wait(timeout=10, poll_interval=0.01))
        # A download that does not match its MD5.
        broken = client.get_export(pid, eid)
        broken.raw["md5"] = "0" * 32
        expect_error(lambda: broken.download(tmp_path / "x.json", progress=False))

    secrets = {s for s in proxy.secrets_seen | {api_key} if len(s) >= 16}
    assert api_key in secrets
    if ls_frames.transport.token_kind(api_key) != "legacy":
        assert len(secrets) >= 2, "the personal access token and at least one access token"
    for exc in errors:
        texts += _texts_of(exc)
    texts.append(caplog.text)
    texts += [r.getMessage() for r in caplog.records]
    leaks = [(secret[:6] + "…", text[:120]) for text in texts for secret in secrets
             if secret in text]
    assert not leaks, leaks
    assert {type(e).__name__ for e in errors} >= {
        "BadRequest", "AuthenticationError", "PermissionDenied", "NotFound", "ServerError",
        "HTTPError", "TransportError", "RequestTimeout", "ExportFailed", "ChecksumMismatch",
    }
    count("token hygiene", "texts-scanned", len(texts))
    count("token hygiene", "errors-provoked", len(errors))
    count("token hygiene", "secrets-searched", len(secrets))
    count("token hygiene", "leaks", len(leaks))
