"""The summary `ls-frames read/export/demo` print: derived from the dataset, not invented."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import ls_frames
from ls_frames.frontends.cli import main, summarize

LS = Path(__file__).resolve().parent / "corpus" / "label-studio-1.23.2"


def test_summary_counts_match_the_export(tmp_path: Path) -> None:
    source = LS / "snapshot_full_objects.json"
    tasks = json.loads(source.read_text(encoding="utf-8"))
    out = ls_frames.to_parquet(source, tmp_path / "ds", progress=False)

    text = summarize(out)

    annotations = [a for t in tasks for a in t["annotations"]]
    skipped = sum(bool(a.get("was_cancelled")) for a in annotations)
    ground_truth = sum(bool(a.get("ground_truth")) for a in annotations)
    assert re.search(rf"tasks\s+{len(tasks):,} rows", text)
    assert f"annotations: {skipped} skipped, {ground_truth} ground truth" in text
    predictions = sum(len(t.get("predictions") or []) for t in tasks)
    assert re.search(rf"predictions\s+{predictions:,} rows", text)


def test_read_command_writes_a_dataset_and_prints_the_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "ds"
    assert main(["read", str(LS / "snapshot_full_objects.json"), "--out", str(out), "-q"]) == 0
    assert (out / "_SUCCESS").is_file()
    printed = capsys.readouterr().out
    assert "Parquet dataset:" in printed
    assert "regions by source:" in printed


def test_read_command_on_a_broken_file_fails_cleanly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken.json"
    broken.write_bytes((LS / "snapshot_full_objects.json").read_bytes()[:5000])
    out = tmp_path / "ds"
    assert main(["read", str(broken), "--out", str(out), "-q"]) == 1
    assert not out.exists()
    err = capsys.readouterr().err
    assert "offset" in err or "task" in err
