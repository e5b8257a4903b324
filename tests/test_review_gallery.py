"""The review gallery without a server: region outcomes against evaluate's counts, the
score threshold against a re-evaluation of the predictions above it, and ReviewPanel
driven headless (set values, click) on generated detections."""

from __future__ import annotations

import copy
import json
from typing import Any

import numpy as np
import pandas as pd
import pytest

import ls_frames
from ls_frames.errors import ConfigurationError
from ls_frames.evaluation.outcomes import outcomes_at, precision_recall, region_outcomes
from tests.image_tasks import scene
from tests.test_tables_evaluation import CONFIG, _generated
from tests.text_tasks import NER, span


def _frames(tasks: list[dict[str, Any]]) -> ls_frames.Frames:
    return ls_frames.read_export(json.dumps(tasks).encode(), label_config=CONFIG, progress=False)


def _counts(table: pd.DataFrame) -> tuple[int, int, int]:
    kind = table["outcome"].astype(object)
    return int((kind == "tp").sum()), int((kind == "fp").sum()), int((kind == "fn").sum())


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("iou", [0.5, 0.75])
def test_outcomes_count_what_evaluate_counts(seed: int, iou: float) -> None:
    frames = _frames(_generated(seed)[0])
    scores = ls_frames.evaluate(frames, "label", iou_thresholds=[iou])
    outcomes = region_outcomes(frames, "label", iou_threshold=iou)
    regions = outcomes[outcomes["outcome"].astype(object) != "disagree"]
    for row in scores.to_dict("records"):
        mine = regions[regions["model_version"].astype(object) == row["model_version"]]
        if row["label"] != "all":
            mine = mine[mine["label"].astype(object) == row["label"]]
        assert _counts(mine) == (row["tp"], row["fp"], row["fn"]), row
    # every predicted region is a row, and a reference region is a row per model version
    # only when missed
    predicted = frames.regions[frames.regions["source"].astype(object) == "prediction"]
    boxes = predicted[predicted["from_name"].astype(object) == "label"]
    kind = regions["outcome"].astype(object)
    assert int(kind.isin(["tp", "fp"]).sum()) <= len(boxes)
    assert regions.loc[kind == "tp", "iou"].ge(iou - 1e-9).all()
    assert (regions.loc[kind == "fp", "iou"].fillna(0) < 1).all()


@pytest.mark.parametrize("threshold", [0.25, 0.5, 0.8])
def test_threshold_is_a_re_evaluation_without_the_low_scores(threshold: float) -> None:
    tasks, _ = _generated(3)
    outcomes = region_outcomes(_frames(tasks), "label")
    # what a user would do: drop the predicted boxes under the threshold, evaluate again
    kept = copy.deepcopy(tasks)
    for task in kept:
        for prediction in task["predictions"]:
            prediction["result"] = [r for r in prediction["result"] if r["score"] >= threshold]
    again = ls_frames.evaluate(_frames(kept), "label", iou_thresholds=[0.5])
    moved = outcomes_at(outcomes, threshold)
    for version in ("m1", "m2"):
        row = again[(again["model_version"] == version) & (again["label"] == "all")].iloc[0]
        mine = moved[moved["model_version"].astype(object) == version]
        assert _counts(mine) == (row["tp"], row["fp"], row["fn"])
        pr = precision_recall(
            outcomes[outcomes["model_version"].astype(object) == version], threshold
        )
        assert pr["precision"] == pytest.approx(float(row["precision"]))
        assert pr["recall"] == pytest.approx(float(row["recall"]))


def test_choices_have_outcomes_per_task_and_choice() -> None:
    tasks = [
        {
            "id": t,
            "data": {"image": f"{t}.jpg"},
            "annotations": [
                {
                    "id": 100 + t,
                    "completed_by": 1,
                    "result": [scene(truth)],
                    "was_cancelled": False,
                    "ground_truth": False,
                }
            ],
            "predictions": [
                {"id": 200 + t, "model_version": "m", "score": 0.1 * t, "result": [scene(guess)]}
            ],
        }
        for t, (truth, guess) in enumerate(
            [("indoor", "indoor"), ("indoor", "outdoor"), ("outdoor", "outdoor")], 1
        )
    ]
    frames = _frames(tasks)
    outcomes = region_outcomes(frames, "scene")
    scores = ls_frames.evaluate(frames, "scene")
    total = scores[scores["label"] == "all"].iloc[0]
    assert _counts(outcomes) == (total["tp"], total["fp"], total["fn"]) == (2, 1, 1)
    wrong = outcomes[outcomes["task_id"] == 2].set_index("outcome")
    assert wrong.loc["fp", "label"] == "outdoor" and wrong.loc["fn", "label"] == "indoor"


