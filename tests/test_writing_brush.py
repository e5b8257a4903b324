"""``mask_to_rle`` against the official encoder (``label_studio_sdk``'s ``mask2rle``, run in
the Label Studio venv): byte-equal streams on masks of several shapes and sizes (runs
longer than 2**16 values, exact multiples of it, a lone pixel, soft edges), and
``rle_to_mask(mask_to_rle(m)) == m``."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile

import numpy as np
import pytest

from ls_frames import mask_to_rle, rle_to_mask
from ls_frames.errors import RegionError
from tests.brush_reference import LS_PYTHON
from tests.needs import missing

_SCRIPT = """
import json, sys
import numpy as np
from label_studio_sdk.converter.brush import mask2rle
masks = json.load(open(sys.argv[1]))
json.dump([mask2rle(np.array(m, dtype=np.uint8)) for m in masks], open(sys.argv[2], "w"))
"""


def sdk_encode(masks: list[np.ndarray]) -> list[list[int]]:
    """The official encoder's RLE of each mask (uint8)."""
    if not LS_PYTHON.exists():
        missing(f"the Label Studio environment ({LS_PYTHON})")
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = os.path.join(tmp, "in.json"), os.path.join(tmp, "out.json")
        with open(src, "w") as f:
            json.dump([m.tolist() for m in masks], f)
        done = subprocess.run(
            [str(LS_PYTHON), "-c", _SCRIPT, src, dst], capture_output=True, text=True, timeout=600
        )
        if "No module named 'label_studio_sdk'" in done.stderr:
            missing("label_studio_sdk in the Label Studio environment")
        assert done.returncode == 0, done.stderr[-2000:]
        with open(dst) as f:
            out: list[list[int]] = json.load(f)
            return out


def _masks() -> list[np.ndarray]:
    rng = np.random.default_rng(20)
    masks = [
        (rng.random((h, w)) < p).astype(np.uint8) * 255
        for h, w, p in [(1, 1, 1.0), (4, 6, 0.3), (3, 7, 0.5), (64, 64, 0.1), (257, 300, 0.02)]
    ]
    masks.append(np.zeros((128, 128), np.uint8))  # exactly 2**16 values
    masks.append(np.zeros((256, 256), np.uint8))  # four runs of 2**16
    block = np.zeros((600, 500), np.uint8)
    block[100:200, 50:450] = 255  # runs of 200,000 values
    masks.append(block)
    masks.append(rng.integers(0, 256, (20, 30)).astype(np.uint8))  # soft edges: any alpha
    masks.append(np.full((1, 70_000), 255, np.uint8))
    return masks


def test_byte_equal_to_the_official_encoder() -> None:
    masks = _masks()
    for mask, want in zip(masks, sdk_encode(masks), strict=True):
        got = mask_to_rle(mask)
        assert got == want, mask.shape
        np.testing.assert_array_equal(rle_to_mask(got, *mask.shape), mask)


def test_booleans_are_painted_255() -> None:
    rng = np.random.default_rng(1)
    mask = rng.random((37, 53)) < 0.4
    rle = mask_to_rle(mask)
    assert rle == mask_to_rle(mask.astype(np.uint8) * 255)
    np.testing.assert_array_equal(rle_to_mask(rle, 37, 53), mask.astype(np.uint8) * 255)


@pytest.mark.parametrize(
    ("mask", "match"),
    [
        (np.zeros((2, 3, 4), np.uint8), "2-d"),
        (np.zeros((0, 3), np.uint8), "empty"),
        (np.full((2, 2), 256), "0-255"),
        (np.full((2, 2), -1), "0-255"),
        (np.zeros((2, 2), np.float32), "booleans or integers"),
    ],
)
def test_masks_it_refuses(mask: np.ndarray, match: str) -> None:
    with pytest.raises(RegionError, match=match):
        mask_to_rle(mask)


def test_a_large_noisy_mask() -> None:
    mask = np.random.default_rng(7).random((1500, 2000)) < 0.5  # about 1.5 million runs
    np.testing.assert_array_equal(rle_to_mask(mask_to_rle(mask), 1500, 2000), mask * 255)
