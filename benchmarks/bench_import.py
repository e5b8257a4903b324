"""Predictions into Label Studio: ``import_predictions`` against the official SDK's
per-prediction loop and a hand-written bulk request, against a real server, in one run.

Each side writes into a project of its own, seeded with the same ``--predictions`` tasks
(plain JSON import), so the server does the same work for each: Label Studio 1.23.2
recounts the project's tasks after every bulk request, and the cost of that recount grows
with the predictions a project already holds (a side run second into a shared project pays
for the first side's predictions). The hand-written side sends the same requests as
``import_predictions`` (``--batch``, default its batch size); ``--rounds 2`` runs the
sides again in the opposite order. Timed, each in its own subprocess: wall time, the
side's CPU time (user + system) and peak RSS, and with ``--server-pid`` the server
process's CPU time during the side.

   - ``ls_frames.import_predictions`` of a results DataFrame (one prediction per task,
     ``--boxes`` rectangles each), then (first round) the same again with ``replace=True``;
   - the bulk endpoint fed by plain httpx with hand-written JSON;
   - the SDK's loop, ``client.predictions.create(...)`` once per prediction, on a sample
     of ``--sdk-sample`` predictions, extrapolated to the whole (run under
     ``--sdk-python``: the SDK's pins clash with the library's environment).

Each project is then checked to hold one prediction per task of its model version.

Usage::

    python benchmarks/bench_import.py                  # LABEL_STUDIO_URL / _API_KEY
    python benchmarks/bench_import.py --predictions 20000 --rounds 2 \
        --sdk-python /work/sdk-venv/bin/python --server-pid PID
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

from _rows import result_row

CONFIG = """<View>
  <Image name="image" value="$image"/>
  <RectangleLabels name="box" toName="image">
    <Label value="car"/><Label value="person"/><Label value="bike"/>
  </RectangleLabels>
