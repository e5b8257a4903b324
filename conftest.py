"""One real Label Studio for the whole run, shared by ``tests/`` and ``notebooks/``.

The server is started lazily, the first time a test or a notebook needs it, and stopped at
the end of the session. It is reused instead when ``LS_FRAMES_TEST_URL`` and a token
(``LS_FRAMES_TEST_ACCESS_TOKEN``, ``LS_FRAMES_TEST_LEGACY_TOKEN`` or both) are set
(``python -m ls_frames.testing serve --env-file FILE`` writes them), unless
``LS_FRAMES_LS_VERSION`` asks for another release than the reused server runs (``make test
LS_VERSION=...`` sets it; the run then starts a server of that release).

Which release runs decides which credential kinds the suite tests:
:func:`session_capabilities` knows it before any server starts (the reused server's
``/api/version``, else the version installed next to ``$LS_FRAMES_LABEL_STUDIO``), and the
server is checked to be that release when it comes up.

Notebooks run by nbval in kernels of their own; before the first cell of a notebook runs,
the environment is set the way a user's would be: ``LABEL_STUDIO_URL``,
``LABEL_STUDIO_API_KEY`` (the personal access token) and ``LS_FRAMES_PROJECT`` (the seeded
demo project), so the notebooks contain no test plumbing.

Every test that needs the server carries the ``server`` marker, so ``-m "not server"`` (what
``make check`` runs) selects exactly the tests that need none. The marker is enforced: a
test whose fixtures reach ``label_studio`` without it stops the run at collection, and under
``LS_FRAMES_NO_SERVER=1`` (set by ``make check``) asking for the server fails the test
instead of starting one. Notebooks are marked ``server`` here (they all use it).

``--test-order reverse`` or ``--test-order random:SEED`` runs the selected tests of
``tests/`` in another order (notebook cells keep theirs), to show that no test depends on
another having run first.
"""

from __future__ import annotations

import os
import random
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent
NOTEBOOKS = REPO / "notebooks"
#: Every server fixture of tests/conftest.py (and tests/faults/conftest.py) depends on one
#: of them: the session's server, or the production-shaped one (a WSGI server with workers
#: and a worker timeout, started only when a test asks for it).
SERVER_FIXTURE = "label_studio"
PRODUCTION_FIXTURE = "production_label_studio"
#: The worker timeout of the production-shaped server the suite starts, in seconds
#: (``LS_FRAMES_TEST_WORKER_TIMEOUT`` changes it: 15 runs the 20,000-task case).
DEFAULT_WORKER_TIMEOUT = 3.0
_TOKENS = ("LS_FRAMES_TEST_LEGACY_TOKEN", "LS_FRAMES_TEST_ACCESS_TOKEN")
_state: dict[str, Any] = {}


def _reused_release() -> str | None:
    """The release of the server named by ``LS_FRAMES_TEST_URL`` (asked once)."""
    if "reused_release" not in _state:
        import httpx

        release = os.environ.get("LS_FRAMES_TEST_LS_VERSION") or None
        if release is None:
            url = os.environ["LS_FRAMES_TEST_URL"].rstrip("/")
            try:
                info = httpx.get(f"{url}/api/version", timeout=30.0).json()
                release = info.get("release") or info["label-studio-os-package"]["version"]
            except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
                raise RuntimeError(
                    f"the reused Label Studio at {url} does not say its "
                    f"release on /api/version: {exc}"
                ) from exc
        _state["reused_release"] = str(release)
    return _state["reused_release"]  # type: ignore[no-any-return]


def _reuse() -> bool:
    """Whether the environment names a running server of the wanted release."""
    if not (os.environ.get("LS_FRAMES_TEST_URL") and any(os.environ.get(t) for t in _TOKENS)):
        return False
    wanted = os.environ.get("LS_FRAMES_LS_VERSION")
    return not wanted or _reused_release() == wanted


def session_release() -> str | None:
    """The Label Studio release this run tests, known without starting it: the reused
    server's, else the one installed next to the ``label-studio`` binary, else
    ``LS_FRAMES_LS_VERSION``; None when none of these says."""
    if "release" not in _state:
        if _reuse():
            release = _reused_release()
        else:
            from ls_frames.testing.install import installed_version
            from ls_frames.testing.server import find_executable

            try:
                venv = find_executable().resolve().parent.parent
                release = installed_version(venv)
            except Exception:  # no Label Studio installed: a run that needs no server
                release = None
            release = release or os.environ.get("LS_FRAMES_LS_VERSION") or None
        _state["release"] = release
    return _state["release"]  # type: ignore[no-any-return]


