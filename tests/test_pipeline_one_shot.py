"""``load_project`` / ``export_project`` / ``download_project`` against the real server: the
snapshots they make are deleted once downloaded unless kept, a named one is never deleted,
``progress=False`` draws nothing, ``Frames.provenance`` holds what a dataset stores, and a
project can be given by title. The one-off snapshot job they share, against the fake
server: every way a job ends deletes the snapshot it made."""

from __future__ import annotations

import json
import re
import uuid
import zipfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import ls_frames
from ls_frames.errors import ConfigurationError
from ls_frames.exports import ExportOptions, one_off_snapshot, project_label_config
from ls_frames.frontends.cli import summarize
from tests.fake_label_studio import FakeLabelStudio, client_for
from tests.test_client_server import CONFIG, TASKS

LS = Path(__file__).resolve().parent / "corpus" / "label-studio-1.23.2"
_VOLATILE = {"written_at", "export_created_at", "source_file", "label_config_present"}


@pytest.fixture(scope="module")
def client(label_studio: Any) -> Iterator[ls_frames.Client]:
    with ls_frames.Client(label_studio.url, label_studio.access_token) as client:
        yield client


@pytest.fixture(scope="module")
def project(client: ls_frames.Client) -> dict[str, Any]:
    title = f"one-shot {uuid.uuid4().hex[:8]}"
    pid = client.post_json("api/projects", {"title": title, "label_config": CONFIG})["id"]
    client.post_json(f"api/projects/{pid}/import", TASKS)
    return {"id": pid, "title": title}


def _ids(client: ls_frames.Client, pid: int) -> set[int]:
    return {e.id for e in client.list_exports(pid)}


@pytest.mark.server
def test_one_shot_snapshots_are_deleted_unless_kept(
    client: ls_frames.Client, project: dict[str, Any], tmp_path: Path
) -> None:
    pid = project["id"]
    before = _ids(client, pid)
    frames = ls_frames.load_project(pid, client=client, progress=False)
    assert len(frames.tasks) == len(TASKS)
    ls_frames.export_project(pid, tmp_path / "ds", client=client, progress=False)
    path = ls_frames.download_project(pid, f"{tmp_path}/csv/", "CSV", client=client, progress=False)
    assert path.parent == tmp_path / "csv" and path.read_text().splitlines()[0]
    assert _ids(client, pid) == before, "every snapshot made for one job was deleted"

    kept = ls_frames.load_project(pid, client=client, keep_snapshot=True, progress=False)
    assert kept.provenance is not None
    (new,) = _ids(client, pid) - before
    assert kept.provenance["export_id"] == new and kept.provenance["snapshot_kept"] is True
    for run in (
        lambda: ls_frames.load_project(pid, client=client, export_id=new, progress=False),
        lambda: ls_frames.export_project(
            pid, tmp_path / "named", client=client, export_id=new, progress=False
        ),
        lambda: ls_frames.download_project(
            pid, tmp_path, client=client, export_id=new, progress=False
        ),
    ):
        run()
        assert _ids(client, pid) == before | {new}, "a named snapshot is never deleted"
    client.delete_export(pid, new)


