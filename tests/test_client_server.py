"""The export lifecycle against a real Label Studio, with both kinds of credential."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import ls_frames
from conftest import session_capabilities
from ls_frames.errors import (
    AuthenticationError,
    BadRequest,
    ConfigurationError,
    NotFound,
    StorageError,
)
from tests.fake_label_studio import make_jwt

pytestmark = [pytest.mark.server, pytest.mark.compat]

CONFIG = """<View>
  <Image name="image" value="$image"/>
  <RectangleLabels name="box" toName="image">
    <Label value="cat"/><Label value="dog"/>
  </RectangleLabels>
  <Choices name="kind" toName="image"><Choice value="indoor"/><Choice value="outdoor"/></Choices>
</View>"""


def _box(rid: str, label: str) -> dict[str, Any]:
    return {
        "id": rid,
        "from_name": "box",
        "to_name": "image",
        "type": "rectanglelabels",
        "original_width": 640,
        "original_height": 480,
        "image_rotation": 0,
        "value": {
            "x": 10,
            "y": 20,
            "width": 30,
            "height": 40,
            "rotation": 0,
            "rectanglelabels": [label],
        },
    }


def _choice(value: str) -> dict[str, Any]:
    return {
        "id": f"c-{value}",
        "from_name": "kind",
        "to_name": "image",
        "type": "choices",
        "value": {"choices": [value]},
    }


def _ann(
    result: list[dict[str, Any]], *, skipped: bool = False, gt: bool = False
) -> dict[str, Any]:
    return {"result": result, "was_cancelled": skipped, "ground_truth": gt}


IMAGE = "/static/images/logo.png"
# Six tasks: what each holds decides what each filter must return.
TASKS: list[dict[str, Any]] = [
    {
        "data": {"image": IMAGE, "n": 0},
        "annotations": [_ann([_box("a", "cat"), _choice("indoor")])],
        "predictions": [{"model_version": "m1", "score": 0.9, "result": [_box("p", "cat")]}],
    },
    {"data": {"image": IMAGE, "n": 1}, "annotations": [_ann([], skipped=True)]},
    {"data": {"image": IMAGE, "n": 2}, "annotations": [_ann([_box("g", "dog")], gt=True)]},
    {
        "data": {"image": IMAGE, "n": 3},
        "predictions": [{"model_version": "m1", "score": 0.5, "result": [_box("q", "dog")]}],
    },
    {
        "data": {"image": IMAGE, "n": 4},
        "annotations": [_ann([_box("b", "dog")]), _ann([], skipped=True)],
    },
    {"data": {"image": IMAGE, "n": 5}},
]


@pytest.fixture(scope="module")
def admin(label_studio: Any) -> Iterator[ls_frames.Client]:
    with ls_frames.Client(label_studio.url, label_studio.admin_key) as client:
        yield client


@pytest.fixture(scope="module")
def project(admin: ls_frames.Client) -> dict[str, Any]:
    """A project with the six tasks above and one draft; returns ids."""
    proj = admin.post_json("api/projects", {"title": "lifecycle", "label_config": CONFIG})
    pid = proj["id"]
    answer = admin.post_json(f"api/projects/{pid}/import?return_task_ids=true", TASKS)
    task_ids = sorted(answer["task_ids"])
    admin.post_json(
        f"api/tasks/{task_ids[5]}/drafts", {"result": [_box("d", "cat")], "lead_time": 2.5}
    )
    return {"id": pid, "task_ids": task_ids}


@pytest.fixture
def client(label_studio: Any, api_key: str) -> Iterator[ls_frames.Client]:
    with ls_frames.Client(label_studio.url, api_key) as client:
        yield client


def _download_json(export: ls_frames.Export, tmp_path: Path) -> list[dict[str, Any]]:
    path = export.wait(timeout=120, poll_interval=0.5).download(tmp_path, progress=False)
    assert hashlib.md5(path.read_bytes()).hexdigest() == export.md5
    data: list[dict[str, Any]] = json.loads(path.read_bytes())
    return data


def test_both_credentials_reach_the_server(
    client: ls_frames.Client, api_key: str, project: dict[str, Any]
) -> None:
    scheme = "Bearer" if ls_frames.transport.token_kind(api_key) != "legacy" else "Token"
    assert client.auth.scheme == scheme
    assert project["id"] in {p["id"] for p in client.list_projects()}
    assert client.get_project(project["id"])["label_config"].startswith("<View>")


def test_bad_credentials(label_studio: Any) -> None:
    with (
        ls_frames.Client(label_studio.url, "0" * 40) as client,
        pytest.raises(AuthenticationError) as info,
    ):
        client.list_projects()
    assert info.value.status == 401 and info.value.scheme == "Token"


def test_a_page_url_is_refused_and_a_404_of_label_studio_stays_one(
    label_studio: Any, api_key: str
) -> None:
    with pytest.raises(ConfigurationError) as info:
        ls_frames.Client(f"{label_studio.url}/projects/1/data?tab=1", api_key)
    assert str(info.value).endswith(f"give the server's base URL, {label_studio.url}")
    with ls_frames.Client(label_studio.url, api_key) as client:
        with pytest.raises(NotFound):
            client.get_project(10**9)
        assert client.is_label_studio is True  # the probe found Label Studio


def test_each_credential_kind_works_or_is_a_clear_error_on_this_release(
    label_studio: Any,
) -> None:
    """A kind of key the release does not accept (legacy on 1.17, personal access tokens
    on 1.13) fails with a message that says so and what to use instead."""
    caps = session_capabilities()
    with ls_frames.Client(label_studio.url, label_studio.admin_key) as client:
        assert client.capabilities() == caps  # the client asks the server's release itself
    with ls_frames.Client(label_studio.url, label_studio.legacy_token) as client:
        if caps.legacy_tokens:
            assert "@" in client.get_json("api/current-user/whoami")["email"]
        else:
            with pytest.raises(AuthenticationError, match="legacy tokens are turned off"):
                client.list_projects()
    pat = label_studio.access_token or make_jwt("refresh", lifetime=3600, jti="none")
    with ls_frames.Client(label_studio.url, pat) as client:
        if caps.personal_access_tokens:
            assert "@" in client.get_json("api/current-user/whoami")["email"]
        else:
            with pytest.raises(AuthenticationError, match="no personal access tokens") as info:
                client.list_projects()
            assert info.value.status == 404


def test_export_formats(client: ls_frames.Client, project: dict[str, Any]) -> None:
    formats = {f.name: f for f in client.export_formats(project["id"])}
    assert {"JSON", "JSON_MIN", "CSV", "COCO", "YOLO"} <= set(formats)
    assert not formats["JSON"].disabled and not formats["COCO"].disabled
    assert formats["CONLL2003"].disabled  # an image config cannot produce NER tags
    assert formats["CSV"].title


def test_snapshot_full_objects_by_default(
    client: ls_frames.Client, project: dict[str, Any], tmp_path: Path
) -> None:
    export = client.create_export(project["id"], title="full")
    assert export.title == "full" and isinstance(export.status, ls_frames.ExportStatus)
    tasks = _download_json(export, tmp_path)
    assert export.task_count == len(tasks) == 6
    by_n = {t["data"]["n"]: t for t in tasks}
    assert isinstance(by_n[0]["predictions"][0], dict) and by_n[0]["predictions"][0]["score"] == 0.9
    assert isinstance(by_n[0]["annotations"][0]["completed_by"], dict)
    assert "email" in by_n[0]["annotations"][0]["completed_by"]
    assert by_n[5]["drafts"][0]["lead_time"] == 2.5
    # every annotation: skipped and ground truth included
    assert sum(len(t["annotations"]) for t in tasks) == 5
    assert sum(a["was_cancelled"] for t in tasks for a in t["annotations"]) == 2
    assert sum(a["ground_truth"] for t in tasks for a in t["annotations"]) == 1


def test_snapshot_ids_only(
    client: ls_frames.Client, project: dict[str, Any], tmp_path: Path
) -> None:
    ser = ls_frames.Serialization(predictions="id", drafts="id", annotators="id")
    tasks = _download_json(client.create_export(project["id"], serialization=ser), tmp_path)
    by_n = {t["data"]["n"]: t for t in tasks}
    assert isinstance(by_n[0]["predictions"][0], int)
    assert isinstance(by_n[0]["annotations"][0]["completed_by"], int)
    assert isinstance(by_n[5]["drafts"][0], int)


@pytest.mark.parametrize(
    ("task_filter", "annotation_filter", "expect_n", "expect_annotations"),
    [
        ({"skipped": "only"}, None, {1, 4}, 3),
        ({"skipped": "exclude"}, None, {0, 2, 3, 5}, 2),
        ({"annotated": "only"}, None, {0, 2, 4}, 4),
        ({"only_with_annotations": True}, None, {0, 1, 2, 4}, 5),
        (None, {"skipped": True}, {0, 1, 2, 3, 4, 5}, 2),
        (None, {"ground_truth": True}, {0, 1, 2, 3, 4, 5}, 1),
        (None, {"usual": True}, {0, 1, 2, 3, 4, 5}, 2),
    ],
)
def test_filters_change_what_is_exported(
    client: ls_frames.Client,
    project: dict[str, Any],
    tmp_path: Path,
    task_filter: dict[str, Any] | None,
    annotation_filter: dict[str, Any] | None,
    expect_n: set[int],
    expect_annotations: int,
) -> None:
    export = client.create_export(
        project["id"], task_filter=task_filter, annotation_filter=annotation_filter
    )
    tasks = _download_json(export, tmp_path)
    assert {t["data"]["n"] for t in tasks} == expect_n
    assert sum(len(t["annotations"]) for t in tasks) == expect_annotations


def test_finished_filter(client: ls_frames.Client, project: dict[str, Any], tmp_path: Path) -> None:
    done = _download_json(
        client.create_export(project["id"], task_filter={"finished": "only"}), tmp_path
    )
    rest = _download_json(
        client.create_export(project["id"], task_filter={"finished": "exclude"}), tmp_path / "x"
    )
    assert {t["id"] for t in done}.isdisjoint({t["id"] for t in rest})
    assert len(done) + len(rest) == 6 and len(done) > 0


def test_view_filter(
    client: ls_frames.Client, admin: ls_frames.Client, project: dict[str, Any], tmp_path: Path
) -> None:
    first = project["task_ids"][3]
    view = admin.post_json(
        "api/dm/views/",
        {
            "project": project["id"],
            "data": {
                "title": "late tasks",
                "filters": {
                    "conjunction": "and",
                    "items": [
                        {
                            "filter": "filter:tasks:id",
                            "operator": "greater",
                            "type": "Number",
                            "value": first,
                        }
                    ],
                },
            },
        },
    )
    assert any(v["id"] == view["id"] for v in client.list_views(project["id"]))
    tasks = _download_json(
        client.create_export(project["id"], task_filter=ls_frames.TaskFilter(view=view["id"])),
        tmp_path,
    )
    assert sorted(t["id"] for t in tasks) == project["task_ids"][4:]


def test_list_get_delete(client: ls_frames.Client, project: dict[str, Any]) -> None:
    export = client.create_export(project["id"], title="to delete").wait(timeout=120)
    listed = client.list_exports(project["id"])
    assert listed[0].id == export.id, "newest first"
    again = client.get_export(project["id"], export.id)
    assert again.md5 == export.md5 and again.status is ls_frames.ExportStatus.COMPLETED
    assert again.finished_at is not None and again.created_at is not None
    client.delete_export(project["id"], export.id)
    with pytest.raises(NotFound):
        client.get_export(project["id"], export.id)
    assert export.id not in {e.id for e in client.list_exports(project["id"])}


def test_convert_to_csv_and_coco(
    client: ls_frames.Client, project: dict[str, Any], tmp_path: Path
) -> None:
    export = client.create_export(project["id"]).wait(timeout=120)
    conversion = export.convert("CSV")
    assert export.convert("CSV").id == conversion.id, "a second convert reuses the first"
    conversion.wait(timeout=120, poll_interval=0.5)
    assert conversion.status is ls_frames.ExportStatus.COMPLETED
    path = conversion.download(tmp_path / "out.csv", progress=False)
    rows = list(csv.DictReader(io.StringIO(path.read_text())))
    assert rows and "box" in rows[0] and "kind" in rows[0]
    coco = export.convert("COCO").wait(timeout=120, poll_interval=0.5)
    assert export.refresh().converted_format("COCO") is not None
    coco_path = coco.download(tmp_path, progress=False)
    with zipfile.ZipFile(coco_path) as zf:
        result = json.loads(zf.read("result.json"))
    assert {"cat", "dog"} <= {c["name"] for c in result["categories"]}
    assert len(result["annotations"]) == 3  # the boxes of the three non-skipped annotations


def test_convert_to_unknown_format_is_a_clear_error(
    client: ls_frames.Client, project: dict[str, Any]
) -> None:
    export = client.create_export(project["id"]).wait(timeout=120)
    with pytest.raises(BadRequest, match="NOPE"):
        export.convert("NOPE")


def test_download_with_range_resume_is_byte_identical(
    client: ls_frames.Client, project: dict[str, Any], tmp_path: Path
) -> None:
    export = client.create_export(project["id"]).wait(timeout=120)
    response = client.request(
        "GET",
        f"api/projects/{project['id']}/exports/{export.id}/download",
        params={"exportType": "JSON"},
        headers={"Range": "bytes=0-99"},
    )
    assert response.status_code == 206 and len(response.content) == 100
    full = export.download(tmp_path / "snapshot.json", progress=False)
    assert full.read_bytes()[:100] == response.content


def test_easy_export_with_ids(
    client: ls_frames.Client, project: dict[str, Any], tmp_path: Path
) -> None:
    ids = project["task_ids"][:2]
    path = client.easy_export(
        project["id"], tmp_path, ids=ids, download_all_tasks=True, progress=False
    )
    assert sorted(t["id"] for t in json.loads(path.read_bytes())) == ids
    everything = client.easy_export(
        project["id"], tmp_path / "all.json", download_all_tasks=True, progress=False
    )
    assert len(json.loads(everything.read_bytes())) == 6
    annotated = client.easy_export(project["id"], tmp_path / "ann.json", progress=False)
    assert len(json.loads(annotated.read_bytes())) == 4  # default: tasks with an annotation
    csv_path = client.easy_export(
        project["id"], tmp_path / "t.csv", export_type="CSV", progress=False
    )
    assert csv_path.read_text().splitlines()[0]


def test_local_files_export_storage(
    client: ls_frames.Client, label_studio: Any, project: dict[str, Any]
) -> None:
    root = Path(label_studio.local_files_root)
    target = Path(tempfile.mkdtemp(prefix=f"storage-{client.auth.kind}-", dir=root))
    client.validate_export_storage(project["id"], str(target))
    with pytest.raises(StorageError, match="refused"):
        client.validate_export_storage(project["id"], "/definitely/outside")
    storage = client.create_export_storage(project["id"], str(target), title="out")
    assert storage.id in {s.id for s in client.list_export_storages(project["id"])}
    storage.update(title="renamed")
    assert client.get_export_storage(storage.id).title == "renamed"
    storage.sync(timeout=120)
    assert storage.status is ls_frames.StorageStatus.COMPLETED
    written = [p for p in target.iterdir() if p.is_file()]
    assert len(written) == 5  # one file per annotation
    storage.delete()
    with pytest.raises(NotFound):
        client.get_export_storage(storage.id)
