"""``interpolate_tracks`` frame for frame against a real server's interpolated export.

A video project is seeded with several regions per annotation (disabled keyframes that end
and restart a box, rotation, long gaps, equal times, a box running to the last frame); one
snapshot is made without and one with ``interpolate_key_frames=True``. The tracks computed
from the first must be every frame and value the server wrote in the second.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import numpy as np
import pytest

import ls_frames
from tests.test_server_exports import VIDEO, _create, http  # noqa: F401 (fixture)
from tests.test_tables_tracks import expected_rows, random_sequence, rows_of

pytestmark = pytest.mark.server


def _kf(
    frame: int, enabled: bool, x: float, y: float, w: float, h: float, rot: float, time: float
) -> dict[str, Any]:
    return {
        "frame": frame,
        "enabled": enabled,
        "x": x,
        "y": y,
        "width": w,
        "height": h,
        "rotation": rot,
        "time": time,
    }


HAND_MADE = [
    # on, off (the box disappears), on again with a rotation, running to the end
    [
        _kf(1, True, 10, 10, 20, 20, 0, 0.04),
        _kf(12, False, 30.5, 14, 20, 25, 15, 0.48),
        _kf(40, True, 60, 50, 10, 10, 350, 1.6),
        _kf(75, True, 61.25, 40, 12, 9, 10, 3.0),
    ],
    # a long gap with equal times (the server runs time towards the duration)
    [_kf(3, True, 5, 5, 5, 5, 45, 1.0), _kf(97, True, 80, 70, 15, 5, 45, 1.0)],
    # a single disabled keyframe, and a keyframe past the last frame
    [_kf(50, False, 1, 2, 3, 4, 5, 2.0)],
    [_kf(90, True, 1, 2, 3, 4, 5, 3.6), _kf(130, True, 9, 9, 9, 9, 9, 5.2)],
]


def _results(k: int, sequences: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    return [
        {
            "id": f"t{k}_{j}",
            "from_name": "box",
            "to_name": "video",
            "type": "videorectangle",
            "value": {
                "framesCount": 100,
                "duration": 4.0,
                "sequence": seq,
                "labels": ["car" if j % 2 else "bus"],
            },
        }
        for j, seq in enumerate(sequences)
    ]


@pytest.fixture(scope="module")
def video_project(http: httpx.Client) -> dict[str, Any]:  # noqa: F811
    rng = np.random.default_rng(21)
    randoms = []
    for _ in range(12):
        value = random_sequence(rng)
        randoms.append(value["sequence"])
    tasks = [
        {
            "data": {"video": "/static/v.mp4"},
            "annotations": [
                {"result": _results(k, group), "was_cancelled": False, "ground_truth": False}
            ],
        }
        for k, group in enumerate([HAND_MADE, randoms[:6], randoms[6:]])
    ]
    return _create(http, "video tracks", VIDEO, tasks)


def _export(
    label_studio: Any, project: dict[str, Any], tmp_path: Any, interpolate: bool
) -> ls_frames.Frames:
    serialization = ls_frames.Serialization(interpolate_key_frames=interpolate)
    with ls_frames.Client(label_studio.url, label_studio.legacy_token) as client:
        export = client.create_export(project["project_id"], serialization=serialization)
        folder = tmp_path / ("on" if interpolate else "off")
        folder.mkdir()
        path = export.wait(timeout=120, progress=False).download(folder, progress=False)
    return ls_frames.read_export(path, label_config=VIDEO, progress=False)


def test_tracks_equal_the_servers_interpolated_export(
    label_studio: Any, video_project: dict[str, Any], tmp_path: Any
) -> None:
    plain = _export(label_studio, video_project, tmp_path, interpolate=False)
    served = _export(label_studio, video_project, tmp_path, interpolate=True)
    table = ls_frames.interpolate_tracks(plain.regions)
    server = served.regions[served.regions["type"] == "videorectangle"]
    assert len(server) == len(HAND_MADE) + 12  # every region, none dropped
    compared = 0
    for row in server.itertuples():
        value = json.loads(row.value_json)
        want = expected_rows({"value": value})
        assert rows_of(table, row.region_id) == want, row.region_id
        compared += len(want)
    assert compared == len(table) > 500
    assert table["label"].dtype.name == "category"
    assert set(table["label"].astype(str)) == {"car", "bus"}
    # the keys are the plain export's: the same region ids and sources
    assert set(table["region_id"]) == set(plain.regions["region_id"])
