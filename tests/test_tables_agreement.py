"""agreement and consensus against scikit-learn, statsmodels and the krippendorff package
on random exports; expectations are computed from the tasks sent, never from the output."""

from __future__ import annotations

import json
import random
import warnings
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd
import pytest

import ls_frames
from ls_frames.evaluation import agreement, consensus
from tests.needs import missing

try:
    import krippendorff
    from sklearn.metrics import cohen_kappa_score
    from statsmodels.stats.inter_rater import fleiss_kappa
except ImportError:  # pragma: no cover - the test extra installs them
    krippendorff = None  # type: ignore[assignment]

LABELS = ("pos", "neg", "neutral", "mixed")
CONFIG = """<View><Text name="text" value="$text"/>
<Choices name="sentiment" toName="text"><Choice value="pos"/><Choice value="neg"/>
<Choice value="neutral"/><Choice value="mixed"/></Choices>
<Labels name="ner" toName="text"><Label value="PER"/><Label value="ORG"/></Labels>
<RectangleLabels name="box" toName="text"><Label value="cat"/></RectangleLabels>
</View>"""


def _refs() -> None:
    if krippendorff is None:
        missing("scikit-learn, statsmodels and krippendorff (the test extra)")


def _choice(choices: list[str]) -> dict[str, Any]:
    return {
        "id": "c",
        "from_name": "sentiment",
        "to_name": "text",
        "type": "choices",
        "value": {"choices": choices},
    }


def _annotation(
    aid: int, user: int, result: list[dict[str, Any]], day: int, cancelled: bool = False
) -> dict[str, Any]:
    return {
        "id": aid,
        "completed_by": {"id": user, "email": f"user{user}@example.org"},
        "result": result,
        "was_cancelled": cancelled,
        "ground_truth": False,
        "updated_at": f"2024-01-{day:02d}T00:00:00Z",
    }


def random_export(
    seed: int, n_tasks: int = 60, n_users: int = 4, n_labels: int = 3
) -> tuple[bytes, dict[int, dict[int, str]]]:
    """An export with random answers, skips and second passes, and the answer that must
    count per task and user (the last non-skipped annotation's)."""
    rng = random.Random(seed)
    tasks, truth, aid = [], {}, 0
    bias = {u: rng.random() for u in range(1, n_users + 1)}
    for tid in range(1, n_tasks + 1):
        true_label = rng.choice(LABELS[:n_labels])
        anns, counted = [], {}
        for user in range(1, n_users + 1):
            if rng.random() < 0.25:
                continue  # this user did not see the task
            for day in range(1, rng.choice((1, 1, 1, 2, 3)) + 1):
                aid += 1
                if rng.random() < 0.1:
                    anns.append(_annotation(aid, user, [], day, cancelled=True))
                    continue
                label = (
                    true_label
                    if rng.random() < 0.5 + bias[user] / 2
                    else rng.choice(LABELS[:n_labels])
                )
                anns.append(_annotation(aid, user, [_choice([label])], day))
                counted[user] = label
        rng.shuffle(anns)
        tasks.append({"id": tid, "data": {"text": f"t{tid}"}, "annotations": anns})
        truth[tid] = counted
    return json.dumps(tasks).encode(), truth


def _frames(raw: bytes) -> ls_frames.Frames:
    return ls_frames.read_export(raw, label_config=CONFIG, progress=False)


def _close(got: Any, want: float) -> bool:
    if want is None or np.isnan(want):
        return bool(pd.isna(got))
    return abs(float(got) - want) <= 1e-9


def _reference_cohen(a: list[str], b: list[str]) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # undefined kappa: NaN with a warning
        return float(cohen_kappa_score(a, b))


