"""Looking at a real Label Studio project: three annotators, a model's scored boxes, white
uploaded images. ``ls-frames evaluate`` and ``ls-frames agreement`` on the project and on
its Parquet dataset give the tables the functions give; ``show`` draws the regions read
back from the server on the files fetched from it; load_project -> fetch_media ->
show_errors is the three-call path to a picture of the worst false positives."""

from __future__ import annotations

import io
import uuid
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest

import ls_frames
from ls_frames.frontends.cli import main
from ls_frames.testing.images import png_bytes
from ls_frames.testing.media import upload_files
from ls_frames.testing.seed import auth_headers
from tests.image_tasks import scene
from tests.needs import missing

try:
    from PIL import Image
except ImportError:  # pragma: no cover - the plot extra installs it
    Image = None  # type: ignore[assignment]

pytestmark = pytest.mark.server

W, H = 320, 240
RED, BLUE = (255, 0, 0), (0, 0, 255)
CONFIG = """<View><Image name="image" value="$image"/>
<RectangleLabels name="box" toName="image">
  <Label value="cat" background="#ff0000"/><Label value="dog" background="#0000ff"/>
</RectangleLabels>
<BrushLabels name="mask" toName="image"><Label value="sky" background="#0000ff"/></BrushLabels>
<Choices name="scene" toName="image"><Choice value="indoor"/><Choice value="outdoor"/></Choices>
</View>"""


