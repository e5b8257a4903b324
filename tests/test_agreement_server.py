"""agreement and consensus on a real Label Studio project with several annotators: users
created through the API, annotations imported with ``completed_by`` set. Expectations come
from what was sent, through scikit-learn, statsmodels and krippendorff."""

from __future__ import annotations

import random
import uuid
import warnings
from itertools import combinations
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest

import ls_frames
from ls_frames.testing.seed import auth_headers
from tests.needs import missing

try:
    import krippendorff
    from sklearn.metrics import cohen_kappa_score
    from statsmodels.stats.inter_rater import fleiss_kappa
except ImportError:  # pragma: no cover - the test extra installs them
    krippendorff = None  # type: ignore[assignment]

pytestmark = pytest.mark.server

CONFIG = """<View><Text name="text" value="$text"/>
<Choices name="sentiment" toName="text"><Choice value="pos"/><Choice value="neg"/>
<Choice value="neutral"/></Choices>
<Labels name="ner" toName="text"><Label value="PER"/><Label value="ORG"/></Labels>
</View>"""
LABELS = ("pos", "neg", "neutral")
TEXT = "word " * 40


def _result(label: str, span: tuple[int, int]) -> list[dict[str, Any]]:
    return [
        {
            "id": "c",
            "from_name": "sentiment",
            "to_name": "text",
            "type": "choices",
            "value": {"choices": [label]},
        },
        {
            "id": "n",
            "from_name": "ner",
            "to_name": "text",
            "type": "labels",
            "value": {
                "start": span[0],
                "end": span[1],
                "text": TEXT[span[0] : span[1]],
                "labels": ["PER"],
            },
        },
    ]


@pytest.fixture(scope="module")
def project(label_studio: Any) -> dict[str, Any]:
    rng = random.Random(11)
    tag = uuid.uuid4().hex[:8]
    headers = auth_headers(label_studio.url, label_studio.legacy_token)
    with httpx.Client(base_url=label_studio.url, headers=headers, timeout=120) as http:
        users = {}
        for k in range(4):
            email = f"agreement-{tag}-{k}@example.org"
            answer = http.post("/api/users/", json={"email": email, "username": email})
            answer.raise_for_status()
            users[answer.json()["id"]] = email
        answer = http.post(
            "/api/projects", json={"title": f"agreement {tag}", "label_config": CONFIG}
        )
        answer.raise_for_status()
        project_id = answer.json()["id"]
        tasks, counted = [], []
        for _task in range(40):
            truth = rng.choice(LABELS)
            annotations, answers = [], {}
            for user, email in users.items():
                if rng.random() < 0.2:
                    continue
                for _ in range(rng.choice((1, 1, 2))):  # a second pass replaces the first
                    if rng.random() < 0.1:
                        annotations.append(
                            {
                                "completed_by": user,
                                "was_cancelled": True,
                                "ground_truth": False,
                                "result": [],
                            }
                        )
                        continue
                    label = truth if rng.random() < 0.7 else rng.choice(LABELS)
                    start = rng.randrange(0, 20) * 5
                    span = (start, start + 5 * rng.randrange(1, 4))
                    annotations.append(
                        {
                            "completed_by": user,
                            "was_cancelled": False,
                            "ground_truth": False,
                            "result": _result(label, span),
                        }
                    )
                    answers[email] = (label, span)
            tasks.append({"data": {"text": TEXT}, "annotations": annotations})
            counted.append(answers)
        answer = http.post(
            f"/api/projects/{project_id}/import", params={"return_task_ids": "true"}, json=tasks
        )
        answer.raise_for_status()
        task_ids = answer.json()["task_ids"]
    with ls_frames.Client(label_studio.url, label_studio.legacy_token) as client:
        frames = ls_frames.load_project(project_id, client=client, progress=False)
    return {
        "frames": frames,
        "counted": dict(zip(task_ids, counted, strict=True)),
        "emails": sorted(users.values()),
    }


def _close(got: Any, want: float) -> bool:
    return bool(pd.isna(got)) if np.isnan(want) else abs(float(got) - want) <= 1e-9


def test_pairwise_and_overall_scores_equal_the_references(project: dict[str, Any]) -> None:
    if krippendorff is None:
        missing("scikit-learn, statsmodels and krippendorff (the test extra)")
    frames, counted = project["frames"], project["counted"]
    cohen = ls_frames.agreement(frames, "sentiment", method="cohen")
    assert list(zip(cohen["annotator_a"], cohen["annotator_b"], strict=True)) == list(
        combinations(project["emails"], 2)
    )
    for row in cohen.itertuples():
        both = [t for t in counted.values() if row.annotator_a in t and row.annotator_b in t]
        a = [t[row.annotator_a][0] for t in both]
        b = [t[row.annotator_b][0] for t in both]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            want = float(cohen_kappa_score(a, b))
        assert row.tasks == len(both) and _close(row.score, want)
    emails = project["emails"]
    data = np.array(
        [[LABELS.index(t[e][0]) if e in t else np.nan for t in counted.values()] for e in emails]
    )
    alpha = ls_frames.agreement(frames, "sentiment", method="krippendorff")
    want = krippendorff.alpha(reliability_data=data, level_of_measurement="nominal")
    assert _close(alpha["score"].iloc[0], float(want))
    sizes = pd.Series([len(t) for t in counted.values() if len(t) >= 2]).value_counts()
    m = max(sizes[sizes == sizes.max()].index)
    table = np.array(
        [
            [sum(v[0] == label for v in t.values()) for label in LABELS]
            for t in counted.values()
            if len(t) == m
        ]
    )
    fleiss = ls_frames.agreement(frames, "sentiment", method="fleiss")
    assert fleiss["tasks"].iloc[0] == len(table)
    assert _close(fleiss["score"].iloc[0], float(fleiss_kappa(table, method="fleiss")))


def test_span_iou_and_consensus(project: dict[str, Any]) -> None:
    frames, counted = project["frames"], project["counted"]
    out = ls_frames.agreement(frames, "ner", method="iou").set_index(["annotator_a", "annotator_b"])
    for a, b in combinations(project["emails"], 2):
        ious = []
        for t in counted.values():
            if a in t and b in t:
                (s1, e1), (s2, e2) = t[a][1], t[b][1]
                inter = min(e1, e2) - max(s1, s2)
                if inter > 0:
                    ious.append(inter / (max(e1, e2) - min(s1, s2)))
        assert out.loc[(a, b), "matched"] == len(ious)
        assert _close(out.loc[(a, b), "score"], float(np.mean(ious)) if ious else np.nan)
    votes = ls_frames.consensus(frames, "sentiment")
    for task_id, answers in counted.items():
        if not answers:
            assert task_id not in votes.index
            continue
        tally = pd.Series([v[0] for v in answers.values()]).value_counts()
        tie = int((tally == tally.iloc[0]).sum()) > 1
        assert bool(votes.loc[task_id, "tie"]) == tie
        assert (
            pd.isna(votes.loc[task_id, "label"])
            if tie
            else votes.loc[task_id, "label"] == tally.index[0]
        )
