"""Test helpers for brush masks: an RLE writer and the official SDK's decoder as reference.

``encode`` writes Label Studio's brush RLE (thi.ng rle-pack) from the format's description
with the choices the frontend's encoder makes (repeat runs for repeated values, literal
chunks of up to 2**16 words for the rest), with any word size and run-field sizes, so the
decoder sees streams unlike the SDK's own encoder (which writes one literal word per run).

``sdk_decode`` runs ``label_studio_sdk.converter.brush.decode_rle`` in the Label Studio
environment (``.venv-labelstudio``, its own pins) in a subprocess and returns the alpha
channel, or the name of the exception it raised.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from tests.needs import missing

REPO = Path(__file__).resolve().parent.parent
LS_PYTHON = REPO / ".venv-labelstudio" / "bin" / "python"


class _Bits:
    def __init__(self) -> None:
        self.parts: list[str] = []

    def write(self, value: int, bits: int) -> None:
        assert 0 <= value < (1 << bits), (value, bits)
        self.parts.append(format(value, f"0{bits}b"))

    def to_list(self) -> list[int]:
        text = "".join(self.parts)
        text += "0" * (-len(text) % 8)
        return [int(text[k : k + 8], 2) for k in range(0, len(text), 8)]


def encode(
    values: Any,
    word_size: int = 8,
    sizes: tuple[int, int, int, int] = (3, 4, 8, 16),
    min_repeat: int = 2,
) -> list[int]:
    """Brush RLE of a flat sequence of values (``min_repeat``: shortest repeat run)."""
    values = [int(v) for v in np.asarray(values).ravel()]
    out = _Bits()
    out.write(len(values), 32)
    out.write(word_size - 1, 5)
    for s in sizes:
        out.write(s - 1, 4)
    longest = 1 << max(sizes)

    def header(flag: int, n: int) -> None:
        index = next(k for k, s in enumerate(sizes) if n - 1 < (1 << s))
        out.write(flag, 1)
        out.write(index, 2)
        out.write(n - 1, sizes[index])

    chunk: list[int] = []

    def flush() -> None:
        while chunk:
            part = chunk[:longest]
            del chunk[:longest]
            header(0, len(part))
            for v in part:
                out.write(v, word_size)

    k = 0
    while k < len(values):
        run = 1
        while k + run < len(values) and values[k + run] == values[k] and run < longest:
            run += 1
        if run >= min_repeat:
            flush()
            header(1, run)
            out.write(values[k], word_size)
        else:
            chunk.extend(values[k : k + run])
        k += run
    flush()
    return out.to_list()


def rgba(alpha: np.ndarray, *, grey: bool = True) -> np.ndarray:
    """The RGBA bytes a frontend encodes for this alpha: grey = alpha (the current
    encoder) or a fixed colour where painted (the legacy one)."""
    out = np.zeros((*alpha.shape, 4), dtype=np.uint8)
    out[..., 3] = alpha
    if grey:
        out[..., :3] = alpha[..., None]
    else:
        out[alpha > 0, :3] = (255, 64, 0)
    return out.ravel()


_SCRIPT = """
import json, sys
import numpy as np
from label_studio_sdk.converter.brush import decode_rle
cases = json.load(open(sys.argv[1]))
out = {}
errors = {}
for k, (rle, h, w) in enumerate(cases):
    try:
        out[f"m{k}"] = decode_rle(rle).reshape(h, w, 4)[:, :, 3]
    except Exception as exc:
        errors[k] = type(exc).__name__
np.savez(sys.argv[2], **out)
json.dump(errors, open(sys.argv[3], "w"))
"""


def sdk_decode(cases: list[tuple[list[int], int, int]]) -> list[Any]:
    """The SDK's masks for ``(rle, height, width)`` cases; an exception's class name where
    the SDK raised. Fails (or skips outside ``make test``) without the Label Studio venv."""
    if not LS_PYTHON.exists():
        missing(f"the Label Studio environment ({LS_PYTHON})")
    with tempfile.TemporaryDirectory() as tmp:
        src, npz, err = (os.path.join(tmp, n) for n in ("in.json", "out.npz", "err.json"))
        with open(src, "w") as f:
            json.dump(cases, f)
        done = subprocess.run(
            [str(LS_PYTHON), "-c", _SCRIPT, src, npz, err],
            capture_output=True,
            text=True,
            timeout=600,
        )
        if "No module named 'label_studio_sdk'" in done.stderr:
            missing("label_studio_sdk in the Label Studio environment")
        assert done.returncode == 0, done.stderr[-2000:]
        with np.load(npz) as got, open(err) as f:
            errors = {int(k): v for k, v in json.load(f).items()}
            return [errors[k] if k in errors else got[f"m{k}"] for k in range(len(cases))]
