"""A wrong address or a wrong key is named with its fix: a page copied from the browser, a
server that is not Label Studio, an empty key or URL (``ls_frames.transport.identity``)."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Callable, Iterator

import httpx
import pytest

import ls_frames
from ls_frames.errors import APIError, ConfigurationError, NotFound, ServerError
from tests.fake_label_studio import LEGACY, PAT, FakeLabelStudio, client_for

Handler = Callable[[httpx.Request], httpx.Response]


class Recording:
    """A ``MockTransport`` handler: ``answer`` per request, every request kept."""

    def __init__(self, answer: Handler) -> None:
        self.answer = answer
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.answer(request)

    def paths(self) -> list[str]:
        return [r.url.path for r in self.requests]


def _static_site(request: httpx.Request) -> httpx.Response:
    """What ``python -m http.server`` answers: 404 pages, 501 to a POST."""
    page = "<html><head><title>Error response</title></head></html>"
    status = 501 if request.method == "POST" else 404
    return httpx.Response(status, html=page)


def _client(
    handler: Recording, key: str = LEGACY, url: str = "https://ls.test"
) -> ls_frames.Client:
    return ls_frames.Client(url, key, transport=httpx.MockTransport(handler))


# -- a page of Label Studio instead of its address ------------------------------------------
@pytest.mark.parametrize(
    ("url", "base"),
    [
        ("http://127.0.0.1:8080/projects/1/data?tab=3&task=7", "http://127.0.0.1:8080"),
        ("http://127.0.0.1:8080/projects/", "http://127.0.0.1:8080"),
        ("http://127.0.0.1:8080/api/projects/1", "http://127.0.0.1:8080"),
        ("http://127.0.0.1:8080/api", "http://127.0.0.1:8080"),
        ("http://127.0.0.1:8080/user/account/", "http://127.0.0.1:8080"),
        ("http://127.0.0.1:8080/data/upload/1/a.png", "http://127.0.0.1:8080"),
        ("http://127.0.0.1:8080/tasks/7/resolve/", "http://127.0.0.1:8080"),
        ("https://example.org/labelstudio/projects/12/data", "https://example.org/labelstudio"),
        ("https://example.org/labelstudio/api/projects/", "https://example.org/labelstudio"),
        ("https://example.org/labelstudio/?tab=1", "https://example.org/labelstudio"),
    ],
)
def test_a_page_of_label_studio_is_refused_naming_the_base(url: str, base: str) -> None:
    handler = Recording(_static_site)
    with pytest.raises(ConfigurationError) as info:
        _client(handler, url=url)
    assert str(info.value).endswith(base) or f"give {base} " in str(info.value)
    assert handler.requests == []


def test_the_refusal_shows_no_password_of_the_url() -> None:
    with pytest.raises(ConfigurationError) as info:
        ls_frames.Client("https://user:s3cret-pass@example.org/projects/1", LEGACY)
    assert "s3cret-pass" not in str(info.value)
    assert str(info.value).endswith("https://example.org")


@pytest.mark.parametrize(
    "url",
    [
        "https://example.org/labelstudio",
        "https://example.org/label-studio/",
        "https://gateway.example.org/teams/api/labelstudio",
        "https://example.org/teams/data/ls",
        "http://127.0.0.1:8080/",
    ],
)
def test_a_sub_path_is_kept(url: str) -> None:
    handler = Recording(lambda r: httpx.Response(200, json={"results": [], "next": None}))
    with _client(handler, url=url) as client:
        client.list_projects()
    assert str(client.base_url) == url.rstrip("/") + "/"
    assert handler.paths() == [httpx.URL(url.rstrip("/") + "/api/projects/").path]


# -- a server that is not Label Studio ---------------------------------------------------------
@pytest.mark.parametrize(("key", "failed"), [(LEGACY, "GET /api/projects/"), (PAT, "POST")])
def test_a_server_that_is_not_label_studio_is_named_as_such(key: str, failed: str) -> None:
    handler = Recording(_static_site)
    client = _client(handler, key)
    with pytest.raises(ConfigurationError) as info:
        client.list_projects()
    message = str(info.value)
    assert message.startswith("https://ls.test does not look like Label Studio: ")
    assert "GET /api/version answered 404" in message and failed in message
    assert isinstance(info.value.__cause__, APIError)  # the failed request's own error
    assert key not in message
    probe = handler.requests[-1]
    assert probe.url.path == "/api/version" and "Authorization" not in probe.headers
    # known from now on: the next failure says the same without asking again
    with pytest.raises(ConfigurationError, match="does not look like Label Studio"):
        client.list_projects()
    assert handler.paths().count("/api/version") == 1
    assert client.is_label_studio is False
    client.close()


def test_a_login_page_answering_the_version_probe_is_not_label_studio() -> None:
    def portal(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/version":
            return httpx.Response(200, html="<html><title>Sign in</title></html>")
        return httpx.Response(405, json={"detail": "Method Not Allowed"})

    with _client(Recording(portal)) as client, pytest.raises(ConfigurationError) as info:
        client.list_projects()
    assert "GET /api/version answered 200 OK (HTML error page: Sign in)" in str(info.value)


def test_label_studio_answering_404_keeps_its_error_and_is_asked_once() -> None:
    fake = FakeLabelStudio()
    client = client_for(fake)
    for _ in range(2):
        with pytest.raises(NotFound):
            client.get_export(7, 99)
    asked = [r.url.path for r in fake.requests]
    assert asked.count("/api/version") == 1 and client.is_label_studio is True


def test_a_request_that_succeeds_costs_no_probe() -> None:
    fake = FakeLabelStudio()
    fake.add_export(b"[]")
    client = client_for(fake, PAT)
    client.get_export(1, 1)
    assert "/api/version" not in [r.url.path for r in fake.requests]
    assert client.is_label_studio is None


@pytest.mark.parametrize("probe_status", [403, 500, 503])
def test_a_probe_that_cannot_tell_leaves_the_error_as_it_was(probe_status: int) -> None:
    def guarded(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/version":
            return httpx.Response(probe_status, json={"detail": "no"})
        return httpx.Response(501, text="no")

    handler = Recording(guarded)
    with _client(handler) as client, pytest.raises(ServerError):
        client.list_projects()
    assert client.is_label_studio is None
    assert handler.paths().count("/api/version") == 1  # the probe is never repeated


def test_a_failed_version_request_is_left_to_its_caller() -> None:
    # a gateway may hide /api/version alone: server_version says "unknown", as before
    handler = Recording(_static_site)
    with _client(handler) as client:
        assert client.server_version() is None
        with pytest.raises(NotFound):
            client.request("GET", "api/version")
        assert handler.paths() == ["/api/version", "/api/version"]
        assert client.is_label_studio is None
        with pytest.raises(ConfigurationError, match="does not look like Label Studio"):
            client.list_projects()  # any other failure asks


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def static_server(tmp_path: object) -> Iterator[str]:
    """``python -m http.server`` on loopback, in a thread."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.mark.parametrize("key", [LEGACY, PAT])
