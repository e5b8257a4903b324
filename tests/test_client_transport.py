"""The one retry rule (``ls_frames.transport.retry``), through ``httpx.MockTransport``.

The same scripted fault is sent through the export client and through the media fetcher's
hops to another host: both must retry it, or fail at once, the same way and raise the same
typed error. The sleep is injected everywhere, so nothing here waits.
"""

from __future__ import annotations

import ast
import contextlib
import email.utils
import socket
import ssl
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import ls_frames
from ls_frames import errors
from ls_frames.errors import RateLimited, RequestTimeout, ServerError, TransportError
from ls_frames.media.guard import HostGuard
from ls_frames.media.http import Hop, Hops
from ls_frames.transport import RetryPolicy, RetryTransport, secrets
from ls_frames.transport.retry import RETRY
from tests.fake_label_studio import LEGACY, CutStream

PACKAGE = Path(ls_frames.__file__).parent

#: An answer, or an exception to raise, per try; the last one repeats.
Step = httpx.Response | Exception


class Script:
    """A ``MockTransport`` handler that plays ``steps`` in order and records each request."""

    def __init__(self, *steps: Step) -> None:
        self.steps = list(steps)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        step = self.steps.pop(0) if len(self.steps) > 1 else self.steps[0]
        if isinstance(step, Exception):
            raise step
        if isinstance(step.stream, CutStream):  # breaks again on every answer
            return httpx.Response(step.status_code, headers=step.headers, stream=step.stream)
        return httpx.Response(step.status_code, headers=step.headers, content=step.read())


def _connect_error(cause: BaseException) -> httpx.ConnectError:
    """httpx's ConnectError with the socket's error as its cause, as httpx raises it."""
    try:
        raise httpx.ConnectError("connect failed") from cause
    except httpx.ConnectError as exc:
        return exc


def _client(script: Script, sleeps: list[float], attempts: int = 3) -> ls_frames.Client:
    policy = RetryPolicy(attempts=attempts, sleep=sleeps.append)
    return ls_frames.Client(
        "https://ls.test", LEGACY, transport=httpx.MockTransport(script), retry=policy
    )


def _hops(script: Script, sleeps: list[float], attempts: int = 3) -> Hops:
    def resolve(host: str, port: int, **kw: Any) -> list[tuple[Any, ...]]:
        return [(0, 0, 0, "", ("93.184.216.34", port))]  # a public address: always allowed

    return Hops(
        None,
        HostGuard(resolve=resolve),
        retry=RetryPolicy(attempts=attempts, sleep=sleeps.append),
        transport=httpx.MockTransport(script),
    )


def _via_client(steps: list[Step]) -> tuple[Any, list[float], Script]:
    script, sleeps = Script(*steps), list[float]()
    with _client(script, sleeps) as client:
        try:
            return client.request("GET", "data/f.bin").content, sleeps, script
        except ls_frames.LSFramesError as exc:
            return exc, sleeps, script


def _via_media(steps: list[Step]) -> tuple[Any, list[float], Script]:
    script, sleeps = Script(*steps), list[float]()
    hops = _hops(script, sleeps)
    try:
        with hops.open(Hop(httpx.URL("https://files.test/data/f.bin"), False), {}) as answer:
            return answer.read(), sleeps, script
    except ls_frames.LSFramesError as exc:
        return exc, sleeps, script
    finally:
        hops.close()


REFUSED = _connect_error(ConnectionRefusedError(111, "Connection refused"))
UNTRUSTED = _connect_error(ssl.SSLCertVerificationError(1, "certificate verify failed"))
UNTRUSTED.__cause__.verify_message = "certificate has expired"  # type: ignore[union-attr]
NO_NAME = _connect_error(socket.gaierror(socket.EAI_NONAME, "Name or service not known"))
OK = httpx.Response(200, content=b"file")

