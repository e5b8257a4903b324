"""The two routes in, end to end on the same project, side by side in one run.

Sides (each in a fresh subprocess: wall time, the process's CPU time and peak RSS):

* ``snapshot``       ``load_project(source="snapshot")``: create the snapshot (the server
                     builds it inside the request), download it, flatten it
* ``tasks-W``        ``load_project(source="tasks", fetch_workers=W)``: the paged task list,
                     W pages at a time, written as the export's JSON and flattened
* ``httpx_loop``     what a user writes without the library: a plain httpx loop over the
                     pages (``fields=all``), every task kept in a list, then
                     ``pandas.json_normalize`` of the annotations' result items

The ratio tasks / snapshot is printed for each W. The server's own time is in the wall
time only (run the server on the same machine and say how many workers it had: a
runserver answers requests in threads, gunicorn ``--workers 1`` one at a time).

Usage::

    python benchmarks/bench_routes.py --url URL --api-key KEY --project 3 --workers 1 2
    python benchmarks/bench_routes.py --seed 20000     # seeds a project on LABEL_STUDIO_URL
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from typing import Any, Literal


def side(name: str, url: str, key: str, project: int) -> dict[str, Any]:
    import resource

    import ls_frames  # imports are not timed, on either side

    started, cpu = time.perf_counter(), time.process_time()
    if name == "snapshot" or name.startswith("tasks-"):
        source: Literal["snapshot", "tasks"] = "snapshot" if name == "snapshot" else "tasks"
        workers = 2 if name == "snapshot" else int(name.split("-")[1])
        with ls_frames.Client(url, key) as client:
            frames = ls_frames.load_project(
                project, client=client, progress=False, source=source, fetch_workers=workers
            )
        rows = {"tasks": len(frames.tasks), "regions": len(frames.regions)}
    elif name == "httpx_loop":
        import httpx
        import pandas as pd

        tasks: list[dict[str, Any]] = []
        with httpx.Client(base_url=url, headers=_headers(url, key), timeout=600) as http:
            page = 1
            while True:
                answer = http.get(
                    "/api/tasks/",
                    params={"project": project, "fields": "all", "page": page, "page_size": 500},
                )
                answer.raise_for_status()
                body = answer.json()
                tasks.extend(body["tasks"])
                if len(tasks) >= body["total"] or not body["tasks"]:
                    break
                page += 1
        items = [
            {"task_id": t["id"], "annotation_id": a["id"], **r}
            for t in tasks
            for a in t["annotations"]
            for r in a["result"]
        ]
        regions = pd.json_normalize(items)
        rows = {"tasks": len(tasks), "regions": len(regions)}
    else:
        raise SystemExit(f"no side {name}")
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "side": name,
        "seconds": round(time.perf_counter() - started, 2),
        "cpu_seconds": round(time.process_time() - cpu, 2),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        **rows,
    }


def _headers(url: str, key: str) -> dict[str, str]:
    import ls_frames

    with ls_frames.Client(url, key) as client:  # a personal access token's access token
        request = client.request("GET", "api/version")
        auth = request.request.headers.get("Authorization")
    return {"Authorization": auth} if auth else {}


def run(name: str, url: str, key: str, project: int) -> dict[str, Any]:
    # the key goes through the environment, not the command line (``ps`` shows that)
    done = subprocess.run(
        [sys.executable, __file__, "--side", name, "--url", url, "--project", str(project)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "LABEL_STUDIO_API_KEY": key},
    )
    if done.returncode:
        raise SystemExit(f"{name} failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", default=os.environ.get("LABEL_STUDIO_URL"))
    parser.add_argument("--api-key", default=os.environ.get("LABEL_STUDIO_API_KEY"))
    parser.add_argument("--project", type=int)
    parser.add_argument("--seed", type=int, help="seed a project of this many tasks first")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="fetch_workers")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--no-loop", action="store_true", help="leave out the httpx loop")
    parser.add_argument("--side", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not args.url or not args.api_key:
        raise SystemExit("give --url and --api-key (or LABEL_STUDIO_URL / LABEL_STUDIO_API_KEY)")
    if args.side:
        print(json.dumps(side(args.side, args.url, args.api_key, args.project)))
        return
    project = args.project
    if args.seed:
        from ls_frames.testing.seed import seed_many_tasks

        project = seed_many_tasks(args.url, args.api_key, None, args.seed)["project_id"]
        print(f"seeded project {project} with {args.seed} tasks")
    if project is None:
        raise SystemExit("give --project or --seed")
    sides = ["snapshot", *(f"tasks-{w}" for w in args.workers)]
    if not args.no_loop:
        sides.append("httpx_loop")
    results: dict[str, list[dict[str, Any]]] = {s: [] for s in sides}
    for _ in range(args.repeat):
        for name in sides:  # interleaved, so a load change hits every side
            results[name].append(run(name, args.url, args.api_key, project))
    best = {name: min(r, key=lambda x: x["seconds"]) for name, r in results.items()}
    print(f"project {project}, best of {args.repeat}; load average {os.getloadavg()[0]:.1f}")
    print(
        f"{'side':<12}{'seconds':>9}{'cpu s':>8}{'peak MB':>9}{'tasks':>8}{'regions':>9}{'ratio':>7}"
    )
    base = best["snapshot"]["seconds"]
    for name, r in best.items():
        print(
            f"{name:<12}{r['seconds']:>9.2f}{r['cpu_seconds']:>8.2f}{r['peak_rss_mb']:>9.1f}"
            f"{r['tasks']:>8}{r['regions']:>9}{r['seconds'] / base:>7.2f}"
        )


if __name__ == "__main__":
    main()
