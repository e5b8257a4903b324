"""Shared fixtures: one real Label Studio for the whole session.

Fixtures (tests using them carry ``@pytest.mark.server``):

``label_studio``
    session-scoped; an object with ``url``, ``legacy_token``, ``access_token`` and
    ``local_files_root`` (a :class:`ls_frames.testing.LocalLabelStudio`, or a plain
    namespace for a reused server). Reuses a running server when ``LS_FRAMES_TEST_URL``,
    ``LS_FRAMES_TEST_LEGACY_TOKEN`` and ``LS_FRAMES_TEST_ACCESS_TOKEN`` are set (optionally
    ``LS_FRAMES_TEST_LOCAL_FILES_ROOT``; ``python -m ls_frames.testing serve`` writes all of
    them). Otherwise starts one with ``$LS_FRAMES_LABEL_STUDIO`` (logs to
    ``test-output/label-studio.log``) and stops it at the end.
``legacy_token`` / ``access_token``
    the two credentials as strings (``Token`` key; PAT = JWT refresh token).
``api_key``
    parametrized over the credential kinds the release has, ids ``legacy`` and ``pat``: a
    test using it runs twice on releases with both, once on 1.13 (no personal access
    tokens) and on 1.17 (legacy tokens refused). The kinds come from
    :func:`conftest.session_capabilities`; the server's start asserts that a missing kind
    really is refused, ``test_testing_server.py`` asserts it again, and the run's header
    says which kinds were tested. Tests that ask for ``legacy_token`` or
    ``access_token`` by name are deselected, and listed, on a release without that kind.
``demo_project``
    session-scoped; the dict :func:`ls_frames.testing.seed.seed_demo_project` returned
    (``project_id``, ``task_ids``, ``draft_ids``, ``counts``...), seeded once.
``production_label_studio``
    session-scoped; Label Studio served as production serves it: gunicorn, two workers,
    a worker timeout of a few seconds (``worker_timeout``; a request running longer is
    killed, as uwsgi's harakiri does in the official image). Started on first use (about
    two minutes: migrations), or reused from ``LS_FRAMES_TEST_PRODUCTION_*``. Attributes as
    ``label_studio``'s plus ``wsgi``, ``workers`` and ``worker_timeout``.
``moto_s3`` / ``plain_server``
    session-scoped; moto's S3 server on 127.0.0.1 and a file server on 127.0.0.2 that
    records each request's ``Authorization`` header (``ls_frames.testing.media``).
``media_project``
    session-scoped; a project whose tasks mix uploads, local-files, S3 presigned and
    proxied, plain URLs and references that cannot resolve, with each one's original bytes
    (:func:`ls_frames.testing.media.seed_media_project`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from conftest import (
    session_capabilities,
    shared_demo_project,
    shared_label_studio,
    shared_production_label_studio,
)
from tests.needs import missing

_KIND_IDS = {"legacy": "legacy", "personal_access_token": "pat"}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "api_key" in metafunc.fixturenames:
        kinds = [_KIND_IDS[k] for k in session_capabilities().credential_kinds]
        metafunc.parametrize("api_key", kinds, indirect=True, ids=kinds)


@pytest.fixture(scope="session")
def label_studio() -> Any:
    """A running Label Studio: reused from the environment, or started for the session."""
    return shared_label_studio()


@pytest.fixture(scope="session")
def production_label_studio() -> Any:
    """Label Studio under gunicorn: two workers, a short worker timeout (see the module's
    docstring)."""
    if not os.environ.get("LS_FRAMES_TEST_PRODUCTION_URL"):
        from ls_frames.testing.server import find_executable

        if not (find_executable().parent / "gunicorn").is_file():
            missing("gunicorn next to Label Studio (`python -m ls_frames.testing install DIR`)")
    return shared_production_label_studio()


@pytest.fixture(scope="session")
def legacy_token(label_studio: Any) -> str:
    """The admin's legacy token (``Authorization: Token ...``)."""
    return str(label_studio.legacy_token)


@pytest.fixture(scope="session")
def access_token(label_studio: Any) -> str:
    """The admin's personal access token (a JWT refresh token)."""
    return str(label_studio.access_token)


@pytest.fixture
def api_key(request: pytest.FixtureRequest, label_studio: Any) -> str:
    """Each credential kind of the release in turn: the legacy token, then the personal
    access token (see ``pytest_generate_tests``)."""
    name = "legacy_token" if request.param == "legacy" else "access_token"
    return str(getattr(label_studio, name))


@pytest.fixture(scope="session")
def demo_project(label_studio: Any) -> dict[str, Any]:
    """The demo project, seeded once per session; the dict seed_demo_project returned."""
    return shared_demo_project()


@pytest.fixture(scope="session")
def moto_s3() -> Iterator[Any]:
    """moto's S3 server on 127.0.0.1 (a :class:`ls_frames.testing.media.MotoS3`)."""
    try:
        import moto.server  # noqa: F401
    except ImportError:
        missing("moto[server] (the test extra)")
    from ls_frames.testing.media import MotoS3

    with MotoS3() as s3:
        yield s3


@pytest.fixture(scope="session")
def plain_server() -> Iterator[Any]:
    """A file server on 127.0.0.2 that records the Authorization header of each request."""
    from ls_frames.testing.media import PlainFileServer

    with PlainFileServer("127.0.0.2") as server:
        yield server


@pytest.fixture(scope="session")
def media_project(label_studio: Any, moto_s3: Any, plain_server: Any) -> Any:
    """A project mixing uploads, local-files, S3 (presigned and proxied), plain URLs on
    127.0.0.2 and references that cannot resolve; a :class:`ls_frames.testing.media.MediaProject`
    whose ``refs`` hold each task's URI, kind and original bytes."""
    from ls_frames.testing.media import seed_media_project
    from ls_frames.testing.seed import auth_headers

    if label_studio.local_files_root is None:
        missing("LS_FRAMES_TEST_LOCAL_FILES_ROOT (the reused server's local-files root)")
    headers = auth_headers(label_studio.url, label_studio.admin_key)
    return seed_media_project(
        label_studio.url,
        headers,
        s3=moto_s3,
        plain=plain_server,
        local_files_root=label_studio.local_files_root,
    )
