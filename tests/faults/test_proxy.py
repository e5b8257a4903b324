"""The fault proxy itself: faithful when told nothing, loopback only, and bounded."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from ls_frames.testing.seed import auth_headers
from tests.faults.conftest import Seeded
from tests.faults.proxy import FaultProxy, cut, status

pytestmark = pytest.mark.server


def test_forwards_range_and_keeps_the_servers_framing(label_studio: Any, seeded: Seeded) -> None:
    auth = auth_headers(label_studio.url, label_studio.admin_key)
    with (
        FaultProxy(label_studio.url, lifetime=30) as proxy,
        httpx.Client(base_url=proxy.url, headers=auth) as client,
    ):
        url = f"/{seeded.download_path}?exportType=JSON"
        whole = client.get(url)
        assert whole.content == seeded.body
        assert "content-length" not in whole.headers, "a plain GET ends with the connection"
        part = client.get(url, headers={"Range": "bytes=100-"})
        assert part.status_code == 206 and part.content == seeded.body[100:]
        assert (
            part.headers["content-range"] == f"bytes 100-{len(seeded.body) - 1}/{len(seeded.body)}"
        )
        proxy.script(r"/download$", cut(1000))
        assert len(client.get(url).content) == 1000, "a cut of an unframed body looks complete"
        proxy.script(r"/download$", cut(1000))
        with pytest.raises(httpx.RemoteProtocolError):
            client.get(url, headers={"Range": "bytes=0-"})
    assert [e.request.header("Range") for e in proxy.log] == [None, "bytes=100-", None, "bytes=0-"]


def test_stops_by_itself_after_its_lifetime_and_budget(label_studio: Any) -> None:
    with FaultProxy(label_studio.url, lifetime=1.0, max_requests=2) as proxy:
        proxy.rule(lambda req: status(200, "ok"))
        with httpx.Client(base_url=proxy.url) as client:
            assert [client.get("/a").status_code for _ in range(3)] == [200, 200, 503]
        time.sleep(1.5)
        assert proxy.closed
        with pytest.raises(httpx.ConnectError):
            httpx.get(proxy.url + "/b", timeout=2)


@pytest.mark.parametrize(
    ("upstream", "bind"), [("http://example.org", "127.0.0.1"), ("http://127.0.0.1:1", "0.0.0.0")]
)
def test_refuses_anything_but_loopback(upstream: str, bind: str) -> None:
    with pytest.raises(ValueError, match="loopback"):
        FaultProxy(upstream, bind=bind)
