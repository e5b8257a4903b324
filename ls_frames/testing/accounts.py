"""The admin's credentials on a Label Studio that :class:`~ls_frames.testing.LocalLabelStudio`
has just started: log in through the web form, adopt the legacy token the server holds and
make sure it works, create a personal access token (PAT), and check that a credential kind
the release does not have (per :mod:`ls_frames.transport.capabilities`) really is refused.

Every credential met here is registered with :func:`ls_frames.transport.secrets.register_secret`, so
no message or log tail shows it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from ls_frames.transport.capabilities import ServerCapabilities
from ls_frames.transport.secrets import register_secret

__all__ = ["Credentials", "legacy_token_works", "set_up_credentials"]

#: Turns what went wrong into the exception to raise (the server adds its log's last lines).
Fail = Callable[[str], Exception]


@dataclass(frozen=True)
class Credentials:
    """The admin's keys: the legacy token, and the PAT (None on a release without them)."""

    legacy_token: str
    access_token: str | None


def set_up_credentials(
    url: str,
    *,
    username: str,
    password: str,
    legacy_token: str,
    version: str | None,
    capabilities: ServerCapabilities,
    fail: Fail,
) -> Credentials:
    """Log in, adopt the real legacy token, make sure it works, and create a PAT.

    Parameters
    ----------
    url
        The server's base URL, no trailing slash.
    username, password
        The admin the server was started with.
    legacy_token
        The legacy token it was started with (a reused data directory keeps its own,
        which is adopted instead).
    version, capabilities
        The release the server reports, and what it has.
    fail
        Makes the exception raised when a step is refused.

    Returns
    -------
    Credentials
        The legacy token and the personal access token.

    Raises
    ------
    Exception
        What ``fail`` makes: the login or a token refused, or a credential kind the
        release should not have accepted or issued.
    """
    access_token: str | None = None
    with httpx.Client(base_url=url, timeout=30.0) as session:
        headers = _log_in(session, url, username, password, fail)

        # A reused data dir keeps the token it was created with.
        token = session.get("/api/current-user/token")
        if token.status_code == 200:
            legacy_token = str(token.json()["token"])
            register_secret(legacy_token)
        if capabilities.legacy_tokens:
            _enable_legacy_token(session, url, legacy_token, headers, fail)
        elif legacy_token_works(url, legacy_token):
            raise fail(
                f"{version} accepts the legacy token, which "
                "ls_frames.transport.capabilities says it refuses"
            )
        if capabilities.personal_access_tokens:
            access_token = _create_pat(session, headers, fail)
            register_secret(access_token)
        else:
            refused = session.post("/api/token/", headers=headers)
            if refused.status_code < 400:
                raise fail(
                    f"{version} issued a personal access token, which "
                    "ls_frames.transport.capabilities says it has not"
                )
    return Credentials(legacy_token, access_token)


def legacy_token_works(url: str, legacy_token: str) -> bool:
    """Whether the server accepts ``Authorization: Token <legacy_token>``."""
    answer = httpx.get(
        f"{url}/api/current-user/whoami",
        headers={"Authorization": f"Token {legacy_token}"},
        timeout=30.0,
    )
    return answer.status_code == 200


def _log_in(
    session: httpx.Client, url: str, username: str, password: str, fail: Fail
) -> dict[str, str]:
    """A session logged in through the web form; returns the headers its posts need."""
    session.get("/user/login/")
    csrf = session.cookies.get("csrftoken")
    if not csrf:
        raise fail("sent no csrftoken cookie on /user/login/")
    answer = session.post(
        "/user/login/",
        data={"email": username, "password": password, "csrfmiddlewaretoken": csrf},
        headers={"Referer": f"{url}/user/login/"},
    )
    if answer.status_code != 302 and "sessionid" not in session.cookies:
        raise fail(
            f"refused the login of {username!r} (a reused data dir "
            "needs the credentials it was created with)"
        )
    return {"X-CSRFToken": session.cookies.get("csrftoken") or csrf, "Referer": f"{url}/"}


def _enable_legacy_token(
    session: httpx.Client, url: str, legacy_token: str, headers: dict[str, str], fail: Fail
) -> None:
    if legacy_token_works(url, legacy_token):
        return
    enabled = session.post(
        "/api/jwt/settings",
        json={"legacy_api_tokens_enabled": True, "api_tokens_enabled": True},
        headers=headers,
    )
    if enabled.status_code >= 400 or not legacy_token_works(url, legacy_token):
        raise fail("does not accept the legacy token")


def _create_pat(session: httpx.Client, headers: dict[str, str], fail: Fail) -> str:
    answer = session.post("/api/token/", headers=headers)
    if answer.status_code >= 400:
        # One PAT per user: a reused data dir already has one. Revoke and retry.
        listed = session.get("/api/token/")
        for item in listed.json() if listed.status_code == 200 else []:
            session.post("/api/token/blacklist/", json={"refresh": item["token"]}, headers=headers)
        answer = session.post("/api/token/", headers=headers)
    if answer.status_code >= 400:
        raise fail(f"refused to create a personal access token ({answer.status_code})")
    body: dict[str, Any] = answer.json()
    return str(body["token"])
