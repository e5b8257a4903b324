"""The credentials this process knows, and the copies of HTTP messages that hide them.

The registry is process-wide: a :class:`~ls_frames.transport.TokenAuth` registers its key
and every access token it is issued, the test server its passwords. :func:`redact` masks
them (and anything that looks like an ``Authorization`` value) in text; the scrubbed copies
of a request or a response are what an exception may keep. The transport builds every
HTTP exception through :mod:`ls_frames.transport.failures`, which uses them, so no message
and no attribute of an exception holds a credential.
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

import httpx

__all__ = [
    "redact",
    "redact_payload",
    "register_secret",
    "scrub_request",
    "scrub_response",
]

# Known credentials, newest last. Bounded: a process that refreshes an access token every
# five minutes for months keeps the last 256 (about 21 hours of them: access tokens live
# five minutes) and forgets the oldest; a client registers its key again with every
# refresh, so the long-lived key stays.
_MAX_SECRETS = 256
_SECRETS: OrderedDict[str, None] = OrderedDict()
_SECRETS_LOCK = threading.Lock()
# A credential-looking value after the scheme (with a digit: "token authentication" in the
# server's own words stays readable).
_SCHEME_VALUE = re.compile(r"(?i)\b(Token|Bearer)\s+(?=[A-Za-z._\-]*\d)[A-Za-z0-9._\-]{8,}")


def register_secret(secret: str | None) -> None:
    """Remember a credential so :func:`redact` removes it from any text we render.

    At most ``_MAX_SECRETS`` are kept, the least recently registered dropped first.
    Values shorter than six characters are ignored (they would mask ordinary words).
    """
    with _SECRETS_LOCK:
        if secret and len(secret) >= 6:
            _SECRETS[secret] = None
            _SECRETS.move_to_end(secret)
            while len(_SECRETS) > _MAX_SECRETS:
                _SECRETS.popitem(last=False)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Return ``text`` with every known credential (and bearer/token headers) masked.

    Parameters
    ----------
    text
        Any text that may be shown: a message, a server's answer, a traceback.
    secrets
        Further values to mask besides the registered ones.

    Returns
    -------
    str
        The text with each credential replaced by ``***``.
    """
    with _SECRETS_LOCK:
        known = tuple(_SECRETS)
    for s in (*known, *secrets):
        if s:
            text = text.replace(s, "***")
    return _SCHEME_VALUE.sub(r"\1 ***", text)


def redact_payload(value: Any) -> Any:
    """A copy of a decoded JSON payload with :func:`redact` applied to every string in it
    (keys included); other values are kept as they are."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {redact_payload(k): redact_payload(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_payload(v) for v in value]
    return value


_AUTH_HEADERS = frozenset({"authorization", "proxy-authorization"})
_COOKIE_HEADERS = frozenset({"cookie", "set-cookie"})
# The copies hold decoded bodies: what described the bytes on the wire no longer applies.
_WIRE_HEADERS = frozenset({"content-length", "content-encoding", "transfer-encoding"})


def _scrub_body(body: bytes) -> bytes:
    if not body or not (_SECRETS or b"oken" in body or b"earer" in body):
        return body
    text = body.decode("utf-8", "surrogateescape")
    scrubbed = redact(text)
    return body if scrubbed == text else scrubbed.encode("utf-8", "surrogateescape")


def _scrub_headers(headers: httpx.Headers) -> list[tuple[str, str]]:
    out = []
    for name, value in headers.multi_items():
        key = name.lower()
        if key in _WIRE_HEADERS:
            continue
        if key in _AUTH_HEADERS:
            value = f"{value.split(' ', 1)[0]} ***" if " " in value.strip() else "***"
        elif key in _COOKIE_HEADERS:
            value = "***"
        else:
            value = redact(value)
        out.append((name, value))
    return out


def scrub_request(request: httpx.Request | None) -> httpx.Request | None:
    """A copy of ``request`` safe to keep on an exception: same method, URL and extensions,
    credentials masked in the headers and known secrets scrubbed from the body."""
    if request is None:
        return None
    try:
        body = request.content
    except httpx.RequestNotRead:
        body = b""
    return httpx.Request(
        request.method,
        request.url,
        headers=_scrub_headers(request.headers),
        content=_scrub_body(body),
        extensions=request.extensions,
    )


def scrub_response(
    response: httpx.Response | None, request: httpx.Request | None = None
) -> httpx.Response | None:
    """A copy of ``response`` safe to keep on an exception: same status and headers (cookies
    masked), known secrets scrubbed from the body (empty when it was never read).
    ``request`` is the scrubbed request to attach (by default a scrubbed copy of the
    response's own)."""
    if response is None:
        return None
    try:
        body = response.content
    except httpx.ResponseNotRead:
        body = b""
    if request is None:
        with contextlib.suppress(RuntimeError):
            request = scrub_request(response.request)
    return httpx.Response(
        response.status_code,
        headers=_scrub_headers(response.headers),
        content=_scrub_body(body),
        request=request,
        extensions=response.extensions,
    )