FAULTS: dict[str, tuple[list[Step], int, type[Exception] | None, str]] = {
    # name: (steps, sleeps, error raised or None, words of the message)
    "503 then ok": ([httpx.Response(503), httpx.Response(503), OK], 2, None, ""),
    "reset then ok": ([httpx.ConnectError("reset"), OK], 1, None, ""),
    "read timeout then ok": ([httpx.ReadTimeout("slow"), OK], 1, None, ""),
    "500 is not repeated": ([httpx.Response(500, text="boom")], 0, ServerError, "boom"),
    "a 429 storm": ([httpx.Response(429)], 2, RateLimited, "429 Too Many Requests"),
    "timeouts": ([httpx.ReadTimeout("slow")], 2, RequestTimeout, "after 3 attempt(s)"),
    "resets": ([httpx.ConnectError("reset")], 2, TransportError, "after 3 attempt(s)"),
    "refused": ([REFUSED], 0, TransportError, "connection refused"),
    "untrusted certificate": ([UNTRUSTED], 0, TransportError, "certificate is not trusted"),
    "no such name": ([NO_NAME], 0, TransportError, "host name does not resolve"),
}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_the_same_fault_gets_the_same_treatment_through_the_client_and_the_media_fetcher(
    fault: str,
) -> None:
    steps, slept, raised, words = FAULTS[fault]
    outcomes = {"client": _via_client(list(steps)), "media": _via_media(list(steps))}
    for path, (result, sleeps, script) in outcomes.items():
        assert len(sleeps) == slept, (path, sleeps)
        assert len(script.requests) == slept + 1, path
        if raised is None:
            assert result == b"file", (path, result)
            continue
        assert type(result) is raised, (path, result)
        assert words in str(result), (path, str(result))
    client_error, media_error = outcomes["client"][0], outcomes["media"][0]
    if raised is not None:
        # the same message, but for the host each one was meant for
        assert str(client_error).replace("ls.test", "files.test") == str(media_error)
        assert client_error.status == media_error.status


def test_an_unfixable_failure_names_the_origin_the_request_was_meant_for() -> None:
    error, _, script = _via_media([REFUSED])
    assert str(script.requests[0].url).startswith("https://93.184.216.34/")  # pinned
    assert str(error).startswith("cannot reach https://files.test:443: connection refused")
    assert isinstance(error.__cause__, httpx.ConnectError)


def _transport(script: Script, sleeps: list[float], attempts: int = 5) -> httpx.Client:
    policy = RetryPolicy(attempts=attempts, sleep=sleeps.append)
    return httpx.Client(transport=RetryTransport(httpx.MockTransport(script), policy))


def test_retry_after_is_honoured_in_seconds_and_as_a_date() -> None:
    later = email.utils.formatdate(time.time() + 30, usegmt=True)
    sleeps: list[float] = []
    script = Script(
        httpx.Response(503, headers={"Retry-After": "3"}),
        httpx.Response(429, headers={"Retry-After": later}),
        httpx.Response(503, headers={"Retry-After": "100000"}),
        OK,
    )
    with _transport(script, sleeps) as http:
        assert http.get("https://h.test/").content == b"file"
    assert sleeps[0] == 3.0
    assert 25 < sleeps[1] <= 30
    assert sleeps[2] == RetryPolicy().max_retry_after


def test_without_retry_after_the_backoff_is_capped_exponential_with_jitter() -> None:
    policy = RetryPolicy(base=1.0, cap=5.0, rng=lambda: 1.0)
    assert [policy.delay(n) for n in range(1, 6)] == [1.0, 2.0, 4.0, 5.0, 5.0]
    assert RetryPolicy(rng=lambda: 0.25).delay(3) == 0.25 * 2.0


@pytest.mark.parametrize(
    ("step", "tries"),
    [
        (httpx.Response(503), 1),  # the server may have acted on it
        (httpx.Response(502), 1),
        (httpx.ReadTimeout("slow"), 1),
        (httpx.Response(200, stream=CutStream(b"x" * 10000, 10)), 1),
        (httpx.Response(429), 3),  # refused: nothing was made
        (httpx.ConnectError("reset"), 3),  # never reached the server
        (httpx.ConnectTimeout("slow"), 3),
        (REFUSED, 1),  # nothing listens: fails at once in any case
    ],
)
def test_a_create_is_not_repeated_blindly(step: Step, tries: int) -> None:
    script, sleeps = Script(step), list[float]()
    with (
        _transport(script, sleeps, attempts=3) as http,
        contextlib.suppress(TransportError, httpx.HTTPError),
    ):
        http.post("https://h.test/api/projects/1/exports/", json={"title": "t"})
    assert len(script.requests) == tries
    assert len(sleeps) == tries - 1


def test_a_post_marked_safe_to_repeat_is_repeated_and_a_get_marked_unsafe_is_not() -> None:
    script, sleeps = Script(httpx.Response(503), OK), list[float]()
    with _transport(script, sleeps) as http:
        request = http.build_request("POST", "https://h.test/convert", extensions={RETRY: True})
        assert http.send(request).status_code == 200
        request = http.build_request("GET", "https://h.test/x", extensions={RETRY: False})
        script.steps = [httpx.Response(503), OK]
        assert http.send(request).status_code == 503
    assert len(script.requests) == 3 and len(sleeps) == 1


