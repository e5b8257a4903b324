"""The notebook panel against the real Label Studio, driven headless: set ``.value``, call
``.click()``, ``wait()``, assert on the panel's state."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import ls_frames
from ls_frames.testing.seed import seed_demo_project

pytestmark = [pytest.mark.server, pytest.mark.compat]


@pytest.fixture
def client(label_studio: Any) -> ls_frames.Client:
    # the personal access token where the release has one (1.13 has legacy tokens only)
    return ls_frames.Client(label_studio.url, label_studio.access_token or label_studio.admin_key)


@pytest.fixture(scope="module")
def own_project(label_studio: Any) -> dict[str, Any]:
    """A demo project of this module's own, for the tests that add views and delete."""
    return seed_demo_project(
        label_studio.url, label_studio.admin_key, title="ls_frames panel tests"
    )


def _panel(client: ls_frames.Client, project: int, tmp_path: Path, **kw: Any) -> Any:
    panel = ls_frames.ExportPanel(project, client=client, work_dir=tmp_path / "work", **kw)
    panel.wait(timeout=120)
    assert panel.error is None, panel.error_box.value
    return panel


def test_export_clicked_right_away_runs_once_the_panel_has_loaded(
    client: ls_frames.Client, demo_project: dict[str, Any], tmp_path: Path
) -> None:
    """A user who clicks Export as soon as the panel appears gets the export."""
    panel = ls_frames.ExportPanel(demo_project["project_id"], client=client, work_dir=tmp_path)
    panel.export_button.click()
    panel.wait(timeout=300)
    assert panel.error is None, panel.error_box.value
    assert panel.frames is not None and panel.label_config
    assert len(panel.frames.tasks) == demo_project["counts"]["tasks"]


def test_export_shows_the_tables_and_keeps_the_frames(
    client: ls_frames.Client, demo_project: dict[str, Any], tmp_path: Path
) -> None:
    counts = demo_project["counts"]
    panel = _panel(client, demo_project["project_id"], tmp_path)
    assert panel.project_picker.value == demo_project["project_id"]
    assert panel.view_picker.options[0] == ("all tasks", 0)
    # the server's formats, with those the label config cannot produce disabled
    assert not panel.formats.boxes["JSON"].disabled
    assert any(box.disabled for box in panel.formats.boxes.values())
    assert panel.export_button.disabled is False
    assert panel.frames is None

    panel.export_button.click()
    panel.wait(timeout=300)

    assert panel.error is None, panel.error_box.value
    frames = panel.frames
    assert isinstance(frames, ls_frames.Frames)
    assert len(frames.tasks) == counts["tasks"]
    assert len(frames.annotations) == counts["annotations"]
    assert len(frames.relations) == counts["relations"]
    assert len(frames.predictions) == counts["predictions"]
    assert panel.paths["snapshot"].is_file()
    assert panel.paths["snapshot"].parent.parent == tmp_path / "work"
    # the preview: counts, one tab per table with its row count, the label chart
    assert f"tasks {counts['tasks']}" in panel.preview.counts.value
    assert panel.preview.tabs.titles == (
        f"tasks ({counts['tasks']})",
        f"annotations ({counts['annotations']})",
        f"regions ({len(frames.regions)})",
        f"relations ({counts['relations']})",
        f"predictions ({counts['predictions']})",
    )
    assert "cat" in panel.preview.chart.value and "bird" in panel.preview.chart.value
    assert panel.progress.value == panel.progress.max
    # the new snapshot is listed, and the buttons are back
    assert panel.export is not None
    assert panel.export.id in [value for _, value in panel.snapshots.select.options]
    assert not panel.export_button.disabled and not panel.save_button.disabled
    # the same tables a notebook user gets from read_export
    again = ls_frames.read_export(panel.paths["snapshot"])
    assert len(again.regions) == len(frames.regions)


