"""The command line under a new user's mistakes, against the real server: where downloads
land, missing files and folders, error bodies saved as exports, closed pipes, projects by
title, and snapshots that do not pile up."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import ls_frames
from ls_frames.frontends.cli import main
from tests.test_client_server import CONFIG, TASKS

pytestmark = pytest.mark.server

SCRIPT = Path(sys.executable).with_name("ls-frames")


@pytest.fixture(scope="module")
def admin(label_studio: Any) -> Iterator[ls_frames.Client]:
    with ls_frames.Client(label_studio.url, label_studio.legacy_token) as client:
        yield client


@pytest.fixture(scope="module")
def project(admin: ls_frames.Client) -> dict[str, Any]:
    """A project of the six image tasks, under a title no other project has."""
    title = f"cli mistakes {uuid.uuid4().hex[:8]}"
    pid = admin.post_json("api/projects", {"title": title, "label_config": CONFIG})["id"]
    admin.post_json(f"api/projects/{pid}/import", TASKS)
    return {"id": pid, "title": title}


@pytest.fixture
def env(label_studio: Any, api_key: str) -> dict[str, str]:
    return {
        **os.environ,
        "LABEL_STUDIO_URL": label_studio.url,
        "LABEL_STUDIO_API_KEY": api_key,
        "LS_FRAMES_DISABLE_PROGRESS_BARS": "1",
    }


def _cli(argv: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPT), *argv], env=env, cwd=cwd, capture_output=True, text=True, timeout=300
    )


def _one_line_error(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ls-frames: error: "), done.stderr
    return lines[0]


def _snapshot_ids(admin: ls_frames.Client, pid: int) -> set[int]:
    return {e.id for e in admin.list_exports(pid)}


def test_download_into_a_folder_that_does_not_exist(
    admin: ls_frames.Client, project: dict[str, Any], env: dict[str, str], tmp_path: Path
) -> None:
    before = _snapshot_ids(admin, project["id"])
    done = _cli(
        ["download", str(project["id"]), "--format", "JSON", "--out", "exports/"], env, tmp_path
    )
    assert done.returncode == 0, done.stderr
    folder = tmp_path / "exports"
    assert folder.is_dir()
    (saved,) = folder.iterdir()
    assert Path(done.stdout.strip()) == Path("exports") / saved.name
    assert len(json.loads(saved.read_bytes())) == len(TASKS)
    assert _snapshot_ids(admin, project["id"]) == before, "the snapshot was deleted"


def test_a_format_of_several_files_goes_into_a_folder(
    admin: ls_frames.Client, project: dict[str, Any], env: dict[str, str], tmp_path: Path
) -> None:
    done = _cli(
        ["download", project["title"], "--format", "YOLO", "--out", "newdir"], env, tmp_path
    )
    assert done.returncode == 0, done.stderr
    (saved,) = (tmp_path / "newdir").iterdir()
    with zipfile.ZipFile(saved) as zf:
        assert "classes.txt" in zf.namelist()
    # a single-file format without a slash is the file's name; a .zip name is a file too
    assert (
        _cli(
            ["download", str(project["id"]), "--format", "CSV", "--out", "boxes.csv"], env, tmp_path
        ).returncode
        == 0
    )
    assert (tmp_path / "boxes.csv").is_file()
    assert (
        _cli(
            ["download", str(project["id"]), "--format", "YOLO", "--out", "y.zip"], env, tmp_path
        ).returncode
        == 0
    )
    assert zipfile.is_zipfile(tmp_path / "y.zip")
    help_text = _cli(["download", "--help"], env, tmp_path).stdout
    assert "FOLDER" in help_text and "ends with '/'" in help_text


def test_keep_snapshot_and_a_named_snapshot_stay(
    admin: ls_frames.Client, project: dict[str, Any], env: dict[str, str], tmp_path: Path
) -> None:
    pid = project["id"]
    before = _snapshot_ids(admin, pid)
    done = _cli(["export", str(pid), "--out", "kept", "--keep-snapshot"], env, tmp_path)
    assert done.returncode == 0, done.stderr
    (kept,) = _snapshot_ids(admin, pid) - before
    for argv in (
        ["export", str(pid), "--out", "again", "--export-id", str(kept)],
        ["download", str(pid), "--out", "named/", "--export-id", str(kept)],
        ["export", project["title"], "--out", "by-title"],
    ):
        done = _cli(argv, env, tmp_path)
        assert done.returncode == 0, (argv, done.stderr)
        assert _snapshot_ids(admin, pid) == before | {kept}, argv
    provenance = ls_frames.read_parquet(tmp_path / "by-title").provenance
    assert provenance is not None and provenance["project"] == pid
    assert provenance["snapshot_kept"] is False


def test_a_title_shared_by_two_projects_is_a_clear_error(
    admin: ls_frames.Client, env: dict[str, str], tmp_path: Path
) -> None:
    title = f"twin {uuid.uuid4().hex[:8]}"
    ids = sorted(
        admin.post_json("api/projects", {"title": title, "label_config": CONFIG})["id"]
        for _ in range(2)
    )
    line = _one_line_error(_cli(["formats", title], env, tmp_path))
    assert f"ids {ids[0]}, {ids[1]}" in line and "give the id" in line
    line = _one_line_error(_cli(["snapshots", "no such title " + title], env, tmp_path))
    assert "no project titled" in line


def test_missing_files_folders_and_existing_outputs(env: dict[str, str], tmp_path: Path) -> None:
    line = _one_line_error(_cli(["read", "missing.json", "--out", "ds"], env, tmp_path))
    assert "no such file: missing.json" in line
    (tmp_path / "folder").mkdir()
    line = _one_line_error(_cli(["read", "folder", "--out", "ds"], env, tmp_path))
    assert "is a folder" in line
    good = tmp_path / "good.json"
    good.write_text(json.dumps([{"id": 1, "data": {"text": "x"}}]))
    assert _cli(["read", "good.json", "--out", "ds", "-q"], env, tmp_path).returncode == 0
    line = _one_line_error(_cli(["read", "good.json", "--out", "ds", "-q"], env, tmp_path))
    assert "OutputExistsError" in line and "--overwrite" in line
    assert not (tmp_path / "nope").exists()


def test_an_error_body_saved_as_an_export_is_refused(
    label_studio: Any, env: dict[str, str], tmp_path: Path
) -> None:
    """The server's own answer to a request without a key, saved where an export was due."""
    body = httpx.get(f"{label_studio.url}/api/projects/1/exports/").content
    assert b"detail" in body
    (tmp_path / "export.json").write_bytes(body)
    line = _one_line_error(_cli(["read", "export.json", "--out", "ds"], env, tmp_path))
    assert "ExportFormatError" in line and "error answer" in line
    assert not (tmp_path / "ds").exists()


@pytest.mark.parametrize("command", ["snapshots", "formats"])
def test_a_closed_pipe_is_not_an_error(
    admin: ls_frames.Client,
    project: dict[str, Any],
    env: dict[str, str],
    tmp_path: Path,
    command: str,
) -> None:
    """``ls-frames snapshots P | head``: the reader is gone before anything is written."""
    export = admin.create_export(project["id"], title="for the pipe").wait(timeout=120)
    with subprocess.Popen(
        [str(SCRIPT), command, str(project["id"])],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        proc.stdout.close()
        err = proc.stderr.read().decode()
        assert proc.wait(timeout=120) == 0, err
    assert err == ""
    export.delete()


def test_in_process_main_reports_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert main(["read", str(tmp_path / "missing.json"), "--out", str(tmp_path / "o")]) == 1
    assert capsys.readouterr().err.count("\n") == 1
