"""Flattening benchmark: the user's path today against ls_frames.

Each side runs in a fresh subprocess; wall time is measured around it and the peak RSS is
the child's own ``ru_maxrss`` plus the largest of its workers (``RUSAGE_CHILDREN``, an upper
bound: forked workers share pages with the main process). ls_frames runs once per
``--workers`` count (default 1 and 2):

  baseline    json.load + pandas.json_normalize(record_path=["annotations", "result"]) +
              DataFrame.to_parquet (regions only, the way a notebook does it today)
  to_parquet  ls_frames.tables.to_parquet: all six tables, streamed
  read_export ls_frames.tables.read_export: all six tables as pandas DataFrames

    python benchmarks/bench_flatten.py [PATH] [--size-mb 300] [--large-mb 1200]

Without PATH an export of ``--size-mb`` is generated (benchmarks/generate_export.py).
The 1-minute load average before each side is printed: compare rows of one run only.
``--large-mb`` also runs to_parquet on a larger export to show that memory stays flat.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

SIDES = {
    "baseline": """
import json, pandas as pd
with open(PATH, encoding="utf-8") as fh:
    tasks = json.load(fh)
df = pd.json_normalize(
    tasks, record_path=["annotations", "result"],
    meta=["id", ["annotations", "id"], ["annotations", "was_cancelled"]],
    meta_prefix="task.", errors="ignore",
)
rows = len(df)
df = df.astype({c: str for c in df.columns if df[c].dtype == object})
df.to_parquet(OUT + "/baseline.parquet")
""",
    "to_parquet": """
from ls_frames.tables import to_parquet
to_parquet(PATH, OUT + "/dataset", progress=False, workers=WORKERS)
import json
manifest = json.load(open(OUT + "/dataset/_SUCCESS"))
rows = manifest["tables"]["regions"]["rows"]
""",
    "read_export": """
from ls_frames.tables import read_export
frames = read_export(PATH, progress=False, workers=WORKERS)
for name in frames:
    frames[name]
rows = len(frames.regions)
""",
}

FOOTER = """
import resource, json as _j
own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print("RESULT " + _j.dumps({"rows": rows, "rss_mb": (own + kids) / 1024, "own_mb": own / 1024}))
"""


def run_side(side: str, path: Path, workers: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix=f"bench-{side}-") as out:
        code = (
            f"PATH = {str(path)!r}\nOUT = {out!r}\nWORKERS = {workers}\n"
            + SIDES[side] + FOOTER
        )
        env = dict(os.environ, PYTHONPATH=str(ROOT), LS_FRAMES_DISABLE_PROGRESS_BARS="1")
        load = os.getloadavg()[0]
        t0 = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False
        )
        wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{side} failed:\n{proc.stderr[-3000:]}")
    line = next(s for s in proc.stdout.splitlines() if s.startswith("RESULT "))
    result = json.loads(line[len("RESULT "):])
    size_mb = path.stat().st_size / 1e6
    result.update(wall_s=wall, mb_s=size_mb / wall, size_mb=size_mb, load=load)
    return result


def _generate(size_mb: float, directory: Path) -> Path:
    out = directory / f"export-{int(size_mb)}mb.json"
    if not out.exists():
        subprocess.run(
            [sys.executable, str(HERE / "generate_export.py"), "--size-mb", str(size_mb),
             "--out", str(out)], check=True,
        )
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("path", nargs="?", type=Path)
    p.add_argument("--size-mb", type=float, default=300.0)
    p.add_argument("--large-mb", type=float, default=0.0,
                   help="also run to_parquet on an export of this size (flat memory)")
    p.add_argument("--workers", default="1,2",
                   help="comma separated worker counts to run the ls_frames sides with")
    p.add_argument("--sides", default="baseline,to_parquet,read_export")
    p.add_argument("--repeat", type=int, default=1,
                   help="run every side N times, interleaved, and keep the median wall time "
                        "(the largest RSS): use it on a busy machine")
    p.add_argument("--data-dir", type=Path, default=Path(tempfile.gettempdir()) / "ls_frames_bench")
    args = p.parse_args(argv)
    args.data_dir.mkdir(parents=True, exist_ok=True)
    path = args.path or _generate(args.size_mb, args.data_dir)
    workers = [int(w) for w in str(args.workers).split(",")]
    runs: list[tuple[str, int]] = []
    for side in args.sides.split(","):
        runs.extend([(side, 1)] if side == "baseline" else [(side, w) for w in workers])
    samples: dict[tuple[str, int], list[dict[str, float]]] = {run: [] for run in runs}
    for i in range(max(1, args.repeat)):
        for side, w in runs:
            samples[side, w].append(r := run_side(side, path, w))
            label = side if side == "baseline" else f"{side} w={w}"
            _print(label + (f" #{i + 1}" if args.repeat > 1 else ""), r)
    results = {run: _median(rs) for run, rs in samples.items()}
    if args.repeat > 1:
        print("medians:")
        for (side, w), r in results.items():
            _print(side if side == "baseline" else f"{side} w={w}", r)
    base = results.get(("baseline", 1))
    if base:
        for (side, w), r in results.items():
            if side != "baseline":
                print(f"{side} w={w} vs baseline: {base['wall_s'] / r['wall_s']:.1f}x faster, "
                      f"{base['rss_mb'] / r['rss_mb']:.1f}x less memory")
    if args.large_mb:
        large = _generate(args.large_mb, args.data_dir)
        for w in workers:
            _print(f"to_parquet w={w}", run_side("to_parquet", large, w))
    return 0


def _median(rs: list[dict[str, float]]) -> dict[str, float]:
    mid = sorted(rs, key=lambda r: r["wall_s"])[len(rs) // 2]
    return {**mid, "rss_mb": max(r["rss_mb"] for r in rs),
            "own_mb": max(r["own_mb"] for r in rs)}


def _print(label: str, r: dict[str, float]) -> None:
    print(f"{label:<16} {r['size_mb']:8.1f} MB  {r['wall_s']:7.2f} s  {r['mb_s']:6.1f} MB/s  "
          f"peak RSS {r['rss_mb']:6.0f} MB (main {r['own_mb']:.0f} + largest worker "
          f"{r['rss_mb'] - r['own_mb']:.0f})  regions {int(r['rows']):,}  "
          f"(load before: {r['load']:.2f})", flush=True)


if __name__ == "__main__":
    sys.exit(main())