@pytest.fixture
def generated() -> ls_frames.Frames:
    return _frames(_generated(0)[0])


def _panel(frames: ls_frames.Frames, **kw: Any) -> Any:
    panel = ls_frames.ReviewPanel(frames, media=None, from_name="label", **kw)
    assert panel.error is None
    return panel


def test_the_gallery_filtered_to_false_positives_holds_exactly_those(
    generated: ls_frames.Frames,
) -> None:
    evaluation = ls_frames.evaluate(generated, "label", iou_thresholds=[0.5])
    panel = _panel(generated, evaluation=evaluation, page_size=10)
    panel.outcome_filter.value = "fp"
    every = evaluation[evaluation["label"] == "all"]
    assert len(panel.rows) == int(every["fp"].sum())
    assert set(panel.rows["outcome"]) == {"fp"}
    # the same rows as the outcomes table's, nothing else
    fp = panel.outcomes[panel.outcomes["outcome"] == "fp"]
    key = ["prediction_id", "task_id", "score"]
    assert sorted(map(tuple, panel.rows[key].to_numpy().tolist())) == sorted(
        map(tuple, fp[key].to_numpy().tolist())
    )
    # one model version
    panel.version_filter.value = "m2"
    assert len(panel.rows) == int(every.loc[every["model_version"] == "m2", "fp"].iloc[0])
    assert set(panel.rows["model_version"]) == {"m2"}
    # one label
    panel.label_filter.value = "cat"
    cat = evaluation[(evaluation["model_version"] == "m2") & (evaluation["label"] == "cat")]
    assert len(panel.rows) == int(cat["fp"].iloc[0])
    assert panel.grid.value.count("lsf-card-fp") == min(10, len(panel.rows))


def test_paging_sorting_and_the_threshold(generated: ls_frames.Frames) -> None:
    panel = _panel(generated, page_size=7)
    total = len(panel.rows)
    seen: list[int] = []
    assert panel.previous_button.disabled
    while True:
        assert len(panel.page_rows) == min(7, total - len(seen))
        assert panel.grid.value.count("class='lsf-card ") == len(panel.page_rows)
        seen.extend(panel.page_rows.index)
        if panel.next_button.disabled:
            break
        panel.next_button.click()
    assert sorted(seen) == sorted(panel.rows.index) and len(seen) == total
    last = panel.page
    assert last == (total - 1) // 7
    panel.previous_button.click()
    assert panel.page == last - 1 and not panel.next_button.disabled
    # changing a filter goes back to the first page
    panel.sort.value = "score, lowest first"
    assert panel.page == 0
    scores = panel.rows["score"].dropna().to_numpy()
    assert (np.diff(scores) >= 0).all()
    panel.sort.value = "score, highest first"
    assert (np.diff(panel.rows["score"].dropna().to_numpy()) <= 0).all()
    # the threshold: precision and recall move as a re-evaluation says
    before = panel.scores.set_index("model_version")
    panel.threshold.value = 0.5
    after = panel.scores.set_index("model_version")
    assert (after["fp"] < before["fp"]).all() and (after["fn"] > before["fn"]).all()
    part = panel.outcomes[panel.outcomes["model_version"] == "m1"]
    assert after.loc["m1", "precision"] == pytest.approx(precision_recall(part, 0.5)["precision"])
    assert "at score ≥ 0.50" in panel.metrics.value
    predicted = panel.rows[panel.rows["outcome"].isin(["tp", "fp"])]
    assert (predicted["score"] >= 0.5).all()


def test_low_iou_keeps_loosely_placed_predictions(generated: ls_frames.Frames) -> None:
    panel = _panel(generated, low_iou=0.8)
    panel.outcome_filter.value = "low_iou"
    assert len(panel.rows) > 0
    assert set(panel.rows["outcome"]) <= {"tp", "fp"}
    assert ((panel.rows["iou"] > 0) & (panel.rows["iou"] < 0.8)).all()
    every = panel.outcomes
    loose = every[every["outcome"].isin(["tp", "fp"]) & (every["iou"] > 0) & (every["iou"] < 0.8)]
    assert len(panel.rows) == len(loose)


