"""``ls-frames export`` and ``ls-frames read`` against the real server, with both kinds of
key; the datasets they write read back the same in ls_frames, DuckDB and pyarrow.dataset."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import ls_frames
from ls_frames.frontends.cli import main
from ls_frames.reading import TABLES
from tests.test_server_exports_pipeline import _expected_counts, dataset_counts

pytestmark = [pytest.mark.server, pytest.mark.compat]


def test_export_then_read(
    api_key: str,
    label_studio: Any,
    demo_project: dict[str, Any],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "export"
    keep = tmp_path / "json"
    keep.mkdir()
    code = main(
        [
            "export",
            str(demo_project["project_id"]),
            "--out",
            str(out),
            "--url",
            label_studio.url,
            "--api-key",
            api_key,
            "--keep-json",
            str(keep),
            "--quiet",
        ]
    )
    printed = capsys.readouterr()
    assert code == 0, printed.err
    assert api_key not in printed.out + printed.err
    expected = _expected_counts(demo_project)
    assert f"{expected['regions']:>9,} rows" in printed.out
    counts = dataset_counts(out)
    assert counts["duckdb"] == expected and counts["pyarrow"] == expected

    # the kept JSON, through `ls-frames read`, gives the same tables
    (snapshot,) = keep.iterdir()
    local = tmp_path / "local"
    config = tmp_path / "config.xml"
    config.write_text(demo_project["label_config"])
    assert (
        main(["read", str(snapshot), "--out", str(local), "--label-config", str(config), "--quiet"])
        == 0
    )
    assert dataset_counts(local) == counts
    frames = ls_frames.read_parquet(local)
    assert {name: len(frames[name]) for name in TABLES} == expected
    declared = list(
        ls_frames.reading.parse_label_config(demo_project["label_config"]).values_of("labels")
    )
    assert list(frames.regions["label"].cat.categories[: len(declared)]) == declared


def test_export_ids_only_and_filters(
    label_studio: Any, demo_project: dict[str, Any], tmp_path: Path
) -> None:
    out = tmp_path / "usual"
    code = main(
        [
            "export",
            str(demo_project["project_id"]),
            "--out",
            str(out),
            "--quiet",
            "--url",
            label_studio.url,
            "--api-key",
            label_studio.access_token or label_studio.admin_key,
            "--ids-only",
            "--annotations",
            "usual",
        ]
    )
    assert code == 0
    counts = demo_project["counts"]
    frames = ls_frames.read_parquet(out)
    assert len(frames.annotations) == (
        counts["annotations"] - counts["skipped_annotations"] - counts["ground_truth_annotations"]
    )
    assert frames.annotations["completed_by_email"].isna().all()
    assert set(frames.regions["source"]) == {"annotation"}  # ids-only: no prediction results


def test_console_script_and_bad_key(
    label_studio: Any, demo_project: dict[str, Any], tmp_path: Path
) -> None:
    script = Path(sys.executable).with_name("ls-frames")
    env = {
        **os.environ,
        "LABEL_STUDIO_URL": label_studio.url,
        "LABEL_STUDIO_API_KEY": label_studio.admin_key,
        "LS_FRAMES_DISABLE_PROGRESS_BARS": "1",
    }
    out = tmp_path / "cli"
    done = subprocess.run(
        [str(script), "export", str(demo_project["project_id"]), "--out", str(out), "-q"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert dataset_counts(out)["duckdb"] == _expected_counts(demo_project)
    bad = "0" * 40
    env["LABEL_STUDIO_API_KEY"] = bad
    done = subprocess.run(
        [
            str(script),
            "export",
            str(demo_project["project_id"]),
            "--out",
            str(tmp_path / "never"),
            "-q",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 1
    assert done.stderr.startswith("ls-frames: error: ") and bad not in done.stderr
    assert not (tmp_path / "never").exists()
