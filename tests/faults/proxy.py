"""A fault-injecting HTTP proxy for the fault suites: loopback only, bounded in count and time.

It sits in front of the real Label Studio and forwards each request, unless a rule says
otherwise. Rules are tried in order; the first that returns a :class:`Fault` decides what
happens to that request::

    with FaultProxy(label_studio.url) as proxy:
        proxy.script(r"/exports/\\d+$", status(503), status(429, retry_after=1), PASS)
        proxy.rule(lambda req: cut(1000) if req.path.endswith("/download") else None)
        client = ls_frames.Client(proxy.url, key)

What a fault can do to one request (see the factory functions below): cut the body at a
byte offset (FIN or RST), reset the connection before answering, stall (before the headers or
in the middle of the body), answer a canned status (5xx, 429 with ``Retry-After``, an HTML
error page) with or without forwarding the request first (a gateway that timed out while the
server went on), rewrite response headers or a JSON body, and replace request headers or
JSON fields (an expired or revoked credential).

Bodies are streamed, and the server's framing is kept: a body with a ``Content-Length`` keeps
it, a chunked body is re-chunked, a body delimited by the connection's end stays so (then a
cut looks like a complete answer, as it does on the wire). ``Range`` and every other request
header are forwarded as they are.

Bounds: the proxy listens on 127.0.0.1 (or another loopback address) only, forwards only to
a loopback upstream, answers at most ``max_requests`` requests (then 503) and shuts itself
down after ``lifetime`` seconds; a stall never outlives the proxy.
"""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import json
import re
import socket
import struct
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit

__all__ = [
    "PASS",
    "Exchange",
    "Fault",
    "FaultProxy",
    "ProxyRequest",
    "cut",
    "html_page",
    "reset",
    "rewrite_headers",
    "rewrite_json",
    "stall",
    "status",
    "swap_request",
]

HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "proxy-authorization",
        "proxy-authenticate",
    }
)
_MAX_HEADER_BYTES = 64 * 1024
_PIECE = 16 * 1024


# -- faults ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Fault:
    """What to do with one request. Build them with the factory functions below."""

    name: str = "pass"
    forward: bool = True  # send the request to Label Studio (the server does the work)
    status: int | None = None  # answer this instead of the server's answer
    reason: str = ""
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    reset: bool = False  # end the connection with RST before any answer
    cut_at: int | None = None  # body bytes sent before the connection ends
    hard: bool = False  # end a cut with RST instead of FIN
    stall: float = 0.0  # seconds of silence before the headers, or at ``cut_at``
    response_headers: Callable[[list[tuple[str, str]]], list[tuple[str, str]]] | None = None
    response_json: Callable[[Any], Any] | None = None
    request_headers: tuple[tuple[str, str], ...] = ()
    request_json: Callable[[Any], Any] | None = None


PASS = Fault()


def cut(at: int, *, hard: bool = False) -> Fault:
    """Forward, send the headers and ``at`` body bytes, then end the connection."""
    return Fault(name=f"cut@{at}{'/rst' if hard else ''}", cut_at=max(0, at), hard=hard)


def reset(*, forward: bool = False) -> Fault:
    """Reset the connection without an answer (after the server did the work if ``forward``)."""
    return Fault(name="reset" + ("/after" if forward else ""), forward=forward, reset=True)


def stall(seconds: float, *, at: int | None = None, forward: bool = True) -> Fault:
    """Say nothing for ``seconds`` (before the headers, or after ``at`` body bytes), then
    end the connection. The client's read timeout should fire first."""
    return Fault(
        name=f"stall{seconds:g}" + (f"@{at}" if at is not None else ""),
        forward=forward,
        stall=seconds,
        cut_at=at,
        reset=at is None,
    )


def status(
    code: int,
    body: bytes | str = b"",
    *,
    retry_after: float | str | None = None,
    content_type: str = "text/plain",
    forward: bool = False,
    reason: str = "",
    headers: Mapping[str, str] | None = None,
) -> Fault:
    """Answer ``code`` (after forwarding the request when ``forward``: a gateway that gave
    up while the server went on)."""
    pairs = [("Content-Type", content_type), *(headers or {}).items()]
    if retry_after is not None:
        pairs.append(("Retry-After", str(retry_after)))
    data = body.encode() if isinstance(body, str) else body
    return Fault(
        name=f"{code}" + ("/after" if forward else ""),
        forward=forward,
        status=code,
        reason=reason,
        headers=tuple(pairs),
        body=data,
    )