def test_the_create_export_post_is_sent_once_on_a_503() -> None:
    script, sleeps = Script(httpx.Response(503), httpx.Response(200, json=[])), list[float]()
    with _client(script, sleeps) as client, pytest.raises(ServerError):
        client.create_export(1, title="once")
    posts = [r for r in script.requests if r.method == "POST"]
    assert len(posts) == 1
    # the ambiguous answer made the client look for the snapshot instead of posting again
    assert [r.method for r in script.requests[1:]] == ["GET"] * (len(script.requests) - 1)


def test_a_body_cut_short_is_read_again_when_the_request_is_safe_to_repeat() -> None:
    cut = httpx.Response(200, stream=CutStream(b"x" * 10000, 5000))
    script, sleeps = Script(cut, OK), list[float]()
    with _transport(script, sleeps) as http:
        assert http.get("https://h.test/").content == b"file"
    assert len(script.requests) == 2 and len(sleeps) == 1


def test_nothing_waits_for_real() -> None:
    started = time.monotonic()
    for steps, *_ in FAULTS.values():
        _via_client(list(steps))
        _via_media(list(steps))
    assert time.monotonic() - started < 5.0


def test_a_token_echoed_back_reaches_no_message_and_no_attribute() -> None:
    def echo(request: httpx.Request) -> httpx.Response:
        auth = request.headers["Authorization"]
        return httpx.Response(400, json={"detail": f"bad {auth}", "header": auth})

    with (
        ls_frames.Client("https://ls.test", LEGACY, transport=httpx.MockTransport(echo)) as c,
        pytest.raises(ls_frames.BadRequest) as info,
    ):
        c.list_projects()
    err = info.value
    assert err.request is not None and err.response is not None
    texts = [str(err), repr(err), err.server_message, err.response.text]
    texts += [f"{k}: {v}" for k, v in err.request.headers.multi_items()]
    assert not [t for t in texts if LEGACY in t], texts


# -- the code itself ------------------------------------------------------------------------
def _python_files() -> Iterator[Path]:
    yield from sorted(PACKAGE.rglob("*.py"))


def _private_httpx_uses(tree: ast.AST) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("httpx._"):
            found.append(f"from {node.module} import ...")
        elif isinstance(node, ast.Import):
            found += [f"import {a.name}" for a in node.names if a.name.startswith("httpx._")]
        elif (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == "httpx"
            and node.attr.startswith("_")
        ):
            found.append(f"httpx.{node.attr}")
    return found


def test_no_module_uses_a_private_name_of_httpx() -> None:
    used = {
        str(path.relative_to(PACKAGE)): names
        for path in _python_files()
        if (names := _private_httpx_uses(ast.parse(path.read_text())))
    }
    assert used == {}


def test_the_scan_would_see_one() -> None:
    tree = ast.parse("from httpx._client import UseClientDefault\nimport httpx\nhttpx._utils")
    assert _private_httpx_uses(tree) == ["from httpx._client import ...", "httpx._utils"]


def test_errors_is_the_ground_floor() -> None:
    """errors.py imports nothing of ls_frames when it runs (only for type checking, and the
    moved registry names are gone: they live in ls_frames.transport.secrets)."""
    tree = ast.parse((PACKAGE / "errors.py").read_text())
    top = [
        node.module if isinstance(node, ast.ImportFrom) else node.names[0].name
        for node in tree.body
        if isinstance(node, (ast.Import, ast.ImportFrom))
    ]
    assert not [m for m in top if m and m.startswith("ls_frames")], top
    assert not hasattr(errors, "redact") and not hasattr(errors, "register_secret")


def test_redact_masks_registered_secrets_and_authorization_values() -> None:
    secrets.register_secret("s3cr3t-value-123")
    text = secrets.redact("a s3cr3t-value-123 b; Authorization: Bearer abc.def123.ghi")
    assert text == "a *** b; Authorization: Bearer ***"
    assert secrets.redact("token authentication is off") == "token authentication is off"


def test_a_proxy_from_the_environment_is_still_used(monkeypatch: pytest.MonkeyPatch) -> None:
    """Under the retrying transport, httpx still picks the proxy ``HTTP_PROXY`` names."""
    from tests.media_hosts import other_host

    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", "HTTPS_PROXY", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    with other_host() as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.origin)
        with (
            pytest.warns(ls_frames.transport.connection.InsecureTransportWarning),
            ls_frames.Client(
                "http://ls.invalid", LEGACY, retry=RetryPolicy(sleep=list[float]().append)
            ) as c,
            pytest.raises(ls_frames.ConfigurationError, match="does not look like Label Studio"),
        ):
            c.list_projects()
    # the proxy answers 404 to everything: the probe went through it as well
    assert [s.path for s in proxy.seen] == [
        "http://ls.invalid/api/projects/?page=1&page_size=100",
        "http://ls.invalid/api/version",
    ]
