"""Flattening benchmark: the user's path today against ls_frames.

Each side runs in a fresh subprocess; wall time is measured around it, and CPU time (user +
system, the side and its workers, from ``RUSAGE_CHILDREN``): on a shared machine the CPU
ratio is the steadier comparison, the wall ratio the one a user sees. Memory is shown
two ways: ``peak RSS`` is the side's own ``ru_maxrss`` plus the largest of its workers'
(``RUSAGE_CHILDREN``), an upper bound because forked workers share the pages they inherit
with the main process; ``tree PSS`` is the peak, sampled every 250 ms from ``/proc``, of the
proportional set size summed over the side and its workers (shared pages counted once), the
memory the run really occupies (Linux only; ``-`` elsewhere). ls_frames runs once per
``--workers`` count (default 1 and 2). Every ls_frames side must find as many result items
(rows of ``regions`` plus ``relations``, of annotations, predictions and drafts) as the
baseline has rows, else the benchmark fails: a faster wrong answer cannot pass.

  baseline    json.load + pandas.json_normalize of the results of annotations, predictions
              and drafts (record_path=[source, "result"]) + DataFrame.to_parquet of each
              (result items only, the way a notebook does it today). The object columns
              are cast to str only when to_parquet refuses the frame as it is (the line
              says which were); on the generated export it takes them as they are
  to_parquet  ls_frames.tables.to_parquet: all six tables, streamed
  read_export ls_frames.tables.read_export: all six tables as pandas DataFrames

    python benchmarks/bench_flatten.py [PATH] [--size-mb 300] [--large-mb 1200] [--repeat 2]

Without PATH an export of ``--size-mb`` is generated (benchmarks/generate_export.py).
The 1-minute load average before each side is printed: compare rows of one run only.
``--large-mb`` also runs ``--large-sides`` (default to_parquet) on a larger export to show
that memory stays flat. A summary table ends the output; the exit status is 1 when a side's
item count differs from the baseline's.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
#: How often the tree's PSS is sampled. Reading ``smaps_rollup`` walks a process's page
#: tables under its memory-map lock, which its own allocations wait for; every 250 ms
#: keeps that small (no difference from 50 ms could be told apart from run-to-run noise).
PSS_EVERY = 0.25
ROOT = HERE.parent

SIDES = {
    "baseline": """
import json, pandas as pd
CAST = []
with open(PATH, encoding="utf-8") as fh:
    tasks = json.load(fh)
rows = 0
for source in ("annotations", "predictions", "drafts"):
    df = pd.json_normalize(
        tasks, record_path=[source, "result"],
        meta=["id", [source, "id"]], meta_prefix="task.", errors="ignore",
    )
    rows += len(df)
    try:
        df.to_parquet(f"{OUT}/{source}.parquet")
    except (ValueError, TypeError):  # pyarrow refused a mixed column: the user's fix
        df = df.astype({c: str for c in df.columns if df[c].dtype == object})
        df.to_parquet(f"{OUT}/{source}.parquet")
        CAST.append(source)
""",
    "to_parquet": """
from ls_frames.tables import to_parquet
to_parquet(PATH, OUT + "/dataset", progress=False, workers=WORKERS)
import glob, pyarrow.parquet as pq
rows = sum(pq.ParquetFile(f).metadata.num_rows
           for t in ("regions", "relations") for f in glob.glob(f"{OUT}/dataset/{t}/*.parquet"))
""",
    "read_export": """
from ls_frames.tables import read_export
frames = read_export(PATH, progress=False, workers=WORKERS)
for name in frames:
    frames[name]
rows = sum(len(frames[t]) for t in ("regions", "relations"))
""",
}

FOOTER = """
import resource, json as _j
own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print("RESULT " + _j.dumps({"rows": rows, "rss_mb": (own + kids) / 1024, "own_mb": own / 1024,
                            "kid_mb": kids / 1024, "cast": globals().get("CAST", [])}))
