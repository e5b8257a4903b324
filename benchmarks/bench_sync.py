"""Incremental refresh versus a full export, against a real Label Studio, in one run.

1. seed a project of ``--tasks`` tasks (one annotation and one prediction each);
2. ``sync_parquet`` once (full, the first run);
3. change ``--changed`` of the tasks (edited, new and skipped annotations, deleted
   annotations, deleted tasks);
4. time ``sync_parquet`` (the refresh) and ``export_project`` (a fresh full export), each
   in its own subprocess (wall time and peak RSS of that process), and check that both
   datasets hold the same rows.

Usage::

    python benchmarks/bench_sync.py                      # LABEL_STUDIO_URL / _API_KEY
    python benchmarks/bench_sync.py --tasks 20000 --changed 0.01 --project 12
    python benchmarks/bench_sync.py --target delta       # sync_delta into Delta tables

With ``--target delta`` the refreshes are ``sync_delta`` runs (their versions, commits and
bytes written are printed); afterwards the first version is read back and checked to hold
as many tasks as the project had then, and Polars reads every table.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _rows import result_row

OVERLAP = 5.0


def _phase(args: argparse.Namespace) -> None:
    import ls_frames

    started = time.perf_counter()
    with ls_frames.Client(args.url, args.api_key) as client:
        if args.phase == "sync":
            result = ls_frames.sync_parquet(
                args.project, args.out, client=client, overlap=OVERLAP, progress=False
            )
            info: dict[str, Any] = {
                "mode": result.mode,
                "changed": result.changed_tasks,
                "deleted": result.deleted_tasks,
                "requests": result.requests,
            }
        elif args.phase == "delta":
            written = ls_frames.sync_delta(
                args.project, str(args.out), client=client, overlap=OVERLAP, progress=False
            )
            info = {
                "mode": written.mode,
                "changed": written.changed_tasks,
                "deleted": written.deleted_tasks,
                "version": written.version,
                "commits": written.commits,
                "bytes_written": written.bytes_written,
                "bytes_removed": written.bytes_removed,
            }
        else:
            ls_frames.export_project(
                args.project, args.out, client=client, overwrite=True, progress=False
            )
            info = {}
    info["seconds"] = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    info["cpu"] = usage.ru_utime + usage.ru_stime  # this process's, not the server's
    info["peak_rss_mb"] = usage.ru_maxrss / 1024
    print(json.dumps(info))


def _run(args: argparse.Namespace, phase: str, out: Path) -> dict[str, Any]:
    if phase == "sync" and args.target == "delta":
        phase = "delta"
    cmd = [
        sys.executable,
        __file__,
        "--phase",
        phase,
        "--project",
        str(args.project),
        "--out",
        str(out),
    ]
    env = {**os.environ, "LABEL_STUDIO_URL": args.url, "LABEL_STUDIO_API_KEY": args.api_key}
    done = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _change(
    args: argparse.Namespace, fraction: float, delete_tasks: bool, seed: int
) -> dict[str, int]:
    import ls_frames
    from ls_frames.testing.seed import _full_result

    rng = random.Random(seed)
    with ls_frames.Client(args.url, args.api_key) as client:
        if args.target == "delta":
            frames = ls_frames.read_delta(str(args.work / "synced"))
        else:
            frames = ls_frames.read_parquet(args.work / "synced", tables=["tasks", "annotations"])
        first = frames.annotations.drop_duplicates("task_id").set_index("task_id")
        tasks = list(frames.tasks.task_id)
        chosen = rng.sample(tasks, max(5, int(len(tasks) * fraction)))
        pairs = [(t, first.annotation_id.get(t)) for t in chosen]
        picked = pairs
        kinds = {"edited": 0, "new": 0, "skipped": 0, "annotation_deleted": 0, "task_deleted": 0}
        for i, (tid, aid) in enumerate(picked):
            kind = (
                "edited",
                "edited",
                "new",
                "skipped",
                "annotation_deleted",
                "task_deleted",
                "edited",
                "new",
                "edited",
                "edited",
            )[i % 10]
            if kind == "task_deleted" and not delete_tasks:
                kind = "edited"
            if aid is None and kind in ("edited", "annotation_deleted"):
                kind = "new"  # a task without an annotation gets one
            if kind == "edited":
                client.request(
                    "PATCH",
                    f"api/annotations/{aid}/",
                    json={"result": _full_result(f"e{i}", i)[:2]},
                )
            elif kind == "new":
                client.post_json(
                    f"api/tasks/{tid}/annotations/",
                    json={"result": _full_result(f"n{i}", i), "was_cancelled": False},
                )
            elif kind == "skipped":
                client.post_json(
                    f"api/tasks/{tid}/annotations/", json={"result": [], "was_cancelled": True}
                )
            elif kind == "annotation_deleted":
                client.request("DELETE", f"api/annotations/{aid}/")
            else:
                client.request("DELETE", f"api/tasks/{tid}/")
            kinds[kind] += 1
    return kinds


def _same(args: argparse.Namespace, a: Path, b: Path) -> bool:
    import ls_frames
    from ls_frames.testing.compare import assert_same_dataset, assert_same_frames

    if args.target == "delta":
        assert_same_frames(ls_frames.read_delta(str(a)), ls_frames.read_parquet(b))
    else:
        assert_same_dataset(a, b)
    return True


def _delta_checks(args: argparse.Namespace, first_version: int, first_tasks: int) -> None:
    import polars as pl

    import ls_frames

    uri = str(args.work / "synced")
    then = ls_frames.read_delta(uri, version=first_version)
    print(
        f"version {first_version} (the first sync) still readable: {len(then.tasks)} tasks "
        f"(the project had {first_tasks})"
    )
    assert len(then.tasks) == first_tasks
    now = ls_frames.read_delta(uri)
    for name, table in now.items():
        height = pl.read_delta(f"{uri}/{name}").height
        print(f"polars reads {name}: {height} rows (read_delta: {len(table)})")
        assert height == len(table), name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=os.environ.get("LABEL_STUDIO_URL"))
    parser.add_argument("--api-key", default=os.environ.get("LABEL_STUDIO_API_KEY"))
    parser.add_argument("--project", type=int)
    parser.add_argument("--tasks", type=int, default=20_000)
    parser.add_argument("--changed", type=float, default=0.01)
    parser.add_argument("--phase", choices=["sync", "delta", "export"])
    parser.add_argument("--target", choices=["parquet", "delta"], default="parquet")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    if not args.url or not args.api_key:
        parser.error("set LABEL_STUDIO_URL and LABEL_STUDIO_API_KEY or pass --url/--api-key")
    if args.phase:
        return _phase(args)
    from ls_frames.testing.seed import seed_many_tasks

    args.work = Path(tempfile.mkdtemp(prefix="bench_sync-"))
    if args.project is None:
        t = time.perf_counter()
        args.project = seed_many_tasks(args.url, args.api_key, None, args.tasks)["project_id"]
        print(
            f"seeded project {args.project}: {args.tasks} tasks in {time.perf_counter() - t:.1f} s",
            flush=True,
        )
    time.sleep(OVERLAP + 1)
    runs: dict[str, dict[str, Any]] = {}
    fn = "sync_delta" if args.target == "delta" else "sync_parquet"
    runs["first sync (full)"] = _run(args, "sync", args.work / "synced")
    print(f"first {fn} (full): {runs['first sync (full)']}", flush=True)
    time.sleep(1)
    kinds = _change(args, args.changed, delete_tasks=False, seed=6)
    print(f"changes, round 1 (no task deleted): {kinds}", flush=True)
    runs["refresh 1: edits"] = _run(args, "sync", args.work / "synced")
    print(f"refresh 1 ({fn}): {runs['refresh 1: edits']}", flush=True)
    time.sleep(1)
    kinds = _change(args, args.changed, delete_tasks=True, seed=7)
    print(f"changes, round 2 (tasks deleted too): {kinds}", flush=True)
    runs["refresh 2: edits + deleted tasks"] = _run(args, "sync", args.work / "synced")
    print(f"refresh 2 ({fn}): {runs['refresh 2: edits + deleted tasks']}", flush=True)
    runs["refresh 3: nothing changed"] = _run(args, "sync", args.work / "synced")
    print(f"refresh 3 ({fn}): {runs['refresh 3: nothing changed']}", flush=True)
    full = runs["full export"] = _run(args, "export", args.work / "fresh")
    print(f"full export (export_project): {full}", flush=True)
    print()
    first = runs["first sync (full)"]
    print(f"load average {os.getloadavg()[0]:.1f} (the server shares the machine)")
    print(
        f"{'run':36} {'seconds':>8} {'full/run':>9} {'first/run':>10} {'cpu s':>7} "
        f"{'peak RSS MB':>12}  requests"
    )
    for name, r in runs.items():
        print(
            f"{name:36} {r['seconds']:8.2f} {full['seconds'] / r['seconds']:8.1f}x "
            f"{first['seconds'] / r['seconds']:9.1f}x {r['cpu']:7.2f} "
            f"{r['peak_rss_mb']:12.0f}  {r.get('requests', '')}"
            + (
                f" v{r['version']} {r['commits']} commit(s) {r['bytes_written']:,} B written,"
                f" {r['bytes_removed']:,} B replaced"
                if "version" in r
                else ""
            )
        )
    refresh = runs["refresh 1: edits"]
    what = "sync_delta" if args.target == "delta" else "sync_parquet"
    result_row(
        f"{what} refresh after {args.changed:.0%} changed vs the first run",
        first["seconds"] / refresh["seconds"],
        20.0 if args.target == "delta" else None,
        rss_mb=round(first["peak_rss_mb"]),
        first_s=round(first["seconds"], 2),
        refresh_s=round(refresh["seconds"], 2),
        refresh_rss_mb=round(refresh["peak_rss_mb"]),
    )
    result_row(
        f"{what} refresh vs a full export_project",
        full["seconds"] / refresh["seconds"],
        full_s=round(full["seconds"], 2),
        refresh_s=round(refresh["seconds"], 2),
    )
    same = _same(args, args.work / "synced", args.work / "fresh")
    if args.target == "delta":
        _delta_checks(args, int(runs["first sync (full)"]["version"]), args.tasks)
    print(f"refreshed dataset equals the fresh export: {same}")
    print(f"datasets in {args.work}")


if __name__ == "__main__":
    main()
