"""Label Studio credentials: legacy tokens and personal access tokens.

Label Studio has two kinds of API key:

* a **legacy token** (40 hex characters), sent as ``Authorization: Token <key>``;
* a **personal access token** (PAT), which is a JWT *refresh* token. It is exchanged at
  ``POST /api/token/refresh/`` for a short-lived access token (5 minutes on 1.23), sent as
  ``Authorization: Bearer <access>``.

:class:`TokenAuth` tells them apart by looking at the key, refreshes the access token shortly
before it expires (by the local clock, measured from when it was issued, so a skewed server
clock does not matter) and once more when the server answers 401.

The key goes to the Label Studio origin only (scheme, host and port of the server URL).
:meth:`TokenAuth.guard` runs on every request the client sends, redirects and token
refreshes included: a request to any other origin leaves without ``Authorization``, and one
that would carry the key in its body (a token refresh redirected elsewhere) is refused.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Generator
from typing import Any, Literal

import httpx

from ls_frames.errors import AuthenticationError, ConfigurationError, HTTPError
from ls_frames.transport.failures import http_error, raise_for_status
from ls_frames.transport.retry import RETRY
from ls_frames.transport.secrets import register_secret

__all__ = ["TokenAuth", "origin_of", "token_kind"]

TokenKind = Literal["legacy", "personal_access_token", "access"]

#: Refresh this many seconds before the access token's expiry.
REFRESH_MARGIN = 30.0


def _jwt_payload(token: str) -> dict[str, Any] | None:
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        raw = parts[1] + "=" * (-len(parts[1]) % 4)
        payload = json.loads(base64.urlsafe_b64decode(raw.encode("ascii")))
    except (ValueError, UnicodeError):
        return None
    return payload if isinstance(payload, dict) else None


_DEFAULT_PORTS = {"http": 80, "https": 443}


def origin_of(url: httpx.URL | str) -> tuple[str, str, int]:
    """``(scheme, host, port)`` of a URL, the default port filled in."""
    url = httpx.URL(str(url)) if not isinstance(url, httpx.URL) else url
    port = url.port or _DEFAULT_PORTS.get(url.scheme, 0)
    return url.scheme, url.host.lower(), port


def render_origin(origin: tuple[str, str, int]) -> str:
    """``scheme://host:port`` (IPv6 hosts in brackets)."""
    scheme, host, port = origin
    host = f"[{host}]" if ":" in host else host
    return f"{scheme}://{host}:{port}"


def token_kind(api_key: str) -> TokenKind:
    """``"personal_access_token"`` for a JWT refresh token, ``"access"`` for a JWT access
    token (used as is, cannot be refreshed), ``"legacy"`` for anything else."""
    payload = _jwt_payload(api_key)
    if payload is None:
        return "legacy"
    return "personal_access_token" if payload.get("token_type") == "refresh" else "access"


