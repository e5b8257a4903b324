"""Where Label Studio releases differ, in one place.

Every version check of the library and of its test server goes through
:func:`server_capabilities`, which maps a release string (``GET /api/version`` answers it,
no credential needed) to what that release can do. Releases tested end to end:
:data:`TESTED_VERSIONS`. A release the table does not know (newer, or unparsable) is
treated as the newest tested one.

What differs (each checked on a real server of that release):

* **Personal access tokens** (``POST /api/token/``, ``/api/token/refresh/``): 1.13 has
  none (legacy tokens only, the token endpoints answer 404); 1.17 and later have them.
* **Legacy tokens** are off for new organizations from 1.17 on (401 "legacy token
  authentication has been disabled for this organization"). 1.20 and later turn them on
  for a new organization with ``LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN=true``; 1.17 has no
  such setting, so its organizations refuse them until an admin turns them on in the
  organization's settings (``POST /api/jwt/settings {"legacy_api_tokens_enabled": true}``).
* **Storage URIs** are resolved at ``/tasks/{id}/resolve/`` from 1.20 on (``/presign/`` still
  answers there); older releases know only ``/tasks/{id}/presign/``.
* **Storage proxy**: from 1.20 on, a storage with presigned URLs off (``presign: false``) is
  streamed through Label Studio (Range, ETag). Older releases have no proxy: the task API
  inlines such an object as a ``data:`` URI and ``/presign/`` answers 500 ("Unsafe redirect
  to URL with protocol 'data'"), so its files cannot be fetched by URI.
* **Which storage resolves a URI**: from 1.20 on, one whose bucket matches the URI's; older
  releases take the first storage of the URI's scheme (for a URI no storage of the task
  imported), so a storage with presigning on presigns URIs of any bucket (the fetch then
  fails at the storage, 403 or 404).
* **Local files** (``/data/local-files/``) carry a weak ETag and answer 304 to
  ``If-None-Match`` in 1.23; 1.20 and older send no validator, so a refresh fetches them
  again (and finds the same bytes).

Releases between two tested ones are assumed to behave like the older of the two.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

__all__ = ["TESTED_VERSIONS", "ServerCapabilities", "parse_version", "server_capabilities"]

#: The releases the whole export, ``load_project``, ``sync_parquet`` and panel suite runs
#: against (``make compat``); the last one is the pinned default.
TESTED_VERSIONS = ("1.13.1", "1.17.0", "1.20.0", "1.23.2")

CredentialKind = Literal["legacy", "personal_access_token"]


def parse_version(version: str | None) -> tuple[int, ...] | None:
    """``"1.17.0"`` -> ``(1, 17, 0)``; the leading numbers of ``"1.20.0rc1"`` or
    ``"1.23.2.dev0"``; None for None or a string that starts with no number."""
    if not version:
        return None
    match = re.match(r"\s*v?(\d+(?:\.\d+)*)", version)
    if match is None:
        return None
    return tuple(int(part) for part in match.group(1).split("."))


@dataclass(frozen=True)
class ServerCapabilities:
    """What one Label Studio release can do where releases differ.

    Attributes
    ----------
    version
        The release string the server reported, or None when unknown.
    personal_access_tokens
        The server issues and accepts personal access tokens.
    legacy_tokens_off_by_default
        A new organization refuses legacy tokens until they are turned on (by the setting
        below where the release has it, else by an admin in the organization's settings).
    legacy_token_setting
        The server honours ``LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN``.
    resolve_endpoint
        The task path segment that resolves storage URIs, ``"resolve"`` or (older
        releases) ``"presign"``.
    storage_proxy
        A storage with presigned URLs off is streamed through Label Studio (older releases
        cannot serve its objects by URI).
    storage_matches_bucket
        Only a storage whose bucket matches the URI's resolves it.
    local_files_etag
        ``/data/local-files/`` answers with an ETag and honours ``If-None-Match``.
    """

    version: str | None
    personal_access_tokens: bool
    legacy_tokens_off_by_default: bool
    legacy_token_setting: bool
    resolve_endpoint: Literal["resolve", "presign"]
    storage_proxy: bool
    storage_matches_bucket: bool
    local_files_etag: bool

    @property
    def legacy_tokens(self) -> bool:
        """Whether a new organization of a server started with
        ``LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN=true`` accepts legacy tokens (not on 1.17)."""
        return not self.legacy_tokens_off_by_default or self.legacy_token_setting

    @property
    def credential_kinds(self) -> tuple[CredentialKind, ...]:
        """The kinds of API key a new organization accepts on a server of this release
        started with ``LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN=true``, legacy first."""
        kinds: list[CredentialKind] = []
        if self.legacy_tokens:
            kinds.append("legacy")
        if self.personal_access_tokens:
            kinds.append("personal_access_token")
        return tuple(kinds)

    def task_resolve_path(self, task_id: int) -> str:
        """The path (no leading slash) that resolves a storage URI of task ``task_id``."""
        return f"tasks/{int(task_id)}/{self.resolve_endpoint}/"


def server_capabilities(version: str | None) -> ServerCapabilities:
    """The capabilities of release ``version`` (as ``/api/version`` reports it).

    Parameters
    ----------
    version
        ``"1.17.0"`` or similar; None or an unparsable string means the newest tested
        release.

    Returns
    -------
    ServerCapabilities
        The capabilities of that release.
    """
    parsed = parse_version(version) or parse_version(TESTED_VERSIONS[-1])
    assert parsed is not None
    release = (*parsed, 0, 0)[:2]
    return ServerCapabilities(
        version=version,
        personal_access_tokens=release >= (1, 17),
        legacy_tokens_off_by_default=release >= (1, 17),
        legacy_token_setting=release >= (1, 20),
        resolve_endpoint="resolve" if release >= (1, 20) else "presign",
        storage_proxy=release >= (1, 20),
        storage_matches_bucket=release >= (1, 20),
        local_files_etag=release >= (1, 23),
    )
