"""Install Label Studio into a virtual environment of its own.

Label Studio pins Django and many other packages; installing it next to the library would
fight over versions, so it always gets its own environment.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

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
    """Create ``venv_dir`` with ``label-studio==version`` and return its ``label-studio`` binary.

    Nothing is done when that version is already installed there. ``python`` is the
    interpreter that creates the environment (default: the current one).
    """
    venv = Path(venv_dir).resolve()
    binary = _executable(venv, "label-studio")
    if binary.exists() and installed_version(venv) == version:
        return binary
    if not _executable(venv, "python").exists():
        subprocess.run([str(python or sys.executable), "-m", "venv", str(venv)], check=True)
    pip = [str(_executable(venv, "python")), "-m", "pip", "install"]
    if quiet:
        pip.append("--quiet")
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    subprocess.run([*pip, f"label-studio=={version}"], check=True)
    if not binary.exists():
        raise FileNotFoundError(f"pip installed label-studio=={version} but {binary} is missing")
    return binary
