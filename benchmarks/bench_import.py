"""Predictions into Label Studio: ``import_predictions`` against the official SDK's
per-prediction loop and a hand-written bulk request, against a real server, in one run.

1. seed a project of ``--predictions`` tasks (plain JSON import);
2. time, each in its own subprocess (wall time and peak RSS of that process):

   - ``ls_frames.import_predictions`` of a results DataFrame (one prediction per task,
     ``--boxes`` rectangles each), then the same again with ``replace=True``;
   - the bulk endpoint fed by plain httpx with hand-written JSON, in batches of
     ``--batch`` (1,000);
   - the SDK's loop, ``client.predictions.create(...)`` once per prediction, on a sample
     of ``--sdk-sample`` predictions, extrapolated to the whole (run under
     ``--sdk-python``: the SDK's pins clash with the library's environment);

3. check the project holds one prediction per task and model version.

Usage::

    python benchmarks/bench_import.py                  # LABEL_STUDIO_URL / _API_KEY
    python benchmarks/bench_import.py --predictions 20000 --sdk-python /work/sdk-venv/bin/python
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
    info["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(info))


def _run(args: argparse.Namespace, phase: str, tasks: list[int]) -> dict[str, Any]:
    python = args.sdk_python if phase == "sdk" else sys.executable
    cmd = [python, __file__, "--phase", phase, "--project", str(args.project)]
    cmd += ["--boxes", str(args.boxes), "--batch", str(args.batch)]
    ids = args.work / f"{phase}-tasks.json"
    ids.write_text(json.dumps(tasks))
    env = {
        **os.environ,
        "LABEL_STUDIO_URL": args.url,
        "LABEL_STUDIO_API_KEY": args.api_key,
        "BENCH_TASK_IDS": str(ids),
        "LS_FRAMES_DISABLE_PROGRESS_BARS": "1",
    }
    done = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _seed(args: argparse.Namespace) -> list[int]:
    import ls_frames

    with ls_frames.Client(args.url, args.api_key) as client:
        project = client.post_json(
            "api/projects", json={"title": "bench_import", "label_config": CONFIG}
        )
        args.project = int(project["id"])
        ids: list[int] = []
        for start in range(0, args.predictions, 5000):
            n = min(5000, args.predictions - start)
            tasks = [{"image": f"/static/{start + i}.jpg"} for i in range(n)]
            answer = client.post_json(
                f"api/projects/{args.project}/import",
                json=tasks,
                params={"return_task_ids": "true"},
            )
            ids.extend(int(t) for t in answer["task_ids"])
    return sorted(ids)


def _check(args: argparse.Namespace, n: int, sample: int, phases: list[str]) -> dict[str, int]:
    import ls_frames

    with ls_frames.Client(args.url, args.api_key) as client:
        listed = client.get_json(f"api/projects/{args.project}/model-versions/")
    expected = {"ls_frames": n, "httpx": n, "sdk": sample}
    expected = {
        k: v
        for k, v in expected.items()
        if k in phases or (k == "ls_frames" and "replace" in phases)
    }
    assert listed == expected, listed
    return dict(listed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=os.environ.get("LABEL_STUDIO_URL"))
    parser.add_argument("--api-key", default=os.environ.get("LABEL_STUDIO_API_KEY"))
    parser.add_argument("--predictions", type=int, default=20_000)
    parser.add_argument("--boxes", type=int, default=3, help="rectangles per prediction")
    parser.add_argument("--sdk-sample", type=int, default=500)
    parser.add_argument(
        "--batch", type=int, default=1000, help="predictions per hand-written bulk request"
    )
    parser.add_argument("--sdk-python", default=sys.executable)
    parser.add_argument(
        "--phases",
        default="ls_frames,httpx,replace,sdk",
        help="which runs, in this order (the server's cost per request grows with the "
        "predictions already in the project: alternate the order to see it)",
    )
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    parser.add_argument("--project", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        _phase(args)
        return
    args.work = Path(tempfile.mkdtemp(prefix="bench_import-"))
    tasks = _seed(args)
    print(f"project {args.project}: {len(tasks)} tasks, {args.boxes} boxes a prediction")
    phases = args.phases.split(",")
    rows: dict[str, dict[str, Any]] = {}
    for phase in phases:
        sample = tasks[: args.sdk_sample] if phase == "sdk" else tasks
        rows[phase] = _run(args, phase, sample)
        print(phase, rows[phase], flush=True)
    _check(args, len(tasks), min(args.sdk_sample, len(tasks)), phases)
    print()
    print(f"{len(tasks)} predictions, {args.boxes} boxes each (order: {args.phases}):")
    names = {
        "ls_frames": "import_predictions",
        "replace": "same, replace=True",
        "httpx": f"hand-written bulk ({args.batch} a request)",
        "sdk": "SDK loop",
    }
    for phase, row in rows.items():
        seconds = row["seconds"]
        if phase == "sdk":
            seconds = seconds * len(tasks) / min(args.sdk_sample, len(tasks))
            note = f" (extrapolated from {args.sdk_sample}: {row['seconds']:.1f} s)"
        else:
            note = (
                f" (inside the call {row['call_seconds']:.1f} s)" if "call_seconds" in row else ""
            )
        print(f"  {names[phase]:38s} {seconds:8.1f} s  peak RSS {row['peak_rss_mb']:.0f} MB{note}")
        row["total_seconds"] = seconds
    if "ls_frames" in rows:
        ours = rows["ls_frames"]["total_seconds"]
        for other in ("sdk", "httpx"):
            if other in rows:
                print(
                    f"  {names[other]} / import_predictions: {rows[other]['total_seconds'] / ours:.2f}x"
                )


if __name__ == "__main__":
    main()
