"""One real Label Studio for the whole run, shared by ``tests/`` and ``notebooks/``.

The server is started lazily, the first time a test or a notebook needs it, and stopped at
the end of the session. It is reused instead when ``LS_FRAMES_TEST_URL``,
``LS_FRAMES_TEST_LEGACY_TOKEN`` and ``LS_FRAMES_TEST_ACCESS_TOKEN`` are set (``python -m
ls_frames.testing serve --env-file FILE`` writes them).

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
#: Every server fixture of tests/conftest.py (and tests/faults/conftest.py) depends on it.
SERVER_FIXTURE = "label_studio"
_REUSE = ("LS_FRAMES_TEST_URL", "LS_FRAMES_TEST_LEGACY_TOKEN", "LS_FRAMES_TEST_ACCESS_TOKEN")
_state: dict[str, Any] = {}


def shared_label_studio() -> Any:
    """The session's Label Studio: reused from the environment, or started once."""
    if "server" in _state:
        return _state["server"]
    if os.environ.get("LS_FRAMES_NO_SERVER"):
        pytest.fail("this test needs Label Studio, and LS_FRAMES_NO_SERVER is set (make check);"
                    " mark it with @pytest.mark.server", pytrace=False)
    if all(os.environ.get(name) for name in _REUSE):
        root = os.environ.get("LS_FRAMES_TEST_LOCAL_FILES_ROOT") or None
        server: Any = SimpleNamespace(
            url=os.environ["LS_FRAMES_TEST_URL"].rstrip("/"),
            legacy_token=os.environ["LS_FRAMES_TEST_LEGACY_TOKEN"],
            access_token=os.environ["LS_FRAMES_TEST_ACCESS_TOKEN"],
            local_files_root=Path(root) if root else None,
            log_path=None,
        )
    else:
        from ls_frames.testing import LocalLabelStudio

        log_dir = REPO / "test-output"
        log_dir.mkdir(exist_ok=True)
        server = LocalLabelStudio(log_path=log_dir / "label-studio.log")
        _state["owned"] = server
        server.start()
    _state["server"] = server
    return server


def shared_demo_project() -> dict[str, Any]:
    """The demo project, seeded once per run (see ``ls_frames.testing.seed``)."""
    if "demo" not in _state:
        from ls_frames.testing.seed import seed_demo_project

        server = shared_label_studio()
        _state["demo"] = seed_demo_project(server.url, server.legacy_token)
    demo: dict[str, Any] = _state["demo"]
    return demo


def _is_notebook_item(item: pytest.Item) -> bool:
    return item.path.suffix == ".ipynb" and NOTEBOOKS in item.path.parents


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--test-order", default=None, metavar="reverse|random:SEED",
                     help="run the tests of tests/ in reverse or seeded random order")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # tryfirst: before -m deselects, so an unmarked server test cannot slip through a
    # "not server" selection.
    unmarked = []
    for item in items:
        if _is_notebook_item(item):
            item.add_marker(pytest.mark.server)
        elif (SERVER_FIXTURE in getattr(item, "fixturenames", ())
              and item.get_closest_marker("server") is None):  # fmt: skip
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
        os.environ["LABEL_STUDIO_API_KEY"] = server.access_token
        os.environ["LS_FRAMES_PROJECT"] = str(demo["project_id"])
        os.environ.setdefault("LS_FRAMES_DISABLE_PROGRESS_BARS", "1")
        os.environ.setdefault("LS_FRAMES_OUTPUT", str(REPO / "test-output" / "notebooks"))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    owned = _state.pop("owned", None)
    if owned is not None:
        owned.stop()