def session_capabilities() -> Any:
    """The :class:`~ls_frames.transport.capabilities.ServerCapabilities` of this run's
    release (what credential kinds exist, ...)."""
    from ls_frames.transport.capabilities import server_capabilities

    return server_capabilities(session_release())


def shared_label_studio() -> Any:
    """The session's Label Studio: reused from the environment, or started once."""
    if "server" in _state:
        return _state["server"]
    if os.environ.get("LS_FRAMES_NO_SERVER"):
        pytest.fail(
            "this test needs Label Studio, and LS_FRAMES_NO_SERVER is set (make check);"
            " mark it with @pytest.mark.server",
            pytrace=False,
        )
    if _reuse():
        root = os.environ.get("LS_FRAMES_TEST_LOCAL_FILES_ROOT") or None
        caps = session_capabilities()
        legacy = os.environ.get("LS_FRAMES_TEST_LEGACY_TOKEN") or None
        access = os.environ.get("LS_FRAMES_TEST_ACCESS_TOKEN") or None
        server: Any = SimpleNamespace(
            url=os.environ["LS_FRAMES_TEST_URL"].rstrip("/"),
            legacy_token=legacy,
            access_token=access,
            admin_key=(legacy if caps.legacy_tokens else None) or access,
            version=caps.version,
            capabilities=caps,
            local_files_root=Path(root) if root else None,
            log_path=None,
        )
    else:
        from ls_frames.testing import LocalLabelStudio

        log_dir = REPO / "test-output"
        log_dir.mkdir(exist_ok=True)
        release = session_release()
        name = f"label-studio-{release}.log" if release else "label-studio.log"
        server = LocalLabelStudio(log_path=log_dir / name)
        _state["owned"] = server
        server.start()
        expected = session_release()
        if expected is not None and server.version != expected:
            raise RuntimeError(
                f"expected Label Studio {expected}, the server says it is {server.version}"
            )
    _state["server"] = server
    return server


def shared_production_label_studio() -> Any:
    """Label Studio under gunicorn with two workers and a short worker timeout (the shape of
    a production deployment; :mod:`ls_frames.testing.wsgi`): reused when
    ``LS_FRAMES_TEST_PRODUCTION_URL`` and its tokens are set (``python -m ls_frames.testing
    serve --wsgi gunicorn`` writes them), else started once for the run."""
    if "production" in _state:
        return _state["production"]
    if os.environ.get("LS_FRAMES_NO_SERVER"):
        pytest.fail(
            "this test needs Label Studio, and LS_FRAMES_NO_SERVER is set (make check);"
            " mark it with @pytest.mark.server",
            pytrace=False,
        )
    env = os.environ
    if env.get("LS_FRAMES_TEST_PRODUCTION_URL") and env.get("LS_FRAMES_TEST_PRODUCTION_WSGI"):
        legacy = env.get("LS_FRAMES_TEST_PRODUCTION_LEGACY_TOKEN") or None
        access = env.get("LS_FRAMES_TEST_PRODUCTION_ACCESS_TOKEN") or None
        timeout = env.get("LS_FRAMES_TEST_PRODUCTION_WORKER_TIMEOUT") or None
        server: Any = SimpleNamespace(
            url=env["LS_FRAMES_TEST_PRODUCTION_URL"].rstrip("/"),
            legacy_token=legacy,
            access_token=access,
            admin_key=legacy or access,
            wsgi=env["LS_FRAMES_TEST_PRODUCTION_WSGI"],
            workers=int(env.get("LS_FRAMES_TEST_PRODUCTION_WORKERS") or 1),
            worker_timeout=float(timeout) if timeout else None,
            log_path=None,
        )
    else:
        from ls_frames.testing import LocalLabelStudio

        log_dir = REPO / "test-output"
        log_dir.mkdir(exist_ok=True)
        timeout = env.get("LS_FRAMES_TEST_WORKER_TIMEOUT")
        server = LocalLabelStudio(
            log_path=log_dir / "label-studio-gunicorn.log",
            wsgi="gunicorn",
            workers=2,
            worker_timeout=float(timeout) if timeout else DEFAULT_WORKER_TIMEOUT,
            startup_timeout=900.0,
        )
        _state["owned_production"] = server
        server.start()
    _state["production"] = server
    return server


def shared_demo_project() -> dict[str, Any]:
    """The demo project, seeded once per run (see ``ls_frames.testing.seed``)."""
    if "demo" not in _state:
        from ls_frames.testing.seed import seed_demo_project

        server = shared_label_studio()
        _state["demo"] = seed_demo_project(server.url, server.admin_key)
    demo: dict[str, Any] = _state["demo"]
    return demo


_KIND_FIXTURES = {"legacy_token": "legacy", "access_token": "personal_access_token"}
_KIND_NAMES = {"legacy": "legacy tokens", "personal_access_token": "personal access tokens"}


