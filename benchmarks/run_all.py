"""Run every benchmark and print one table (``make bench``).

The benchmarks that need no server always run; those that talk to Label Studio run with
``--server``: against ``LABEL_STUDIO_URL`` / ``LABEL_STUDIO_API_KEY`` when they are set,
else against a Label Studio started here for the run (loopback, a temporary data
directory, ``LS_FRAMES_LABEL_STUDIO`` or ``label-studio`` on the PATH) and stopped at
the end; its process id goes to the benchmarks that report the server's CPU time.
Each script runs in its own process; the table gives its exit status, wall time, peak RSS
(its largest single process, workers included: ``RUSAGE_CHILDREN``) and its result lines:
a script prints ``RESULT-ROW {json}`` lines (``name``, ``ratio``, ``goal``, ...) for the
figures it compares against what a user writes; for a script that prints none, the last
line of its output stands in. The full output of each goes to ``--log-dir``.

    python benchmarks/run_all.py [--server] [--only flatten,masks] [--log-dir DIR]

``make bench`` runs them all (``--server``); ``make bench BENCH=flatten,masks`` only those.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SDK_PYTHON = HERE.parent / ".venv-labelstudio" / "bin" / "python"

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
    "sync_delta": (True, ["--target", "delta"]),
    "media": (True, []),
    "import": (True, ["--predictions", "5000"]),
    "fail_fast": (True, []),
    "routes": (True, ["--seed", "2000", "--workers", "1", "2"]),
}


def run(name: str, args: list[str], log_dir: Path) -> dict[str, object]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    script = "sync" if name == "sync_delta" else name
    proc = subprocess.run(
        [sys.executable, str(HERE / f"bench_{script}.py"), *args],
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
    only = {n for n in args.only.split(",") if n}
    wanted = [n for n in BENCHMARKS if not only or n in only]
    unknown = only - set(BENCHMARKS)
    if unknown:
        p.error(
            f"unknown benchmark(s) {', '.join(sorted(unknown))}; known: {', '.join(BENCHMARKS)}"
        )
    with ExitStack() as stack:
        server_pid = None
        if args.server and any(BENCHMARKS[n][0] for n in wanted):
            server_pid = _server(stack, args.log_dir)
        results = _run_all(args, wanted, server_pid)
    return _report(results, args)


def _server(stack: ExitStack, log_dir: Path) -> int | None:
    """``LABEL_STUDIO_URL`` when set (its pid unknown), else a Label Studio of our own."""
    if os.environ.get("LABEL_STUDIO_URL"):
        if not os.environ.get("LABEL_STUDIO_API_KEY"):
            sys.exit("LABEL_STUDIO_URL is set but LABEL_STUDIO_API_KEY is not")
        return None
    from ls_frames.testing import LocalLabelStudio

    print("starting a Label Studio for the benchmarks that need one ...", flush=True)
    server = stack.enter_context(
        LocalLabelStudio(
            executable=os.environ.get("LS_FRAMES_LABEL_STUDIO"),
            log_path=log_dir / "label-studio.log",
        )
    )
    print(f"  {server.url} (Label Studio {server.version}, pid {server.pid})", flush=True)
    os.environ["LABEL_STUDIO_URL"] = server.url
    os.environ["LABEL_STUDIO_API_KEY"] = server.legacy_token
    return server.pid


def _run_all(args: argparse.Namespace, wanted: list[str], server_pid: int | None) -> list[Any]:
    results = []
    for name in wanted:
        server, extra = BENCHMARKS[name]
        if server and not args.server:
            continue
        if name == "export":  # it starts a server of its own unless given one
            extra = [*extra, "--url", os.environ["LABEL_STUDIO_URL"]]
            extra += ["--api-key", os.environ.get("LABEL_STUDIO_API_KEY", "")]
        if name in ("media", "import") and server_pid is not None:
            extra = [*extra, "--server-pid", str(server_pid)]
        if name == "import" and SDK_PYTHON.exists():  # the SDK lives in Label Studio's venv
            extra = [*extra, "--sdk-python", str(SDK_PYTHON)]
        shown = ["***" if i and extra[i - 1] == "--api-key" else a for i, a in enumerate(extra)]
        print(f"running {name} ({' '.join(shown) or 'defaults'}) ...", flush=True)
        results.append(run(name, extra, args.log_dir))
    return results


def _summary(results: list[Any], path: Path) -> None:
    """The result rows of the run as a Markdown table, with the run's date and load."""
    lines = [
        f"make bench, {time.strftime('%Y-%m-%d %H:%M %Z')}, {os.cpu_count()} cores",
        "",
        "| benchmark | comparison | ratio | goal | figures | load |",
        "| --- | --- | ---: | ---: | --- | ---: |",
    ]
    for r in results:
        for row in r["rows"]:
            figures = ", ".join(
                f"{k} {v}" for k, v in row.items() if k not in ("name", "ratio", "goal", "load")
            )
            goal = "" if row.get("goal") is None else f"{row['goal']}x"
            lines.append(
                f"| {r['name']} | {row['name']} | {row['ratio']}x | {goal} | {figures} "
                f"| {r['load']:.1f} |"
            )
    path.write_text("\n".join(lines) + "\n")


def _report(results: list[Any], args: argparse.Namespace) -> int:
    print()
    print(f"{'benchmark':<11} {'status':<7} {'wall s':>7} {'CPU s':>7} {'load':>5}  result")
    failed = False
    for r in results:
        failed |= r["status"] != "ok"
        lines = [
            f"{row['name']}: {row['ratio']}x"
            + (f" (goal {row['goal']}x)" if row.get("goal") is not None else "")
            + (f", {row['rss_mb']} MB/process" if "rss_mb" in row else "")
            for row in r["rows"]
        ] or [str(r["last"])]
        for i, line in enumerate(lines):
            head = (
                f"{r['name']:<11} {r['status']:<7} {r['wall']:7.1f} {r['cpu']:7.1f} {r['load']:5.2f}"
                if i == 0
                else " " * 41
            )
            print(f"{head}  {line}")
    _summary(results, args.log_dir / "summary.md")
    print(f"\nfull outputs: {args.log_dir}/ (the ratios as a table: summary.md)")
    if not args.server:
        print("benchmarks that need a server were skipped (run with --server)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