@pytest.mark.server
def test_progress_false_draws_nothing_and_provenance_is_set(
    client: ls_frames.Client,
    project: dict[str, Any],
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("LS_FRAMES_DISABLE_PROGRESS_BARS", raising=False)
    monkeypatch.delenv("TQDM_DISABLE", raising=False)
    capfd.readouterr()
    frames = ls_frames.load_project(project["title"], client=client, progress=False)
    out, err = capfd.readouterr()
    assert out == "" and err == "", err
    out_dir = ls_frames.export_project(
        project["title"], tmp_path / "ds", client=client, progress=False
    )
    capfd.readouterr()
    stored = ls_frames.read_parquet(out_dir).provenance
    assert frames.provenance is not None and stored is not None
    assert frames.provenance["project"] == project["id"]
    assert frames.provenance["label_config"] == stored["label_config"] == CONFIG
    same = {k for k in stored if k not in _VOLATILE | {"export_id", "export_title", "md5"}}
    assert {k: frames.provenance.get(k) for k in same} == {k: stored[k] for k in same}
    assert set(stored) - _VOLATILE <= set(frames.provenance)
    # with bars on, the flatten bar is drawn (the switch is what silences it)
    ls_frames.load_project(project["id"], client=client, progress=True)
    assert "flatten" in capfd.readouterr().err


@pytest.mark.server
def test_projects_by_title(client: ls_frames.Client, project: dict[str, Any]) -> None:
    assert client.resolve_project(project["title"]) == project["id"]
    assert client.resolve_project(f"  {project['title'].upper()} ") == project["id"]
    assert client.resolve_project(str(project["id"])) == project["id"]
    twin = f"twin {uuid.uuid4().hex[:8]}"
    ids = sorted(
        client.post_json("api/projects", {"title": twin, "label_config": CONFIG})["id"]
        for _ in range(2)
    )
    with pytest.raises(ConfigurationError, match=f"ids {ids[0]}, {ids[1]}"):
        ls_frames.load_project(twin, client=client, progress=False)
    with pytest.raises(ConfigurationError, match="no project titled"):
        client.resolve_project("no project has this title " + twin)


def test_the_summary_counts_labels_by_source(tmp_path: Path) -> None:
    source = LS / "snapshot_full_objects.json"
    tasks = json.loads(source.read_text(encoding="utf-8"))
    text = summarize(ls_frames.to_parquet(source, tmp_path / "ds", progress=False))
    for kind, key in (("annotation", "annotations"), ("prediction", "predictions")):
        counts: Counter[str] = Counter()
        for task in tasks:
            for item in task.get(key) or []:
                for result in item.get("result") or []:
                    for field, value in (result.get("value") or {}).items():
                        if field.endswith("labels") and isinstance(value, list):
                            counts.update(value)
        assert counts, kind
        line = re.search(rf"labels in {kind}s: (.*)", text)
        assert line is not None, text
        shown = dict(pair.split("=") for pair in line.group(1).split(", "))
        assert {k: int(v) for k, v in shown.items()} == dict(counts.most_common(8))


@pytest.mark.server
def test_format_names_are_checked_before_a_snapshot_is_made(
    client: ls_frames.Client, project: dict[str, Any], tmp_path: Path
) -> None:
    pid = project["id"]
    before = _ids(client, pid)
    with pytest.raises(ConfigurationError, match=r"offers no export format 'NOPE'.*YOLO"):
        ls_frames.download_project(pid, f"{tmp_path}/x/", "NOPE", client=client, progress=False)
    with pytest.raises(ConfigurationError, match="CONLL2003 is not available"):
        ls_frames.download_project(pid, tmp_path / "c", "conll2003", client=client, progress=False)
    assert not (tmp_path / "x").exists() and not (tmp_path / "c").exists()
    path = ls_frames.download_project(pid, tmp_path / "y", "yolo", client=client, progress=False)
    assert path.parent == tmp_path / "y" and zipfile.is_zipfile(path)
    assert _ids(client, pid) == before


# -- the one-off snapshot job, against the fake server (every way a job can end) -----------
class _Broken(Exception):
    pass


class _FakeWithFaults(FakeLabelStudio):
    """The fake, with downloads that answer 500 and deletes that are refused on demand."""

    def __init__(self) -> None:
        super().__init__()
        self.download_fails = False
        self.delete_refused = False

    def _route(self, request: httpx.Request, path: str) -> httpx.Response:
        if request.method == "DELETE" and self.delete_refused:
            return httpx.Response(403, json={"detail": "no"})
        if path.endswith("/download") and self.download_fails:
            return httpx.Response(500, json={"detail": "broken"})
        return super()._route(request, path)


def _job_ends(how: str, client: ls_frames.Client, tmp_path: Path, fake: _FakeWithFaults) -> None:
    options = ExportOptions()
    fake.download_fails = how == "failed download"
    with one_off_snapshot(client, 1, options) as job:
        assert job.made and not job.kept
        assert list(fake.exports) == [job.export.id]
        if how == "exception":
            raise _Broken()
        if how == "KeyboardInterrupt":
            raise KeyboardInterrupt
        job.download(tmp_path)


@pytest.mark.parametrize("how", ["success", "failed download", "exception", "KeyboardInterrupt"])
def test_the_job_deletes_the_snapshot_it_made_however_it_ends(tmp_path: Path, how: str) -> None:
    fake = _FakeWithFaults()
    with client_for(fake) as client:
        if how == "success":
            _job_ends(how, client, tmp_path, fake)
        else:
            expected = {
                "failed download": ls_frames.ServerError,
                "exception": _Broken,
                "KeyboardInterrupt": KeyboardInterrupt,
            }[how]
            with pytest.raises(expected):
                _job_ends(how, client, tmp_path, fake)
    assert fake.exports == {}, "the snapshot made for the job is gone"


def test_a_kept_or_named_snapshot_stays_and_a_failed_delete_is_only_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    fake = _FakeWithFaults()
    with client_for(fake) as client:
        with one_off_snapshot(client, 1, ExportOptions(keep_snapshot=True)) as kept:
            assert kept.kept and kept.provenance.snapshot_kept is True
        named = ExportOptions(export_id=kept.export.id)
        with one_off_snapshot(client, 1, named) as job:
            assert not job.made and job.kept
        assert list(fake.exports) == [kept.export.id]
        fake.delete_refused = True
        with (
            caplog.at_level("WARNING", logger="ls_frames"),
            one_off_snapshot(client, 1, ExportOptions()) as job,
        ):
            path = job.download(tmp_path)
        assert path.is_file()
        assert f"could not delete snapshot {job.export.id} of project 1" in caplog.text


def test_label_config_none_fetches_a_string_is_used_and_false_is_none() -> None:
    fake = FakeLabelStudio()
    with client_for(fake) as client:
        assert project_label_config(client, 1, None) == fake.label_config
        assert project_label_config(client, 1, "<View/>") == "<View/>"
        assert project_label_config(client, 1, False) is None
        asked = len(fake.requests)
        info = {"label_config": "<View><Text/></View>"}
        assert project_label_config(client, 1, None, project_info=info) == info["label_config"]
        assert len(fake.requests) == asked  # given the project, no request


def test_load_export_and_download_take_label_config_false_and_keep_their_signatures(
    tmp_path: Path,
) -> None:
    fake = FakeLabelStudio()
    fake.put_task(1, annotations=1)
    with client_for(fake) as client:
        frames = ls_frames.load_project(1, client=client, label_config=False, progress=False)
        assert frames.provenance is not None and frames.provenance.label_config is None
        assert frames.provenance["label_config_present"] is False
        out = ls_frames.export_project(
            1, tmp_path / "ds", client=client, label_config=False, progress=False
        )
        stored = ls_frames.read_parquet(out).provenance
        assert stored is not None and "label_config" not in stored
    assert fake.exports == {}


@pytest.mark.server
def test_the_panel_load_project_and_sync_record_the_same_fields_on_the_server(
    client: ls_frames.Client, project: dict[str, Any], tmp_path: Path
) -> None:
    pid = project["id"]
    before = _ids(client, pid)
    loaded = ls_frames.load_project(pid, client=client, progress=False).provenance
    ls_frames.sync_parquet(pid, tmp_path / "synced", client=client, progress=False)
    panel = ls_frames.ExportPanel(pid, client=client, work_dir=tmp_path / "w", background=False)
    try:
        panel.export_button.click()
        assert panel.error is None, panel.error_box.value
        assert panel.frames is not None and panel.export is not None
        got = set(panel.frames.provenance or {})
    finally:
        if panel.export is not None:
            client.delete_export(pid, panel.export.id)  # the panel keeps what it made
        panel.close()
    assert loaded is not None
    synced = set(ls_frames.read_parquet(tmp_path / "synced").provenance or {})
    assert got == set(loaded) == synced - {"sync", "source_file"}
    assert _ids(client, pid) == before


def test_load_and_export_report_malformed_items_or_refuse_them_with_strict(
    tmp_path: Path,
) -> None:
    fake = FakeLabelStudio()
    task = fake.put_task(1, annotations=1)
    task["annotations"][0]["result"] = [
        {"id": "a", "from_name": "c", "to_name": "image", "type": "choices", "value": "oops"}
    ]
    with client_for(fake) as client:
        with pytest.warns(ls_frames.MalformedResultWarning, match="not a JSON object"):
            frames = ls_frames.load_project(1, client=client, progress=False)
        assert frames.regions["value_json"].tolist() == ['"oops"']  # kept as read
        with pytest.raises(ls_frames.ExportFormatError, match="task 1"):
            ls_frames.load_project(1, client=client, progress=False, strict=True)
        with pytest.raises(ls_frames.ExportFormatError, match="task 1"):
            ls_frames.export_project(1, tmp_path / "ds", client=client, progress=False, strict=True)
        assert not (tmp_path / "ds").exists()  # nothing that looks complete is left
    assert fake.exports == {}  # every snapshot made was deleted, the refused ones too