def html_page(code: int = 200, title: str = "Sign in", *, forward: bool = False) -> Fault:
    """An HTML page (a proxy's error page, a login portal) where JSON or a file was due."""
    body = (
        f"<!DOCTYPE html><html><head><title>{title}</title></head>"
        f"<body><h1>{title}</h1><p>{'x' * 200}</p></body></html>"
    )
    return replace(
        status(code, body, content_type="text/html; charset=utf-8", forward=forward),
        name=f"html{code}",
    )


def rewrite_headers(fn: Callable[[list[tuple[str, str]]], list[tuple[str, str]]]) -> Fault:
    """Forward, and let ``fn`` change the response headers."""
    return Fault(name="rewrite-headers", response_headers=fn)


def rewrite_json(fn: Callable[[Any], Any]) -> Fault:
    """Forward, and let ``fn`` change the JSON body of the answer."""
    return Fault(name="rewrite-json", response_json=fn)


def swap_request(
    headers: Mapping[str, str] | None = None,
    json_body: Callable[[Any], Any] | None = None,
    *,
    name: str = "swap-request",
    then: Fault = PASS,
) -> Fault:
    """Replace request headers (e.g. ``Authorization``) and/or the JSON body before
    forwarding; ``then`` says what to do with the answer."""
    return replace(
        then, name=name, request_headers=tuple((headers or {}).items()), request_json=json_body
    )


# -- the record of what passed -----------------------------------------------------------------
@dataclass(frozen=True)
class ProxyRequest:
    method: str
    target: str  # path and query, as sent
    headers: tuple[tuple[str, str], ...] = field(repr=False)  # credentials: kept out of reprs
    body: bytes = field(repr=False)
    index: int = 0  # 0-based count of requests the proxy has seen

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0]

    @property
    def query(self) -> str:
        return self.target.split("?", 1)[1] if "?" in self.target else ""

    def header(self, name: str) -> str | None:
        name = name.lower()
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return None


@dataclass
class Exchange:
    """One request as the proxy handled it."""

    request: ProxyRequest
    fault: str
    forwarded: bool = False
    upstream_status: int | None = None
    sent_status: int | None = None
    body_bytes: int = 0  # body bytes the client was sent

    @property
    def method(self) -> str:
        return self.request.method

    @property
    def path(self) -> str:
        return self.request.path


@dataclass
class _Rule:
    pattern: re.Pattern[str] | None
    method: str | None
    decide: Callable[[ProxyRequest], Fault | None]

    def __call__(self, req: ProxyRequest) -> Fault | None:
        if self.method and req.method != self.method:
            return None
        if self.pattern and not self.pattern.search(req.path):
            return None
        return self.decide(req)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _hard_close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


class _Closed(Exception):
    """The client went away (or the proxy is stopping)."""