def pytest_report_header(config: pytest.Config) -> str:
    caps = session_capabilities()
    missing = [k for k in _KIND_NAMES if k not in caps.credential_kinds]
    where = "reused" if _reuse() else "started for this run"
    line = (
        f"Label Studio {caps.version or 'unknown release'} ({where}): credentials tested: "
        + ", ".join(_KIND_NAMES[k] for k in caps.credential_kinds)
    )
    if missing:
        line += (
            "; not tested, refused by a new organization of this release (asserted): "
            + ", ".join(_KIND_NAMES[k] for k in missing)
        )
    return line


class _CredentialSelection:
    """A plugin of its own: this module's other ``pytest_collection_modifyitems`` runs
    first (the server-marker check), this one last."""

    @pytest.hookimpl(trylast=True)  # after -m and -k: list only what would have run
    def pytest_collection_modifyitems(
        self, config: pytest.Config, items: list[pytest.Item]
    ) -> None:
        """Deselect tests that ask for a credential kind this release does not have: by
        the ``legacy_token`` / ``access_token`` fixtures, or
        ``@pytest.mark.credential(kind)``."""
        kinds = session_capabilities().credential_kinds
        keep: list[pytest.Item] = []
        dropped: list[pytest.Item] = []
        for item in items:
            needs = {
                kind
                for name, kind in _KIND_FIXTURES.items()
                if name in getattr(item, "fixturenames", ())
            }
            needs |= {str(kind) for mark in item.iter_markers("credential") for kind in mark.args}
            (keep if needs <= set(kinds) else dropped).append(item)
        if dropped:
            config.hook.pytest_deselected(items=dropped)
            items[:] = keep
            _state["no_such_credential"] = [item.nodeid for item in dropped]


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(_CredentialSelection(), "ls-frames-credential-selection")


def pytest_terminal_summary(terminalreporter: Any) -> None:
    dropped = _state.get("no_such_credential")
    if dropped:
        caps = session_capabilities()
        terminalreporter.write_sep(
            "-", f"not run: Label Studio {caps.version} lacks the credential kind these tests name"
        )
        for nodeid in dropped:
            terminalreporter.write_line(nodeid)


def _is_notebook_item(item: pytest.Item) -> bool:
    return item.path.suffix == ".ipynb" and NOTEBOOKS in item.path.parents


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--test-order",
        default=None,
        metavar="reverse|random:SEED",
        help="run the tests of tests/ in reverse or seeded random order",
    )


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # tryfirst: before -m deselects, so an unmarked server test cannot slip through a
    # "not server" selection.
    unmarked = []
    for item in items:
        if _is_notebook_item(item):
            item.add_marker(pytest.mark.server)
        elif {SERVER_FIXTURE, PRODUCTION_FIXTURE} & set(
            getattr(item, "fixturenames", ())
        ) and item.get_closest_marker("server") is None:
            unmarked.append(item.nodeid)
    if unmarked:
        raise pytest.UsageError(
            "these tests use the Label Studio fixtures but lack @pytest.mark.server:\n  "
            + "\n  ".join(unmarked)
        )
    order = config.getoption("--test-order")
    if order:
        _reorder(items, order)


def _reorder(items: list[pytest.Item], order: str) -> None:
    """Reorders the non-notebook items in place; notebook cells stay where they are."""
    slots = [i for i, item in enumerate(items) if not _is_notebook_item(item)]
    chosen = [items[i] for i in slots]
    if order == "reverse":
        chosen.reverse()
    elif order.startswith("random:"):
        random.Random(order.removeprefix("random:")).shuffle(chosen)
    else:
        raise pytest.UsageError(f"--test-order must be reverse or random:SEED, not {order!r}")
    for i, item in zip(slots, chosen, strict=True):
        items[i] = item


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    # Runs before nbval starts the notebook's kernel, which inherits this environment.
    if _is_notebook_item(item) and "LS_FRAMES_PROJECT" not in os.environ:
        server = shared_label_studio()
        demo = shared_demo_project()
        os.environ["LABEL_STUDIO_URL"] = server.url
        os.environ["LABEL_STUDIO_API_KEY"] = server.access_token or server.admin_key
        os.environ["LS_FRAMES_PROJECT"] = str(demo["project_id"])
        os.environ.setdefault("LS_FRAMES_DISABLE_PROGRESS_BARS", "1")
        os.environ.setdefault("LS_FRAMES_OUTPUT", str(REPO / "test-output" / "notebooks"))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    for name in ("owned", "owned_production"):
        owned = _state.pop(name, None)
        if owned is not None:
            owned.stop()
