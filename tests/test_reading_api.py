"""The public names of ls_frames.reading and ls_frames.tables: explicit, sorted, importable."""

from __future__ import annotations

import importlib

import pytest


@pytest.mark.parametrize("module", ["ls_frames.reading", "ls_frames.tables"])
def test_all_is_sorted_and_complete(module: str) -> None:
    mod = importlib.import_module(module)
    names = list(mod.__all__)

    def isort_style(name: str) -> tuple[int, str]:  # ruff RUF022: CONSTANTS, Classes, functions
        return (0 if name.isupper() else 1 if name[0].isupper() else 2, name)

    assert names == sorted(names, key=isort_style)
    assert len(set(names)) == len(names)
    for name in names:
        assert getattr(mod, name) is not None
    public = {n for n in vars(mod) if not n.startswith("_")}
    submodules = {n for n in public if type(getattr(mod, n)).__name__ == "module"}
    assert public - submodules - {"annotations"} == set(names)


def test_reading_does_not_import_pandas() -> None:
    import subprocess
    import sys

    code = "import sys, ls_frames.reading; print('pandas' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
