"""The table of what each Label Studio release can do, and the places that must agree
with it (the Makefile's release lists, the test server's default)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ls_frames.testing.install import DEFAULT_VERSION
from ls_frames.transport.capabilities import (
    TESTED_VERSIONS,
    parse_version,
    server_capabilities,
)

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("1.17.0", (1, 17, 0)),
        ("1.20.0rc1", (1, 20, 0)),
        ("v1.23.2.dev0", (1, 23, 2)),
        ("1.13", (1, 13)),
        ("", None),
        (None, None),
        ("develop", None),
    ],
)
def test_parse_version(text: str | None, parsed: tuple[int, ...] | None) -> None:
    assert parse_version(text) == parsed


@pytest.mark.parametrize(
    ("version", "kinds", "endpoint"),
    [
        # each row checked against a real server of that release (make compat)
        ("1.13.1", ("legacy",), "presign"),
        ("1.17.0", ("personal_access_token",), "presign"),
        ("1.20.0", ("legacy", "personal_access_token"), "resolve"),
        ("1.23.2", ("legacy", "personal_access_token"), "resolve"),
    ],
)
def test_tested_releases(version: str, kinds: tuple[str, ...], endpoint: str) -> None:
    caps = server_capabilities(version)
    assert caps.version == version
    assert caps.credential_kinds == kinds
    assert caps.resolve_endpoint == endpoint
    assert caps.task_resolve_path(7) == f"tasks/7/{endpoint}/"


def test_an_unknown_release_is_treated_as_the_newest_tested() -> None:
    newest = server_capabilities(TESTED_VERSIONS[-1])
    for version in (None, "", "develop", "9.0.0"):
        caps = server_capabilities(version)
        assert caps.credential_kinds == newest.credential_kinds
        assert caps.resolve_endpoint == newest.resolve_endpoint


def test_legacy_tokens_are_off_by_default_from_1_17_and_settable_from_1_20() -> None:
    assert not server_capabilities("1.16.9").legacy_tokens_off_by_default
    assert server_capabilities("1.17.0").legacy_tokens_off_by_default
    assert not server_capabilities("1.19.0").legacy_token_setting
    assert not server_capabilities("1.19.0").legacy_tokens
    assert server_capabilities("1.20.0").legacy_token_setting


def test_makefile_and_installer_agree_with_the_table() -> None:
    makefile = (REPO / "Makefile").read_text()
    compat = re.search(r"^COMPAT_VERSIONS := (.+)$", makefile, re.M)
    default = re.search(r"^LS_DEFAULT_VERSION := (.+)$", makefile, re.M)
    assert compat is not None and default is not None
    assert tuple(compat.group(1).split()) == TESTED_VERSIONS
    assert default.group(1).strip() == DEFAULT_VERSION == TESTED_VERSIONS[-1]
    readme = (REPO / "README.md").read_text()
    for version in TESTED_VERSIONS:
        assert version in readme, f"the README does not list Label Studio {version}"


def test_storage_proxy_and_bucket_matching_from_1_20_local_file_etags_from_1_23() -> None:
    # checked against 1.13.1 (and the source of 1.17.0) / 1.20.0 / 1.23.2
    assert not server_capabilities("1.19.9").storage_proxy
    assert server_capabilities("1.20.0").storage_proxy
    assert not server_capabilities("1.17.0").storage_matches_bucket
    assert server_capabilities("1.20.0").storage_matches_bucket
    assert not server_capabilities("1.22.0").local_files_etag
    assert server_capabilities("1.23.2").local_files_etag
    assert server_capabilities(None).storage_proxy and server_capabilities(None).local_files_etag
