"""``interpolate_tracks`` / ``iter_tracks`` against the server's own interpolation.

Random keyframe sequences (disabled keyframes, rotation, gaps, ties, unsorted input, equal
times, a missing ``duration``) are interpolated by the function the server calls
(``extract_key_frames`` from label-studio-sdk, run in the Label Studio venv) and by
ls_frames; every frame and value must be equal. The real server's export is compared in
tests/test_server_tracks.py.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from typing import Any

import numpy as np
import pandas as pd
import pytest

from ls_frames.errors import RegionError
from ls_frames.geometry.tracks import interpolate_tracks, iter_tracks, round2
from tests.brush_reference import LS_PYTHON
from tests.needs import missing

_SCRIPT = """
import json, sys
from label_studio_sdk._extensions.label_studio_tools.postprocessing.video import extract_key_frames
results = json.load(open(sys.argv[1]))
json.dump(extract_key_frames(results), open(sys.argv[2], "w"))
"""


def server_interpolation(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The server's ``extract_key_frames`` over these result items (its own venv)."""
    if not LS_PYTHON.exists():
        missing(f"the Label Studio environment ({LS_PYTHON})")
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = f"{tmp}/in.json", f"{tmp}/out.json"
        with open(src, "w") as f:
            json.dump(results, f)
        done = subprocess.run(
            [str(LS_PYTHON), "-c", _SCRIPT, src, dst], capture_output=True, text=True, timeout=600
        )
        assert done.returncode == 0, done.stderr[-2000:]
        with open(dst) as f:
            out: list[dict[str, Any]] = json.load(f)
            return out


def random_sequence(rng: np.random.Generator) -> dict[str, Any]:
    n = int(rng.integers(1, 7))
    frames = sorted(int(f) for f in rng.choice(np.arange(1, 60), n, replace=False))
    if n > 2 and rng.random() < 0.2:
        frames[1] = frames[2]  # a tie
    seq = []
    for f in frames:
        same = rng.random() < 0.3
        seq.append(
            {
                "frame": f,
                "enabled": bool(rng.random() < 0.7),
                "x": 10.0 if same else float(rng.uniform(0, 90)),
                "y": float(rng.uniform(0, 90)),
                "width": float(rng.uniform(1, 50)),
                "height": 20 if same else float(rng.uniform(1, 50)),
                "rotation": 0 if same else float(rng.uniform(-180, 360)),
                "time": 1.0 if same else round(f / 25, 3),
            }
        )
    if rng.random() < 0.5:
        rng.shuffle(seq)
    value: dict[str, Any] = {"sequence": seq, "labels": ["car"]}
    if rng.random() < 0.85:
        value["framesCount"] = int(rng.integers(max(frames) - 3, 90))
    if rng.random() < 0.8:
        value["duration"] = float(rng.uniform(2, 4))
    return value


