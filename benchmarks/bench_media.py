"""fetch_media against what a user does today, against a real Label Studio, in one run.

1. upload ``--files`` generated PNGs of about ``--size`` bytes to a project (once; reuse it
   with ``--project``) and point one task at each (``/data/upload/...``);
2. download every file, each contestant in its own subprocess into an empty folder, for
   ``--rounds`` rounds (contestants in turn within a round; the table shows each one's
   median round): wall time, files/s, the contestant's CPU time (user + sys, around the
   downloads only), the server's CPU time in that while (``--server-pid``: the Label
   Studio process), the process's RSS before the first file and its peak RSS:
   - the loop a user writes: one ``httpx.Client`` with the key, ``client.get(uri)`` for
     each file, ``raise_for_status``, the bytes written to a file;
   - the official SDK's one-file-at-a-time helper ``get_local_path`` (label-studio-sdk,
     run with the Python of its own environment, ``--sdk-python``; ``--no-sdk`` skips it);
   - ``ls_frames.fetch_media`` with ``workers=1`` and with ``--workers`` (default 8);
   - ``fetch_media`` again over its full cache (what a second run costs);
   - with ``--baseline PATH`` (a checkout of another ls_frames version), its
     ``fetch_media`` at ``workers=1`` and ``--workers`` too: before and after in one run;
3. check every contestant wrote the same number of files and bytes, and print a table and
   the ratios (the loop's time over each ``fetch_media``'s).

One Label Studio process answers every request here; its CPU time per file bounds what
parallel requests can gain (the development server handles requests in threads of one
process, under one interpreter lock), and on a machine with few cores the contestant and
the server share them. The table's server CPU column shows that ceiling.

Usage::

    python benchmarks/bench_media.py                       # LABEL_STUDIO_URL / _API_KEY
    python benchmarks/bench_media.py --files 300 --size 100000 --project 42 --rounds 3

The key must be a legacy token (the SDK sends a JWT as a Bearer access token as it is).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _rows import result_row

HERE = Path(__file__).resolve()
ROOT = HERE.parent.parent
DEFAULT_SDK_PYTHON = ROOT / ".venv-labelstudio" / "bin" / "python"


def _cpu() -> float:
    """User + system CPU seconds of this process (all its threads)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _rss_mb(field: str = "VmHWM") -> float:
    """Peak (``VmHWM``) or current (``VmRSS``) resident memory of this process, in MB.

    Not ``ru_maxrss``: Linux carries it over ``exec`` from the parent process."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# -- contestants (each runs in its own process) ----------------------------------------------


def _run_ls_frames(
    refs: list[dict[str, Any]], out: Path, url: str, key: str, workers: int
) -> dict[str, Any]:
    import ls_frames
    import ls_frames.media.api  # imports pandas and pyarrow: not timed

    tasks = [
        {"id": r["task_id"], "project": r["project"], "data": {"image": r["uri"]}} for r in refs
    ]
    with ls_frames.Client(url, key) as client:
        start_rss = _rss_mb("VmRSS")
        started, cpu = time.perf_counter(), _cpu()
        table = ls_frames.fetch_media(
            tasks, out, client=client, workers=workers or None, progress=False, fields=["image"]
        )
        seconds, cpu = time.perf_counter() - started, _cpu() - cpu
    failed = int(table["error"].notna().sum())
    return {
        "seconds": seconds,
        "cpu": cpu,
        "files": int(table["error"].isna().sum()),
        "failed": failed,
        "bytes": int(table["bytes"].sum()),
        "start_rss_mb": start_rss,
        "run": dict(table.attrs.get("media", {})),
    }


def _run_httpx_loop(refs: list[dict[str, Any]], out: Path, url: str, key: str) -> dict[str, Any]:
    import httpx

    out.mkdir(parents=True, exist_ok=True)
    headers = {"Authorization": f"Token {key}"}
    total = files = 0
    with httpx.Client(base_url=url, headers=headers, timeout=60) as http:
        start_rss = _rss_mb("VmRSS")
        started, cpu = time.perf_counter(), _cpu()
        for ref in refs:
            answer = http.get(ref["uri"])
            answer.raise_for_status()
            (out / f"{ref['task_id']}.png").write_bytes(answer.content)
            total += len(answer.content)
            files += 1
        seconds, cpu = time.perf_counter() - started, _cpu() - cpu
    return {
        "seconds": seconds,
        "cpu": cpu,
        "files": files,
        "failed": 0,
        "bytes": total,
        "start_rss_mb": start_rss,
    }


def _run_sdk(refs: list[dict[str, Any]], out: Path, url: str, key: str) -> dict[str, Any]:
    from label_studio_sdk._extensions.label_studio_tools.core.utils.io import get_local_path

    out.mkdir(parents=True, exist_ok=True)
    nowhere = out / "no-local-uploads"  # never read the server's upload folder directly
    start_rss = _rss_mb("VmRSS")
    started, cpu = time.perf_counter(), _cpu()
    total = files = 0
    for ref in refs:
        path = get_local_path(
            ref["uri"],
            cache_dir=str(out),
            hostname=url,
            access_token=key,
            image_dir=str(nowhere),
            task_id=ref["task_id"],
        )
        total += os.path.getsize(path)
        files += 1
    return {
        "seconds": time.perf_counter() - started,
        "cpu": _cpu() - cpu,
        "files": files,
        "failed": 0,
        "bytes": total,
        "start_rss_mb": start_rss,
    }


def _worker(args: argparse.Namespace) -> None:
    refs = json.loads(Path(args.refs).read_text())
    url, key = os.environ["LABEL_STUDIO_URL"], os.environ["LABEL_STUDIO_API_KEY"]
    if args.worker == "ls_frames":
        info = _run_ls_frames(refs, Path(args.out), url, key, args.workers)
    elif args.worker == "httpx":
        info = _run_httpx_loop(refs, Path(args.out), url, key)
    else:
        info = _run_sdk(refs, Path(args.out), url, key)
    info["peak_rss_mb"] = _rss_mb()
    print(json.dumps(info))


# -- the run ------------------------------------------------------------------------------------


def _seed(args: argparse.Namespace) -> int:
    import httpx

    from ls_frames.testing.images import noise_png
    from ls_frames.testing.media import MEDIA_LABEL_CONFIG, upload_files
    from ls_frames.testing.seed import auth_headers

    headers = auth_headers(args.url, args.api_key)
    with httpx.Client(base_url=args.url, headers=headers, timeout=600) as http:
        answer = http.post(
            "/api/projects",
            json={
                "title": f"ls_frames bench media {args.files}",
                "label_config": MEDIA_LABEL_CONFIG,
            },
        )
        answer.raise_for_status()
        pid = int(answer.json()["id"])
        started = time.perf_counter()
        for start in range(0, args.files, 200):
            names = {
                f"bench-{i:05d}.png": noise_png(i, args.size)
                for i in range(start, min(args.files, start + 200))
            }
            refs = upload_files(http, pid, names)
            tasks = [{"data": {"image": refs[name]}} for name in names]
            http.post(f"/api/projects/{pid}/import", json=tasks).raise_for_status()
        print(
            f"seeded project {pid}: {args.files} files of ~{args.size:,} bytes "
            f"in {time.perf_counter() - started:.0f} s",
            flush=True,
        )
    return pid


def _references(args: argparse.Namespace) -> list[dict[str, Any]]:
    import ls_frames

    with ls_frames.Client(args.url, args.api_key) as client:
        frames = ls_frames.load_project(
            args.project, client=client, progress=False, label_config=False
        )
    tasks = frames.tasks.sort_values("task_id")
    return [
        {"task_id": int(t), "project": args.project, "uri": str(u)}
        for t, u in zip(tasks["task_id"], tasks["data.image"], strict=True)
    ]


def _server_cpu(pid: int | None) -> float | None:
    """User + system CPU seconds of process ``pid`` so far (Linux), or None."""
    if pid is None:
        return None
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _contest(
    args: argparse.Namespace,
    name: str,
    python: str,
    out: Path,
    refs_file: Path,
    workers: int,
    code: Path | None,
) -> dict[str, Any]:
    """Run one contestant in its own process; ``code`` is the folder its ls_frames is
    imported from (None: the SDK's own environment)."""
    cmd = [python, str(HERE), "--worker", name, "--refs", str(refs_file), "--out", str(out)]
    cmd += ["--workers", str(workers)]
    env = {
        **os.environ,
        "LABEL_STUDIO_URL": args.url,
        "LABEL_STUDIO_API_KEY": args.api_key,
        "PYTHONPATH": str(code) if code is not None else "",
    }
    before = _server_cpu(args.server_pid)
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise SystemExit(f"{name} failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    after = _server_cpu(args.server_pid)
    result["server_cpu"] = None if before is None or after is None else after - before
    return result


def _workers(n: int) -> str:
    return "default (workers=None, adapts)" if n == 0 else f"workers={n}"


def _plan(args: argparse.Namespace) -> list[tuple[str, str, str, str, int, Path | None]]:
    """(label, worker, python, folder, workers, code) per contestant, in running order."""
    here = sys.executable
    plan: list[tuple[str, str, str, str, int, Path | None]] = [
        ("httpx loop (one client, client.get)", "httpx", here, "loop", 1, ROOT)
    ]
    if not args.no_sdk:
        plan.append(("SDK get_local_path", "sdk", args.sdk_python, "sdk", 1, None))
    versions = [("", ROOT)]
    if args.baseline:
        versions.append((" [baseline]", Path(args.baseline).resolve()))
    for tag, code in versions:
        for workers in (0, 1, args.workers):  # 0: the default, workers=None (adapts)
            folder = f"cache{tag.strip(' []')}-{workers}"
            label = f"fetch_media {_workers(workers)}{tag}"
            plan.append((label, "ls_frames", here, folder, workers, code))
    label = "fetch_media default again (cached)"
    plan.append((label, "ls_frames", here, "cache-0", 0, ROOT))
    return plan


def _run_rounds(args: argparse.Namespace, refs: list[dict[str, Any]]) -> dict[str, Any]:
    """Every contestant, ``--rounds`` times in turn; each one's median round by time."""
    runs: dict[str, list[dict[str, Any]]] = {}
    plan = _plan(args)
    with tempfile.TemporaryDirectory(prefix="bench-media-") as tmp:
        refs_file = Path(tmp) / "refs.json"
        refs_file.write_text(json.dumps(refs))
        for round_no in range(args.rounds):
            for folder in {p[3] for p in plan}:  # every round starts from empty folders
                shutil.rmtree(Path(tmp) / folder, ignore_errors=True)
            print(f"round {round_no + 1}, load average {os.getloadavg()[0]:.1f}", flush=True)
            for label, worker, python, folder, workers, code in plan:
                result = _contest(
                    args, worker, python, Path(tmp) / folder, refs_file, workers, code
                )
                runs.setdefault(label, []).append(result)
                print(f"  {label}: {result['seconds']:.2f} s", flush=True)
    rows = {}
    for label, results in runs.items():
        ordered = sorted(results, key=lambda r: r["seconds"])
        rows[label] = dict(ordered[len(ordered) // 2])
        rows[label]["all_seconds"] = [r["seconds"] for r in results]
    return rows


def _report(args: argparse.Namespace, rows: dict[str, Any]) -> None:
    sizes = {(r["files"], r["bytes"]) for r in rows.values()}
    if len(sizes) != 1 or any(r["failed"] for r in rows.values()):
        raise SystemExit(f"contestants disagree: {json.dumps(rows, indent=1)}")
    files, total = sizes.pop()
    print(
        f"\n{files:,} files, {total / 1e6:.1f} MB, served by Label Studio at {args.url}; "
        f"median of {args.rounds} round(s); load average now {os.getloadavg()[0]:.1f}\n"
    )
    print(
        "| method | seconds | ms/file | files/s | CPU s | server CPU s | RSS before MB "
        "| peak RSS MB |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for label, r in rows.items():
        s = max(r["seconds"], 1e-9)
        server = "" if r.get("server_cpu") is None else f"{r['server_cpu']:.2f}"
        print(
            f"| {label} | {s:.2f} | {s / files * 1e3:.1f} | {files / s:.1f} | {r['cpu']:.2f} "
            f"| {server} | {r['start_rss_mb']:.0f} | {r['peak_rss_mb']:.0f} |"
        )
    loop = rows["httpx loop (one client, client.get)"]
    print()
    for label, r in rows.items():
        if label.startswith("fetch_media") and "cached" not in label:
            print(
                f"{label}: {loop['seconds'] / r['seconds']:.2f}x the loop's throughput "
                f"(per file {r['seconds'] / files * 1e3:.1f} ms against "
                f"{loop['seconds'] / files * 1e3:.1f} ms; CPU {r['cpu'] / files * 1e3:.2f} "
                f"ms/file against {loop['cpu'] / files * 1e3:.2f})"
                + (f"; ended at {r['run']['workers']} at once" if "workers" in r["run"] else "")
            )
    for label, goal in (
        ("fetch_media default (workers=None, adapts)", 4.0),
        ("fetch_media workers=1", None),
    ):
        r = rows[label]
        result_row(
            f"{label} vs a loop of httpx.Client.get",
            loop["seconds"] / r["seconds"],
            goal,
            seconds=round(r["seconds"], 2),
            loop_s=round(loop["seconds"], 2),
            workers=r["run"].get("workers"),
            files=files,
        )
    if loop.get("server_cpu"):
        per_file = loop["server_cpu"] / files
        print(
            f"the server spent {per_file * 1e3:.1f} ms of CPU per file for the loop: one "
            f"server process serves at most {1 / per_file:.0f} files/s, "
            f"{loop['seconds'] / loop['server_cpu']:.1f}x the loop's rate"
        )
    cached = rows["fetch_media default again (cached)"]
    print(
        f"second fetch_media run: {cached['run'].get('downloaded', 0)} downloaded, "
        f"{cached['run'].get('cached', 0)} from the cache, {cached['seconds']:.2f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=os.environ.get("LABEL_STUDIO_URL"))
    parser.add_argument(
        "--api-key",
        default=os.environ.get("LS_FRAMES_TEST_LEGACY_TOKEN")
        or os.environ.get("LABEL_STUDIO_API_KEY"),
    )
    parser.add_argument("--project", type=int, help="reuse a project seeded by this script")
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--size", type=int, default=100_000, help="bytes per file (about)")
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--server-pid", type=int, help="the Label Studio process, for its CPU")
    parser.add_argument("--baseline", help="a checkout of another ls_frames to compare with")
    parser.add_argument("--no-sdk", action="store_true", help="skip the SDK's helper (slow)")
    parser.add_argument(
        "--sdk-python",
        default=str(DEFAULT_SDK_PYTHON),
        help="Python of an environment with label-studio-sdk",
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--refs", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        _worker(args)
        return
    if not args.url or not args.api_key:
        raise SystemExit("set LABEL_STUDIO_URL and a legacy token (LABEL_STUDIO_API_KEY)")
    args.url = args.url.rstrip("/")
    if args.project is None:
        args.project = _seed(args)
    refs = _references(args)[: args.files]
    print(f"project {args.project}: {len(refs)} references", flush=True)
    _report(args, _run_rounds(args, refs))


if __name__ == "__main__":
    main()
