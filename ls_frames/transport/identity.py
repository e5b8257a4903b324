"""Is this the address of a Label Studio, and does a Label Studio answer there?

Two checks that turn a wrong URL into a message that names the fix:

* :func:`base_url`, before anything is sent: the base URL must be the server's address
  (``http://localhost:8080``, or the sub-path a reverse proxy serves Label Studio under,
  ``https://example.org/labelstudio``), not a page of it. A path that starts with one of
  Label Studio's own routes (:data:`ROUTES`: ``/projects/1/data`` copied from the browser,
  ``/api/...``, ``/user/account``) is refused, and so is a page of a project or task under a
  sub-path (``.../projects/1``, ``.../tasks/7``, ``.../api/projects``); the error names the
  base to use instead. Any other sub-path is kept.
* :func:`verdict`, after a request failed with a status that another kind of server gives
  for Label Studio's routes (:data:`SUSPECT_STATUSES`: 404, 405, 501): the connection asks
  ``GET /api/version`` once, without the key (Label Studio answers it to anyone), and a
  server whose answer is not Label Studio's version record is named as such
  (:func:`not_label_studio`). A request that succeeds never costs a probe, and a server
  found to be Label Studio is not asked again. A failure of ``GET /api/version`` itself is
  left as it is (``Client.server_version`` reads it as "the server does not say": a
  gateway may hide that one route).
"""

from __future__ import annotations

import re
from typing import Final

import httpx

from ls_frames.errors import APIError, ConfigurationError
from ls_frames.transport.failures import server_message

__all__ = [
    "PROBE_PATH",
    "ROUTES",
    "SUSPECT_STATUSES",
    "base_url",
    "is_probe",
    "not_label_studio",
    "verdict",
]

#: First path segments that belong to Label Studio itself (its URL configuration in 1.13
#: to 1.23): a base URL starting with one is a page or an endpoint, not the server.
ROUTES: Final = frozenset(
    {
        "admin",
        "api",
        "api-auth",
        "data",
        "django-rq",
        "dm",
        "docs",
        "feature-flags",
        "health",
        "label-studio-frontend",
        "metrics",
        "models",
        "organization",
        "people",
        "projects",
        "react-app",
        "samples",
        "static",
        "storage-data",
        "tasks",
        "user",
        "version",
    }
)

#: Under a sub-path, only the unmistakable pages: a project or a task by id, or an API
#: collection (a deeper segment called ``api`` or ``data`` may well be a gateway's).
_PAGE_BELOW = re.compile(
    r"/(?:(?:projects|tasks)/\d+|api/(?:projects|tasks|version|users|current-user|dm|"
    r"storages|ml|organizations|annotations|predictions|token))(?:/|$)"
)

#: The path the connection asks when it doubts the server is Label Studio.
PROBE_PATH: Final = "api/version"

#: Statuses after which the connection asks :data:`PROBE_PATH`: what a web server that is
#: not Label Studio answers for its routes (no such page, method not allowed, method not
#: implemented, as ``python -m http.server`` does for a POST).
SUSPECT_STATUSES: Final = frozenset({404, 405, 501})


def _shown(url: httpx.URL, path: str | None = None) -> str:
    """``url`` for a message: no user or password; with ``path``, that path alone (no
    trailing slash, no query or fragment)."""
    url = url.copy_with(userinfo=b"")
    if path is None:
        return str(url)
    return str(url.copy_with(raw_path=path.rstrip("/").encode(), fragment=None))


def base_url(url: str) -> httpx.URL:
    """The base URL to send requests under (with a trailing slash), or why ``url`` is not one.

    Parameters
    ----------
    url
        ``http://localhost:8080``, ``https://example.org/labelstudio`` (a sub-path is kept).

    Returns
    -------
    httpx.URL
        ``url`` with one trailing slash.

    Raises
    ------
    ConfigurationError
        Not http(s), a query or fragment, or a path that is a page or endpoint of Label
        Studio (the message names the base to use).
    """
    try:
        parsed = httpx.URL(url.strip())
    except httpx.InvalidURL:  # its text may quote the URL, password included
        raise ConfigurationError("the Label Studio URL does not parse") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ConfigurationError(
            f"the Label Studio URL must start with http:// or https://: {_shown(parsed)!r}"
        )
    path = parsed.path
    segments = [s for s in path.split("/") if s]
    cut: int | None = None
    if segments and segments[0] in ROUTES:
        cut = 0
    else:
        found = _PAGE_BELOW.search(path.rstrip("/") + "/")
        if found is not None:
            cut = found.start()
    if cut is not None:
        raise ConfigurationError(
            f"{_shown(parsed)} is a page of Label Studio ({path}), not its address: give "
            f"the server's base URL, {_shown(parsed, path[:cut])}"
        )
    if parsed.query or parsed.fragment:
        raise ConfigurationError(
            f"the Label Studio URL takes no query or fragment: give {_shown(parsed, path)} "
            f"instead of {_shown(parsed)}"
        )
    return parsed.copy_with(raw_path=parsed.raw_path.rstrip(b"/") + b"/")


def is_probe(request: httpx.Request) -> bool:
    """Whether ``request`` asked the probe path itself."""
    return request.url.path.rstrip("/").endswith("/" + PROBE_PATH)


def verdict(response: httpx.Response | None) -> bool | None:
    """What an answer to ``GET /api/version`` says: True for Label Studio's version record,
    False for another server's answer (a page, another JSON, 404, 405, 501), None when it
    cannot tell (no answer, refused, a server error)."""
    if response is None:
        return None
    if response.is_success:
        try:
            info = response.json()
        except ValueError:
            return False
        return isinstance(info, dict) and ("release" in info or "label-studio-os-package" in info)
    return False if response.status_code in SUSPECT_STATUSES else None


def not_label_studio(
    base: httpx.URL, failure: APIError, probe: httpx.Response
) -> ConfigurationError:
    """The error for a server :func:`verdict` found not to be Label Studio: names the URL,
    the request that failed and what ``GET /api/version`` answered."""
    said = server_message(probe)
    answered = f"{probe.status_code} {probe.reason_phrase}".strip()
    if said and probe.is_success:
        answered += f" ({said[:80]})"
    elif said:
        answered += f": {said[:80]}"
    return ConfigurationError(
        f"{str(base).rstrip('/')} does not look like Label Studio: GET "
        f"{probe.request.url.path} answered {answered} ({failure.method} {failure.path} "
        f"failed with {failure.status}); give the address Label Studio answers on (e.g. "
        "http://localhost:8080, or the sub-path a proxy serves it under)"
    )
