"""Failures a retry cannot fix end at once, naming the scheme, host and port; failures that
can pass on a retry are still retried.

Unfixable: a refused connection (nothing listens on the port), a host name that does not
resolve, https against the real server's plain-http port. Fixable: a connection reset, a
timeout, 503.
"""

from __future__ import annotations

import socket
import time
from typing import Any

import pytest

from ls_frames.errors import RequestTimeout, ServerError, TransportError
from tests.faults.conftest import Seeded, Sleeps, make_client
from tests.faults.proxy import PASS, FaultProxy, reset, stall, status

pytestmark = pytest.mark.server


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _plain_port(label_studio: Any) -> int:
    return int(label_studio.url.rstrip("/").rsplit(":", 1)[1])


def _cases(label_studio: Any) -> dict[str, tuple[str, str, str]]:
    """name -> (url, origin the message must name, words it must hold)"""
    refused = _free_port()
    plain = _plain_port(label_studio)
    return {
        "refused": (f"http://127.0.0.1:{refused}", f"http://127.0.0.1:{refused}", "refused"),
        "no-such-name": (
            "https://no-such-host.invalid/ls",
            "https://no-such-host.invalid:443",
            "does not resolve",
        ),
        "tls-on-plain-http": (
            f"https://127.0.0.1:{plain}",
            f"https://127.0.0.1:{plain}",
            "TLS handshake failed",
        ),
    }


@pytest.mark.parametrize("case", ["refused", "no-such-name", "tls-on-plain-http"])
@pytest.mark.parametrize("call", ["get", "post"])
def test_unfixable_connection_errors_fail_at_once(
    label_studio: Any, api_key: str, sleeps: Sleeps, case: str, call: str
) -> None:
    url, origin, words = _cases(label_studio)[case]
    started = time.monotonic()
    with make_client(url, api_key, sleeps) as client, pytest.raises(TransportError) as info:
        if call == "get":
            client.list_projects()
        else:
            client.create_export(1, title="never")
    elapsed = time.monotonic() - started
    assert sleeps.calls == [], "not retried"
    assert elapsed < 3.0, elapsed
    message = str(info.value)
    assert origin in message and words in message, message
    assert api_key not in message
    assert not isinstance(info.value, RequestTimeout)


def test_resets_timeouts_and_503_are_still_retried(
    label_studio: Any, api_key: str, seeded: Seeded, proxy: FaultProxy, sleeps: Sleeps
) -> None:
    with make_client(proxy.url, api_key, sleeps, attempts=3) as client:
        proxy.script(r"/exports/$", reset(), stall(5.0), PASS)
        assert client.list_exports(seeded.project)
        assert len(sleeps.calls) == 2

        proxy.script(r"/exports/$", *[reset()] * 3)
        with pytest.raises(TransportError) as info:
            client.list_exports(seeded.project)
        assert len(sleeps.calls) == 4
        assert proxy.url.rstrip("/") in str(info.value)
        assert "after 3 attempt(s)" in str(info.value)

        proxy.script(r"/exports/$", *[status(503)] * 3)
        with pytest.raises(ServerError):
            client.list_exports(seeded.project)
        assert len(sleeps.calls) == 6