def test_options_reach_the_snapshot(
    client: ls_frames.Client, demo_project: dict[str, Any], tmp_path: Path
) -> None:
    counts = demo_project["counts"]
    panel = _panel(client, demo_project["project_id"], tmp_path, background=False)
    panel.options.only_with_annotations.value = True
    panel.options.skipped.value = False
    panel.options.ground_truth.value = False
    panel.options.annotators.value = "id"
    panel.options.predictions.value = "id"
    panel.export_button.click()  # runs in the caller: background=False

    assert panel.error is None, panel.error_box.value
    frames = panel.frames
    # only tasks left with an annotation after the annotation filter
    assert len(frames.tasks) < counts["tasks"]
    assert set(frames.tasks["task_id"]) == set(frames.annotations["task_id"])
    assert not frames.annotations["was_cancelled"].any()
    assert not frames.annotations["ground_truth"].any()
    assert len(frames.annotations) == (
        counts["annotations"] - counts["skipped_annotations"] - counts["ground_truth_annotations"]
    )
    assert frames.annotations["completed_by_email"].isna().all()
    assert frames.annotations["completed_by_id"].notna().all()


def test_view_picker_limits_the_tasks(
    client: ls_frames.Client, own_project: dict[str, Any], tmp_path: Path
) -> None:
    pid, first = own_project["project_id"], own_project["task_ids"][:3]
    view = client.post_json(
        "api/dm/views/",
        {
            "project": pid,
            "data": {
                "title": "first three",
                "filters": {
                    "conjunction": "and",
                    "items": [
                        {
                            "filter": "filter:tasks:id",
                            "operator": "less_or_equal",
                            "type": "Number",
                            "value": first[-1],
                        }
                    ],
                },
            },
        },
    )
    panel = _panel(client, pid, tmp_path)
    assert ("first three", view["id"]) in panel.view_picker.options
    panel.view_picker.value = view["id"]
    panel.export_button.click()
    panel.wait(timeout=300)
    assert panel.error is None, panel.error_box.value
    assert sorted(panel.frames.tasks["task_id"]) == first


def test_reuse_then_delete_a_snapshot(
    client: ls_frames.Client, own_project: dict[str, Any], tmp_path: Path
) -> None:
    pid = own_project["project_id"]
    made = client.create_export(pid, title="made outside the panel").wait(timeout=300)
    panel = _panel(client, pid, tmp_path)
    labels = dict((value, label) for label, value in panel.snapshots.select.options)
    assert made.id in labels
    assert (
        "completed" in labels[made.id]
        and f"{own_project['counts']['tasks']} tasks" in labels[made.id]
    )

    panel.snapshots.select.value = made.id
    assert panel.snapshots.delete_button.disabled is False
    panel.export_button.click()
    panel.wait(timeout=300)
    assert panel.error is None, panel.error_box.value
    assert panel.export.id == made.id  # reused, not a new one
    assert len(panel.frames.tasks) == own_project["counts"]["tasks"]

    panel.snapshots.delete_button.click()  # first click asks
    assert made.id in [e.id for e in client.list_exports(pid)]
    panel.snapshots.delete_button.click()  # second click deletes
    panel.wait(timeout=120)
    assert panel.error is None, panel.error_box.value
    assert made.id not in [e.id for e in client.list_exports(pid)]
    assert made.id not in [value for _, value in panel.snapshots.select.options]


