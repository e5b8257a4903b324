"""Compare two Parquet datasets written by ls_frames, row for row, whatever their order."""

from __future__ import annotations

import os

__all__ = ["KEYS", "assert_same_dataset"]

#: the columns that identify a row, in sort order, for whichever of them a table has
KEYS = [
    "task_id",
    "annotation_id",
    "prediction_id",
    "draft_id",
    "source",
    "source_id",
    "result_index",
]


def assert_same_dataset(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> None:
    """Raise ``AssertionError`` unless both datasets hold the same tables with the same
    columns and the same rows (compared after sorting by :data:`KEYS`)."""
    import pandas as pd

    from ls_frames.tables import read_parquet

    fa, fb = read_parquet(a), read_parquet(b)
    assert sorted(fa) == sorted(fb), f"tables differ: {sorted(fa)} != {sorted(fb)}"
    for name in fb:
        x, y = fa[name], fb[name]
        assert sorted(x.columns) == sorted(y.columns), f"{name}: columns differ"
        keys = [k for k in KEYS if k in y.columns]
        x = x.sort_values(keys).reset_index(drop=True)[list(y.columns)]
        y = y.sort_values(keys).reset_index(drop=True)
        pd.testing.assert_frame_equal(x, y, check_categorical=False, obj=name)
