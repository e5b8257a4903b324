"""Install Label Studio into a virtual environment of its own.

Label Studio pins Django and many other packages; installing it next to the library would
fight over versions, so it always gets its own environment. gunicorn goes there too (pinned,
:data:`~ls_frames.testing.wsgi.GUNICORN_VERSION`): the tests serve Label Studio under it
the way production does (several workers, a worker timeout; :mod:`ls_frames.testing.wsgi`).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from ls_frames.testing.wsgi import GUNICORN_VERSION

__all__ = ["DEFAULT_VERSION", "install_label_studio", "installed_version"]

DEFAULT_VERSION = "1.23.2"


def _bin_dir(venv_dir: Path) -> Path:
    return venv_dir / ("Scripts" if os.name == "nt" else "bin")


def _executable(venv_dir: Path, name: str) -> Path:
    suffix = ".exe" if os.name == "nt" else ""
    return _bin_dir(venv_dir) / f"{name}{suffix}"


def installed_version(venv_dir: str | os.PathLike[str]) -> str | None:
    """The label-studio version installed in ``venv_dir``, or None."""
    python = _executable(Path(venv_dir), "python")
    if not python.exists():
        return None
    probe = subprocess.run(
        [str(python), "-c", "import importlib.metadata as m; print(m.version('label-studio'))"],
        capture_output=True,
        text=True,
        check=False,
    )
    return probe.stdout.strip() or None if probe.returncode == 0 else None


def install_label_studio(
    venv_dir: str | os.PathLike[str],
    version: str = DEFAULT_VERSION,
    *,
    python: str | os.PathLike[str] | None = None,
    quiet: bool = True,
) -> Path:
    """Create ``venv_dir`` with ``label-studio==version`` and gunicorn (pinned) and return
    its ``label-studio`` binary.

    Nothing is done when that version and gunicorn are already installed there (gunicorn
    alone is added to an environment that lacks it). ``python`` is the interpreter that
    creates the environment (default: the current one).
    """
    venv = Path(venv_dir).resolve()
    binary = _executable(venv, "label-studio")
    has_gunicorn = _executable(venv, "gunicorn").exists()
    if binary.exists() and installed_version(venv) == version and has_gunicorn:
        return binary
    pip = [str(_executable(venv, "python")), "-m", "pip", "install"]
    if quiet:
        pip.append("--quiet")
    if binary.exists() and installed_version(venv) == version:
        subprocess.run([*pip, f"gunicorn=={GUNICORN_VERSION}"], check=True)
        return binary
    if not _executable(venv, "python").exists():
        subprocess.run([str(python or sys.executable), "-m", "venv", str(venv)], check=True)
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    subprocess.run([*pip, f"label-studio=={version}", f"gunicorn=={GUNICORN_VERSION}"], check=True)
    if not binary.exists():
        raise FileNotFoundError(f"pip installed label-studio=={version} but {binary} is missing")
    return binary