@pytest.mark.parametrize("seed", range(12))
def test_pairwise_scores_equal_scikit_learn(seed: int) -> None:
    _refs()
    raw, truth = random_export(seed, n_labels=2 + seed % 3)
    frames = _frames(raw)
    cohen = agreement(frames, "sentiment", method="cohen")
    percent = agreement(frames, "sentiment", method="percent")
    users = sorted({u for t in truth.values() for u in t})
    pairs = list(combinations([f"user{u}@example.org" for u in users], 2))
    assert list(zip(cohen["annotator_a"], cohen["annotator_b"], strict=True)) == pairs
    row: Any  # a row's fields are scalars of any type
    prow: Any
    for row, prow in zip(cohen.itertuples(), percent.itertuples(), strict=True):
        ua, ub = int(row.annotator_a[4:].split("@")[0]), int(row.annotator_b[4:].split("@")[0])
        both = [t for t in truth.values() if ua in t and ub in t]
        a, b = [t[ua] for t in both], [t[ub] for t in both]
        assert row.tasks == prow.tasks == len(both)
        assert _close(row.score, _reference_cohen(a, b))
        assert _close(prow.score, float(np.mean(np.array(a) == np.array(b))))


@pytest.mark.parametrize("seed", range(12))
def test_overall_scores_equal_statsmodels_and_krippendorff(seed: int) -> None:
    _refs()
    n_labels = 2 + seed % 3
    raw, truth = random_export(seed, n_labels=n_labels)
    frames = _frames(raw)
    users = sorted({u for t in truth.values() for u in t})
    codes = {label: i for i, label in enumerate(LABELS)}
    reliability = np.array(
        [[codes[truth[t][u]] if u in truth[t] else np.nan for t in sorted(truth)] for u in users]
    )
    alpha = agreement(frames, "sentiment", method="krippendorff")
    want = krippendorff.alpha(reliability_data=reliability, level_of_measurement="nominal")
    assert _close(alpha["score"].iloc[0], float(want))
    assert alpha["tasks"].iloc[0] == sum(len(t) >= 2 for t in truth.values())
    # Fleiss: the tasks with the most common number of answers (two or more)
    sizes = pd.Series([len(t) for t in truth.values() if len(t) >= 2]).value_counts()
    m = max(sizes[sizes == sizes.max()].index)
    table = np.array(
        [
            [sum(1 for v in t.values() if v == label) for label in LABELS]
            for t in truth.values()
            if len(t) == m
        ]
    )
    fleiss = agreement(frames, "sentiment", method="fleiss")
    assert fleiss["tasks"].iloc[0] == len(table)
    assert _close(fleiss["score"].iloc[0], float(fleiss_kappa(table, method="fleiss")))
    assert list(fleiss.columns) == ["tasks", "annotators", "score"]


def test_skipped_and_earlier_annotations_never_count() -> None:
    tasks = [
        {
            "id": 1,
            "data": {"text": "a"},
            "annotations": [
                _annotation(1, 1, [_choice(["pos"])], 1),
                _annotation(2, 1, [_choice(["neg"])], 2),  # user 1's last word: neg
                _annotation(3, 2, [_choice(["neg"])], 1),
                _annotation(4, 2, [], 3, cancelled=True),  # a later skip does not count
            ],
        },
        {
            "id": 2,
            "data": {"text": "b"},
            "annotations": [
                _annotation(5, 1, [_choice(["pos", "neg"])], 1),  # a multi-choice: one answer
                _annotation(6, 2, [_choice(["neg", "pos"])], 1),
            ],
        },
    ]
    frames = _frames(json.dumps(tasks).encode())
    out = agreement(frames, "sentiment", method="percent")
    assert out.to_dict("records") == [
        {
            "annotator_a": "user1@example.org",
            "annotator_b": "user2@example.org",
            "tasks": 2,
            "score": 1.0,
        }
    ]


