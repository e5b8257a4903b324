"""The top-level namespace: every advertised name resolves, and importing it stays light."""

from __future__ import annotations

import subprocess
import sys

import pytest

import ls_frames


def test_every_name_in_all_resolves() -> None:
    missing = [name for name in ls_frames.__all__ if getattr(ls_frames, name, None) is None]
    assert missing == []
    assert sorted(set(ls_frames.__all__)) == sorted(ls_frames.__all__)


def test_table_functions_are_the_tables_layer_objects() -> None:
    from ls_frames.pipeline import load_project
    from ls_frames.tables import read_export, to_parquet

    assert ls_frames.read_export is read_export
    assert ls_frames.to_parquet is to_parquet
    assert ls_frames.load_project is load_project


def test_delta_functions_are_the_tables_layer_objects() -> None:
    from ls_frames.tables import compact_delta, read_delta
    from ls_frames.tables.delta import compact_delta as compact
    from ls_frames.tables.delta import read_delta as read

    assert ls_frames.read_delta is read_delta is read
    assert ls_frames.compact_delta is compact_delta is compact
    assert issubclass(ls_frames.ConcurrentWriteError, ls_frames.LSFramesError)


def test_unknown_attribute_is_an_attribute_error() -> None:
    try:
        ls_frames.no_such_name  # noqa: B018
    except AttributeError as exc:
        assert "no_such_name" in str(exc)
    else:
        raise AssertionError("expected AttributeError")


def test_import_does_not_load_pandas() -> None:
    code = "import sys, ls_frames; ls_frames.Client; print('pandas' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_names_moved_out_of_tables_still_resolve_with_a_warning() -> None:
    import ls_frames.tables

    with pytest.warns(DeprecationWarning, match=r"from ls_frames\.evaluation;"):
        moved = ls_frames.tables.evaluate
    assert moved is ls_frames.evaluate
    with pytest.warns(DeprecationWarning, match=r"from ls_frames\.geometry\.shapes;"):
        from ls_frames.geometry.shapes import to_coco

        assert ls_frames.tables.to_coco is to_coco
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        ls_frames.tables.nothing  # noqa: B018


def test_a_name_shared_with_its_submodule_is_the_function_whatever_was_imported_first() -> None:
    # evaluation.agreement defines agreement(): importing the submodule first (as other
    # modules of the library do) must not leave the package attribute bound to the module.
    code = (
        "import ls_frames.evaluation.truth\n"
        "from ls_frames.evaluation import agreement\n"
        "assert callable(agreement), type(agreement)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
