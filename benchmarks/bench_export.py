"""End-to-end export benchmark against a real Label Studio, side by side in one run.

Sides (each in a fresh subprocess; wall time and peak RSS of that process):

* ``ls_frames``     snapshot (full objects) + wait + streamed download to a file
* ``sdk_as_json``   the official SDK's ``projects.exports.as_json`` (what its docs show)
* ``sdk_snapshot``  the SDK's snapshot path: ``exports.create`` + poll ``get`` + ``download``
                    written to a file, with the same serialization options
* download only, on one completed snapshot: ls_frames ``Export.download`` versus ``curl``

Usage::

    python benchmarks/bench_export.py                 # starts and seeds a local server
    python benchmarks/bench_export.py --url URL --api-key KEY --project 3

Needs the ``bench`` extra (``pip install -e '.[bench]'``) for the SDK sides.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _rows import result_row

HERE = Path(__file__).resolve()
DEFAULT_SDK_PYTHON = HERE.parents[1] / ".venv-labelstudio" / "bin" / "python"
SERIALIZATION = {
    "predictions": {"only_id": False},
    "drafts": {"only_id": False},
    "annotations__completed_by": {"only_id": False},
}
CONFIG = """<View><Image name="image" value="$image"/>
<RectangleLabels name="box" toName="image"><Label value="cat"/><Label value="dog"/></RectangleLabels>
<Choices name="kind" toName="box" perRegion="true"><Choice value="indoor"/><Choice value="outdoor"/></Choices>
</View>"""


# -- one side, run in a child process ---------------------------------------------------------
def side(
    name: str, url: str, key: str, project: int, out: Path, export_id: int | None
) -> dict[str, Any]:
    # imports are not timed, on either side; the SDK's sides run under the Python of its
    # own environment (--sdk-python), where ls_frames is not installed
    if name.startswith("sdk"):
        from label_studio_sdk.client import LabelStudio
    else:
        import ls_frames
    started = time.perf_counter()
    size = 0
    if name == "ls_frames":
        with ls_frames.Client(url, key) as client:
            export = client.create_export(project).wait(poll_interval=0.5, progress=False)
            size = export.download(out, progress=False).stat().st_size
    elif name == "ls_frames_download":
        with ls_frames.Client(url, key) as client:
            export = client.get_export(project, int(export_id or 0))
            started = time.perf_counter()  # the download alone, as for curl
            size = export.download(out, progress=False).stat().st_size
    elif name == "sdk_as_json":
        ls = LabelStudio(base_url=url, api_key=key)
        tasks = ls.projects.exports.as_json(project, timeout=3600)
        size = len(tasks)
    elif name == "sdk_snapshot":
        ls = LabelStudio(base_url=url, api_key=key)
        snap = ls.projects.exports.create(
            project,
            title="sdk bench",
            serialization_options=SERIALIZATION,
            request_options={"timeout_in_seconds": 3600},
        )
        while snap.status not in ("completed", "failed"):
            time.sleep(0.5)
            snap = ls.projects.exports.get(project, snap.id)
        with open(out / "sdk.json", "wb") as fh:
            for chunk in ls.projects.exports.download(project, snap.id, export_type="JSON"):
                fh.write(chunk)
        size = (out / "sdk.json").stat().st_size
    else:
        raise SystemExit(f"unknown side {name}")
    return {"seconds": time.perf_counter() - started, "size": size}


def run_side(name: str, args: argparse.Namespace, export_id: int | None = None) -> dict[str, Any]:
    out = Path(tempfile.mkdtemp(prefix=f"bench-{name}-"))
    cmd = [
        args.sdk_python if name.startswith("sdk") else sys.executable,
        str(HERE),
        "--side",
        name,
        "--url",
        args.url,
        "--api-key",
        args.api_key,
        "--project",
        str(args.project),
        "--out",
        str(out),
    ]
    if export_id is not None:
        cmd += ["--export-id", str(export_id)]
    env = {**os.environ, "LS_FRAMES_DISABLE_PROGRESS_BARS": "1"}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, env=env)
    assert proc.stdout is not None
    output = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    shutil.rmtree(out, ignore_errors=True)
    if status != 0:
        raise SystemExit(f"side {name} failed (status {status})")
    result: dict[str, Any] = json.loads(output.decode().strip().splitlines()[-1])
    result["peak_rss_mb"] = usage.ru_maxrss / 1024
    return result


def curl_download(args: argparse.Namespace, export_id: int) -> float:
    curl = shutil.which("curl")
    if curl is None:
        return float("nan")
    target = Path(tempfile.mkdtemp()) / "curl.json"
    started = time.perf_counter()
    subprocess.run(
        [
            curl,
            "-sS",
            "-f",
            "-o",
            str(target),
            "-H",
            f"Authorization: Token {args.api_key}",
            f"{args.url.rstrip('/')}/api/projects/{args.project}/exports/{export_id}/download?exportType=JSON",
        ],
        check=True,
    )
    elapsed = time.perf_counter() - started
    shutil.rmtree(target.parent, ignore_errors=True)
    return elapsed


# -- seeding -----------------------------------------------------------------------------------
def seed(url: str, key: str, n_tasks: int) -> int:
    import ls_frames

    with ls_frames.Client(url, key, http_timeout=600) as client:
        project = client.post_json(
            "api/projects", {"title": f"bench {n_tasks}", "label_config": CONFIG}
        )
        pid = int(project["id"])
        batch = 2000
        for start in range(0, n_tasks, batch):
            tasks = []
            for i in range(start, min(start + batch, n_tasks)):
                box = {
                    "id": f"r{i}",
                    "from_name": "box",
                    "to_name": "image",
                    "type": "rectanglelabels",
                    "original_width": 800,
                    "original_height": 600,
                    "value": {
                        "x": 10.5,
                        "y": 20.25,
                        "width": 30,
                        "height": 40,
                        "rotation": 0,
                        "rectanglelabels": ["cat" if i % 3 else "dog"],
                    },
                }
                choice = {
                    "id": f"r{i}",
                    "from_name": "kind",
                    "to_name": "image",
                    "type": "choices",
                    "value": {
                        "x": 10.5,
                        "y": 20.25,
                        "width": 30,
                        "height": 40,
                        "choices": ["indoor"],
                    },
                }
                tasks.append(
                    {
                        "data": {"image": f"/data/images/{i}.jpg", "batch": start},
                        "annotations": [
                            {
                                "result": [box, choice],
                                "ground_truth": False,
                                "was_cancelled": i % 17 == 0,
                                "lead_time": 3.5,
                            }
                        ],
                        "predictions": [{"model_version": "v1", "score": 0.8, "result": [box]}],
                    }
                )
            client.post_json(f"api/projects/{pid}/import", tasks, timeout=600)
        return pid


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--side")
    parser.add_argument("--url")
    parser.add_argument("--api-key")
    parser.add_argument("--project", type=int)
    parser.add_argument("--export-id", type=int)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--tasks", type=int, default=20_000)
    parser.add_argument(
        "--sdk-python",
        default=str(DEFAULT_SDK_PYTHON if DEFAULT_SDK_PYTHON.exists() else sys.executable),
        help="the Python that runs the SDK's sides (its pins clash with the library's); "
        "default: Label Studio's environment, which has the SDK",
    )
    parser.add_argument("--repeat", type=int, default=5, help="download-only repeats")
    args = parser.parse_args()
    if args.side:
        print(
            json.dumps(
                side(args.side, args.url, args.api_key, args.project, args.out, args.export_id)
            )
        )
        return
    if args.url:
        compare(args)
        return
    from ls_frames.testing import LocalLabelStudio

    with LocalLabelStudio() as server:
        args.url, args.api_key = server.url, server.legacy_token
        t0 = time.perf_counter()
        args.project = seed(args.url, args.api_key, args.tasks)
        print(f"seeded {args.tasks} tasks in {time.perf_counter() - t0:.1f} s")
        compare(args)


def compare(args: argparse.Namespace) -> None:
    if args.project is None:
        args.project = seed(args.url, args.api_key, args.tasks)
    rows = {}
    for name in ("ls_frames", "sdk_as_json", "sdk_snapshot"):
        rows[name] = run_side(name, args)
        print(
            f"{name:<14} {rows[name]['seconds']:8.2f} s  peak RSS {rows[name]['peak_rss_mb']:7.0f} MB",
            flush=True,
        )
    import ls_frames

    with ls_frames.Client(args.url, args.api_key) as client:
        export = client.create_export(args.project).wait(progress=False)
    lsf = [run_side("ls_frames_download", args, export.id) for _ in range(args.repeat)]
    curl = [curl_download(args, export.id) for _ in range(args.repeat)]
    size_mb = lsf[0]["size"] / 1e6
    lsf_s = statistics.median(r["seconds"] for r in lsf)
    curl_s = statistics.median(curl)
    print()
    print(f"snapshot: {args.tasks} tasks, {size_mb:.1f} MB")
    base = rows["ls_frames"]["seconds"]
    for name, row in rows.items():
        print(
            f"  {name:<14} {row['seconds']:8.2f} s ({row['seconds'] / base:5.2f}x ls_frames)  "
            f"peak RSS {row['peak_rss_mb']:7.0f} MB"
        )
        if name != "ls_frames":
            result_row(
                f"snapshot of {args.tasks:,} tasks created and downloaded vs {name}",
                row["seconds"] / base,
                rss_mb=round(rows["ls_frames"]["peak_rss_mb"]),
                seconds=round(base, 2),
                other_s=round(row["seconds"], 2),
                other_rss_mb=round(row["peak_rss_mb"]),
            )
    print(
        f"download only (median of {args.repeat}): ls_frames {lsf_s:.2f} s = {size_mb / lsf_s:.0f} MB/s "
        f"(peak RSS {max(r['peak_rss_mb'] for r in lsf):.0f} MB); curl {curl_s:.2f} s = "
        f"{size_mb / curl_s:.0f} MB/s; ratio {lsf_s / curl_s:.2f}x curl's time"
    )


if __name__ == "__main__":
    main()
