"""Shared by the Delta tests: corpus tasks, ``part`` datasets, comparing Frames."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pandas as pd

import ls_frames
from ls_frames.testing.compare import KEYS
from tests.needs import missing

CORPUS = Path(__file__).parent / "corpus" / "label-studio-1.23.2"
LABEL_CONFIG = (CORPUS / "label_config.xml").read_text()


def need_deltalake() -> None:
    try:
        import deltalake  # noqa: F401
    except ImportError:
        missing("deltalake (the delta extra)")


def tasks() -> list[dict[str, Any]]:
    loaded: list[dict[str, Any]] = json.loads((CORPUS / "snapshot_full_objects.json").read_text())
    return loaded


def write(tmp: Path, name: str, doc: list[dict[str, Any]]) -> Path:
    """``doc`` as a Parquet dataset (what sync hands write_delta as ``part``)."""
    path = tmp / f"{name}.json"
    path.write_text(json.dumps(doc))
    return ls_frames.to_parquet(path, tmp / name, progress=False, label_config=LABEL_CONFIG)


def refresh(base: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """A refresh of ``base``: (the changed and new tasks, the final tasks once 20013 and
    20016 are deleted). 20011 loses two annotations and gains a data key, 20007 gets an
    annotation, task 99 is new."""
    changed = {t["id"]: copy.deepcopy(t) for t in base if t["id"] in (20011, 20007)}
    changed[20011]["annotations"] = changed[20011]["annotations"][:1]
    changed[20011]["data"]["extra"] = {"nested": [1, 2]}
    changed[20011]["updated_at"] = "2026-11-30T10:00:00.000000Z"
    changed[20007]["annotations"] = copy.deepcopy(base[0]["annotations"])
    for a in changed[20007]["annotations"]:
        a["id"], a["task"] = 777, 20007
    new = copy.deepcopy(base[2])
    new["id"] = 99
    for a in new["annotations"]:
        a["id"] += 5000
        a["task"] = 99
    for p in new["predictions"]:
        p["id"] += 5000
        p["task"] = 99
    part = [*changed.values(), new]
    final = [changed.get(t["id"], t) for t in base if t["id"] not in (20013, 20016)] + [new]
    return part, final


def assert_same_frames(got: ls_frames.Frames, want: ls_frames.Frames) -> None:
    """Same tables, columns, dtypes and rows (sorted by the keys; column order of ``want``)."""
    assert sorted(got) == sorted(want), f"tables differ: {sorted(got)} != {sorted(want)}"
    for name in want:
        x, y = got[name], want[name]
        assert sorted(x.columns) == sorted(y.columns), f"{name}: {list(x.columns)}"
        keys = [k for k in KEYS if k in y.columns]
        x = x.sort_values(keys).reset_index(drop=True)[list(y.columns)]
        y = y.sort_values(keys).reset_index(drop=True)
        pd.testing.assert_frame_equal(x, y, obj=name)
