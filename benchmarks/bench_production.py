"""A large project through Label Studio served as production serves it (gunicorn), with 1
and then 2 workers and no worker timeout: the snapshot route end to end.

For each worker count the same data directory is served again (``LocalLabelStudio(wsgi=
"gunicorn", workers=W)``), then ``load_project`` runs in a fresh subprocess: wall time,
CPU time (user+sys) and peak RSS of that process, and the create request's own time (the
server builds the snapshot inside it). Its figures are the baseline a route that reads the
paged tasks API instead is compared with.

Usage::

    python benchmarks/bench_production.py --data-dir /tmp/ls-bench --tasks 20000
    python benchmarks/bench_production.py --data-dir /tmp/ls-bench --project 3 --workers 1 2

The project is seeded once (``seed_many_tasks``: one annotation and one prediction a task)
unless ``--project`` names one already in the data directory.
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
from typing import Any

HERE = Path(__file__).resolve()


def side(url: str, key: str, project: int) -> dict[str, Any]:
    """In the child: ``load_project`` with the create request timed."""
    import ls_frames
    from ls_frames.exports import client as client_module

    created: list[float] = []
    original = client_module.Client.create_export

    def timed(self: Any, *args: Any, **kwargs: Any) -> Any:
        start = time.monotonic()
        try:
            return original(self, *args, **kwargs)
        finally:
            created.append(time.monotonic() - start)

    client_module.Client.create_export = timed  # type: ignore[method-assign]
    start, cpu = time.monotonic(), time.process_time()
    with ls_frames.Client(url, key) as client:
        frames = ls_frames.load_project(project, client=client, progress=False)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)  # decoding processes, if any
    return {
        "wall_s": round(time.monotonic() - start, 2),
        "cpu_s": round(time.process_time() - cpu, 2),
        "children_cpu_s": round(children.ru_utime + children.ru_stime, 2),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "create_s": round(created[0], 2) if created else None,
        "tasks": len(frames.tasks),
        "annotations": len(frames.annotations),
        "regions": len(frames.regions),
    }


def run_side(url: str, key: str, project: int) -> dict[str, Any]:
    code = (
        f"import json, sys; sys.path.insert(0, {str(HERE.parent)!r}); import bench_production as b; "
        f"print(json.dumps(b.side({url!r}, {key!r}, {project})))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=os.environ
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> None:
    from ls_frames.testing import LocalLabelStudio
    from ls_frames.testing.seed import seed_many_tasks

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", required=True, type=Path, help="kept between runs")
    parser.add_argument("--tasks", type=int, default=20_000)
    parser.add_argument("--project", type=int, help="a project already in the data dir")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--port", type=int)
    args = parser.parse_args()

    project = args.project
    results = []
    for workers in args.workers:
        server = LocalLabelStudio(
            data_dir=args.data_dir,
            port=args.port,
            password="bench-password",
            legacy_token="bench-legacy-token-0123456789",
            wsgi="gunicorn",
            workers=workers,
            startup_timeout=1200,
        )
        with server:
            print(
                f"gunicorn, {workers} worker(s): up in {server.startup_seconds:.0f} s", flush=True
            )
            if project is None:
                start = time.monotonic()
                seeded = seed_many_tasks(server.url, server.admin_key, None, args.tasks, batch=500)
                project = int(seeded["project_id"])
                print(
                    f"seeded project {project}: {args.tasks} tasks in "
                    f"{time.monotonic() - start:.0f} s",
                    flush=True,
                )
            for _ in range(args.repeat):
                result = {"workers": workers, **run_side(server.url, server.admin_key, project)}
                print(json.dumps(result), flush=True)
                results.append(result)
    print(f"load avg at the end: {os.getloadavg()}")
    for r in results:
        print(
            f"snapshot route, {r['workers']} worker(s): {r['wall_s']} s wall "
            f"(create {r['create_s']} s), client CPU {r['cpu_s']} s, peak RSS {r['peak_rss_mb']} MB, "
            f"{r['tasks']} tasks"
        )


if __name__ == "__main__":
    main()
