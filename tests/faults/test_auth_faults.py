"""Credentials that die in the middle of a long wait.

The snapshot is made to look ``in_progress`` for a few polls (the proxy rewrites the status),
then the credential goes bad: the proxy replaces what the client sends with a credential the
real server rejects (the shared test server's own tokens are not revoked for real). Expected:
one clear :class:`AuthenticationError` naming the header scheme, after one or two requests,
not a storm of retries; an access token that merely expired is refreshed once and the wait
goes on.
"""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest

import ls_frames
from ls_frames.errors import AuthenticationError
from ls_frames.transport import token_kind
from tests.faults.conftest import Seeded, Sleeps, make_client
from tests.faults.figures import count
from tests.faults.proxy import (
    Fault,
    FaultProxy,
    ProxyRequest,
    reset,
    rewrite_json,
    status,
    swap_request,
)

pytestmark = pytest.mark.server

PENDING_POLLS = 4


def _expired_jwt() -> str:
    def b64(obj: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    past = int(time.time()) - 3600
    payload = {"token_type": "access", "exp": past, "iat": past - 300, "user_id": 1}
    return f"{b64({'alg': 'HS256', 'typ': 'JWT'})}.{b64(payload)}.ZXhwaXJlZA"


class LongWait:
    """The snapshot stays ``in_progress`` for ``PENDING_POLLS`` polls; then ``after`` decides
    each request (the credential's fate)."""

    def __init__(self, export_id: int, after: Fault | None) -> None:
        self.export_id = export_id
        self.after = after
        self.polls = 0
        self.turned_at: int | None = None  # proxy request index when the credential went bad

    def __call__(self, req: ProxyRequest) -> Fault | None:
        is_poll = req.path.endswith(f"/exports/{self.export_id}")
        if self.polls < PENDING_POLLS:
            if is_poll:
                self.polls += 1
                return rewrite_json(lambda raw: {**raw, "status": "in_progress"})
            return None
        if self.turned_at is None:
            self.turned_at = req.index
        return self.after  # None: the next rule (or the server) decides


def _revoked(kind: str) -> Fault:
    if kind == "legacy":
        return swap_request({"Authorization": "Token " + "0" * 40}, name="revoked-token")
    return swap_request(
        {"Authorization": f"Bearer {_expired_jwt()}"},
        json_body=lambda body: {**body, "refresh": "revoked.personal.token"},
        name="revoked-pat",
    )


def test_revoked_credential_mid_wait_is_one_clear_error(
    label_studio: Any, api_key: str, seeded: Seeded, proxy: FaultProxy, sleeps: Sleeps
) -> None:
    kind = token_kind(api_key)
    scheme = "Token" if kind == "legacy" else "Bearer"
    wait = LongWait(seeded.export_id, _revoked(kind))
    proxy.rule(wait)
    with make_client(proxy.url, api_key, sleeps) as client:
        export = client.get_export(seeded.project, seeded.export_id)
        with pytest.raises(AuthenticationError) as info:
            export.wait(timeout=60, poll_interval=0.01)
    err = info.value
    assert wait.turned_at is not None
    after = [e for e in proxy.log if e.request.index >= wait.turned_at]
    # legacy: the poll's 401. PAT: the poll's 401, then one refresh that is refused.
    assert len(after) == (1 if kind == "legacy" else 2), [e.path for e in after]
    assert err.status == 401 and err.scheme == scheme
    assert f"Authorization: {scheme} <redacted>" in str(err)
    assert api_key not in str(err) and api_key not in repr(err)
    assert sleeps.calls.count(0.01) == PENDING_POLLS - 1 and len(sleeps.calls) == PENDING_POLLS - 1
    if kind != "legacy":
        assert "personal access token was rejected" in str(err)
    count("auth", f"requests-after-revocation-{kind}", len(after))


@pytest.mark.credential("personal_access_token")
def test_expired_access_token_mid_wait_is_refreshed_once(
    label_studio: Any, seeded: Seeded, proxy: FaultProxy, sleeps: Sleeps
) -> None:
    """One poll carries an expired access token (as after a laptop's sleep): the server says
    401, the client refreshes once with its personal access token, and the wait goes on."""
    once = iter([swap_request({"Authorization": f"Bearer {_expired_jwt()}"}, name="expired")])
    wait = LongWait(seeded.export_id, None)
    proxy.rule(wait)
    proxy.rule(lambda req: next(once, None), path=rf"/exports/{seeded.export_id}$")
    with make_client(proxy.url, label_studio.access_token, sleeps) as client:
        export = client.get_export(seeded.project, seeded.export_id)
        export.wait(timeout=60, poll_interval=0.01)
    assert export.status is ls_frames.ExportStatus.COMPLETED
    refreshes = proxy.requests(r"/api/token/refresh/$")
    assert len(refreshes) == 2, "the first access token, and one after the 401"
    polls = proxy.requests(rf"/exports/{seeded.export_id}$")
    assert [e.upstream_status for e in polls][-3:] == [200, 401, 200]
    count("auth", "refreshes-after-expiry", len(refreshes) - 1)


@pytest.mark.credential("legacy")
def test_legacy_tokens_switched_off_mid_wait(
    label_studio: Any, seeded: Seeded, proxy: FaultProxy, sleeps: Sleeps
) -> None:
    """The organization turns legacy tokens off during the wait (simulated: the shared
    server's setting is not touched): the server's words and the scheme are in the error."""
    off = status(
        401,
        json.dumps(
            {"detail": "legacy token authentication has been disabled for this organization"}
        ),
        content_type="application/json",
    )
    wait = LongWait(seeded.export_id, off)
    proxy.rule(wait)
    with make_client(proxy.url, label_studio.legacy_token, sleeps) as client:
        export = client.get_export(seeded.project, seeded.export_id)
        with pytest.raises(AuthenticationError) as info:
            export.wait(timeout=60, poll_interval=0.01)
    assert "legacy token authentication has been disabled" in str(info.value)
    assert "Authorization: Token <redacted>" in str(info.value)
    assert wait.turned_at is not None
    assert len([e for e in proxy.log if e.request.index >= wait.turned_at]) == 1


@pytest.mark.credential("personal_access_token")
def test_token_refresh_in_a_storm_is_retried_even_before_a_create(
    label_studio: Any, seeded: Seeded, proxy: FaultProxy, sleeps: Sleeps
) -> None:
    """The access-token exchange meets 503, 429 and a reset: it is retried (the request
    behind it never reached the server, so even a create may go on), and the snapshot is
    made once."""
    proxy.script(r"/api/token/refresh/$", status(503), status(429, retry_after=1), reset())
    title = "refresh storm"
    with make_client(proxy.url, label_studio.access_token, sleeps) as client:
        export = client.create_export(seeded.project, title=title)
    refreshes = proxy.requests(r"/api/token/refresh/$")
    assert [e.fault for e in refreshes] == ["503", "429", "reset", "pass"]
    assert len(proxy.requests(r"/exports/$", method="POST")) == 1
    assert 1.0 in sleeps.calls
    with ls_frames.Client(label_studio.url, label_studio.admin_key) as direct:
        assert [e.id for e in direct.list_exports(seeded.project) if e.title == title] == [
            export.id
        ]
    count("auth", "refresh-retries", len(refreshes) - 1)
