"""Writing back on the real server: predictions imported in bulk and read back, reruns with
``replace``, refused task ids, review tabs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import ls_frames
from ls_frames.errors import ConfigurationError

pytestmark = [pytest.mark.server, pytest.mark.compat]

CONFIG = """<View>
  <Image name="image" value="$image"/>
  <RectangleLabels name="box" toName="image">
    <Label value="cat"/><Label value="dog"/>
  </RectangleLabels>
</View>"""


@pytest.fixture
def client(label_studio: Any) -> Iterator[ls_frames.Client]:
    with ls_frames.Client(label_studio.url, label_studio.legacy_token) as c:
        yield c


def _project(client: ls_frames.Client, n: int, title: str) -> tuple[int, list[int]]:
    pid = int(client.post_json("api/projects", json={"title": title, "label_config": CONFIG})["id"])
    if n == 0:
        return pid, []
    tasks = [{"image": f"/static/{i}.png"} for i in range(n)]
    answer = client.post_json(f"api/projects/{pid}/import?return_task_ids=true", json=tasks)
    return pid, sorted(int(t) for t in answer["task_ids"])


def _box(k: int, label: str) -> dict[str, Any]:
    return {
        "id": f"r{k}",
        "from_name": "box",
        "to_name": "image",
        "type": "rectanglelabels",
        "original_width": 640,
        "original_height": 480,
        "value": {
            "x": 10.0 + k,
            "y": 20.0,
            "width": 30.5,
            "height": 12.25,
            "rotation": 0,
            "rectanglelabels": [label],
        },
    }


def _results(task_ids: list[int]) -> pd.DataFrame:
    rows = [
        {
            "task_id": t,
            "result": [_box(2 * i, "cat"), _box(2 * i + 1, "dog")],
            "score": round(0.1 + i / 100, 4),
        }
        for i, t in enumerate(task_ids)
    ]
    frame: pd.DataFrame = pd.DataFrame(rows)
    return frame


def _read_back(client: ls_frames.Client, pid: int) -> ls_frames.Frames:
    return ls_frames.load_project(pid, client=client, progress=False)


def test_predictions_read_back_equal_and_rerun_replaces(client: ls_frames.Client) -> None:
    pid, tids = _project(client, 6, "ls_frames writeback predictions")
    frame = _results(tids)
    done = ls_frames.import_predictions(
        pid, frame, model_version="m1", client=client, progress=False, batch_size=4
    )
    assert (done.created, done.replaced, done.refused) == (6, 0, 0)
    frames = _read_back(client, pid)
    preds = frames.predictions.set_index("task_id").sort_index()
    assert list(preds.index) == tids
    assert list(preds.model_version) == ["m1"] * 6
    assert preds.score.tolist() == pytest.approx(frame.score.tolist())
    regions = frames.regions[frames.regions.source == "prediction"]
    regions = regions.sort_values(["task_id", "region_id"])
    assert len(regions) == 12
    expected = sorted(
        (t, r["id"], r["value"]["x"], r["value"]["rectanglelabels"][0])
        for t, res in zip(frame.task_id, frame.result, strict=True)
        for r in res
    )
    got = sorted(
        zip(regions.task_id, regions.region_id, regions.x, regions.label.astype(str), strict=True)
    )
    assert got == expected
    assert regions.width.tolist() == [30.5] * 12

    # another model version on one task stays; a rerun of m1 with replace leaves one each
    ls_frames.import_predictions(
        pid,
        [{"task": tids[0], "result": [_box(0, "dog")]}],
        model_version="m0",
        client=client,
        progress=False,
    )
    again = ls_frames.import_predictions(
        pid, frame, model_version="m1", client=client, progress=False, replace=True
    )
    assert (again.created, again.replaced) == (6, 6)
    listed = client.get_json("api/predictions/", params={"project": pid})
    assert sorted(p["model_version"] for p in listed) == ["m0"] + ["m1"] * 6
    assert sorted(p["task"] for p in listed if p["model_version"] == "m1") == tids

    # part of the tasks: only their m1 predictions are replaced, one by one
    part = ls_frames.import_predictions(
        pid, frame.iloc[:2], model_version="m1", client=client, progress=False, replace=True
    )
    assert (part.created, part.replaced) == (2, 2)
    listed = client.get_json("api/predictions/", params={"project": pid})
    assert sorted(p["task"] for p in listed if p["model_version"] == "m1") == tids


def test_a_task_not_in_the_project_is_refused_with_nothing_written(
    client: ls_frames.Client,
) -> None:
    pid, tids = _project(client, 3, "ls_frames writeback refused")
    other, other_tids = _project(client, 1, "ls_frames writeback other")
    frame = _results([*tids, other_tids[0]])
    with pytest.raises(ConfigurationError, match=f"not in project {pid}: {other_tids[0]}"):
        ls_frames.import_predictions(pid, frame, model_version="m", client=client, progress=False)
    assert client.get_json("api/predictions/", params={"project": pid}) == []
    done = ls_frames.import_predictions(
        pid, frame, model_version="m", client=client, progress=False, skip_missing=True
    )
    assert (done.created, done.refused, done.refused_tasks) == (3, 1, (other_tids[0],))
    assert client.get_json("api/predictions/", params={"project": other}) == []


def test_review_tabs_hold_exactly_their_tasks(client: ls_frames.Client) -> None:
    pid, tids = _project(client, 4100, "ls_frames writeback review")
    chosen = tids[100:2100]  # 2,000 consecutive ids: one range
    url = ls_frames.review_tab(pid, chosen, title="review 2000", client=client)
    assert url.startswith(f"{client.base_url}".rstrip("/") + f"/projects/{pid}/data?tab=")
    view = int(url.rsplit("=", 1)[1])
    ids = [
        int(t["id"])
        for t in client.list_tasks(
            pid, {"conjunction": "and", "items": []}, fields="id", page_size=1000
        )
    ]
    assert len(ids) == 4100
    listed = client.get_json("api/tasks/", params={"view": view, "page_size": 1, "include": "id"})
    assert listed["total"] == 2000

    scattered = tids[::2][:2000]  # 2,000 ids, no two consecutive: 5 tabs
    with pytest.raises(ConfigurationError, match="review_tabs"):
        ls_frames.review_tab(pid, scattered, title="scattered", client=client)
    urls = ls_frames.review_tabs(pid, scattered, title="scattered", client=client)
    assert len(urls) == 5
    seen: list[int] = []
    for u in urls:
        view = int(u.rsplit("=", 1)[1])
        page = client.get_json(
            "api/tasks/", params={"view": view, "page_size": 1000, "include": "id"}
        )
        seen.extend(int(t["id"]) for t in page["tasks"])
    assert sorted(seen) == scattered
    titles = {v["data"]["title"] for v in client.list_views(pid)}
    assert {"review 2000", "scattered (1/5)", "scattered (5/5)"} <= titles


def test_tasks_with_local_images_come_back_byte_identical(
    client: ls_frames.Client, tmp_path: Any
) -> None:
    from ls_frames.testing.images import demo_image

    pid, _ = _project(client, 0, "ls_frames writeback tasks")
    folder = tmp_path / "images"
    folder.mkdir()
    paths = []
    for i in range(5):
        sub = folder / f"d{i % 2}"  # the same name in two folders stays two files
        sub.mkdir(exist_ok=True)
        path = sub / f"img {i // 2}.png"
        path.write_bytes(demo_image(i))
        paths.append(str(path))
    table = pd.DataFrame(
        {
            "image": paths,
            "data.source": [f"cam{i}" for i in range(5)],
            "ref": [f"r{i}" for i in range(5)],
            "predictions": [[_box(i, "cat")] if i % 2 else None for i in range(5)],
            "annotations": [[_box(i, "dog")] if i == 0 else None for i in range(5)],
        },
        index=[f"row{i}" for i in range(5)],
    )
    ids = ls_frames.import_tasks(
        pid,
        table,
        client=client,
        key="ref",
        files="image",
        model_version="m",
        batch_size=2,
        progress=False,
    )
    assert list(ids.index) == list(table.index) and ids.dtype.name == "Int64"
    assert ids.notna().all() and ids.is_unique

    # a rerun with a new row imports only that row
    more = pd.concat([table, table.iloc[[0]].rename(index={"row0": "row5"}).assign(ref="r5")])
    again = ls_frames.import_tasks(
        pid, more, client=client, key="ref", files="image", progress=False
    )
    assert again.iloc[:5].tolist() == ids.tolist()
    assert again.iloc[5] not in set(ids)

    frames = ls_frames.load_project(pid, client=client, progress=False)
    tasks = frames.tasks.set_index("task_id")
    assert len(tasks) == 6
    media = ls_frames.fetch_media(frames, tmp_path / "cache", client=client, progress=False)
    assert media.error.isna().all()
    got = {
        int(t): Path(str(p)).read_bytes() for t, p in zip(media.task_id, media.path, strict=True)
    }
    for name, tid in again.items():
        assert got[int(tid)] == Path(str(more.loc[name, "image"])).read_bytes(), name
    annotations = frames.annotations.set_index("task_id")
    assert not bool(annotations.loc[int(ids["row0"]), "ground_truth"])
    preds = frames.predictions
    assert sorted(preds.task_id) == sorted(int(ids[f"row{i}"]) for i in (1, 3))
    assert set(preds.model_version) == {"m"}
    listed = client.list_tasks(pid, fields="id,data")
    assert {t["data"]["source"] for t in listed} == {f"cam{i}" for i in range(5)}
