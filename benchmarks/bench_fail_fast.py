"""How long a mistyped URL takes to fail, side by side in one run.

Three mistakes a user makes: a port where nothing listens (connection refused), a host
name that does not resolve, ``https://`` against a plain-http Label Studio. For each, the
time until the first error, measured inside the process (imports excluded), with:

* ``ls_frames``   ``Client(url, key).list_projects()``, default retry policy
* ``sdk``         the official SDK: ``LabelStudio(base_url=url, api_key=key).projects.list()``
                  (run with the Label Studio environment's Python, which has it)
* ``httpx``       one plain ``httpx.get`` (the floor: no retry at all)

Usage::

    python benchmarks/bench_fail_fast.py --url http://127.0.0.1:8080 --api-key KEY \\
        [--sdk-python .venv-labelstudio/bin/python]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

HERE = Path(__file__).resolve()

LS_FRAMES = """
import time, warnings, ls_frames
warnings.simplefilter("ignore")
started = time.monotonic()
try:
    with ls_frames.Client(URL, KEY) as c:
        c.list_projects()
except Exception as exc:
    error = f"{type(exc).__name__}: {exc}"
"""
SDK = """
import time
from label_studio_sdk.client import LabelStudio
started = time.monotonic()
try:
    list(LabelStudio(base_url=URL, api_key=KEY).projects.list())
except Exception as exc:
    error = f"{type(exc).__name__}: {exc}"
"""
HTTPX = """
import time, httpx
started = time.monotonic()
try:
    httpx.get(URL + "/api/projects/", headers={"Authorization": "Token " + KEY})
except Exception as exc:
    error = f"{type(exc).__name__}: {exc}"
"""
TAIL = """
import json, resource
print(json.dumps({"seconds": time.monotonic() - started, "error": error[:160],
                  "peak_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _run(python: str, body: str, url: str, key: str) -> dict[str, object]:
    code = f"URL = {url!r}\nKEY = {key!r}\nerror = 'no error'\n" + textwrap.dedent(body) + TAIL
    done = subprocess.run(
        [python, "-c", code],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "LS_FRAMES_DISABLE_PROGRESS_BARS": "1"},
    )
    if done.returncode != 0:
        return {"seconds": float("nan"), "error": done.stderr.strip()[-160:], "peak_kb": 0}
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=os.environ.get("LABEL_STUDIO_URL"), required=False)
    parser.add_argument("--api-key", default=os.environ.get("LABEL_STUDIO_API_KEY"))
    parser.add_argument(
        "--sdk-python", default=str(HERE.parents[1] / ".venv-labelstudio" / "bin" / "python")
    )
    args = parser.parse_args()
    if not args.url or not args.api_key:
        parser.error("give --url and --api-key (or LABEL_STUDIO_URL / LABEL_STUDIO_API_KEY)")
    plain_port = args.url.rstrip("/").rsplit(":", 1)[1]
    cases = {
        "connection refused": f"http://127.0.0.1:{_free_port()}",
        "name does not resolve": "https://no-such-host.invalid",
        "https on a plain-http port": f"https://127.0.0.1:{plain_port}",
    }
    sides = {
        "ls_frames": (sys.executable, LS_FRAMES),
        "sdk": (args.sdk_python, SDK),
        "httpx": (sys.executable, HTTPX),
    }
    print(f"{'case':<28} {'side':<10} {'seconds':>8} {'vs httpx':>9} {'peak MB':>8}  error")
    for case, url in cases.items():
        floor = None
        rows = []
        for side, (python, body) in sides.items():
            result = _run(python, body, url, args.api_key)
            seconds = float(result["seconds"])  # type: ignore[arg-type]
            if side == "httpx":
                floor = seconds
            rows.append((side, seconds, result))
        for side, seconds, result in rows:
            ratio = seconds / floor if floor else float("nan")
            peak = int(result["peak_kb"]) / 1024  # type: ignore[call-overload]
            print(
                f"{case:<28} {side:<10} {seconds:>8.3f} {ratio:>8.1f}x {peak:>8.1f}  "
                f"{str(result['error'])[:90]}"
            )
    print(
        f"(this process: peak {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.1f} MB)"
    )


if __name__ == "__main__":
    main()
