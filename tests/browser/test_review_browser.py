"""The review gallery in a real browser: Voila serves a notebook holding a ``ReviewPanel``
over a seeded project (tests/review_project.py) with its images fetched; headless Chromium
(driven by Playwright, as in test_panel_browser.py) picks "false positive" in the outcome
filter, waits for the cards, and checks that each card's picture arrived and is drawn (its
pixels in the screenshot are not one flat colour, nor the grey of a card without an image).
The screenshot goes to ``test-output/review-browser.png``.

Needs ``voila``, ``playwright`` (the ``test`` extra), Pillow (the ``plot`` extra) and
Debian's ``chromium`` at ``/usr/bin/chromium``; without them the test is skipped on a
developer's machine and fails under CI.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import ls_frames
from tests.browser.voila import (
    CHROMIUM,
    CHROMIUM_ARGS,
    REPO,
    playwright_api,
    require_voila,
    serve_voila,
)
from tests.review_project import REVIEW_TASKS, seed_review_project

pytestmark = pytest.mark.server

APP = """\
import os
import ls_frames

client = ls_frames.Client()
frames = ls_frames.load_project(int(os.environ["LS_FRAMES_PROJECT"]), client=client)
media = ls_frames.fetch_media(frames, os.environ["LS_FRAMES_MEDIA_DIR"], client=client)
panel = ls_frames.ReviewPanel(frames, media=media, from_name="box", client=client)
panel
"""


@pytest.fixture
def review_app(label_studio: Any, access_token: str, tmp_path: Path) -> Iterator[dict[str, Any]]:
    require_voila()
    with ls_frames.Client(label_studio.url, access_token) as client:
        project = seed_review_project(label_studio, client, "ls_frames review gallery browser")
    env = {
        "LABEL_STUDIO_URL": label_studio.url,
        "LABEL_STUDIO_API_KEY": access_token,
        "LS_FRAMES_PROJECT": str(project["project_id"]),
        "LS_FRAMES_MEDIA_DIR": str(tmp_path / "media"),
    }
    with serve_voila(tmp_path, "review_app.ipynb", APP, env) as url:
        yield {"url": url, **project}


def _drawn(shot: bytes, box: Any) -> tuple[float, int]:
    """The spread of the pixels of ``box`` in the screenshot (standard deviation over the
    channels) and how many distinct colours it holds."""
    import numpy as np
    from PIL import Image

    image = Image.open(io.BytesIO(shot)).convert("RGB")
    left, top = int(box["x"]) + 2, int(box["y"]) + 2
    crop = image.crop(
        (left, top, int(box["x"] + box["width"]) - 2, int(box["y"] + box["height"]) - 2)
    )
    pixels = np.asarray(crop).reshape(-1, 3)
    return float(pixels.std()), len(np.unique(pixels, axis=0))


def test_the_gallery_shows_drawn_images_in_a_real_browser(review_app: dict[str, Any]) -> None:
    api = playwright_api()
    expect, sync_playwright = api.expect, api.sync_playwright
    shot_path = REPO / "test-output" / "review-browser.png"
    shot_path.parent.mkdir(exist_ok=True)
    n_fp = len(REVIEW_TASKS) + 6  # review-v1's bird boxes, the demo model's even tasks
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1600})
            page.goto(review_app["url"], timeout=180_000)
            outcome = page.locator(".lsf-outcome-filter select")
            expect(outcome).to_have_count(1, timeout=180_000)
            outcome.select_option(label="false positive")
            expect(page.locator(".lsf-page")).to_contain_text(f"{n_fp} rows", timeout=60_000)
            cards = page.locator(".lsf-card")
            expect(cards).to_have_count(n_fp, timeout=60_000)
            assert page.locator(".lsf-error").inner_text().strip() == ""
            assert cards.locator(".lsf-outcome").first.inner_text() == "false positive"
            images = page.locator(".lsf-card img.lsf-card-image")
            # every picture arrived and was decoded by the browser, as a JPEG of the task
            widths = images.evaluate_all("els => els.map(e => e.complete ? e.naturalWidth : 0)")
            assert len(set(widths)) == 1 and 0 < widths[0] <= 320, widths  # fit to the card
            sources = images.evaluate_all("els => els.map(e => e.src.slice(0, 23))")
            assert set(sources) == {"data:image/jpeg;base64,"}
            links = page.locator(".lsf-card a.lsf-task-link")
            expect(links).to_have_count(n_fp)
            pid = review_app["project_id"]
            assert all(
                f"/projects/{pid}/data?task=" in href
                for href in links.evaluate_all("els => els.map(e => e.href)")
            )
            first = images.first
            first.scroll_into_view_if_needed()
            box = first.bounding_box()
            assert box is not None and box["width"] >= 300 and box["height"] >= 100
            shot = page.screenshot(path=str(shot_path), full_page=False)
        finally:
            browser.close()
    spread, colours = _drawn(shot, box)
    # a drawn image: many colours (the picture's gradient, the boxes, their captions),
    # not a blank or grey card
    assert spread > 10 and colours > 200, (spread, colours)
    assert shot_path.stat().st_size > 20_000