def test_unknown_from_name_names_those_present() -> None:
    raw, _ = random_export(0, n_tasks=5)
    frames = _frames(raw)
    for method in ("cohen", "fleiss", "iou"):
        with pytest.raises(ls_frames.ConfigurationError, match=r"sentimnt.*'sentiment'"):
            agreement(frames, "sentimnt", method=method)
    with pytest.raises(ls_frames.ConfigurationError, match="method"):
        agreement(frames, "sentiment", method="kappa")  # type: ignore[arg-type]
    with pytest.raises(ls_frames.ConfigurationError, match="sentimnt"):
        consensus(frames, "sentimnt")


def _span(rid: str, start: int, end: int) -> dict[str, Any]:
    return {
        "id": rid,
        "from_name": "ner",
        "to_name": "text",
        "type": "labels",
        "value": {"start": start, "end": end, "labels": ["PER"]},
    }


def _rect(rid: str, x: float, y: float, w: float, h: float) -> dict[str, Any]:
    return {
        "id": rid,
        "from_name": "box",
        "to_name": "text",
        "type": "rectanglelabels",
        "value": {"x": x, "y": y, "width": w, "height": h, "rectanglelabels": ["cat"]},
    }


def test_iou_of_boxes_and_spans() -> None:
    tasks = [
        {
            "id": 1,
            "data": {"text": "a"},
            "annotations": [
                _annotation(
                    1,
                    1,
                    [_rect("a", 0, 0, 10, 10), _rect("b", 50, 50, 10, 10), _span("s", 0, 10)],
                    1,
                ),
                _annotation(
                    2, 2, [_rect("c", 5, 0, 10, 10), _rect("d", 80, 80, 5, 5), _span("t", 5, 10)], 1
                ),
            ],
        },
        {
            "id": 2,
            "data": {"text": "b"},
            "annotations": [
                _annotation(3, 1, [_rect("e", 0, 0, 10, 10)], 1),
                _annotation(4, 2, [_rect("f", 0, 0, 10, 10)], 1),
            ],
        },
    ]
    frames = _frames(json.dumps(tasks).encode())
    boxes = agreement(frames, "box", method="iou")
    # task 1: a~c overlap 5x10 of a 15x10 union = 1/3, b and d unmatched; task 2: 1.0
    assert boxes.to_dict("records") == [
        {
            "annotator_a": "user1@example.org",
            "annotator_b": "user2@example.org",
            "tasks": 2,
            "matched": 2,
            "unmatched": 2,
            "score": pytest.approx((1 / 3 + 1) / 2),
        }
    ]
    spans = agreement(frames, "ner", method="iou")
    assert spans["score"].iloc[0] == pytest.approx(0.5) and spans["matched"].iloc[0] == 1


@pytest.mark.parametrize("seed", range(5))
def test_consensus_majority_ties_and_low_agreement(seed: int) -> None:
    raw, truth = random_export(seed, n_labels=3)
    frames = _frames(raw)
    out = consensus(frames, "sentiment", min_agreement=0.6)
    answered = {t: v for t, v in truth.items() if v}
    assert sorted(out.index) == sorted(answered)
    for tid, answers in answered.items():
        counts = pd.Series(list(answers.values())).value_counts()
        top = int(counts.iloc[0])
        tie = int((counts == top).sum()) > 1
        low = top / len(answers) < 0.6
        row = out.loc[tid]
        assert (row["votes"], row["annotators"], bool(row["tie"]), bool(row["low_agreement"])) == (
            top,
            len(answers),
            tie,
            low,
        )
        if tie or low:
            assert pd.isna(row["label"])
        else:
            assert row["label"] == counts.index[0]
    assert list(out["label"].cat.categories) == list(LABELS)


def _reference_iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    iw = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    ih = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    if iw <= 0 or ih <= 0:
        return 0.0
    return iw * ih / (a[2] * a[3] + b[2] * b[3] - iw * ih)


