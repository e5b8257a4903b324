"""The local-files export storage against the real server, and read_storage on what it
wrote."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import ls_frames
from ls_frames.errors import ExportFormatError, NotFound, StorageError
from ls_frames.testing.seed import seed_demo_project

CORPUS = Path(__file__).parent / "corpus" / "label-studio-1.23.2"


@pytest.fixture(scope="module")
def seeded(label_studio: Any) -> dict[str, Any]:
    return seed_demo_project(
        label_studio.url, label_studio.admin_key, n_tasks=10, title="ls_frames storage test"
    )


@pytest.fixture
def client(label_studio: Any) -> Iterator[ls_frames.Client]:
    with ls_frames.Client(label_studio.url, label_studio.admin_key) as c:
        yield c


def snapshot_frames(client: ls_frames.Client, pid: int, tmp: Path) -> ls_frames.Frames:
    export = client.create_export(pid).wait()
    return ls_frames.read_export(export.download(tmp, progress=False))


@pytest.mark.server
def test_every_endpoint_and_read_storage(
    client: ls_frames.Client, label_studio: Any, seeded: dict[str, Any], tmp_path: Path
) -> None:
    pid = seeded["project_id"]
    root = Path(label_studio.local_files_root)
    target = Path(tempfile.mkdtemp(prefix="sync6-storage-", dir=root))
    client.validate_export_storage(pid, str(target))
    with pytest.raises(StorageError, match="strict subdirectory of the server's LOCAL_FILES"):
        client.validate_export_storage(pid, str(root))
    with pytest.raises(StorageError, match="existing folder"):
        client.validate_export_storage(pid, str(root / "no-such-folder"))
    storage = client.create_export_storage(pid, str(target), title="out", description="d")
    # verified: creating a storage already syncs it once (the answer to the create says
    # "queued"; Community has finished by the time it answers)
    assert storage.status is ls_frames.StorageStatus.QUEUED
    assert storage.refresh().status is ls_frames.StorageStatus.COMPLETED
    assert [s.id for s in client.list_export_storages(pid)] == [storage.id]
    storage.update(title="renamed")
    got = client.get_export_storage(storage.id)
    assert (got.title, got.path, got.project) == ("renamed", str(target), pid)
    with pytest.raises(StorageError, match="update of storage"):
        storage.update(path=str(root))
    synced = storage.sync(timeout=120, progress=False)
    assert synced is storage and synced.status is ls_frames.StorageStatus.COMPLETED
    counts = seeded["counts"]
    assert storage.last_sync_count == counts["annotations"]
    files = sorted(p.name for p in target.iterdir())
    assert len(files) == counts["annotations"] and all("." not in f for f in files)

    frames = ls_frames.read_storage(target, label_config=seeded["label_config"], files_per_batch=3)
    snap = snapshot_frames(client, pid, tmp_path)
    annotated = set(snap.annotations.task_id)
    assert set(frames.tasks.task_id) == annotated and frames.tasks.task_id.is_unique
    ann = frames.annotations.set_index("annotation_id").sort_index()
    assert list(ann.index) == sorted(snap.annotations.annotation_id)
    assert sorted(ann.storage_file) == files
    assert (ann.index.astype(str) == ann.storage_file).all()  # files are named by annotation id
    ours = frames.regions[frames.regions.source == "annotation"]
    theirs = snap.regions[snap.regions.source == "annotation"]
    key = ["source_id", "result_index"]
    assert (
        ours.sort_values(key)[[*key, "region_id", "type"]]
        .reset_index(drop=True)
        .equals(theirs.sort_values(key)[[*key, "region_id", "type"]].reset_index(drop=True))
    )
    assert frames.relations.shape[0] == (snap.relations.source == "annotation").sum()
    # what an annotation's file holds: no predictions or drafts, so no counts for them;
    # annotation_count counts the task's files
    assert frames.predictions.empty and frames.drafts.empty
    assert set(frames.regions.source) == {"annotation"}
    assert frames.tasks.prediction_count.isna().all()
    per_task = snap.annotations.groupby("task_id").size()
    assert (frames.tasks.set_index("task_id").annotation_count == per_task).all()

    storage.delete()
    with pytest.raises(NotFound):
        client.get_export_storage(storage.id)


@pytest.mark.server
def test_read_storage_one_file_per_task(
    client: ls_frames.Client, seeded: dict[str, Any], tmp_path: Path
) -> None:
    """With FUTURE_SAVE_TASK_TO_STORAGE the server writes ``<task_id>.json`` in the export
    shape, predictions and drafts as ids: the same tables as such a snapshot."""
    ids_only = ls_frames.Serialization(predictions="id", drafts="id")
    export = client.create_export(seeded["project_id"], serialization=ids_only).wait()
    path = export.download(tmp_path, progress=False)
    folder = tmp_path / "storage"
    folder.mkdir()
    for task in json.loads(path.read_bytes()):
        (folder / f"{task['id']}.json").write_text(json.dumps(task))
    frames = ls_frames.read_storage(folder, files_per_batch=4)
    snap = ls_frames.read_export(path)
    for name in ("annotations", "predictions", "drafts", "regions", "relations"):
        assert len(frames[name]) == len(snap[name]), name
    assert len(snap.predictions) and snap.predictions.model_version.isna().all()  # ids only
    assert (
        frames.tasks.annotation_count.to_numpy() == snap.tasks.annotation_count.to_numpy()
    ).all()
    assert (frames.tasks.storage_file == frames.tasks.task_id.astype(str) + ".json").all()
    assert list(frames.tasks.drop(columns="storage_file").columns) == list(snap.tasks.columns)


def test_read_storage_names_the_bad_file(tmp_path: Path) -> None:
    (tmp_path / "12").write_text('{"id": 12, "result": [], "task": {"id": 1, "data": {}}}')
    (tmp_path / "13").write_text('{"id": 13, "result": [')
    with pytest.raises(ExportFormatError, match="13"):
        ls_frames.read_storage(tmp_path)
    with pytest.raises(ExportFormatError, match="not a folder"):
        ls_frames.read_storage(tmp_path / "missing")
    # well-formed JSON that is neither a task nor an annotation: refused, not guessed at
    for name, text, says in [
        ("a", '{"id": 5, "result": [], "task": 3}', "not a Label Studio storage file"),
        ("b", '{"id": 5, "task": {"id": 1, "data": {}}}', "not a Label Studio storage file"),
        ("c", '{"id": 5, "result": [], "task": {"data": {}}}', "no integer id"),
        ("d", '{"id": "x", "result": [], "task": {"id": 1, "data": {}}}', r"annotations\[0\]\.id"),
    ]:
        folder = tmp_path / f"case-{name}"
        folder.mkdir()
        (folder / "7").write_text(text)
        with pytest.raises(ExportFormatError, match=says) as err:
            ls_frames.read_storage(folder)
        assert str(folder / "7") in str(err.value)


def test_read_storage_keeps_each_annotation_once(tmp_path: Path) -> None:
    """A folder holding both layouts (the setting was switched), files in any batch
    split: every annotation, region and relation once; task rows from the first file in
    numeric order."""
    tasks = json.loads((CORPUS / "snapshot_full_objects.json").read_text())
    folder = tmp_path / "mixed"
    folder.mkdir()
    for task in tasks:
        (folder / f"{task['id']}.json").write_text(json.dumps(task))
        bare = {k: v for k, v in task.items() if k not in ("annotations", "drafts")}
        for ann in task["annotations"]:
            (folder / str(ann["id"])).write_text(json.dumps({**ann, "task": bare}))
    snap = ls_frames.read_export(CORPUS / "snapshot_full_objects.json")
    for batch in (1, 3, 1000):
        frames = ls_frames.read_storage(folder, files_per_batch=batch)
        assert frames.annotations.annotation_id.is_unique
        assert sorted(frames.annotations.annotation_id) == sorted(snap.annotations.annotation_id)
        for name in ("regions", "relations"):
            key = ["source", "source_id", "result_index"]
            assert not frames[name].duplicated(key).any(), (name, batch)
            assert len(frames[name]) == len(snap[name]), (name, batch)
        assert frames.tasks.task_id.is_unique and len(frames.tasks) == len(snap.tasks)
        # the annotation files have numeric names that sort before "<task id>.json"
        annotated = frames.tasks[frames.tasks.task_id.isin(snap.annotations.task_id)]
        assert not annotated.storage_file.str.endswith(".json").any()
        ours = frames.tasks.set_index("task_id").annotation_count.sort_index()
        assert (
            ours.tolist() == snap.tasks.set_index("task_id").annotation_count.sort_index().tolist()
        )