def test_links_point_at_each_task_of_the_project(
    generated: ls_frames.Frames, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LABEL_STUDIO_URL", "http://ls.example:8080/")
    panel = _panel(generated, project=7, page_size=5)
    assert panel.links == [
        f"http://ls.example:8080/projects/7/data?task={t}" for t in panel.page_rows["task_id"]
    ]
    for link in panel.links:
        assert f"href='{link}'" in panel.grid.value


def test_the_tab_button_without_a_project_says_so(generated: ls_frames.Frames) -> None:
    panel = _panel(generated)
    assert panel.project is None  # read_export of bytes: no provenance
    panel.tab_button.click()
    assert isinstance(panel.error, ConfigurationError)
    assert "project=" in panel.error_box.value
    panel.outcome_filter.value = "fp"
    assert panel.error is None and panel.error_box.value == ""


def test_wrong_arguments_are_refused(generated: ls_frames.Frames) -> None:
    with pytest.raises(ConfigurationError, match="evaluation must be"):
        ls_frames.ReviewPanel(
            generated, media=None, from_name="label", evaluation=pd.DataFrame({"a": [1]})
        )
    with pytest.raises(ConfigurationError, match="page_size"):
        ls_frames.ReviewPanel(generated, media=None, from_name="label", page_size=0)
    with pytest.raises(ConfigurationError, match="no from_name"):
        ls_frames.ReviewPanel(generated, media=None, from_name="nothing")


def _ann_by(aid: int, user: int, result: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": aid,
        "completed_by": {"id": user, "email": f"u{user}@example.org"},
        "result": result,
        "was_cancelled": False,
        "ground_truth": False,
        "updated_at": f"2024-01-0{user}T00:00:00Z",
    }


def test_tasks_where_annotators_disagree_are_rows_of_their_own() -> None:
    from tests.test_tables_evaluation import _box

    same = [_box(10, 10, 30, 30, "cat", rid="a")]
    tasks = [
        {  # two annotators, the same box, two labels: they disagree
            "id": 1,
            "data": {"image": "1.jpg"},
            "annotations": [
                _ann_by(11, 1, same),
                _ann_by(12, 2, [_box(10, 10, 30, 30, "dog", rid="b")]),
            ],
            "predictions": [
                {"id": 101, "model_version": "m", "result": [_box(10, 10, 30, 30, "cat", 0.9)]}
            ],
        },
        {  # two annotators who agree
            "id": 2,
            "data": {"image": "2.jpg"},
            "annotations": [_ann_by(21, 1, same), _ann_by(22, 2, same)],
            "predictions": [
                {"id": 201, "model_version": "m", "result": [_box(10, 10, 30, 30, "cat", 0.8)]}
            ],
        },
    ]
    frames = _frames(tasks)
    outcomes = region_outcomes(frames, "label")
    disagree = outcomes[outcomes["outcome"] == "disagree"]
    assert disagree["task_id"].tolist() == [1]
    assert disagree["annotators"].iloc[0] == ("u1@example.org", "u2@example.org")
    assert disagree["tie"].tolist() == [True]  # the same box, two labels
    panel = _panel(frames)
    panel.outcome_filter.value = "disagree"
    assert panel.rows["task_id"].tolist() == [1]
    panel.annotator_filter.value = "u1@example.org"
    assert panel.rows["task_id"].tolist() == [1]
    assert "annotators disagree" in panel.grid.value and "labels tied" in panel.grid.value
    # the region rows: judged by the latest annotation (user 2's) as evaluate judges them
    scores = ls_frames.evaluate(frames, "label", iou_thresholds=[0.5])
    total = scores[scores["label"] == "all"].iloc[0]
    regions = outcomes[outcomes["outcome"] != "disagree"]
    assert _counts(regions) == (total["tp"], total["fp"], total["fn"]) == (1, 1, 1)


def test_text_spans_have_outcomes_like_evaluate() -> None:
    tasks = [
        {
            "id": 1,
            "data": {"text": "Ada Lovelace met Charles Babbage at the Royal Society."},
            "annotations": [
                _ann_by(11, 1, [span(0, 12, "PER"), span(17, 32, "PER"), span(40, 53, "ORG")])
            ],
            "predictions": [
                {
                    "id": 101,
                    "model_version": "ner-1",
                    "result": [
                        span(0, 12, "PER", 0.9),  # right
                        span(17, 24, "PER", 0.8),  # half the name: IoU 7/15, a miss
                        span(36, 53, "ORG", 0.7),  # a little long: IoU 13/17
                        span(44, 49, "PER", 0.3),  # inside the ORG: the wrong label
                    ],
                }
            ],
        }
    ]
    frames = ls_frames.read_export(json.dumps(tasks).encode(), label_config=NER, progress=False)
    outcomes = region_outcomes(frames, "ner")
    scores = ls_frames.evaluate(frames, "ner", iou_thresholds=[0.5])
    total = scores[scores["label"] == "all"].iloc[0]
    assert _counts(outcomes) == (total["tp"], total["fp"], total["fn"]) == (2, 2, 1)
    fp = outcomes[outcomes["outcome"] == "fp"].sort_values("score")
    # the wrong PER overlaps no PER of the reference; the half name overlaps its own
    assert fp["iou"].tolist() == [0.0, pytest.approx(7 / 15)]
