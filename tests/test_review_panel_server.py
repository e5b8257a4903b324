"""The review gallery against the real Label Studio: a seeded project with annotations and
two model versions whose outcomes are known (tests/review_project.py), loaded with
load_project, its images fetched, the panel driven headless (set values, click)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

import ls_frames
from tests.review_project import REVIEW_TASKS, fp_score, seed_review_project

pytestmark = [pytest.mark.server]


@pytest.fixture(scope="module")
def client(label_studio: Any) -> Iterator[ls_frames.Client]:
    with ls_frames.Client(label_studio.url, label_studio.access_token) as made:
        yield made


@pytest.fixture(scope="module")
def project(label_studio: Any, client: ls_frames.Client) -> dict[str, Any]:
    return seed_review_project(label_studio, client, "ls_frames review gallery tests")


@pytest.fixture(scope="module")
def loaded(
    project: dict[str, Any], client: ls_frames.Client, tmp_path_factory: pytest.TempPathFactory
) -> tuple[ls_frames.Frames, Any]:
    frames = ls_frames.load_project(project["project_id"], client=client, progress=False)
    media = ls_frames.fetch_media(
        frames, tmp_path_factory.mktemp("media"), client=client, progress=False
    )
    assert media["error"].isna().all()
    return frames, media


def _index(frames: ls_frames.Frames) -> dict[int, int]:
    """task id -> the demo index in its data."""
    tasks = frames.tasks
    return dict(zip(tasks["task_id"].astype(int), tasks["data.index"].astype(int), strict=True))


def test_false_positives_of_an_evaluation_hold_exactly_those(
    loaded: tuple[ls_frames.Frames, Any], client: ls_frames.Client, project: dict[str, Any]
) -> None:
    frames, media = loaded
    evaluation = ls_frames.evaluate(frames, "box")
    panel = ls_frames.ReviewPanel(
        frames, media=media, from_name="box", evaluation=evaluation, client=client
    )
    assert panel.error is None
    panel.outcome_filter.value = "fp"
    index = _index(frames)
    # what was seeded: review-v1's bird box on each of its tasks, the demo model's one box
    # on each even task that has a reference annotation
    demo_fp = {i for i in range(0, 12, 2) if i not in (1, 11)}
    expected = {("review-v1", i, fp_score(i)) for i in REVIEW_TASKS}
    expected |= {("demo-model-v1", i, 0.75) for i in demo_fp}
    got = {
        (str(r["model_version"]), index[int(r["task_id"])], round(float(r["score"]), 2))
        for r in panel.rows.to_dict("records")
    }
    assert got == expected and len(panel.rows) == len(expected)
    # the same count as the evaluation's
    every = evaluation[evaluation["label"] == "all"]
    assert len(panel.rows) == int(every["fp"].sum())
    panel.version_filter.value = "review-v1"
    assert set(panel.rows["label"]) == {"bird"}
    assert len(panel.rows) == len(REVIEW_TASKS)
    # each card: the task drawn (a JPEG), its outcome, its link
    assert panel.grid.value.count("data:image/jpeg;base64,") == len(REVIEW_TASKS)
    assert panel.grid.value.count("lsf-card-fp") == len(REVIEW_TASKS)


def test_links_open_the_right_task(
    loaded: tuple[ls_frames.Frames, Any], client: ls_frames.Client, project: dict[str, Any]
) -> None:
    frames, media = loaded
    panel = ls_frames.ReviewPanel(frames, media=media, from_name="box", client=client)
    panel.outcome_filter.value = "fp"
    pid = project["project_id"]
    base = str(client.base_url).rstrip("/")
    assert len(panel.links) == len(panel.page_rows) > 0
    index = _index(frames)
    for link, task in zip(panel.links, panel.page_rows["task_id"], strict=True):
        parts = urlsplit(link)
        assert f"{parts.scheme}://{parts.netloc}" == base
        assert parts.path == f"/projects/{pid}/data"
        (tid,) = parse_qs(parts.query)["task"]
        # the task the link names is this card's, in this project, on this server
        served = client.get_json(f"api/tasks/{int(tid)}")
        assert int(served["id"]) == int(task)
        assert int(served["project"]) == pid
        assert int(served["data"]["index"]) == index[int(task)]
    # the page is Label Studio's: without a session it asks for a login, then goes on to
    # this task of this project
    answer = httpx.get(panel.links[0], follow_redirects=False, timeout=30)
    assert answer.status_code == 302
    after = parse_qs(urlsplit(answer.headers["location"]).query)["next"][0]
    assert urlsplit(after).path.rstrip("/") == f"/projects/{pid}/data"
    assert parse_qs(urlsplit(after).query)["task"] == [str(int(panel.page_rows["task_id"].iloc[0]))]


def test_the_threshold_recomputes_precision_and_recall(
    loaded: tuple[ls_frames.Frames, Any], client: ls_frames.Client
) -> None:
    frames, media = loaded
    panel = ls_frames.ReviewPanel(frames, media=media, from_name="box", client=client)
    panel.version_filter.value = "review-v1"
    n = len(REVIEW_TASKS)
    scores = panel.scores.set_index("model_version").loc["review-v1"]
    assert (scores["tp"], scores["fp"], scores["fn"]) == (2 * n, n, 0)
    assert scores["precision"] == pytest.approx(2 / 3) and scores["recall"] == 1.0
    panel.threshold.value = 0.5  # every false positive scores under 0.31
    scores = panel.scores.set_index("model_version").loc["review-v1"]
    assert (scores["tp"], scores["fp"], scores["fn"]) == (2 * n, 0, 0)
    assert scores["precision"] == 1.0
    panel.threshold.value = 0.7  # the moved boxes (0.6) drop: their references are missed
    scores = panel.scores.set_index("model_version").loc["review-v1"]
    assert (scores["tp"], scores["fp"], scores["fn"]) == (n, 0, n)
    assert scores["recall"] == 0.5
    panel.outcome_filter.value = "fn"
    assert len(panel.rows) == n
    assert "review-v1" in panel.metrics.value and "0.500" in panel.metrics.value
    # low IoU: the boxes moved by 6 % on the odd tasks (IoU 0.54)
    panel.threshold.value = 0.0
    panel.outcome_filter.value = "low_iou"
    index = _index(frames)
    assert sorted(index[int(t)] for t in panel.rows["task_id"]) == [
        i for i in REVIEW_TASKS if i % 2
    ]
    assert panel.rows["iou"].between(0.5, 0.6).all()


def test_the_button_makes_a_tab_holding_exactly_the_selected_tasks(
    loaded: tuple[ls_frames.Frames, Any], client: ls_frames.Client, project: dict[str, Any]
) -> None:
    frames, media = loaded
    panel = ls_frames.ReviewPanel(frames, media=media, from_name="box", client=client)
    panel.outcome_filter.value = "fp"
    panel.version_filter.value = "demo-model-v1"  # the even tasks: not consecutive ids
    chosen = panel.task_ids
    index = _index(frames)
    assert sorted(index[t] for t in chosen) == [0, 2, 4, 6, 8, 10]
    panel.tab_title.value = "gallery: demo model false positives"
    panel.tab_button.click()
    assert panel.error is None, panel.error_box.value
    (url,) = panel.tab_urls
    pid = project["project_id"]
    assert url.startswith(f"{str(client.base_url).rstrip('/')}/projects/{pid}/data?tab=")
    view = int(url.rsplit("=", 1)[1])
    listed = client.get_json("api/tasks/", params={"view": view, "page_size": 100, "include": "id"})
    assert sorted(int(t["id"]) for t in listed["tasks"]) == chosen
    titles = {int(v["id"]): v["data"]["title"] for v in client.list_views(pid)}
    assert titles[view] == "gallery: demo model false positives"
    assert url in panel.status.value


def test_the_surest_false_positive_comes_first(loaded: tuple[ls_frames.Frames, Any]) -> None:
    """From the loaded frames to a picture of the surest false positive: the gallery
    sorts by score, highest first."""
    frames, media = loaded
    panel = ls_frames.ReviewPanel(frames, media=media, from_name="box")
    panel.outcome_filter.value = "fp"
    first = panel.page_rows.iloc[0]
    assert float(first["score"]) == float(panel.rows["score"].max())
    assert panel.grid.value.index(f"data-task='{int(first['task_id'])}'") > 0