@pytest.mark.parametrize("seed", range(6))
def test_box_iou_with_several_annotators_equals_a_plain_loop(seed: int) -> None:
    rng = random.Random(seed)
    tasks, sent, aid = [], {}, 0
    for tid in range(1, 30):
        anns, drawn = [], {}
        for user in range(1, 5):
            if rng.random() < 0.25:
                continue
            aid += 1
            boxes = [
                (rng.uniform(0, 70), rng.uniform(0, 70), rng.uniform(5, 30), rng.uniform(5, 30))
                for _ in range(rng.randrange(0, 4))
            ]
            anns.append(
                _annotation(aid, user, [_rect(f"r{k}", *b) for k, b in enumerate(boxes)], 1)
            )
            drawn[user] = boxes
        tasks.append({"id": tid, "data": {"text": "x"}, "annotations": anns})
        sent[tid] = {u: b for u, b in drawn.items() if b}
    out = agreement(_frames(json.dumps(tasks).encode()), "box", method="iou")
    for row in out.itertuples():
        ua, ub = (int(str(x)[4:].split("@")[0]) for x in (row.annotator_a, row.annotator_b))
        ious, n_tasks, unmatched = [], 0, 0
        for drawn in sent.values():
            if ua not in drawn or ub not in drawn:
                continue
            n_tasks += 1
            scored = sorted(
                (
                    (_reference_iou(p, q), i, j)
                    for i, p in enumerate(drawn[ua])
                    for j, q in enumerate(drawn[ub])
                ),
                reverse=True,
            )
            used_a, used_b = set(), set()
            for score, i, j in scored:
                if score > 0 and i not in used_a and j not in used_b:
                    used_a.add(i)
                    used_b.add(j)
                    ious.append(score)
            unmatched += len(drawn[ua]) + len(drawn[ub]) - 2 * len(used_a)
        assert (row.tasks, row.unmatched) == (n_tasks, unmatched)
        assert row.matched == len(ious)
        assert _close(row.score, float(np.mean(ious)) if ious else float("nan"))


def _poly(rid: str, points: list[list[int]]) -> dict[str, Any]:
    return {
        "id": rid,
        "from_name": "seg",
        "to_name": "text",
        "type": "polygonlabels",
        "original_width": 100,
        "original_height": 100,
        "value": {"points": points, "polygonlabels": ["road"]},
    }


def test_iou_of_polygons_by_their_pixels() -> None:
    config = CONFIG.replace(
        "</View>",
        '<PolygonLabels name="seg" toName="text"><Label value="road"/></PolygonLabels></View>',
    )
    square = [[0, 0], [40, 0], [40, 40], [0, 40]]  # 40 x 40 pixels
    shifted = [[20, 0], [60, 0], [60, 40], [20, 40]]  # overlaps it by 20 x 40
    triangle = [[0, 0], [40, 0], [0, 40]]  # half the square, the diagonal
    tasks = [
        {
            "id": 1,
            "data": {"text": "a"},
            "annotations": [
                _annotation(
                    1, 1, [_poly("a", square), _poly("far", [[90, 90], [99, 90], [99, 99]])], 1
                ),
                _annotation(2, 2, [_poly("b", shifted)], 1),
                _annotation(3, 3, [_poly("c", triangle)], 1),
            ],
        }
    ]
    frames = ls_frames.read_export(json.dumps(tasks).encode(), label_config=config, progress=False)
    out = agreement(frames, "seg", method="iou").set_index(["annotator_a", "annotator_b"])
    one, two, three = (f"user{u}@example.org" for u in (1, 2, 3))
    assert out.loc[(one, two), "score"] == pytest.approx(800 / 2400)
    assert (out.loc[(one, two), "matched"], out.loc[(one, two), "unmatched"]) == (1, 1)
    # the triangle holds the pixels whose centres lie on or under its diagonal
    pixels = sum(1 for r in range(40) for c in range(40) if (c + 0.5) + (r + 0.5) <= 40)
    assert out.loc[(one, three), "score"] == pytest.approx(pixels / 1600)