@dataclass
class FaultProxy:
    """A threaded HTTP/1.1 proxy with programmable faults. Use it as a context manager."""

    upstream: str
    max_requests: int = 2000
    lifetime: float = 120.0
    bind: str = "127.0.0.1"
    upstream_timeout: float = 120.0
    log: list[Exchange] = field(default_factory=list, repr=False)
    #: Every credential seen on the way (Authorization values, refresh and access tokens).
    secrets_seen: set[str] = field(default_factory=set, repr=False)

    def __post_init__(self) -> None:
        parts = urlsplit(self.upstream)
        if parts.scheme != "http" or not parts.hostname or not _is_loopback(parts.hostname):
            raise ValueError(
                f"the fault proxy only forwards to a loopback http URL: {self.upstream}"
            )
        if not _is_loopback(self.bind):
            raise ValueError("the fault proxy only listens on a loopback address")
        self._up_host = parts.hostname
        self._up_port = parts.port or 80
        self._up_prefix = parts.path.rstrip("/")
        self._rules: list[_Rule] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._conns: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []
        self._count = 0
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((self.bind, 0))
        self._sock.listen(64)
        self._sock.settimeout(0.2)
        self.port = self._sock.getsockname()[1]
        self.url = f"http://{self.bind}:{self.port}{self._up_prefix}"
        self._deadline = time.monotonic() + self.lifetime
        self._acceptor = threading.Thread(target=self._accept_loop, name="fault-proxy", daemon=True)
        self._acceptor.start()

    # -- programming ---------------------------------------------------------------------------
    def rule(
        self,
        decide: Callable[[ProxyRequest], Fault | None],
        *,
        path: str | None = None,
        method: str | None = None,
    ) -> None:
        """Add a rule: ``decide`` returns a fault for the request, or ``None`` to pass it on
        to the next rule. ``path`` (a regex searched in the path) and ``method`` narrow it."""
        with self._lock:
            self._rules.append(_Rule(re.compile(path) if path else None, method, decide))

    def script(self, path: str, *faults: Fault, method: str | None = None) -> None:
        """The next requests matching ``path`` get ``faults`` in order, one each; after
        that the rule lets requests through to the next rule."""
        queue = deque(faults)

        def decide(_req: ProxyRequest) -> Fault | None:
            return queue.popleft() if queue else None

        self.rule(decide, path=path, method=method)

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def requests(self, path: str | None = None, method: str | None = None) -> list[Exchange]:
        """The exchanges so far, optionally those whose path matches a regex / method."""
        with self._lock:
            out = list(self.log)
        return [
            e
            for e in out
            if (path is None or re.search(path, e.path)) and (method is None or e.method == method)
        ]

    # -- lifecycle -----------------------------------------------------------------------------
    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._stop.set()
        with contextlib.suppress(OSError):
            self._sock.close()
        with self._lock:
            conns = list(self._conns)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        if threading.current_thread() is not self._acceptor:
            self._acceptor.join(timeout=5)
        for t in list(self._threads):
            if t is not threading.current_thread():
                t.join(timeout=5)

    @property
    def closed(self) -> bool:
        return self._stop.is_set()

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            if time.monotonic() >= self._deadline:
                threading.Thread(target=self.close, daemon=True).start()
                return
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(max(1.0, min(60.0, self._deadline - time.monotonic())))
            with self._lock:
                self._conns.add(conn)
                self._threads = [t for t in self._threads if t.is_alive()]
                t = threading.Thread(target=self._serve, args=(conn,), daemon=True)
                self._threads.append(t)
            t.start()

    # -- one client connection -------------------------------------------------------------------
    def _serve(self, conn: socket.socket) -> None:
        buf = b""
        try:
            while not self._stop.is_set():
                parsed = self._read_request(conn, buf)
                if parsed is None:
                    return
                req, buf = parsed
                if not self._handle(conn, req):
                    return
        except (_Closed, OSError):
            return
        finally:
            with self._lock:
                self._conns.discard(conn)
            with contextlib.suppress(OSError):
                conn.close()

    def _read_request(self, conn: socket.socket, buf: bytes) -> tuple[ProxyRequest, bytes] | None:
        while b"\r\n\r\n" not in buf:
            if len(buf) > _MAX_HEADER_BYTES:
                return None
            try:
                data = conn.recv(65536)
            except TimeoutError:
                return None
            if not data:
                return None
            buf += data
        head, buf = buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        method, target, _version = lines[0].split(" ", 2)
        headers = tuple(
            (k.strip(), v.strip())
            for k, v in (line.split(":", 1) for line in lines[1:] if ":" in line)
        )
        length = 0
        for k, v in headers:
            if k.lower() == "content-length":
                length = int(v)
            if k.lower() == "transfer-encoding":
                raise _Closed("chunked request bodies are not supported by the fault proxy")
        while len(buf) < length:
            data = conn.recv(65536)
            if not data:
                return None
            buf += data
        body, buf = buf[:length], buf[length:]
        with self._lock:
            index = self._count
            self._count += 1
        return ProxyRequest(method, target, headers, body, index), buf

    def _decide(self, req: ProxyRequest) -> Fault:
        if req.index >= self.max_requests:
            return status(503, "fault proxy: request budget exhausted")
        with self._lock:
            rules = list(self._rules)
        for r in rules:
            fault = r(req)
            if fault is not None:
                return fault
        return PASS

    def _remember_secrets(self, req: ProxyRequest, answer: bytes | None = None) -> None:
        found: set[str] = set()
        auth = req.header("Authorization")
        if auth:
            found.add(auth.split(" ", 1)[-1])
        for blob in (req.body, answer or b""):
            if b'"refresh"' in blob or b'"access"' in blob:
                try:
                    data = json.loads(blob)
                except ValueError:
                    continue
                if isinstance(data, dict):
                    found.update(str(data[k]) for k in ("refresh", "access") if data.get(k))
        with self._lock:
            self.secrets_seen.update(found)

    def _handle(self, conn: socket.socket, req: ProxyRequest) -> bool:
        """Answer one request; return whether the connection stays open."""
        fault = self._decide(req)
        ex = Exchange(req, fault.name)
        with self._lock:
            self.log.append(ex)
        self._remember_secrets(req)
        if fault.request_headers or fault.request_json:
            req = self._swap(req, fault)
        if not fault.forward:
            return self._answer_without_upstream(conn, fault, ex)
        try:
            upstream = http.client.HTTPConnection(
                self._up_host, self._up_port, timeout=self.upstream_timeout
            )
            self._send_upstream(upstream, req)
            resp = upstream.getresponse()
        except OSError as exc:
            self._send_simple(conn, 502, f"fault proxy: upstream failed: {exc}".encode(), ex)
            return False
        ex.forwarded = True
        ex.upstream_status = resp.status
        try:
            return self._relay(conn, req, resp, fault, ex, upstream.close)
        finally:
            upstream.close()

    def _swap(self, req: ProxyRequest, fault: Fault) -> ProxyRequest:
        swap = {k.lower(): (k, v) for k, v in fault.request_headers}
        headers = [swap.pop(k.lower(), (k, v)) for k, v in req.headers]
        headers += list(swap.values())
        body = req.body
        if fault.request_json and body:
            body = json.dumps(fault.request_json(json.loads(body))).encode()
            headers = [
                (k, str(len(body)) if k.lower() == "content-length" else v) for k, v in headers
            ]
        return replace(req, headers=tuple(headers), body=body)

    def _send_upstream(self, upstream: http.client.HTTPConnection, req: ProxyRequest) -> None:
        # The proxy URL carries the upstream's path prefix: the target goes on unchanged.
        upstream.putrequest(req.method, req.target, skip_host=True, skip_accept_encoding=True)
        for k, v in req.headers:
            if k.lower() not in HOP_BY_HOP:
                upstream.putheader(k, v)
        upstream.endheaders(req.body or None)

    def _wait(self, seconds: float) -> None:
        """Sleep, but never past the proxy's own end."""
        if seconds > 0:
            self._stop.wait(min(seconds, max(0.0, self._deadline - time.monotonic())))

    def _answer_without_upstream(self, conn: socket.socket, fault: Fault, ex: Exchange) -> bool:
        if fault.stall:
            self._wait(fault.stall)
        if fault.reset:
            _hard_close(conn)
            raise _Closed
        code = fault.status or 502
        self._send_simple(conn, code, fault.body, ex, headers=fault.headers, reason=fault.reason)
        return True

    def _send_simple(
        self,
        conn: socket.socket,
        code: int,
        body: bytes,
        ex: Exchange,
        *,
        headers: Iterable[tuple[str, str]] = (),
        reason: str = "",
    ) -> None:
        reason = reason or http.client.responses.get(code, "Unknown")
        head = [
            f"HTTP/1.1 {code} {reason}",
            f"Content-Length: {len(body)}",
            f"Date: {time.strftime('%a, %d %b %Y %H:%M:%S GMT', time.gmtime())}",
        ]
        head += [f"{k}: {v}" for k, v in headers]
        if not any(k.lower() == "content-type" for k, _ in headers):
            head.append("Content-Type: text/plain")
        conn.sendall(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)
        ex.sent_status = code
        ex.body_bytes = len(body)

    def _relay(
        self,
        conn: socket.socket,
        req: ProxyRequest,
        resp: http.client.HTTPResponse,
        fault: Fault,
        ex: Exchange,
        release: Callable[[], None],
    ) -> bool:
        """Pass the answer on. ``release`` lets go of the server's connection: done before a
        stall, so a server that handles few requests at a time is not held up by one."""
        if fault.reset and fault.cut_at is None:  # reset or stall before the headers
            release()
            self._wait(fault.stall)
            _hard_close(conn)
            raise _Closed
        if fault.status is not None:  # a gateway that answered for the server
            resp.read()
            self._send_simple(
                conn, fault.status, fault.body, ex, headers=fault.headers, reason=fault.reason
            )
            return True
        headers = [(k, v) for k, v in resp.getheaders() if k.lower() not in HOP_BY_HOP]
        if req.path.rstrip("/").endswith("/api/token/refresh") or fault.response_json:
            body = resp.read()
            self._remember_secrets(req, body)
            if fault.response_json is not None and resp.status < 300:
                body = json.dumps(fault.response_json(json.loads(body))).encode()
            headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
            headers.append(("Content-Length", str(len(body))))
            if fault.response_headers is not None:
                headers = fault.response_headers(headers)
            self._send_head(conn, resp, headers, chunked=False, close=False)
            ex.sent_status = resp.status
            return self._send_body(
                conn, [body], fault, ex, chunked=False, framed=True, release=release
            )
        if fault.response_headers is not None:
            headers = fault.response_headers(headers)
        framed = resp.length is not None or req.method == "HEAD" or resp.status in (204, 304)
        chunked = bool(resp.chunked)
        close = not framed and not chunked
        if chunked:
            headers.append(("Transfer-Encoding", "chunked"))
        self._send_head(conn, resp, headers, chunked=chunked, close=close)
        ex.sent_status = resp.status

        def pieces() -> Iterable[bytes]:
            while True:
                piece = resp.read1(_PIECE) if req.method != "HEAD" else b""
                if not piece:
                    return
                yield piece

        keep = self._send_body(
            conn, pieces(), fault, ex, chunked=chunked, framed=framed or chunked, release=release
        )
        return keep and not close

    def _send_head(
        self,
        conn: socket.socket,
        resp: http.client.HTTPResponse,
        headers: list[tuple[str, str]],
        *,
        chunked: bool,
        close: bool,
    ) -> None:
        lines = [f"HTTP/1.1 {resp.status} {resp.reason}"] + [f"{k}: {v}" for k, v in headers]
        if close:
            lines.append("Connection: close")
        conn.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))

    def _send_body(
        self,
        conn: socket.socket,
        pieces: Iterable[bytes],
        fault: Fault,
        ex: Exchange,
        *,
        chunked: bool,
        framed: bool,
        release: Callable[[], None],
    ) -> bool:
        limit = fault.cut_at
        for piece in pieces:
            if self._stop.is_set():
                raise _Closed
            if limit is not None and ex.body_bytes + len(piece) >= limit:
                part = piece[: limit - ex.body_bytes]
                if chunked:  # announce the whole piece, deliver only part of it
                    conn.sendall(f"{len(piece):x}\r\n".encode() + part)
                elif part:
                    conn.sendall(part)
                ex.body_bytes += len(part)
                release()
                self._wait(fault.stall)
                if fault.hard:
                    _hard_close(conn)
                else:
                    conn.shutdown(socket.SHUT_RDWR)
                raise _Closed
            if chunked:
                conn.sendall(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
            else:
                conn.sendall(piece)
            ex.body_bytes += len(piece)
        if limit is not None:  # asked to cut past the end: the body is whole, but the
            if chunked:  # connection ends with it instead of staying open
                conn.sendall(b"0\r\n\r\n")
            conn.shutdown(socket.SHUT_RDWR)
            raise _Closed
        if chunked:
            conn.sendall(b"0\r\n\r\n")
        return framed
