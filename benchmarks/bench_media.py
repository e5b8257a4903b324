"""fetch_media against what a user does today, against a real Label Studio, in one run.

1. upload ``--files`` generated PNGs of about ``--size`` bytes to a project (once; reuse it
   with ``--project``) and point one task at each (``/data/upload/...``);
2. download every file, each contestant in its own subprocess into an empty folder (wall
   time, files/s, MB/s, peak RSS of that process and its RSS before the first file):
   - ``ls_frames.fetch_media`` (``--workers``, default 8);
   - a sequential loop of authenticated ``httpx`` GETs, streamed to files;
   - the official SDK's one-file-at-a-time helper ``get_local_path`` (label-studio-sdk,
     run with the Python of its own environment, ``--sdk-python``);
   - ``fetch_media`` again over its full cache (what a second run costs);
3. check every contestant wrote the same number of files and bytes, and print a table and
   the ratios.

Usage::

    python benchmarks/bench_media.py                       # LABEL_STUDIO_URL / _API_KEY
    python benchmarks/bench_media.py --files 2000 --size 100000 --project 42

The key must be a legacy token (the SDK sends a JWT as a Bearer access token as it is).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve()
DEFAULT_SDK_PYTHON = HERE.parent.parent / ".venv-labelstudio" / "bin" / "python"


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
        started = time.perf_counter()
        table = ls_frames.fetch_media(
            tasks, out, client=client, workers=workers, progress=False, fields=["image"]
        )
        seconds = time.perf_counter() - started
    failed = int(table["error"].notna().sum())
    return {
        "seconds": seconds,
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
    start_rss = _rss_mb("VmRSS")
    started = time.perf_counter()
    total = files = 0
    with httpx.Client(base_url=url, headers=headers, timeout=60) as http:
        for ref in refs:
            with http.stream("GET", ref["uri"]) as answer:
                answer.raise_for_status()
                with open(out / f"{ref['task_id']}.png", "wb") as f:
                    for chunk in answer.iter_bytes():
                        f.write(chunk)
                        total += len(chunk)
            files += 1
    return {
        "seconds": time.perf_counter() - started,
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
    started = time.perf_counter()
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


def _contest(
    args: argparse.Namespace, name: str, python: str, out: Path, refs_file: Path
) -> dict[str, Any]:
    cmd = [
        python,
        str(HERE),
        "--worker",
        name,
        "--refs",
        str(refs_file),
        "--out",
        str(out),
        "--workers",
        str(args.workers),
    ]
    env = {
        **os.environ,
        "LABEL_STUDIO_URL": args.url,
        "LABEL_STUDIO_API_KEY": args.api_key,
        "PYTHONPATH": "",
    }
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise SystemExit(f"{name} failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


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
    refs = _references(args)
    print(f"project {args.project}: {len(refs)} references", flush=True)
    rows: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-media-") as tmp:
        refs_file = Path(tmp) / "refs.json"
        refs_file.write_text(json.dumps(refs))
        plan = [
            ("httpx sequential loop", "httpx", sys.executable, "loop"),
            ("SDK get_local_path", "sdk", args.sdk_python, "sdk"),
            (
                f"ls_frames.fetch_media (workers={args.workers})",
                "ls_frames",
                sys.executable,
                "cache",
            ),
            ("fetch_media again (cached)", "ls_frames", sys.executable, "cache"),
        ]
        for label, worker, python, folder in plan:
            rows[label] = _contest(args, worker, python, Path(tmp) / folder, refs_file)
            print(f"  {label}: {rows[label]['seconds']:.1f} s", flush=True)
    sizes = {(r["files"], r["bytes"]) for r in rows.values()}
    if len(sizes) != 1 or any(r["failed"] for r in rows.values()):
        raise SystemExit(f"contestants disagree: {json.dumps(rows, indent=1)}")
    files, total = sizes.pop()
    print(f"\n{files:,} files, {total / 1e6:.1f} MB, served by Label Studio at {args.url}\n")
    print(
        f"| {'method':<36} | {'seconds':>8} | {'files/s':>8} | {'MB/s':>6} | "
        f"{'RSS before MB':>13} | {'peak RSS MB':>11} |"
    )
    print(f"|{'-' * 38}|{'-' * 10}|{'-' * 10}|{'-' * 8}|{'-' * 15}|{'-' * 13}|")
    for label, r in rows.items():
        s = max(r["seconds"], 1e-9)
        print(
            f"| {label:<36} | {s:>8.2f} | {files / s:>8.1f} | {total / 1e6 / s:>6.1f} | "
            f"{r['start_rss_mb']:>13.0f} | {r['peak_rss_mb']:>11.0f} |"
        )
    ours = rows[f"ls_frames.fetch_media (workers={args.workers})"]["seconds"]
    print()
    for label in ("httpx sequential loop", "SDK get_local_path"):
        print(f"fetch_media is {rows[label]['seconds'] / ours:.1f}x the throughput of {label}")
    cached = rows["fetch_media again (cached)"]
    print(
        f"second fetch_media run: {cached['run'].get('downloaded', 0)} downloaded, "
        f"{cached['run'].get('cached', 0)} from the cache, {cached['seconds']:.2f} s"
    )


if __name__ == "__main__":
    main()
