"""Compare two sets of ls_frames tables (Parquet datasets, Delta tables read back), row for
row, whatever their order."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ls_frames.tables import Frames

__all__ = ["KEYS", "assert_same_dataset", "assert_same_frames"]

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
    from ls_frames.tables import read_parquet

    assert_same_frames(read_parquet(a), read_parquet(b))


def assert_same_frames(fa: Frames, fb: Frames) -> None:
    """Raise ``AssertionError`` unless both hold the same tables with the same columns and
    the same rows (compared after sorting by :data:`KEYS`)."""
    import pandas as pd

    assert sorted(fa) == sorted(fb), f"tables differ: {sorted(fa)} != {sorted(fb)}"
    for name in fb:
        x, y = fa[name], fb[name]
        assert sorted(x.columns) == sorted(y.columns), f"{name}: columns differ"
        keys = [k for k in KEYS if k in y.columns]
        x = x.sort_values(keys).reset_index(drop=True)[list(y.columns)]
        y = y.sort_values(keys).reset_index(drop=True)
        pd.testing.assert_frame_equal(x, y, check_categorical=False, obj=name)