def _box(x: float, label: str, score: float | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {
        "from_name": "box",
        "to_name": "image",
        "type": "rectanglelabels",
        "original_width": W,
        "original_height": H,
        "image_rotation": 0,
        "value": {
            "x": x,
            "y": 25,
            "width": 25,
            "height": 50,
            "rotation": 0,
            "rectanglelabels": [label],
        },
    }
    if score is not None:
        item["score"] = score
    return item


def _sky() -> dict[str, Any]:
    mask = np.zeros((H, W), np.uint8)
    mask[:40, :] = 255
    value = {"format": "rle", "rle": ls_frames.mask_to_rle(mask), "brushlabels": ["sky"]}
    return {
        "from_name": "mask",
        "to_name": "image",
        "type": "brushlabels",
        "original_width": W,
        "original_height": H,
        "image_rotation": 0,
        "value": value,
    }


def _scene(value: str) -> dict[str, Any]:
    return scene(value, rid=None)


@pytest.fixture(scope="module")
def project(label_studio: Any) -> dict[str, Any]:
    """Six tasks: the first annotator's annotation is the ground truth (a cat box at 10%,
    the sky); two others answer the scene; the model finds the cat (score 0.9) and sees a
    dog that is not there (at 60%, score 0.2 + task/10)."""
    tag = uuid.uuid4().hex[:8]
    headers = auth_headers(label_studio.url, label_studio.legacy_token)
    white = png_bytes(np.full((H, W, 3), 255, np.uint8))
    with httpx.Client(base_url=label_studio.url, headers=headers, timeout=120) as http:
        users = []
        for k in range(3):
            email = f"looking-{tag}-{k}@example.org"
            answer = http.post("/api/users/", json={"email": email, "username": email})
            answer.raise_for_status()
            users.append(answer.json()["id"])
        answer = http.post(
            "/api/projects", json={"title": f"looking {tag}", "label_config": CONFIG}
        )
        answer.raise_for_status()
        pid = answer.json()["id"]
        refs = upload_files(http, pid, {f"white-{i}.png": white for i in range(6)})
        tasks = []
        for i in range(6):
            scenes = ["indoor", "outdoor" if i % 2 else "indoor", "outdoor" if i % 3 else "indoor"]
            annotations = [
                {
                    "completed_by": user,
                    "was_cancelled": False,
                    "ground_truth": k == 0,
                    "result": ([_box(10, "cat"), _sky()] if k == 0 else []) + [_scene(scenes[k])],
                }
                for k, user in enumerate(users)
            ]
            prediction = {
                "model_version": "m1",
                "result": [_box(11, "cat", 0.9), _box(60, "dog", round(0.2 + i / 10, 2))],
            }
            tasks.append(
                {
                    "data": {"image": refs[f"white-{i}.png"]},
                    "annotations": annotations,
                    "predictions": [prediction],
                }
            )
        answer = http.post(
            f"/api/projects/{pid}/import", params={"return_task_ids": "true"}, json=tasks
        )
        answer.raise_for_status()
    return {"project_id": pid, "task_ids": sorted(answer.json()["task_ids"])}


@pytest.fixture(scope="module")
def dataset(
    label_studio: Any, project: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    out = tmp_path_factory.mktemp("looking") / "dataset"
    with ls_frames.Client(label_studio.url, label_studio.legacy_token) as client:
        ls_frames.export_project(project["project_id"], out, client=client, progress=False)
    return out


def _server_args(label_studio: Any) -> list[str]:
    return ["--url", label_studio.url, "--api-key", label_studio.legacy_token, "-q"]


def _frames(label_studio: Any, project: dict[str, Any]) -> Any:
    with ls_frames.Client(label_studio.url, label_studio.legacy_token) as client:
        return ls_frames.load_project(project["project_id"], client=client, progress=False)


def _is_png(path: Path) -> bool:
    if Image is None:
        missing("Pillow (the plot extra)")
    with Image.open(path) as picture:
        return bool(picture.format == "PNG" and picture.width > 100)


@pytest.mark.parametrize("where", ["project", "dataset"])
def test_cli_evaluate(
    where: str,
    label_studio: Any,
    project: dict[str, Any],
    dataset: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    source = str(project["project_id"]) if where == "project" else str(dataset)
    csv, png = tmp_path / "scores.csv", tmp_path / "pr.png"
    code = main(
        [
            "evaluate",
            source,
            "--from-name",
            "box",
            "--csv",
            str(csv),
            "--plot",
            str(png),
            *_server_args(label_studio),
        ]
    )
    printed = capsys.readouterr()
    assert code == 0, printed.err
    expected = ls_frames.evaluate(_frames(label_studio, project), "box")
    assert expected.loc[expected["label"] == "all", ["tp", "fp", "fn"]].values.tolist() == [
        [6, 6, 0]
    ]
    written = pd.read_csv(csv)
    assert written["label"].tolist() == expected["label"].tolist()
    assert written["tp"].tolist() == expected["tp"].tolist()
    assert written["fp"].tolist() == expected["fp"].tolist()
    assert np.allclose(
        written["ap"].to_numpy(float), expected["ap"].to_numpy(float), equal_nan=True
    )
    header = printed.out.splitlines()[0].split()
    assert header[:7] == ["model_version", "label", "tasks", "tp", "fp", "fn", "precision"]
    assert len(printed.out.strip().splitlines()) == 1 + len(expected)
    assert _is_png(png)
    # an existing file is not replaced without --overwrite
    again = main(
        ["evaluate", source, "--from-name", "box", "--csv", str(csv), *_server_args(label_studio)]
    )
    assert again == 1 and "--overwrite" in capsys.readouterr().err


@pytest.mark.parametrize("where", ["project", "dataset"])
def test_cli_agreement(
    where: str,
    label_studio: Any,
    project: dict[str, Any],
    dataset: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    source = str(project["project_id"]) if where == "project" else str(dataset)
    csv, png = tmp_path / "agreement.csv", tmp_path / "agreement.png"
    args = ["agreement", source, "--from-name", "scene", "--method", "percent", "--csv", str(csv)]
    code = main([*args, "--plot", str(png), *_server_args(label_studio)])
    printed = capsys.readouterr()
    assert code == 0, printed.err
    expected = ls_frames.agreement(_frames(label_studio, project), "scene", method="percent")
    assert len(expected) == 3  # three annotators, three pairs
    written = pd.read_csv(csv)
    assert written["annotator_a"].tolist() == expected["annotator_a"].tolist()
    assert np.allclose(written["score"], expected["score"].to_numpy(float))
    assert all(email in printed.out for email in expected["annotator_a"])
    assert _is_png(png)
    code = main(
        [
            "agreement",
            source,
            "--from-name",
            "scene",
            "--method",
            "fleiss",
            "--plot",
            str(tmp_path / "f.png"),
            *_server_args(label_studio),
        ]
    )
    assert code == 1 and "one score" in capsys.readouterr().err


def test_cli_refuses_a_folder_that_is_no_dataset(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["evaluate", str(tmp_path), "--from-name", "box", "-q"])
    assert code == 1 and "neither a project id nor a dataset folder" in capsys.readouterr().err


def test_show_draws_the_server_regions_on_the_fetched_files(
    label_studio: Any, project: dict[str, Any], tmp_path: Path
) -> None:
    if Image is None:
        missing("Pillow (the plot extra)")
    with ls_frames.Client(label_studio.url, label_studio.legacy_token) as client:
        frames = ls_frames.load_project(project["project_id"], client=client, progress=False)  # 1
        media = ls_frames.fetch_media(
            frames, tmp_path / "media", client=client, progress=False
        )  # 2
    task = project["task_ids"][0]
    picture = ls_frames.show(frames, task, media=media, legend=False, captions=False)
    assert picture.size == (W, H)
    # the cat box of the annotation: 32..112 px across, 60..180 px down, in the config's red
    assert picture.getpixel((32, 120)) == RED and picture.getpixel((112, 120)) == RED
    assert picture.getpixel((72, 120)) == (255, 255, 255)
    # the sky (rows 0-39): a blue tint, its lower edge solid blue
    tint = picture.getpixel((200, 20))
    assert tint[2] == 255 and tint[0] < 255
    assert picture.getpixel((200, 39)) == BLUE and picture.getpixel((200, 45)) == (255, 255, 255)
    # the predicted dog (192..272 px): dashed, in blue
    column = np.asarray(picture)[70:170, 272]
    assert 0.3 < (column == BLUE).all(axis=1).mean() < 0.9

    page = ls_frames.show_errors(frames, "box", media=media, n=4, columns=2, tile=(W, H))  # 3
    assert page.size == (2 * W, 2 * (H + 20))
    worst = ls_frames.worst_errors(frames, "box", n=4)
    assert worst["pred_label"].tolist() == ["dog"] * 4
    assert worst["score"].tolist() == sorted(worst["score"].tolist(), reverse=True)
    assert worst["task_id"].tolist() == project["task_ids"][::-1][:4]  # surest: the last tasks
    buffer = io.BytesIO()
    page.save(buffer, format="PNG")
    assert buffer.tell() > 0


def test_cli_evaluate_plots_a_confusion_matrix_for_choices(
    label_studio: Any, dataset: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    png = tmp_path / "confusion.png"
    code = main(["evaluate", str(dataset), "--from-name", "scene", "--plot", str(png), "-q"])
    printed = capsys.readouterr()
    assert code == 0, printed.err
    frames = ls_frames.read_parquet(dataset)
    expected = ls_frames.evaluate(frames, "scene")
    assert len(printed.out.strip().splitlines()) == 1 + len(expected)
    assert _is_png(png)
    matrix = ls_frames.confusion(frames, "scene")
    assert int(matrix.to_numpy().sum()) == 6  # one reference answer per task, none predicted