class TokenAuth(httpx.Auth):
    """``httpx.Auth`` for both kinds of Label Studio key. Never shows the key in its repr."""

    def __init__(self, api_key: str, refresh_url: httpx.URL | str) -> None:
        if not api_key or not api_key.strip():
            raise ConfigurationError("api_key is empty")
        self._key = api_key.strip()
        self.kind: TokenKind = token_kind(self._key)
        self.scheme = "Token" if self.kind == "legacy" else "Bearer"
        self._refresh_url = httpx.URL(str(refresh_url))
        self.origin = origin_of(self._refresh_url)
        self._access: str | None = self._key if self.kind == "access" else None
        self._expires_at = float("inf")
        self._lock = threading.Lock()
        register_secret(self._key)

    def __repr__(self) -> str:
        return f"TokenAuth(kind={self.kind!r})"

    def owns(self, url: httpx.URL) -> bool:
        """Whether ``url`` is on the Label Studio origin (the only one that gets the key)."""
        return origin_of(url) == self.origin

    def guard(self, request: httpx.Request) -> None:
        """Run on every request the client sends (an httpx ``request`` event hook, so
        redirects and token refreshes pass here too): to another origin, no
        ``Authorization``; a body that holds the key (a redirected refresh) is refused."""
        if self.owns(request.url):
            return
        request.headers.pop("Authorization", None)
        if isinstance(request.stream, httpx.ByteStream):  # a redirect shares the stream
            body = b"".join(request.stream)
        else:
            try:
                body = request.content
            except httpx.RequestNotRead:  # a streamed upload: we never stream the key
                return
        if self._key.encode() in body:
            raise http_error(
                HTTPError,
                f"refused to send the API key to {render_origin(origin_of(request.url))}: "
                f"the request to {render_origin(self.origin)} was redirected there (give the "
                "server's final URL, e.g. https://...)",
                method=request.method,
                path=request.url.path,
            )

    def is_refresh(self, request: httpx.Request | None) -> bool:
        """Whether ``request`` is one of this auth's token refreshes."""
        return request is not None and request.url == self._refresh_url

    # -- access tokens -----------------------------------------------------------------
    def _needs_refresh(self) -> bool:
        if self.kind != "personal_access_token":
            return False
        return self._access is None or time.monotonic() >= self._expires_at - REFRESH_MARGIN

    def _refresh_request(self) -> httpx.Request:
        # safe to repeat: a second exchange only issues another access token
        return httpx.Request(
            "POST",
            self._refresh_url,
            json={"refresh": self._key},
            headers={"Accept": "application/json"},
            extensions={RETRY: True},
        )

    def _take_refresh_response(self, response: httpx.Response) -> None:
        if response.status_code == 404:
            # Releases without personal access tokens (1.13) have no token endpoints.
            raise http_error(
                AuthenticationError,
                "this Label Studio has no personal access tokens (no /api/token/refresh/; "
                "releases before 1.17 have legacy tokens only): use the legacy token from "
                "Account & Settings",
                scheme="Bearer",
                response=response,
            )
        if response.status_code in (400, 401, 403):
            raise http_error(
                AuthenticationError,
                "the personal access token was rejected when exchanging it for an access "
                "token (expired, revoked or not a token of this server)",
                scheme="Bearer",
                response=response,
            )
        raise_for_status(response, scheme="Bearer")
        try:
            access = response.json()["access"]
        except (ValueError, KeyError, TypeError) as exc:
            raise http_error(
                AuthenticationError,
                "the token refresh answer has no access token",
                scheme="Bearer",
                method="POST",
                path=response.request.url.path,
                status=response.status_code,
            ) from exc
        # the predecessors stay known (an expired token echoed back is still scrubbed); the
        # registry is bounded, so months of refreshes forget only the oldest, long expired,
        # and never the key itself: it is registered again, as the most recent, each time
        register_secret(access)
        register_secret(self._key)
        payload = _jwt_payload(access) or {}
        lifetime = float(payload.get("exp", 0)) - float(payload.get("iat", 0))
        self._access = access
        self._expires_at = time.monotonic() + (lifetime if lifetime > 0 else 300.0)

    def _authorize(self, request: httpx.Request) -> None:
        token = self._key if self.kind == "legacy" else self._access
        request.headers["Authorization"] = f"{self.scheme} {token}"

    # -- the flow ----------------------------------------------------------------------
    def sync_auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        # Only the refresh answers are read here: a streamed download stays streamed.
        if not self.owns(request.url):  # another origin: sent as is, no key, no refresh
            yield request
            return
        with self._lock:
            if self._needs_refresh():
                refresh = yield self._refresh_request()
                refresh.read()
                self._take_refresh_response(refresh)
            self._authorize(request)
        response = yield request
        if (
            response.status_code == 401
            and self.kind == "personal_access_token"
            and self.owns(response.url)
        ):
            with self._lock:
                refresh = yield self._refresh_request()
                refresh.read()
                self._take_refresh_response(refresh)
                self._authorize(request)
            yield request

    def async_auth_flow(self, request: httpx.Request) -> Any:
        raise RuntimeError("ls_frames uses a synchronous client")