def regions_table(values: list[dict[str, Any]]) -> pd.DataFrame:
    n = len(values)
    table: pd.DataFrame = pd.DataFrame(
        {
            "task_id": pd.array([1 + k // 3 for k in range(n)], dtype="Int64"),
            "source": pd.array(["annotation"] * n, dtype="string"),
            "source_id": pd.array([7] * n, dtype="Int64"),
            "region_id": pd.array([f"r{k}" for k in range(n)], dtype="string"),
            "from_name": pd.array(["box"] * n, dtype="string"),
            "type": pd.array(["videorectangle"] * n, dtype="string"),
            "value_json": pd.array([json.dumps(v) for v in values], dtype="string"),
        }
    )
    return table


def expected_rows(result: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [
        (
            s["frame"],
            s["x"],
            s["y"],
            s["width"],
            s["height"],
            s["rotation"],
            s["time"],
            bool(s["enabled"]),
            not s.get("auto", False),
        )
        for s in result["value"]["sequence"]
    ]


def rows_of(table: pd.DataFrame, region_id: str) -> list[tuple[Any, ...]]:
    part = table[table["region_id"] == region_id]
    cols = ["frame", "x", "y", "width", "height", "rotation", "time", "enabled", "keyframe"]
    return [
        (int(r[0]), *map(float, r[1:7]), bool(r[7]), bool(r[8]))
        for r in part[cols].itertuples(index=False)
    ]


def test_random_tracks_equal_the_servers_function() -> None:
    rng = np.random.default_rng(3)
    values = [random_sequence(rng) for _ in range(400)]
    results = [
        {
            "id": f"r{k}",
            "type": "videorectangle",
            "from_name": "box",
            "to_name": "video",
            "value": v,
        }
        for k, v in enumerate(values)
    ]
    reference = server_interpolation(results)
    table = interpolate_tracks(regions_table(values))
    assert table["frame"].dtype == np.int64 and table["x"].dtype == np.float64
    for result in reference:
        assert rows_of(table, result["id"]) == expected_rows(result), result["id"]
    assert len(table) == sum(len(r["value"]["sequence"]) for r in reference)


def test_chunks_are_the_same_rows_in_bounded_pieces() -> None:
    rng = np.random.default_rng(4)
    values = [random_sequence(rng) for _ in range(50)]
    values.append(
        {
            "framesCount": 5000,
            "duration": 200.0,
            "sequence": [
                {
                    "frame": 1,
                    "enabled": True,
                    "x": 0,
                    "y": 0,
                    "width": 10,
                    "height": 10,
                    "rotation": 0,
                    "time": 0.04,
                },
                {
                    "frame": 4000,
                    "enabled": True,
                    "x": 50,
                    "y": 5,
                    "width": 10,
                    "height": 30,
                    "rotation": 90,
                    "time": 160.0,
                },
            ],
        }
    )
    regions = regions_table(values)
    whole = interpolate_tracks(regions)
    chunks = list(iter_tracks(regions, chunk_rows=777))
    assert all(len(c) <= 777 for c in chunks) and all(len(c) for c in chunks)
    assert sum(len(c) == 777 for c in chunks) == len(chunks) - 1
    pd.testing.assert_frame_equal(pd.concat(chunks, ignore_index=True), whole)
    assert len(whole[whole["region_id"] == "r50"]) == 5000


def test_other_regions_are_passed_over_and_empty_input_is_typed() -> None:
    regions = regions_table(
        [
            {
                "framesCount": 3,
                "sequence": [
                    {
                        "frame": 2,
                        "enabled": True,
                        "x": 1,
                        "y": 2,
                        "width": 3,
                        "height": 4,
                        "rotation": 0,
                        "time": 0,
                    }
                ],
            }
        ]
    )
    boxes = regions.assign(type=pd.array(["rectanglelabels"], dtype="string"))
    both = pd.concat([regions, boxes], ignore_index=True)
    assert interpolate_tracks(both)["frame"].tolist() == [2, 3]
    empty = interpolate_tracks(boxes)
    assert len(empty) == 0 and empty["frame"].dtype == np.int64
    assert str(empty["task_id"].dtype) == "Int64"
    assert list(empty.columns) == list(interpolate_tracks(regions).columns)


def test_keyframe_without_a_needed_key_names_the_region() -> None:
    bad = regions_table([{"framesCount": 3, "sequence": [{"frame": 1, "enabled": True}]}])
    with pytest.raises(RegionError, match=r"region task_id=1, source=annotation.*region_id=r0"):
        interpolate_tracks(bad)
    with pytest.raises(RegionError, match="not JSON"):
        interpolate_tracks(bad.assign(value_json=pd.array(["{"], dtype="string")))


def test_round2_is_pythons_round() -> None:
    rng = np.random.default_rng(9)
    values = np.concatenate(
        [
            rng.uniform(-1e3, 1e3, 200_000),
            rng.uniform(0, 10, 100_000).round(3),
            np.arange(-2000, 2000) / 1000 + 0.005,
            [0.125, 2.675, 1.005, -0.005, 0.0, -0.0],
            [np.inf, -np.inf, 1e300, 5e-324],
        ]
    )
    got = round2(values)
    want = np.array([round(v, 2) for v in values.tolist()])
    np.testing.assert_array_equal(got, want)
    assert np.isnan(round2(np.array([np.nan]))).all()
