"""Where each kind of reference is fetched from: the first hop of its chain.

* ``upload``, ``local``, ``served``: the path on the Label Studio origin, with the key;
* ``storage``: ``/tasks/{task}/resolve/?fileuri=<base64url of the URI>`` on Label Studio,
  which redirects to a presigned URL or proxies the bytes (``/presign/`` is the name older
  servers know: :class:`Resolver` switches to it when ``/resolve/`` is not a route there);
* ``url``: the URL itself, with the key only when it is on the Label Studio origin.
"""

from __future__ import annotations

import base64
import threading

import httpx

from ls_frames.media.http import Hop
from ls_frames.media.references import Reference, classify, scheme_of

__all__ = ["NO_STORAGE", "Resolver", "Unresolvable"]

NO_STORAGE = "no storage on the server resolves this URI"


class Unresolvable(Exception):
    """A reference that cannot be turned into a request; the message says why."""


def fileuri(uri: str) -> str:
    """The ``fileuri`` parameter Label Studio decodes: URL-safe base64 of the URI."""
    return base64.urlsafe_b64encode(uri.encode("utf-8")).decode("ascii")


class Resolver:
    """Turns references into first hops for one Label Studio origin (or none)."""

    def __init__(self, base_url: httpx.URL | None, route: str = "resolve") -> None:
        self.base_url = base_url
        self.route = route
        self._lock = threading.Lock()

    def use_presign(self) -> bool:
        """Switch storage resolution to the older ``/presign/`` route; ``False`` if it was
        already in use (nothing left to try)."""
        with self._lock:
            if self.route == "presign":
                return False
            self.route = "presign"
            return True

    def _on_label_studio(self, path: str) -> Hop:
        if self.base_url is None:
            raise Unresolvable(
                "a Label Studio path, but no Label Studio to ask (pass client= or set "
                "LABEL_STUDIO_URL and LABEL_STUDIO_API_KEY)"
            )
        return Hop(self.base_url.join(path.lstrip("/")), keyed=True)

    def first_hop(self, ref: Reference, route: str | None = None) -> Hop:
        """The first request for ``ref``; raises :class:`Unresolvable`."""
        uri = ref.uri.strip()
        kind = classify(uri)
        if kind in ("upload", "local", "served"):
            return self._on_label_studio(uri)
        if kind == "storage":
            encoded = fileuri(uri)
            route = route or self.route
            if ref.task_id is not None:
                return self._on_label_studio(f"tasks/{ref.task_id}/{route}/?fileuri={encoded}")
            if ref.project_id is not None:
                return self._on_label_studio(
                    f"projects/{ref.project_id}/{route}/?fileuri={encoded}"
                )
            raise Unresolvable("a storage URI with neither a task nor a project to resolve it")
        if kind == "url":
            try:
                url = httpx.URL(uri)
            except (httpx.InvalidURL, ValueError) as exc:
                raise Unresolvable(f"not a valid URL ({exc})") from None
            keyed = self.base_url is not None and (url.scheme, url.host, url.port) == (
                self.base_url.scheme,
                self.base_url.host,
                self.base_url.port,
            )
            return Hop(url, keyed=keyed)
        scheme = scheme_of(uri)
        if scheme:
            raise Unresolvable(f"refused: scheme {scheme!r} is not fetched")
        raise Unresolvable("refused: a relative path Label Studio does not serve")
