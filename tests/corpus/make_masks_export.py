"""Write ``label-studio-1.23.2/masks_export.json``: a real server's export of brush,
polygon, rectangle and ellipse regions.

Run once against a Label Studio 1.23.2 (``source /work/ls-shared/server.env`` or any
server: ``LS_FRAMES_TEST_URL`` and ``LS_FRAMES_TEST_LEGACY_TOKEN``)::

    PYTHONPATH=. .venv/bin/python tests/corpus/make_masks_export.py

Brush RLE comes from three writers: the official SDK's ``mask2rle`` (run in
``.venv-labelstudio``), and ``tests.brush_reference.encode`` the way the current frontend
writes it (grey: every channel = alpha) and the legacy one (a colour where painted), with
literal chunks. The server stores and exports it; the file is the snapshot as downloaded.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import numpy as np

from ls_frames.testing.seed import auth_headers
from tests.brush_reference import LS_PYTHON, encode, rgba

OUT = Path(__file__).parent / "label-studio-1.23.2" / "masks_export.json"
CONFIG = """<View>
  <Image name="image" value="$image"/>
  <BrushLabels name="mask" toName="image"><Label value="sky"/><Label value="road"/></BrushLabels>
  <PolygonLabels name="poly" toName="image"><Label value="lake"/></PolygonLabels>
  <RectangleLabels name="box" toName="image"><Label value="car"/></RectangleLabels>
  <EllipseLabels name="oval" toName="image"><Label value="ball"/></EllipseLabels>
</View>"""


def _alpha(rng: np.random.Generator, h: int, w: int, *, soft: bool) -> np.ndarray:
    yy, xx = np.mgrid[:h, :w]
    a = np.zeros((h, w), np.uint8)
    for _ in range(int(rng.integers(1, 5))):
        cx, cy, r = rng.integers(0, w), rng.integers(0, h), rng.integers(3, max(4, h // 2))
        a[(xx - cx) ** 2 + (yy - cy) ** 2 < r * r] = 255
    a[rng.random((h, w)) < 0.01] = 255
    if soft:  # anti-aliased edges: some pixels partly painted
        edge = (a == 255) & (rng.random((h, w)) < 0.1)
        a[edge] = rng.integers(1, 255, int(edge.sum()))
    return a


def _sdk_rle(alphas: list[np.ndarray]) -> list[list[int]]:
    script = (
        "import json,sys,numpy as np\nfrom label_studio_sdk.converter.brush import mask2rle\n"
        "masks=json.load(sys.stdin)\n"
        "print(json.dumps([mask2rle(np.array(m,dtype=np.uint8)) for m in masks]))"
    )
    done = subprocess.run(
        [str(LS_PYTHON), "-c", script],
        input=json.dumps([a.tolist() for a in alphas]),
        capture_output=True,
        text=True,
        check=True,
    )
    rles: list[list[int]] = json.loads(done.stdout)
    return rles


def main() -> None:
    rng = np.random.default_rng(11)
    sizes = [(64, 96), (100, 150), (120, 200), (33, 47)]
    alphas = [_alpha(rng, h, w, soft=k % 2 == 1) for k, (h, w) in enumerate(sizes)]
    sdk = _sdk_rle(alphas)
    tasks = []
    for k, ((h, w), a) in enumerate(zip(sizes, alphas, strict=True)):
        img = {"original_width": w, "original_height": h, "image_rotation": 0}
        rles = [
            ("sdk", sdk[k]),
            ("grey", encode(rgba(a, grey=True))),
            ("colour", encode(rgba(a, grey=False), min_repeat=3)),
        ]
        result = [
            {
                "id": f"b{k}{name}",
                "from_name": "mask",
                "to_name": "image",
                "type": "brushlabels",
                **img,
                "value": {"format": "rle", "rle": rle, "brushlabels": ["sky"]},
            }
            for name, rle in rles
        ]
        pts = (rng.random((int(rng.integers(3, 9)), 2)) * 100).round(3).tolist()
        result.append(
            {
                "id": f"p{k}",
                "from_name": "poly",
                "to_name": "image",
                "type": "polygonlabels",
                **img,
                "value": {"points": pts, "closed": True, "polygonlabels": ["lake"]},
            }
        )
        result.append(
            {
                "id": f"r{k}",
                "from_name": "box",
                "to_name": "image",
                "type": "rectanglelabels",
                **img,
                "value": {
                    "x": 20.0 + k,
                    "y": 15.5,
                    "width": 40.0,
                    "height": 30.25,
                    "rotation": [0, 30, 135.5, 290][k],
                    "rectanglelabels": ["car"],
                },
            }
        )
        result.append(
            {
                "id": f"e{k}",
                "from_name": "oval",
                "to_name": "image",
                "type": "ellipselabels",
                **img,
                "value": {
                    "x": 50.0,
                    "y": 45.0 + k,
                    "radiusX": 20.0,
                    "radiusY": 12.5,
                    "rotation": [0, 45, 100, 333][k],
                    "ellipselabels": ["ball"],
                },
            }
        )
        ann = {"result": result, "was_cancelled": False, "ground_truth": False}
        pred = {"model_version": "m1", "score": 0.5, "result": result[:1]}
        tasks.append(
            {"data": {"image": f"/static/{k}.png"}, "annotations": [ann], "predictions": [pred]}
        )
    url = os.environ["LS_FRAMES_TEST_URL"]
    headers = auth_headers(url, os.environ["LS_FRAMES_TEST_LEGACY_TOKEN"])
    with httpx.Client(base_url=url, headers=headers, timeout=120) as http:
        pid = http.post(
            "/api/projects", json={"title": "ls_frames masks corpus", "label_config": CONFIG}
        ).json()["id"]
        http.post(f"/api/projects/{pid}/import", json=tasks).raise_for_status()
        body = {
            "title": "masks",
            "serialization_options": {
                "predictions": {"only_id": False},
                "annotations__completed_by": {"only_id": False},
            },
        }
        export = http.post(f"/api/projects/{pid}/exports/", json=body).json()
        raw = http.get(
            f"/api/projects/{pid}/exports/{export['id']}/download", params={"exportType": "JSON"}
        )
        raw.raise_for_status()
    OUT.write_bytes(raw.content)
    print(f"project {pid}: {len(raw.content)} bytes -> {OUT}", file=sys.stderr)


if __name__ == "__main__":
    main()
