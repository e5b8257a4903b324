"""Export shapes other than a full snapshot read into the same tables."""

from __future__ import annotations

import json
from pathlib import Path

import ls_frames

LS = Path(__file__).resolve().parent / "corpus" / "label-studio-1.23.2"


def test_json_min_gives_one_annotation_per_annotated_record() -> None:
    path = LS / "snapshot_as_JSON_MIN.json"
    records = json.loads(path.read_text(encoding="utf-8"))
    annotated = [r for r in records if r["annotation_id"] is not None]
    assert 0 < len(annotated) < len(records)  # the file has tasks nobody annotated

    frames = ls_frames.read_export(path, progress=False)

    assert len(frames.tasks) == len(records)
    ann = frames.annotations
    assert ann["annotation_id"].notna().all()
    assert sorted(ann["annotation_id"]) == sorted(r["annotation_id"] for r in annotated)
    by_id = {r["annotation_id"]: r for r in annotated}
    for row in ann.itertuples():
        assert row.task_id == by_id[row.annotation_id]["id"]
        assert row.lead_time == by_id[row.annotation_id]["lead_time"]


def test_json_min_answers_stay_in_data_columns() -> None:
    path = LS / "snapshot_as_JSON_MIN.json"
    records = json.loads(path.read_text(encoding="utf-8"))
    frames = ls_frames.read_export(path, progress=False)
    tasks = frames.tasks
    # one task row per record, in file order (a task annotated twice appears twice)
    assert list(tasks["task_id"]) == [r["id"] for r in records]
    for (_, row), record in zip(tasks.iterrows(), records, strict=True):
        if "label" in record:
            assert json.loads(row["data.label"]) == record["label"]
        if "caption" in record:
            assert row["data.caption"] == record["caption"]
