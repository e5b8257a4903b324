"""The suite's own rules, enforced by the root conftest.py: the ``server`` marker on every
test that reaches the Label Studio fixtures, no server under ``LS_FRAMES_NO_SERVER``, and
``--test-order`` for running the tests in another order.

Each case runs pytest in a child process on a few generated test files, with the root
conftest loaded as a plugin (its hooks are what is checked)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

FIXTURE = """
import pytest

@pytest.fixture
def label_studio():
    return "a server"
"""


def run_pytest(folder: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    # no plugins from the environment (nbval, hypothesis...): a child starts in a second
    environ = {**os.environ, "PYTHONPATH": str(REPO), "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", **env}
    for name in (
        "LS_FRAMES_TEST_URL",
        "LS_FRAMES_TEST_LEGACY_TOKEN",
        "LS_FRAMES_TEST_ACCESS_TOKEN",
        "LS_FRAMES_LABEL_STUDIO",
        "PYTEST_ADDOPTS",
    ):
        environ.pop(name, None)
    if "LS_FRAMES_NO_SERVER" not in env:
        environ.pop("LS_FRAMES_NO_SERVER", None)
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "conftest",
            "-p",
            "no:cacheprovider",
            "--rootdir",
            str(folder),
            *args,
        ],
        cwd=folder,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_server_fixture_without_the_marker_stops_the_run(tmp_path: Path) -> None:
    (tmp_path / "test_a.py").write_text(
        FIXTURE
        + """
def test_unmarked(label_studio):
    assert label_studio

@pytest.mark.server
def test_marked(label_studio):
    assert label_studio

def test_offline():
    pass
"""
    )
    for selection in ([], ["-m", "not server"]):
        done = run_pytest(tmp_path, "-q", *selection)
        assert done.returncode == 4, done.stdout + done.stderr  # a usage error, nothing ran
        assert "lack @pytest.mark.server" in done.stderr
        assert "test_a.py::test_unmarked" in done.stderr
        assert "test_marked" not in done.stderr


def test_the_production_server_fixture_needs_the_marker_too(tmp_path: Path) -> None:
    (tmp_path / "test_p.py").write_text(
        """
import pytest

@pytest.fixture
def production_label_studio():
    return "a server"

def test_unmarked(production_label_studio):
    assert production_label_studio
"""
    )
    done = run_pytest(tmp_path, "-q", "-m", "not server")
    assert done.returncode == 4, done.stdout + done.stderr
    assert "test_p.py::test_unmarked" in done.stderr


def test_marked_tests_are_left_out_by_not_server(tmp_path: Path) -> None:
    (tmp_path / "test_b.py").write_text(
        FIXTURE
        + """
pytestmark = pytest.mark.server

def test_through_the_fixture(label_studio):
    assert label_studio
"""
    )
    (tmp_path / "test_c.py").write_text("def test_offline():\n    pass\n")
    done = run_pytest(tmp_path, "-q", "-m", "not server")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed, 1 deselected" in done.stdout


def test_asking_for_the_server_fails_under_no_server(tmp_path: Path) -> None:
    (tmp_path / "test_d.py").write_text("""
import pytest
from conftest import shared_label_studio

@pytest.mark.server
def test_needs_it():
    shared_label_studio()
""")
    done = run_pytest(tmp_path, "-q", LS_FRAMES_NO_SERVER="1")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "LS_FRAMES_NO_SERVER is set" in done.stdout
    assert not (tmp_path / "test-output").exists()


def test_test_order_reverses_and_shuffles_by_seed(tmp_path: Path) -> None:
    names = [f"test_{i}" for i in range(8)]
    (tmp_path / "test_e.py").write_text("".join(f"def {n}():\n    pass\n\n" for n in names))

    def order(*args: str) -> list[str]:
        done = run_pytest(tmp_path, "--co", "-q", *args)
        assert done.returncode == 0, done.stdout + done.stderr
        return [line.split("::")[1] for line in done.stdout.splitlines() if "::" in line]

    assert order() == names
    assert order("--test-order", "reverse") == names[::-1]
    shuffled = order("--test-order", "random:7")
    assert sorted(shuffled) == names and shuffled != names
    assert order("--test-order", "random:7") == shuffled
    done = run_pytest(tmp_path, "--co", "-q", "--test-order", "sideways")
    assert done.returncode == 4 and "--test-order must be" in done.stderr
