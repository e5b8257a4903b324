"""Video track interpolation: the server's own function against ``interpolate_tracks``.

One ``videorectangle`` region over a 10,000-frame video: a keyframe every 100 frames (every
fifth disabled, rotation and time moving). The server side calls the function Label Studio
runs for ``interpolate_key_frames=True`` (``extract_key_frames`` from label-studio-sdk) in
the Label Studio venv; ls_frames reads the same region from a regions table. Both time
themselves inside their process (CPU time, ``time.process_time``: the machine may be
shared; best of ``--repeat``) and report ``ru_maxrss``; the
frames they write are compared (count and a checksum of frame, x, y, width, height,
rotation, time), and a mismatch fails the benchmark.

A second table shows bounded memory on a long video (``--long`` frames, default
1,000,000): ``interpolate_tracks`` (the whole table) against ``iter_tracks(chunk_rows=
100_000)`` consumed chunk by chunk, each in a fresh process.

    python benchmarks/bench_tracks.py [--frames 10000] [--long 1000000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
LS_PYTHON = ROOT / ".venv-labelstudio" / "bin" / "python"

COMMON = """
import hashlib, json, resource, sys, time
value = json.load(open(sys.argv[1]))
repeat = int(sys.argv[2])

def digest(rows):
    h = hashlib.sha256()
    for r in rows:
        h.update(repr(tuple(round(float(v), 9) for v in r)).encode())
    return h.hexdigest()
"""
SERVER = (
    COMMON
    + """
from label_studio_sdk._extensions.label_studio_tools.postprocessing.video import extract_key_frames
result = {"id": "r", "type": "videorectangle", "from_name": "box", "to_name": "video", "value": value}
times = []
for _ in range(repeat):
    t = time.process_time()
    [out] = extract_key_frames([result])
    times.append(time.process_time() - t)
seq = out["value"]["sequence"]
rows = [(s["frame"], s["x"], s["y"], s["width"], s["height"], s["rotation"], s["time"]) for s in seq]
print(json.dumps({"seconds": min(times), "rows": len(rows), "sha": digest(rows),
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""
)
OURS = (
    COMMON
    + """
import pandas as pd
from ls_frames.geometry.tracks import interpolate_tracks
regions = pd.DataFrame({"task_id": [1], "source": ["annotation"], "source_id": [1],
                        "region_id": ["r"], "from_name": ["box"], "type": ["videorectangle"],
                        "value_json": [json.dumps(value)]})
times = []
for _ in range(repeat):
    t = time.process_time()
    table = interpolate_tracks(regions)
    times.append(time.process_time() - t)
cols = ["frame", "x", "y", "width", "height", "rotation", "time"]
rows = list(table[cols].itertuples(index=False))
print(json.dumps({"seconds": min(times), "rows": len(rows), "sha": digest(rows),
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""
)
LONG = (
    COMMON
    + """
import pandas as pd
from ls_frames.geometry.tracks import interpolate_tracks, iter_tracks
regions = pd.DataFrame({"task_id": [1], "source": ["annotation"], "source_id": [1],
                        "region_id": ["r"], "from_name": ["box"], "type": ["videorectangle"],
                        "value_json": [json.dumps(value)]})
t = time.process_time()
if sys.argv[3] == "whole":
    rows = len(interpolate_tracks(regions))
else:
    rows = sum(len(chunk) for chunk in iter_tracks(regions, chunk_rows=100_000))
seconds = time.process_time() - t
print(json.dumps({"seconds": seconds, "rows": rows,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""
)


def track(frames: int) -> dict[str, Any]:
    """A keyframe every 100 frames (every fifth disabled) over ``frames`` frames."""
    seq = []
    for k, frame in enumerate(range(1, frames, 100)):
        seq.append(
            {
                "frame": frame,
                "enabled": k % 5 != 4,
                "x": 10 + (k * 7) % 60,
                "y": 20 + (k * 3) % 50,
                "width": 10 + k % 7,
                "height": 15.5,
                "rotation": (k * 13) % 360,
                "time": round((frame - 1) / 25, 2),
            }
        )
    return {"framesCount": frames, "duration": frames / 25, "sequence": seq, "labels": ["car"]}


def _run(python: Path, code: str, *args: str) -> dict[str, Any]:
    done = subprocess.run(
        [str(python), "-c", code, *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    if done.returncode:
        raise SystemExit(done.stderr[-3000:])
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=10_000)
    parser.add_argument("--long", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if not LS_PYTHON.exists():
        print(f"{LS_PYTHON} is missing (make install)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        path, long_path = os.path.join(tmp, "track.json"), os.path.join(tmp, "long.json")
        with open(path, "w") as f:
            json.dump(track(args.frames), f)
        with open(long_path, "w") as f:
            json.dump(track(args.long), f)
        print(f"load average {os.getloadavg()[0]:.2f}", file=sys.stderr)
        server = _run(LS_PYTHON, SERVER, path, str(args.repeat))
        ours = _run(Path(sys.executable), OURS, path, str(args.repeat))
        whole = _run(Path(sys.executable), LONG, long_path, "1", "whole")
        chunks = _run(Path(sys.executable), LONG, long_path, "1", "chunks")
    same = server["sha"] == ours["sha"] and server["rows"] == ours["rows"]
    print(
        f"{args.frames:,}-frame track, {len(track(args.frames)['sequence'])} keyframes "
        f"(best of {args.repeat})\n"
    )
    print("| side | rows | CPU seconds | peak RSS MB |")
    print("|---|---:|---:|---:|")
    print(
        f"| server's extract_key_frames | {server['rows']:,} | {server['seconds']:.4f} "
        f"| {server['peak_rss_mb']:.0f} |"
    )
    print(
        f"| ls_frames interpolate_tracks | {ours['rows']:,} | {ours['seconds']:.4f} "
        f"| {ours['peak_rss_mb']:.0f} |"
    )
    print(
        f"\nspeed-up {server['seconds'] / ours['seconds']:.1f}x; "
        f"frames and values {'identical' if same else 'DIFFERENT'}\n"
    )
    print(f"{args.long:,}-frame track, one process each\n")
    print("| ls_frames | rows | CPU seconds | peak RSS MB |")
    print("|---|---:|---:|---:|")
    print(
        f"| interpolate_tracks (whole table) | {whole['rows']:,} | {whole['seconds']:.2f} "
        f"| {whole['peak_rss_mb']:.0f} |"
    )
    print(
        f"| iter_tracks(chunk_rows=100_000) | {chunks['rows']:,} | {chunks['seconds']:.2f} "
        f"| {chunks['peak_rss_mb']:.0f} |"
    )
    return 0 if same and whole["rows"] == chunks["rows"] else 1


if __name__ == "__main__":
    sys.exit(main())