"""


def _children(pid: int) -> list[int]:
    try:
        kids: list[int] = []
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as fh:
                kids.extend(int(k) for k in fh.read().split())
        return kids
    except (OSError, ValueError):
        return []


def _tree_pss_kb(root: int) -> int | None:
    """PSS (kB) of ``root`` plus its descendants, from ``/proc`` (``None`` off Linux)."""
    if not os.path.exists(f"/proc/{root}/smaps_rollup"):
        return None
    tree, frontier = [root], [root]
    while frontier:
        frontier = [kid for pid in frontier for kid in _children(pid)]
        tree.extend(frontier)
    total = 0
    for pid in tree:
        try:
            with open(f"/proc/{pid}/smaps_rollup") as fh:
                for line in fh:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
                        break
        except OSError:
            continue
    return total


def run_side(side: str, path: Path, workers: int, root: Path = ROOT) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix=f"bench-{side}-") as out:
        code = f"PATH = {str(path)!r}\nOUT = {out!r}\nWORKERS = {workers}\n" + SIDES[side] + FOOTER
        env = dict(os.environ, PYTHONPATH=str(root), LS_FRAMES_DISABLE_PROGRESS_BARS="1")
        load = os.getloadavg()[0]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-c", code],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        peak_pss: list[int | None] = [0]
        done = threading.Event()

        def sample() -> None:
            while not done.wait(PSS_EVERY):
                kb = _tree_pss_kb(proc.pid)
                peak_pss[0] = None if kb is None or peak_pss[0] is None else max(peak_pss[0], kb)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        stdout, stderr = proc.communicate()
        wall = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        done.set()
        sampler.join()
    if proc.returncode != 0:
        raise RuntimeError(f"{side} failed:\n{stderr[-3000:]}")
    line = next(s for s in stdout.splitlines() if s.startswith("RESULT "))
    result: dict[str, float] = json.loads(line[len("RESULT ") :])
    size_mb = path.stat().st_size / 1e6
    pss = peak_pss[0]
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    result.update(
        wall_s=wall,
        cpu_s=cpu,
        mb_s=size_mb / wall,
        size_mb=size_mb,
        load=load,
        pss_mb=float("nan") if not pss else pss / 1024,
    )
    return result


def _generate(size_mb: float, directory: Path) -> Path:
    out = directory / f"export-{int(size_mb)}mb.json"
    if not out.exists():
        subprocess.run(
            [
                sys.executable,
                str(HERE / "generate_export.py"),
                "--size-mb",
                str(size_mb),
                "--out",
                str(out),
            ],
            check=True,
        )
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("path", nargs="?", type=Path)
    p.add_argument("--size-mb", type=float, default=300.0)
    p.add_argument(
        "--large-mb",
        type=float,
        default=0.0,
        help="also run --large-sides on an export of this size (flat memory)",
    )
    p.add_argument(
        "--large-sides",
        default="to_parquet",
        help="the ls_frames sides to run on the --large-mb export",
    )
    p.add_argument(
        "--workers",
        default="1,2",
        help="comma separated worker counts to run the ls_frames sides with",
    )
    p.add_argument("--sides", default="baseline,to_parquet,read_export")
    p.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="run every side N times, interleaved, and keep the median wall time "
        "(the largest RSS): use it on a busy machine",
    )
    p.add_argument(
        "--before",
        type=Path,
        default=None,
        help="a checkout of an earlier ls_frames: its sides run too (side@before), same run",
    )
    p.add_argument("--data-dir", type=Path, default=Path(tempfile.gettempdir()) / "ls_frames_bench")
    args = p.parse_args(argv)
    args.data_dir.mkdir(parents=True, exist_ok=True)
    path = args.path or _generate(args.size_mb, args.data_dir)
    workers = [int(w) for w in str(args.workers).split(",")]
    runs: list[tuple[str, int]] = []
    for side in args.sides.split(","):
        runs.extend([(side, 1)] if side == "baseline" else [(side, w) for w in workers])
        if args.before is not None and side != "baseline":
            runs.extend([(f"{side}@before", w) for w in workers])
    samples: dict[tuple[str, int], list[dict[str, float]]] = {run: [] for run in runs}
    for i in range(max(1, args.repeat)):
        for side, w in runs:
            root = args.before if side.endswith("@before") else ROOT
            samples[side, w].append(r := run_side(side.removesuffix("@before"), path, w, root))
            label = side if side == "baseline" else f"{side} w={w}"
            _print(label + (f" #{i + 1}" if args.repeat > 1 else ""), r)
    results = {run: _median(rs) for run, rs in samples.items()}
    table = [(side, w, r) for (side, w), r in results.items()]
    if args.large_mb:
        large = _generate(args.large_mb, args.data_dir)
        for side in args.large_sides.split(","):
            for w in workers:
                r = run_side(side, large, w)
                _print(f"{side} w={w}", r)
                table.append((side, w, r))
    return _summary(table, results.get(("baseline", 1)))


def _per_process(r: dict[str, float]) -> float:
    """The peak RSS of the largest single process of a side (main or one worker)."""
    return max(r["own_mb"], r.get("kid_mb", 0.0))


def _summary(table: list[tuple[str, int, dict[str, float]]], base: dict[str, float] | None) -> int:
    """Print the comparison table and the two ratios the performance goals name (one
    worker against the baseline, two workers against one, both from this run); 1 if a
    side found a different number of result items."""
    print()
    print(
        f"{'side':<18} {'w':>2} {'MB':>7} {'wall s':>7} {'MB/s':>6} {'vs base':>8} "
        f"{'CPU s':>7} {'CPU vs base':>11} {'RSS/proc':>9} {'tree PSS':>9} {'items':>9}  check"
    )
    failed = False
    for side, w, r in table:
        same = base is not None and side != "baseline" and r["size_mb"] == base["size_mb"]
        ratio = f"{base['wall_s'] / r['wall_s']:.1f}x" if base is not None and same else ""
        cpu_ratio = f"{base['cpu_s'] / r['cpu_s']:.1f}x" if base is not None and same else ""
        check = ""
        if base is not None and same:
            ok = int(r["rows"]) == int(base["rows"])
            failed |= not ok
            check = "same items" if ok else f"MISMATCH (baseline {int(base['rows']):,})"
        pss = "-" if r["pss_mb"] != r["pss_mb"] else f"{r['pss_mb']:.0f} MB"
        print(
            f"{side:<18} {w if side != 'baseline' else '':>2} {r['size_mb']:7.0f} "
            f"{r['wall_s']:7.2f} {r['mb_s']:6.1f} {ratio:>8} {r['cpu_s']:7.2f} {cpu_ratio:>11} "
            f"{_per_process(r):6.0f} MB {pss:>9} {int(r['rows']):>9,}  {check}"
        )
    if base is not None and base.get("cast"):
        print(f"baseline: to_parquet refused {base['cast']} as they were; cast to str there")
    by = {(side, w): r for side, w, r in table if base is None or r["size_mb"] == base["size_mb"]}
    print()
    for side in ("to_parquet@before", "to_parquet"):
        one, two = by.get((side, 1)), by.get((side, 2))
        if base is not None and one is not None:
            _goal(
                f"single core: {side} workers=1 vs baseline",
                base["wall_s"] / one["wall_s"],
                base["cpu_s"] / one["cpu_s"],
                9.0,
                _per_process(one),
            )
        if one is not None and two is not None:
            _goal(
                f"{side} workers=2 vs workers=1",
                one["wall_s"] / two["wall_s"],
                one["cpu_s"] / two["cpu_s"],
                1.6,
                _per_process(two),
            )
    return 1 if failed else 0


def _goal(name: str, wall: float, cpu: float, goal: float, rss: float) -> None:
    print(
        f"{name}: {wall:.2f}x wall (goal {goal}x), {cpu:.2f}x CPU time, "
        f"largest process {rss:.0f} MB (goal 300 MB)"
    )
    row = {"name": name, "ratio": round(wall, 2), "cpu_ratio": round(cpu, 2), "goal": goal}
    print("RESULT-ROW " + json.dumps({**row, "rss_mb": round(rss), "load": os.getloadavg()[0]}))


def _median(rs: list[dict[str, float]]) -> dict[str, float]:
    mid = sorted(rs, key=lambda r: r["wall_s"])[len(rs) // 2]
    cpu = sorted(r["cpu_s"] for r in rs)[len(rs) // 2]
    return {
        **mid,
        "cpu_s": cpu,
        "rss_mb": max(r["rss_mb"] for r in rs),
        "own_mb": max(r["own_mb"] for r in rs),
        "kid_mb": max(r.get("kid_mb", 0.0) for r in rs),
        "pss_mb": max(r["pss_mb"] for r in rs),
    }


def _print(label: str, r: dict[str, float]) -> None:
    print(
        f"{label:<16} {r['size_mb']:8.1f} MB  {r['wall_s']:7.2f} s  CPU {r['cpu_s']:7.2f} s  "
        f"{r['mb_s']:6.1f} MB/s  "
        f"peak RSS {r['rss_mb']:6.0f} MB (main {r['own_mb']:.0f} + largest worker "
        f"{r['rss_mb'] - r['own_mb']:.0f}), tree PSS {r['pss_mb']:.0f} MB  "
        f"result items {int(r['rows']):,}  "
        f"(load before: {r['load']:.2f})",
        flush=True,
    )


if __name__ == "__main__":
    sys.exit(main())
