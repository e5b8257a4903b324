"""The panel in a real browser: Voila serves a notebook holding an ``ExportPanel`` on
loopback, headless Chromium (driven by Playwright) picks the demo project, clicks Export,
waits for the preview and checks the row counts it shows. A screenshot goes to
``test-output/panel-browser.png``.

Needs ``voila`` and ``playwright`` (the ``test`` extra) and Debian's ``chromium`` at
``/usr/bin/chromium`` (``make test`` installs it). Without them the test is skipped on a
developer's machine and fails under CI (``CI`` set), where they must be there.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.voila import (
    CHROMIUM,
    CHROMIUM_ARGS,
    REPO,
    playwright_api,
    require_voila,
    serve_voila,
)

pytestmark = pytest.mark.server

APP = """\
import os
import ls_frames

panel = ls_frames.ExportPanel(work_dir=os.environ["LS_FRAMES_PANEL_WORK_DIR"])
panel
"""


@pytest.fixture
def voila_url(label_studio: Any, access_token: str, tmp_path: Path) -> Iterator[str]:
    require_voila()
    env = {
        "LABEL_STUDIO_URL": label_studio.url,
        "LABEL_STUDIO_API_KEY": access_token,
        "LS_FRAMES_PANEL_WORK_DIR": str(tmp_path / "work"),
    }
    with serve_voila(tmp_path, "panel_app.ipynb", APP, env) as url:
        yield url


def test_export_in_a_real_browser(voila_url: str, demo_project: dict[str, Any]) -> None:
    api = playwright_api()
    expect, sync_playwright = api.expect, api.sync_playwright
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
