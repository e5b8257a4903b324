"""The panel in a real browser: Voila serves a notebook holding an ``ExportPanel`` on
loopback, headless Chromium (driven by Playwright) picks the demo project, clicks Export,
waits for the preview and checks the row counts it shows. A screenshot goes to
``test-output/panel-browser.png``.

Needs ``voila`` and ``playwright`` (the ``test`` extra) and Debian's ``chromium`` at
``/usr/bin/chromium`` (``make test`` installs it). Without them the test is skipped on a
developer's machine and fails under CI (``CI`` set), where they must be there.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest

from tests.needs import missing

pytestmark = pytest.mark.server

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
APP = """\
import os
import ls_frames

panel = ls_frames.ExportPanel(work_dir=os.environ["LS_FRAMES_PANEL_WORK_DIR"])
panel
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float) -> None:
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


@pytest.fixture
def voila_url(label_studio: Any, access_token: str, tmp_path: Path) -> Iterator[str]:
    if shutil.which("voila", path=str(Path(sys.executable).parent)) is None:
        missing("voila")
    app = tmp_path / "panel_app.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(APP)]), app)
    port = _free_port()
    env = {
        **os.environ,
        "LABEL_STUDIO_URL": label_studio.url,
        "LABEL_STUDIO_API_KEY": access_token,
        "LS_FRAMES_PANEL_WORK_DIR": str(tmp_path / "work"),
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
            str(app),
            "--no-browser",
            f"--port={port}",
            "--Voila.ip=127.0.0.1",
            "--show_tracebacks=True",
        ],
        cwd=tmp_path,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_for_port(port, process, timeout=60)
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


def test_export_in_a_real_browser(voila_url: str, demo_project: dict[str, Any]) -> None:
    if not Path(CHROMIUM).exists():
        missing(CHROMIUM)
    try:
        from playwright.sync_api import expect, sync_playwright
    except ImportError:
        missing("playwright")
    counts = demo_project["counts"]
    option = f"{demo_project['title']} (#{demo_project['project_id']})"
    shot = REPO / "test-output" / "panel-browser.png"
    shot.parent.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 1800})
            page.goto(voila_url, timeout=120_000)
            project = page.locator(".lsf-project select")
            # the project list arrives from the server after the page is drawn
            expect(project.locator("option", has_text=option)).to_have_count(1, timeout=120_000)
            project.select_option(label=option)
            export = page.locator("button.lsf-export")
            expect(page.locator(".lsf-status")).to_contain_text(
                f"project {demo_project['project_id']}:", timeout=60_000
            )
            expect(export).to_be_enabled(timeout=60_000)
            export.click()
            shown = page.locator(".lsf-counts")
            expect(shown).to_contain_text(f"tasks {counts['tasks']}", timeout=120_000)
            expect(export).to_be_enabled(timeout=30_000)
            assert page.locator(".lsf-error").inner_text().strip() == ""
            text = shown.inner_text()
            for name in ("annotations", "predictions", "relations"):
                assert f"{name} {counts[name]}" in text, text
            tabs = page.locator(".lsf-panel .lm-TabBar-tab").all_inner_texts()
            assert [t.strip() for t in tabs][:2] == [
                f"tasks ({counts['tasks']})",
                f"annotations ({counts['annotations']})",
            ]
            expect(page.locator(".lsf-chart")).to_contain_text("cat")
            # formats the label config cannot produce are shown, disabled
            page.get_by_text("Converted formats", exact=True).first.click()
            expect(page.locator(".lsf-format-CONLL2003 input")).to_be_disabled()
            expect(page.locator(".lsf-format-CSV input")).to_be_enabled()
            page.locator(".lsf-counts").scroll_into_view_if_needed()
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    assert shot.stat().st_size > 10_000
