"""The API key goes to the Label Studio origin only (scheme, host and port of the URL).

A second listener on another loopback address (127.0.0.2) stands for any other origin and
records every request it gets. Every way the client can end up there is tried, with both
kinds of key: an absolute URL given to ``request`` and ``stream``, a download, a snapshot
create, a conversion and a storage create redirected there by the server's side (the fault
proxy in front of the real server), and a token refresh redirected there. The listener must
see neither an ``Authorization`` header nor any credential in a body.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

import ls_frames
from ls_frames.errors import HTTPError
from tests.fake_label_studio import PAT, make_jwt
from tests.faults.conftest import Seeded, Sleeps, make_client
from tests.faults.proxy import Fault, FaultProxy, ProxyRequest, status

pytestmark = pytest.mark.server


@pytest.fixture
def other_origin(label_studio: Any) -> Iterator[FaultProxy]:
    """A listener on 127.0.0.2 that answers everything itself and records what it got."""
    with FaultProxy(label_studio.url, bind="127.0.0.2", lifetime=60) as sink:
        sink.rule(_answer)
        yield sink


def _answer(req: ProxyRequest) -> Fault:
    if req.path.endswith("/download"):
        return status(200, b'[{"id": 1, "data": {}}]', content_type="application/json")
    if req.path.endswith("/convert"):
        return status(
            200, '{"export_type": "CSV", "converted_format": 1}', content_type="application/json"
        )
    if req.method == "POST":
        return status(
            201,
            '{"id": 999999, "project": 1, "path": "/x", "status": "completed"}',
            content_type="application/json",
        )
    return status(200, "[]", content_type="application/json")


def _assert_no_credential(sink: FaultProxy, key: str, expected: int) -> None:
    assert len(sink.log) == expected, [ex.request for ex in sink.log]
    for ex in sink.log:
        assert ex.request.header("Authorization") is None, ex.request
        assert key.encode() not in ex.request.body
    assert not sink.secrets_seen


def test_an_absolute_url_to_another_origin_gets_no_key(
    label_studio: Any, api_key: str, other_origin: FaultProxy
) -> None:
    with ls_frames.Client(label_studio.url, api_key) as client:
        assert client.list_projects() is not None  # the key works on the server itself
        response = client.request("GET", f"{other_origin.url}/media/one.png")
        assert response.status_code == 200
        with client.stream("GET", f"{other_origin.url}/media/two.png") as streamed:
            assert streamed.read() == b"[]"
        # the same host on another port is another origin too
        port = other_origin.url.rsplit(":", 1)[1]
        response = client.request("GET", f"http://127.0.0.2:{port}/api/projects/")
        assert response.json() == []
    _assert_no_credential(other_origin, api_key, 3)


def test_a_foreign_url_does_not_start_a_token_refresh(
    label_studio: Any,
    access_token: str,
    other_origin: FaultProxy,
    proxy: FaultProxy,
    sleeps: Sleeps,
) -> None:
    with make_client(proxy.url, access_token, sleeps) as client:
        client.request("GET", f"{other_origin.url}/media/one.png")
        assert proxy.requests() == [], "no refresh exchange for a request that needs no key"
        client.request("GET", "api/version")
        assert [ex.path for ex in proxy.requests()] == ["/api/token/refresh/", "/api/version"]
    _assert_no_credential(other_origin, access_token, 1)


def _redirect(sink: FaultProxy, code: int) -> Callable[[ProxyRequest], Fault]:
    def fault(req: ProxyRequest) -> Fault:
        return status(code, headers={"Location": f"{sink.url}{req.target}"})

    return fault


@pytest.mark.parametrize("code", [302, 307])
def test_export_helpers_redirected_elsewhere_send_no_key(
    label_studio: Any,
    api_key: str,
    seeded: Seeded,
    proxy: FaultProxy,
    sleeps: Sleeps,
    other_origin: FaultProxy,
    tmp_path: Any,
    code: int,
) -> None:
    """The server side (here the proxy) redirects a download, a snapshot create, a
    conversion and a storage create to another origin: none of them carries the key."""
    for route in (r"/download$", r"/exports/$", r"/convert$", r"/export/localfiles$"):
        proxy.rule(_redirect(other_origin, code), path=route)
    with make_client(proxy.url, api_key, sleeps) as client:
        export = client.get_export(seeded.project, seeded.export_id)
        export.raw["md5"] = None  # the other origin serves other bytes
        path = export.download(tmp_path, progress=False)
        assert json.loads(path.read_bytes()) == [{"id": 1, "data": {}}]
        client.list_exports(seeded.project)  # GET .../exports/ redirected
        if code == 307:  # a 307 keeps the method and the body: the POSTs reach the sink
            client.create_export(seeded.project, title="redirected")
            export.convert("CSV")
            client.create_export_storage(seeded.project, "/somewhere")
    _assert_no_credential(other_origin, api_key, 5 if code == 307 else 2)


def test_a_redirected_token_refresh_is_refused(
    label_studio: Any,
    access_token: str,
    proxy: FaultProxy,
    sleeps: Sleeps,
    other_origin: FaultProxy,
) -> None:
    """A 307 keeps the body, which holds the personal access token: it is not sent."""
    proxy.rule(_redirect(other_origin, 307), path=r"/api/token/refresh/$")
    with (
        make_client(proxy.url, access_token, sleeps) as client,
        pytest.raises(
            HTTPError, match=r"refused to send the API key to http://127\.0\.0\.2"
        ) as info,
    ):
        client.list_projects()
    assert access_token not in str(info.value)
    _assert_no_credential(other_origin, access_token, 0)


@pytest.mark.parametrize("key", ["0123456789abcdef0123456789abcdef01234567", PAT])
def test_an_upgrade_to_https_is_another_origin(key: str) -> None:
    """httpx keeps ``Authorization`` on an http -> https redirect to the same host; the key
    still goes to the configured origin only. (A fake server: the test server has no TLS.)"""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/api/token/refresh/":
            return httpx.Response(200, json={"access": make_jwt("access")})
        if request.url.scheme == "http":
            return httpx.Response(
                301, headers={"Location": str(request.url.copy_with(scheme="https"))}
            )
        return httpx.Response(200, json=[])

    with ls_frames.Client(
        "http://localhost", key, transport=httpx.MockTransport(handler)
    ) as client:
        assert client.list_projects() == []
    upgraded = [r for r in seen if r.url.scheme == "https"]
    assert len(upgraded) == 1 and "Authorization" not in upgraded[0].headers
    (plain,) = [r for r in seen if r.url.scheme == "http" and r.url.path == "/api/projects/"]
    assert plain.headers["Authorization"].split(" ")[0] in ("Token", "Bearer")