def test_a_real_web_server_that_is_not_label_studio(static_server: str, key: str) -> None:
    with (
        ls_frames.Client(static_server, key) as client,
        pytest.raises(ConfigurationError, match="does not look like Label Studio") as info,
    ):
        client.list_projects()
    assert str(info.value).startswith(f"{static_server} does not look like Label Studio")
    assert "GET /api/version answered 404" in str(info.value)


# -- empty values given on purpose ---------------------------------------------------------------
@pytest.mark.parametrize("key", ["", "   ", "\n"])
def test_an_empty_key_is_refused_even_with_one_in_the_environment(
    monkeypatch: pytest.MonkeyPatch, key: str
) -> None:
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", LEGACY)
    with pytest.raises(ConfigurationError, match=r"api_key is empty.*None to read"):
        ls_frames.Client("https://ls.test", key)
    assert ls_frames.Client("https://ls.test", None).auth.scheme == "Token"


@pytest.mark.parametrize("url", ["", "  "])
def test_an_empty_url_is_refused_even_with_one_in_the_environment(
    monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    monkeypatch.setenv("LABEL_STUDIO_URL", "https://ls.test")
    with pytest.raises(ConfigurationError, match=r"url is empty.*None to read"):
        ls_frames.Client(url, LEGACY)
    assert str(ls_frames.Client(None, LEGACY).base_url) == "https://ls.test/"
