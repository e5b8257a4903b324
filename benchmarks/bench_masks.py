"""Brush mask decoding: the official SDK's decoder against ``ls_frames.tables.rle_to_mask``.

Three 1920x1080 masks, as Label Studio stores them (``value.rle``):

  blobs       20 painted discs, every channel = alpha (what the SDK's ``mask2rle`` and the
              current frontend write): long repeat runs
  soft        the same with anti-aliased edges (half the edge pixels partly painted)
  colour      the legacy frontend's colour where painted: literal chunks inside the shapes
              (written by tests/brush_reference.py's frontend-style encoder)

Each side runs in its own process and times itself around the decode, best of
``--repeat`` (the SDK decodes the colour mask once: about a minute): CPU time
(``time.process_time``, what the ratio is taken on: the machine may be shared) and wall
time (``time.perf_counter``, its ratio printed beside). The SDK side runs in the Label
Studio venv
(``decode_rle(rle).reshape(h, w, 4)[:, :, 3]``, what a user calls today), ls_frames in
this venv. ``peak RSS`` is the process's ``ru_maxrss`` (imports included). Both sides
hash their masks; a mismatch fails the benchmark. ``--baseline PATH`` (a checkout of
another ls_frames version) adds its ``rle_to_mask`` as a third side: before and after in
one run.

    python benchmarks/bench_masks.py [--repeat 3] [--baseline PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from _rows import result_row

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
LS_PYTHON = ROOT / ".venv-labelstudio" / "bin" / "python"
H, W = 1080, 1920

SIDE = """
import hashlib, json, resource, sys, time
import numpy as np
{imports}
cases = json.load(open(sys.argv[1]))
repeat = int(sys.argv[2])
out = {{}}
for name, rle in cases.items():
    cpu, wall = [], []
    for _ in range(repeat if len(rle) < 1_000_000 or {all_big} else 1):
        t, c = time.perf_counter(), time.process_time()
        mask = {decode}
        cpu.append(time.process_time() - c)
        wall.append(time.perf_counter() - t)
    out[name] = {{"cpu": min(cpu), "wall": min(wall),
                  "sha": hashlib.sha256(np.ascontiguousarray(mask)).hexdigest()}}
out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(out))
"""
SDK = SIDE.format(
    imports="from label_studio_sdk.converter.brush import decode_rle",
    decode=f"decode_rle(rle).reshape({H}, {W}, 4)[:, :, 3]",
    all_big=False,
)
OURS = SIDE.format(
    imports="from ls_frames.geometry.brush import rle_to_mask",
    decode=f"rle_to_mask(rle, {H}, {W})",
    all_big=True,
)


def _alphas() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:H, :W]
    blobs = np.zeros((H, W), np.uint8)
    for _ in range(20):
        cx, cy, r = rng.integers(0, W), rng.integers(0, H), rng.integers(20, 200)
        blobs[(xx - cx) ** 2 + (yy - cy) ** 2 < r * r] = 255
    soft = blobs.copy()
    inner = blobs == 255
    edge = inner & ~(
        np.roll(inner, 1, 0) & np.roll(inner, -1, 0) & np.roll(inner, 1, 1) & np.roll(inner, -1, 1)
    )
    pick = edge & (rng.random((H, W)) < 0.5)
    soft[pick] = rng.integers(1, 255, int(pick.sum()))
    return {"blobs": blobs, "soft": soft, "colour": blobs}


def _encode(alphas: dict[str, np.ndarray]) -> dict[str, list[int]]:
    script = (
        "import json, sys, numpy as np\n"
        "from label_studio_sdk.converter.brush import mask2rle\n"
        f"raw = sys.stdin.buffer.read(); n = {H * W}\n"
        f"masks = [np.frombuffer(raw[k * n:(k + 1) * n], np.uint8).reshape({H}, {W}) "
        "for k in range(len(raw) // n)]\n"
        "print(json.dumps([mask2rle(m) for m in masks]))"
    )
    grey = [alphas["blobs"], alphas["soft"]]
    done = subprocess.run(
        [str(LS_PYTHON), "-c", script],
        input=b"".join(a.tobytes() for a in grey),
        capture_output=True,
        check=True,
    )
    blobs, soft = json.loads(done.stdout)
    sys.path.insert(0, str(ROOT))
    from tests.brush_reference import encode, rgba

    colour = encode(rgba(alphas["colour"], grey=False), min_repeat=3)
    return {"blobs": blobs, "soft": soft, "colour": colour}


def _run(
    python: Path, code: str, path: str, repeat: int, tree: Path = ROOT
) -> dict[str, dict[str, float | str]]:
    done = subprocess.run(
        [str(python), "-c", code, path, str(repeat)],
        capture_output=True,
        text=True,
        check=True,
        cwd=tree,
        env={**os.environ, "PYTHONPATH": str(tree)},
    )
    result: dict[str, dict[str, float | str]] = json.loads(done.stdout)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--baseline", help="a checkout of another ls_frames to compare with")
    args = parser.parse_args()
    if not LS_PYTHON.exists():
        print(f"{LS_PYTHON} is missing (make install)", file=sys.stderr)
        return 2
    alphas = _alphas()
    cases = _encode(alphas)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "cases.json")
        with open(path, "w") as f:
            json.dump(cases, f)
        print(f"load average {os.getloadavg()[0]:.2f}", file=sys.stderr)
        sdk = _run(LS_PYTHON, SDK, path, args.repeat)
        ours = _run(Path(sys.executable), OURS, path, args.repeat)
        base = None
        if args.baseline:
            tree = Path(args.baseline).resolve()
            base = _run(Path(sys.executable), OURS, path, args.repeat, tree)
    ok = True
    print(
        f"1920x1080 brush masks: SDK decode_rle vs ls_frames rle_to_mask (best of "
        f"{args.repeat}; the SDK's colour mask once)\n"
    )
    extra = " | baseline CPU s | baseline speed-up (CPU)" if base else ""
    print(f"| mask | RLE bytes | SDK CPU s | ls_frames CPU s | speed-up (CPU) | (wall){extra} |")
    print("|---|---:|---:|---:|---:|---:|" + ("---:|---:|" if base else ""))
    for name, rle in cases.items():
        s, o = sdk[name], ours[name]
        same = s["sha"] == o["sha"] and (base is None or base[name]["sha"] == s["sha"])
        ok &= same
        cpu = float(s["cpu"]) / float(o["cpu"])
        wall = float(s["wall"]) / float(o["wall"])
        row = (
            f"| {name} | {len(rle):,} | {float(s['cpu']):.3f} | {float(o['cpu']):.4f} "
            f"| {cpu:.0f}x{'' if same else ' MISMATCH'} | {wall:.0f}x |"
        )
        if base:
            b = float(base[name]["cpu"])
            row += f" {b:.4f} | {float(s['cpu']) / b:.0f}x |"
        print(row)
        result_row(
            f"rle_to_mask vs the SDK's decode_rle, Full-HD {name} mask (CPU)",
            cpu,
            None if name == "colour" else 20.0,
            ours_ms=round(float(o["cpu"]) * 1e3, 1),
            sdk_ms=round(float(s["cpu"]) * 1e3, 1),
        )
    print(
        f"\npeak RSS: SDK process {sdk['peak_rss_mb']:.0f} MB, "
        f"ls_frames process {ours['peak_rss_mb']:.0f} MB"
        + (f", baseline process {base['peak_rss_mb']:.0f} MB" if base else "")
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
