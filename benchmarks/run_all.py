"""Run every benchmark and print one table (``make bench``).

The benchmarks that need no server always run; those that talk to Label Studio run when
one is given (``--server``, with ``LABEL_STUDIO_URL`` and ``LABEL_STUDIO_API_KEY`` set).
Each script runs in its own process; the table gives its exit status, wall time, peak RSS
(its largest single process, workers included: ``RUSAGE_CHILDREN``) and its result lines:
a script prints ``RESULT-ROW {json}`` lines (``name``, ``ratio``, ``goal``, ...) for the
figures it compares against what a user writes; for a script that prints none, the last
line of its output stands in. The full output of each goes to ``--log-dir``.

    python benchmarks/run_all.py [--server] [--only flatten,masks] [--log-dir DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

#: script -> (needs a server, arguments for a run of a few minutes at most)
BENCHMARKS: dict[str, tuple[bool, list[str]]] = {
    "flatten": (False, ["--sides", "baseline,to_parquet", "--workers", "1,2"]),
    "masks": (False, []),
    "tracks": (False, []),
    "agreement": (False, []),
    "analysis": (False, ["--no-baseline"]),
    "delta": (False, ["--tasks", "100000"]),
    "show": (False, ["--repeat", "10"]),
    "gallery": (False, ["--repeat", "2"]),
    "export": (True, []),
    "sync": (True, []),
    "media": (True, []),
    "import": (True, ["--predictions", "5000"]),
    "fail_fast": (True, []),
    "routes": (True, ["--seed", "2000", "--workers", "1", "2"]),
}


def run(name: str, args: list[str], log_dir: Path) -> dict[str, object]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, str(HERE / f"bench_{name}.py"), *args],
        capture_output=True,
        text=True,
        env=dict(os.environ, LS_FRAMES_DISABLE_PROGRESS_BARS="1"),
    )
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    (log_dir / f"bench_{name}.log").write_text(proc.stdout + "\n" + proc.stderr)
    rows = [
        json.loads(line[len("RESULT-ROW ") :])
        for line in proc.stdout.splitlines()
        if line.startswith("RESULT-ROW ")
    ]
    said = proc.stdout if proc.returncode == 0 else proc.stdout + "\n" + proc.stderr
    last = next((ln for ln in reversed(said.splitlines()) if ln.strip()), "")
    return {
        "name": name,
        "status": "ok" if proc.returncode == 0 else f"exit {proc.returncode}",
        "wall": wall,
        "cpu": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
        # ru_maxrss of the children: the largest process waited for so far
        "rss_mb": after.ru_maxrss / 1024,
        "load": load,
        "rows": rows,
        "last": last.strip()[:110],
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--server", action="store_true", help="also run the benchmarks that need one")
    p.add_argument("--only", default="", help="comma separated names (flatten, masks, ...)")
    p.add_argument("--log-dir", type=Path, default=Path("test-output") / "bench")
    args = p.parse_args(argv)
    args.log_dir.mkdir(parents=True, exist_ok=True)
    if args.server and not os.environ.get("LABEL_STUDIO_URL"):
        p.error("--server needs LABEL_STUDIO_URL and LABEL_STUDIO_API_KEY")
    only = {n for n in args.only.split(",") if n}
    results = []
    for name, (server, extra) in BENCHMARKS.items():
        if (only and name not in only) or (server and not args.server):
            continue
        if name == "export":  # it starts a server of its own unless given one
            extra = [*extra, "--url", os.environ["LABEL_STUDIO_URL"]]
            extra += ["--api-key", os.environ.get("LABEL_STUDIO_API_KEY", "")]
        print(f"running bench_{name}.py ...", flush=True)
        results.append(run(name, extra, args.log_dir))
    print()
    print(f"{'benchmark':<11} {'status':<7} {'wall s':>7} {'CPU s':>7} {'load':>5}  result")
    failed = False
    for r in results:
        failed |= r["status"] != "ok"
        lines = [
            f"{row['name']}: {row['ratio']}x (goal {row.get('goal', '-')}x"
            + (f", {row['rss_mb']} MB/process" if "rss_mb" in row else "")
            + ")"
            for row in r["rows"]  # type: ignore[attr-defined]
        ] or [str(r["last"])]
        for i, line in enumerate(lines):
            head = (
                f"{r['name']:<11} {r['status']:<7} {r['wall']:7.1f} {r['cpu']:7.1f} {r['load']:5.2f}"
                if i == 0
                else " " * 41
            )
            print(f"{head}  {line}")
    print(f"\nfull outputs: {args.log_dir}/")
    if not args.server:
        print("benchmarks that need a server were skipped (make bench LABEL_STUDIO_URL=...)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