def test_save_parquet_and_download_a_format(
    client: ls_frames.Client, demo_project: dict[str, Any], tmp_path: Path
) -> None:
    panel = _panel(client, demo_project["project_id"], tmp_path)
    assert panel.save_button.disabled and panel.download_button.disabled  # nothing yet
    panel.save_button.click()  # a script can still click: the panel says why not
    panel.wait()
    assert isinstance(panel.error, ls_frames.LSFramesError)
    assert "export first" in panel.error_box.value
    assert "parquet" not in panel.paths
    panel.export_button.click()
    panel.wait(timeout=300)
    panel.parquet_path.value = str(tmp_path / "dataset")
    panel.save_button.click()
    panel.wait(timeout=300)
    assert panel.error is None, panel.error_box.value
    back = ls_frames.read_parquet(panel.paths["parquet"])
    assert len(back.regions) == len(panel.frames.regions)
    assert back.provenance["export_id"] == panel.export.id
    assert "media" not in back.arrow and panel.media is None  # not ticked

    # "fetch media": the dataset gets its media table, the files their bytes
    assert panel.media_path.value == f"project-{demo_project['project_id']}-media"
    panel.media_path.value = str(tmp_path / "media")
    panel.fetch_media.value = True
    panel.overwrite.value = True
    panel.save_button.click()
    panel.wait(timeout=300)
    assert panel.error is None, panel.error_box.value
    media = ls_frames.read_parquet(panel.paths["parquet"]).media
    assert panel.paths["media"] == tmp_path / "media"
    assert panel.media is not None and len(panel.media) == len(media) == len(demo_project["media"])
    sha = {m["task_id"]: m["sha256"] for m in demo_project["media"]}
    assert media["error"].isna().all()
    assert all(sha[t] == s for t, s in zip(media["task_id"], media["sha256"], strict=True))
    assert f"media: {len(media)} file(s) in {tmp_path / 'media'}" in panel.status.value

    panel.format_path.value = str(tmp_path / "formats")
    panel.download_button.click()  # no format ticked: said in plain words
    panel.wait(timeout=60)
    assert isinstance(panel.error, ls_frames.LSFramesError)
    assert "tick at least one format" in panel.error_box.value
    panel.formats.boxes["CSV"].value = True
    panel.download_button.click()
    panel.wait(timeout=300)
    assert panel.error is None, panel.error_box.value
    assert panel.paths["CSV"].parent == tmp_path / "formats"
    assert panel.paths["CSV"].read_text().count("\n") >= 2


def test_a_wrong_key_is_shown_without_the_key(label_studio: Any, tmp_path: Path) -> None:
    key = "not-a-real-key-0123456789abcdef"
    panel = ls_frames.ExportPanel(client=ls_frames.Client(label_studio.url, key), work_dir=tmp_path)
    panel.wait(timeout=60)
    assert isinstance(panel.error, ls_frames.AuthenticationError)
    assert "401" in panel.error_box.value
    assert key not in panel.error_box.value
    assert panel.export_button.disabled  # no project to export


def test_unknown_project_is_an_error_in_the_panel(client: ls_frames.Client, tmp_path: Path) -> None:
    panel = ls_frames.ExportPanel(10**8, client=client, work_dir=tmp_path, background=False)
    assert isinstance(panel.error, ls_frames.LSFramesError)
    assert f"project {10**8} is not among the projects" in panel.error_box.value


def test_missing_ipywidgets_names_the_install_line() -> None:
    code = (
        "import sys; sys.modules['ipywidgets'] = None\n"
        "import ls_frames\n"
        "try:\n    ls_frames.ExportPanel\nexcept ls_frames.ConfigurationError as exc:\n"
        "    print(exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "pip install 'ls-frames[widgets]'" in out.stdout


def test_switching_project_reloads_what_depends_on_it(
    client: ls_frames.Client,
    demo_project: dict[str, Any],
    own_project: dict[str, Any],
    tmp_path: Path,
) -> None:
    demo, own = demo_project["project_id"], own_project["project_id"]
    panel = _panel(client, demo, tmp_path)
    assert panel.parquet_path.value == f"project-{demo}"
    assert panel.format_path.value == f"project-{demo}-exports"
    panel.parquet_path.value = "my-dataset"  # typed by the user: kept
    panel.project_picker.value = own
    panel.wait(timeout=120)
    assert panel.error is None, panel.error_box.value
    assert panel.parquet_path.value == "my-dataset"
    assert panel.format_path.value == f"project-{own}-exports"
    listed = [value for _, value in panel.snapshots.select.options][1:]
    assert listed == [e.id for e in client.list_exports(own)]
