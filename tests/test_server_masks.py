"""Brush masks through a real server: seeded, exported, read and decoded by ls_frames.

The brush project of tests/test_server_exports.py's config gets real masks (written by the
SDK's ``mask2rle`` and by a frontend-style encoder, in annotations and a prediction); the
masks ``region_masks`` gives from the server's export must be the masks sent, equal to the
SDK's decoding of the exported RLE, and ``to_coco(segmentation=True)`` must decode (with
pycocotools) to the same pixels.
"""

from __future__ import annotations

import json
import subprocess
from typing import Any

import httpx
import numpy as np
import pytest

import ls_frames
from ls_frames.geometry.shapes import to_coco
from tests.brush_reference import LS_PYTHON, encode, rgba, sdk_decode
from tests.needs import missing
from tests.test_server_exports import _IMG, BRUSH, _create, http  # noqa: F401 (fixture)

pytestmark = [
    pytest.mark.server,
    pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning"),
]
H, W = _IMG["original_height"], _IMG["original_width"]


def _alpha(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:H, :W]
    a = np.zeros((H, W), np.uint8)
    for _ in range(3):
        cx, cy, r = rng.integers(0, W), rng.integers(0, H), rng.integers(20, 150)
        a[(xx - cx) ** 2 + (yy - cy) ** 2 < r * r] = 255
    edge = (a == 255) & (rng.random((H, W)) < 0.02)
    a[edge] = rng.integers(1, 255, int(edge.sum()))
    return a


def _sdk_rle(alpha: np.ndarray) -> list[int]:
    if not LS_PYTHON.exists():
        missing(f"the Label Studio environment ({LS_PYTHON})")
    script = (
        "import sys,json,numpy as np\nfrom label_studio_sdk.converter.brush import mask2rle\n"
        f"a=np.frombuffer(sys.stdin.buffer.read(),dtype=np.uint8).reshape({H},{W})\n"
        "print(json.dumps(mask2rle(a)))"
    )
    done = subprocess.run(
        [str(LS_PYTHON), "-c", script], input=alpha.tobytes(), capture_output=True, check=True
    )
    rle: list[int] = json.loads(done.stdout)
    return rle


def _brush(rid: str, rle: list[int], label: str) -> dict[str, Any]:
    return {
        "id": rid,
        "from_name": "mask",
        "to_name": "image",
        "type": "brushlabels",
        **_IMG,
        "value": {"format": "rle", "rle": rle, "brushlabels": [label]},
    }


@pytest.fixture(scope="module")
def brush_project(http: httpx.Client) -> dict[str, Any]:  # noqa: F811
    alphas = {f"m{k}": _alpha(k) for k in range(4)}
    rles = {
        "m0": _sdk_rle(alphas["m0"]),
        "m1": encode(rgba(alphas["m1"])),
        "m2": encode(rgba(alphas["m2"], grey=False), min_repeat=3),
        "m3": _sdk_rle(alphas["m3"]),
    }
    ann = {
        "result": [_brush("m0", rles["m0"], "sky"), _brush("m1", rles["m1"], "road")],
        "was_cancelled": False,
        "ground_truth": False,
    }
    tasks = [
        {
            "data": {"image": "/static/x.jpg"},
            "annotations": [ann],
            "predictions": [{"model_version": "m", "result": [_brush("m2", rles["m2"], "sky")]}],
        },
        {
            "data": {"image": "/static/y.jpg"},
            "annotations": [
                {
                    "result": [_brush("m3", rles["m3"], "road")],
                    "was_cancelled": False,
                    "ground_truth": False,
                }
            ],
        },
    ]
    project = _create(http, "brush masks", BRUSH, tasks)
    project["alphas"] = alphas
    return project


def test_masks_from_the_servers_export(
    label_studio: Any, brush_project: dict[str, Any], tmp_path: Any
) -> None:
    try:
        from pycocotools import mask as coco
    except ImportError:
        missing("pycocotools (test extra)")
    with ls_frames.Client(label_studio.url, label_studio.legacy_token) as client:
        export = client.create_export(brush_project["project_id"])
        path = export.wait(timeout=120, progress=False).download(tmp_path, progress=False)
    frames = ls_frames.read_export(path, label_config=BRUSH, progress=False)
    regions = frames.regions
    masks = list(ls_frames.region_masks(regions))
    assert sorted(m.region_id for m in masks) == ["m0", "m1", "m2", "m3"]
    assert {m.source for m in masks} == {"annotation", "prediction"}
    alphas = brush_project["alphas"]
    exported = [(json.loads(v)["rle"], H, W) for v in regions["value_json"]]
    sdk = sdk_decode(exported)
    for m, want in zip(masks, sdk, strict=True):
        np.testing.assert_array_equal(m.mask, alphas[m.region_id])
        np.testing.assert_array_equal(m.mask, want)
        assert str(m.label) in {"sky", "road"}
    segmentation = to_coco(regions, segmentation=True)["segmentation"]
    for m, seg in zip(masks, segmentation, strict=True):
        decoded = coco.decode({"size": seg["size"], "counts": seg["counts"].encode()})
        np.testing.assert_array_equal(decoded, alphas[m.region_id] > 0)