</View>"""
LABELS = ("car", "person", "bike")


def _boxes(i: int, n: int) -> list[dict[str, Any]]:
    return [
        {
            "id": f"p{i}_{k}",
            "from_name": "box",
            "to_name": "image",
            "type": "rectanglelabels",
            "original_width": 1920,
            "original_height": 1080,
            "image_rotation": 0,
            "value": {
                "x": (i * 7 + k * 13) % 80 + 0.5,
                "y": (i * 3 + k * 11) % 80 + 0.25,
                "width": 10.0 + k,
                "height": 8.0 + k,
                "rotation": 0,
                "rectanglelabels": [LABELS[(i + k) % 3]],
            },
            "score": 0.5 + ((i + k) % 50) / 100,
        }
        for k in range(n)
    ]


def _phase(args: argparse.Namespace) -> None:
    with open(os.environ["BENCH_TASK_IDS"]) as f:
        tasks = json.load(f)
    started = time.perf_counter()
    info: dict[str, Any] = {}
    if args.phase in ("ls_frames", "replace"):
        import pandas as pd

        import ls_frames

        frame = pd.DataFrame(
            {
                "task_id": tasks,
                "result": [_boxes(i, args.boxes) for i in range(len(tasks))],
                "score": [0.5 + (i % 50) / 100 for i in range(len(tasks))],
            }
        )
        with ls_frames.Client(args.url, args.api_key) as client:
            call = time.perf_counter()
            done = ls_frames.import_predictions(
                args.project,
                frame,
                model_version="ls_frames",
                client=client,
                replace=args.phase == "replace",
                progress=False,
            )
        info = {
            "created": done.created,
            "replaced": done.replaced,
            "call_seconds": time.perf_counter() - call,
        }
    elif args.phase == "httpx":
        import httpx

        headers = {"Authorization": f"Token {args.api_key}"}
        with httpx.Client(base_url=args.url, headers=headers, timeout=1800) as http:
            created = 0
            for start in range(0, len(tasks), args.batch):
                if args.api_key.count(".") == 2:  # a personal access token: 5-minute access
                    refresh = http.post("/api/token/refresh/", json={"refresh": args.api_key})
                    http.headers["Authorization"] = f"Bearer {refresh.json()['access']}"
                body = [
                    {
                        "task": t,
                        "result": _boxes(start + j, args.boxes),
                        "score": 0.5 + ((start + j) % 50) / 100,
                        "model_version": "httpx",
                    }
                    for j, t in enumerate(tasks[start : start + args.batch])
                ]
                answer = http.post(f"/api/projects/{args.project}/import/predictions", json=body)
                answer.raise_for_status()
                created += answer.json()["created"]
        info = {"created": created}
    else:  # the SDK's loop, in the SDK's environment
        from label_studio_sdk.client import LabelStudio

        sdk = LabelStudio(base_url=args.url, api_key=args.api_key)
        for i, t in enumerate(tasks):
            sdk.predictions.create(
                task=t,
                result=_boxes(i, args.boxes),
                score=0.5 + (i % 50) / 100,
                model_version="sdk",
            )
        info = {"created": len(tasks)}
    info["seconds"] = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    info["cpu_seconds"] = usage.ru_utime + usage.ru_stime
    info["peak_rss_mb"] = usage.ru_maxrss / 1024
    print(json.dumps(info))


def _server_cpu(pid: int | None) -> float:
    """CPU seconds (user + system) the server process and its waited-for children used."""
    if pid is None:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = sum(int(v) for v in fields[11:15])  # utime stime cutime cstime
    return ticks / os.sysconf("SC_CLK_TCK")


def _run(args: argparse.Namespace, phase: str, project: int, tasks: list[int]) -> dict[str, Any]:
    python = args.sdk_python if phase == "sdk" else sys.executable
    cmd = [python, __file__, "--phase", phase, "--project", str(project)]
    cmd += ["--boxes", str(args.boxes), "--batch", str(args.batch)]
    ids = args.work / f"{phase}-{project}-tasks.json"
    ids.write_text(json.dumps(tasks))
    env = {
        **os.environ,
        "LABEL_STUDIO_URL": args.url,
        "LABEL_STUDIO_API_KEY": args.api_key,
        "BENCH_TASK_IDS": str(ids),
        "LS_FRAMES_DISABLE_PROGRESS_BARS": "1",
    }
    server_before = _server_cpu(args.server_pid)
    load = os.getloadavg()[0]
    done = subprocess.run(cmd, check=False, capture_output=True, text=True, env=env)
    if done.returncode:
        raise SystemExit(f"{phase} failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    result["server_cpu_seconds"] = _server_cpu(args.server_pid) - server_before
    result["load"] = load
    return result


def _seed(args: argparse.Namespace, n: int) -> tuple[int, list[int]]:
    """A new project of ``n`` image tasks; its id and its task ids."""
    import ls_frames

    with ls_frames.Client(args.url, args.api_key) as client:
        project = client.post_json(
            "api/projects", json={"title": "bench_import", "label_config": CONFIG}
        )
        pid = int(project["id"])
        ids: list[int] = []
        for start in range(0, n, 5000):
            k = min(5000, n - start)
            tasks = [{"image": f"/static/{start + i}.jpg"} for i in range(k)]
            answer = client.post_json(
                f"api/projects/{pid}/import", json=tasks, params={"return_task_ids": "true"}
            )
            ids.extend(int(t) for t in answer["task_ids"])
    return pid, sorted(ids)


def _check(args: argparse.Namespace, project: int, version: str, n: int) -> None:
    import ls_frames

    with ls_frames.Client(args.url, args.api_key) as client:
        listed = client.get_json(f"api/projects/{project}/model-versions/")
    assert listed == {version: n}, (project, listed)


NAMES = {
    "ls_frames": "import_predictions",
    "replace": "same, replace=True",
    "httpx": "hand-written bulk",
    "sdk": "SDK loop",
}
VERSIONS = {"ls_frames": "ls_frames", "replace": "ls_frames", "httpx": "httpx", "sdk": "sdk"}


def _line(name: str, row: dict[str, Any], scale: float = 1.0, note: str = "") -> str:
    return (
        f"  {name:24s} {row['seconds'] * scale:8.1f} s wall  {row['cpu_seconds'] * scale:6.1f} s "
        f"CPU  server CPU {row['server_cpu_seconds'] * scale:6.1f} s  peak RSS "
        f"{row['peak_rss_mb']:4.0f} MB  (load {row['load']:.1f}){note}"
        + (f"; the call {row['call_seconds']:.1f} s" if "call_seconds" in row else "")
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=os.environ.get("LABEL_STUDIO_URL"))
    parser.add_argument("--api-key", default=os.environ.get("LABEL_STUDIO_API_KEY"))
    parser.add_argument("--predictions", type=int, default=20_000)
    parser.add_argument("--boxes", type=int, default=3, help="rectangles per prediction")
    parser.add_argument("--sdk-sample", type=int, default=500)
    parser.add_argument(
        "--batch",
        type=int,
        default=None,
        help="predictions per hand-written "
        "bulk request (default: import_predictions' own batch size)",
    )
    parser.add_argument("--sdk-python", default=sys.executable)
    parser.add_argument(
        "--rounds", type=int, default=1, help="rounds of ls_frames and httpx, in alternating order"
    )
    parser.add_argument("--no-sdk", action="store_true", help="skip the SDK loop")
    parser.add_argument("--no-replace", action="store_true", help="skip the replace=True run")
    parser.add_argument("--server-pid", type=int, help="the server's process id (its CPU time)")
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    parser.add_argument("--project", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.batch is None:
        from ls_frames.pipeline.predictions import BATCH_SIZE

        args.batch = BATCH_SIZE
    if args.phase:
        _phase(args)
        return
    args.work = Path(tempfile.mkdtemp(prefix="bench_import-"))
    n = args.predictions
    print(f"{n} predictions, {args.boxes} boxes each, {args.batch} a request; a project each")
    rows: list[tuple[str, dict[str, Any]]] = []
    for r in range(args.rounds):
        order = ["ls_frames", "httpx"] if r % 2 == 0 else ["httpx", "ls_frames"]
        for phase in order:
            project, tasks = _seed(args, n)
            row = _run(args, phase, project, tasks)
            _check(args, project, VERSIONS[phase], n)
            rows.append((phase, row))
            print(f"round {r + 1}", _line(NAMES[phase], row), flush=True)
            if phase == "ls_frames" and r == 0 and not args.no_replace:
                row = _run(args, "replace", project, tasks)
                _check(args, project, "ls_frames", n)
                rows.append(("replace", row))
                print(f"round {r + 1}", _line(NAMES["replace"], row), flush=True)
    if not args.no_sdk:
        sample = min(args.sdk_sample, n)
        project, tasks = _seed(args, sample)
        row = _run(args, "sdk", project, tasks)
        _check(args, project, "sdk", sample)
        rows.append(("sdk", row))
    print()
    print(f"{n} predictions ({args.boxes} boxes each):")
    totals: dict[str, list[float]] = {}
    for phase, row in rows:
        scale, note = 1.0, ""
        if phase == "sdk":
            scale = n / min(args.sdk_sample, n)
            note = f" (extrapolated from {min(args.sdk_sample, n)})"
        print(_line(NAMES[phase], row, scale, note))
        totals.setdefault(phase, []).append(row["seconds"] * scale)
    ours = min(totals["ls_frames"])
    for other in ("httpx", "sdk"):
        if other in totals:
            ratio = min(totals[other]) / ours
            print(f"  {NAMES[other]} / import_predictions (best wall of each): {ratio:.2f}x")
            result_row(
                f"import_predictions of {n:,} vs {NAMES[other].strip()}",
                ratio,
                seconds=round(ours, 2),
                other_s=round(min(totals[other]), 1),
            )


if __name__ == "__main__":
    main()
