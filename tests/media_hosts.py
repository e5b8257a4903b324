"""A real HTTP server on another loopback address, standing for "some other host".

Task data may point anywhere; the tests need a host that is not Label Studio, that records
what it was sent (to prove the key never reaches it) and that can misbehave on demand. A
``ThreadingHTTPServer`` on ``127.0.0.2`` (any 127/8 address is this machine) serves a dict
of files with Range, ETag / If-None-Match, redirects, an HTML login page, a stall (for
timeouts) and connections cut halfway.
"""

from __future__ import annotations

import hashlib
import re
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Seen:
    """One request the host received."""

    path: str
    headers: dict[str, str]


@dataclass
class OtherHost:
    """Routes and a log. ``files``: path -> bytes; ``redirects``: path -> Location;
    ``login_pages``: paths answered 200 with an HTML login page; ``stall``: paths that
    wait ``stall_seconds`` before answering; ``cuts``: path -> file offsets at which
    successive answers break (one per answer). ``If-Range`` is honoured against the
    ETag."""

    host: str = "127.0.0.2"
    port: int = 0
    files: dict[str, bytes] = field(default_factory=dict)
    redirects: dict[str, str] = field(default_factory=dict)
    login_pages: set[str] = field(default_factory=set)
    stall: set[str] = field(default_factory=set)
    stall_seconds: float = 3.0
    cuts: dict[str, list[int]] = field(default_factory=dict)
    with_etag: bool = True
    content_md5: dict[str, str] = field(default_factory=dict)
    fail: dict[str, list[int]] = field(default_factory=dict)  # statuses answered first
    seen: list[Seen] = field(default_factory=list)
    active: int = 0  # requests being answered now, and the most at once
    peak: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def origin(self) -> str:
        return f"http://{self.host}:{self.port}"

    def url(self, path: str) -> str:
        return f"{self.origin}{path}"

    def requests_for(self, path: str) -> list[Seen]:
        return [s for s in self.seen if s.path == path]


def _handler(state: OtherHost) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            with state.lock:
                state.active += 1
                state.peak = max(state.peak, state.active)
            try:
                self._get()
            finally:
                with state.lock:
                    state.active -= 1

        def _get(self) -> None:
            path = self.path
            state.seen.append(Seen(path, {k.lower(): v for k, v in self.headers.items()}))
            if path in state.stall:
                time.sleep(state.stall_seconds)
            if state.fail.get(path):
                self._answer(state.fail[path].pop(0), b"busy", {"Retry-After": "0"})
                return
            if path in state.redirects:
                self._answer(302, b"", {"Location": state.redirects[path]})
                return
            if path in state.login_pages:
                page = b"<html><head><title>Sign in</title></head><body>login</body></html>"
                self._answer(200, page, {"Content-Type": "text/html; charset=utf-8"})
                return
            data = state.files.get(path)
            if data is None:
                self._answer(404, b"not found", {"Content-Type": "text/plain"})
                return
            etag = f'"{hashlib.sha256(data).hexdigest()[:16]}"'
            headers = {"Content-Type": "application/octet-stream", "Accept-Ranges": "bytes"}
            if path in state.content_md5:
                headers["Content-MD5"] = state.content_md5[path]
            if state.with_etag:
                headers["ETag"] = etag
                if self.headers.get("If-None-Match") == etag:
                    self._answer(304, b"", {"ETag": etag})
                    return
            status, body = 200, data
            match = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range", ""))
            if_range = self.headers.get("If-Range")
            if if_range is not None and if_range != etag:
                match = None  # the file changed: the whole of it
            if match and int(match.group(1)) <= len(data):
                start = int(match.group(1))
                status, body = 206, data[start:]
                headers["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
            offsets = state.cuts.get(path)
            if offsets:
                start = len(data) - len(body)
                cut = max(0, offsets.pop(0) - start)
                headers["Content-Length"] = str(len(body))
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body[:cut])
                self.wfile.flush()
                self.close_connection = True
                return
            self._answer(status, body, headers)

        def _answer(self, status: int, body: bytes, headers: dict[str, str]) -> None:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if body:
                self.wfile.write(body)

    return Handler


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that hangs up early (an HTML page refused, a timeout) is expected


@contextmanager
def other_host(
    host: str = "127.0.0.2", tls: ssl.SSLContext | None = None, **routes: Any
) -> Iterator[OtherHost]:
    """Serve an :class:`OtherHost` on ``host`` (a free port) for the ``with`` block, over
    TLS when given a server context."""
    state = OtherHost(host=host, **routes)
    server = _QuietServer((host, 0), _handler(state))
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    state.port = int(server.server_address[1])
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
