"""What the browser tests share: the Chromium they drive, and a notebook served by Voila
on a free loopback port (its log printed when it stops)."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import nbformat

from tests.needs import missing

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("LS_FRAMES_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def require_voila() -> None:
    """Skip (or fail under CI) when ``voila`` is not installed next to this Python."""
    if shutil.which("voila", path=str(Path(sys.executable).parent)) is None:
        missing("voila")


def playwright_api() -> Any:
    """``playwright.sync_api``, after checking that Chromium is there (else skip, or fail
    under CI)."""
    if not Path(CHROMIUM).exists():
        missing(CHROMIUM)
    try:
        from playwright import sync_api
    except ImportError:
        missing("playwright")
    return sync_api


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"voila exited with {process.returncode}")
        with socket.socket() as sock:
            sock.settimeout(0.5)
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise AssertionError(f"voila did not listen on port {port} within {timeout} s")


@contextlib.contextmanager
def serve_voila(tmp_path: Path, name: str, app: str, env: Mapping[str, str]) -> Iterator[str]:
    """Voila serving a notebook ``name`` (in ``tmp_path``) whose one cell is ``app``, with
    ``env`` added to the environment; yields its URL."""
    notebook = tmp_path / name
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(app)]), notebook)
    port = free_port()
    full_env = {
        **os.environ,
        **env,
        "LS_FRAMES_DISABLE_PROGRESS_BARS": "1",
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
        "JUPYTER_CONFIG_DIR": str(tmp_path / "config"),
    }
    log = (tmp_path / "voila.log").open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "voila",
            str(notebook),
            "--no-browser",
            f"--port={port}",
            "--Voila.ip=127.0.0.1",
            "--show_tracebacks=True",
        ],
        cwd=tmp_path,
        env=full_env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for_port(port, process, timeout=60)
        yield f"http://127.0.0.1:{port}/"
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
        print((tmp_path / "voila.log").read_text(errors="replace")[-3000:])
