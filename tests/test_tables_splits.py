"""split: groups stay whole, old tasks keep their split when the project grows, shares
follow the fractions; properties over generated projects."""

from __future__ import annotations

import json
import math
import random
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ls_frames
from ls_frames.training import split

FRACTIONS = {"train": 0.7, "val": 0.2, "test": 0.1}


def _tasks(ids: list[int], groups: list[str | None]) -> pd.DataFrame:
    tasks: pd.DataFrame = pd.DataFrame(
        {"task_id": pd.array(ids, dtype="Int64"), "data.patient": pd.array(groups, dtype="string")}
    )
    return tasks


projects = st.lists(
    st.tuples(st.integers(1, 10**6), st.sampled_from([None, *(f"p{i}" for i in range(30))])),
    min_size=1,
    max_size=200,
    unique_by=lambda t: t[0],
)


@pytest.mark.filterwarnings("ignore::ls_frames.SplitShareWarning")  # few groups: see below
@settings(max_examples=60, deadline=None)
@given(projects, st.integers(0, 2**31), st.booleans())
def test_groups_never_straddle_splits(
    rows: list[tuple[int, str | None]], seed: int, grouped: bool
) -> None:
    tasks = _tasks([r[0] for r in rows], [r[1] for r in rows])
    out = split(tasks, FRACTIONS, by="data.patient" if grouped else None, seed=seed)
    assert list(out.index) == [r[0] for r in rows]
    assert list(out.cat.categories) == list(FRACTIONS)
    assert out.notna().all()
    if grouped:
        per_group = (
            pd.DataFrame(
                {"g": tasks["data.patient"].fillna("<none>").to_numpy(), "s": out.to_numpy()}
            )
            .groupby("g")["s"]
            .nunique()
        )
        assert (per_group == 1).all()


@pytest.mark.filterwarnings("ignore::ls_frames.SplitShareWarning")  # few groups: see below
@settings(max_examples=60, deadline=None)
@given(projects, projects, st.integers(0, 2**31), st.booleans(), st.randoms())
def test_old_tasks_keep_their_split_when_the_project_grows(
    old: list[tuple[int, str | None]],
    new: list[tuple[int, str | None]],
    seed: int,
    grouped: bool,
    rnd: random.Random,
) -> None:
    old_ids = {r[0] for r in old}
    grown = old + [r for r in new if r[0] not in old_ids]
    rnd.shuffle(grown)  # row order must not matter
    by = "data.patient" if grouped else None
    before = split(_tasks([r[0] for r in old], [r[1] for r in old]), FRACTIONS, by=by, seed=seed)
    after = split(_tasks([r[0] for r in grown], [r[1] for r in grown]), FRACTIONS, by=by, seed=seed)
    assert after.loc[before.index].tolist() == before.tolist()


@pytest.mark.filterwarnings("ignore::ls_frames.SplitShareWarning")  # few groups: see below
@pytest.mark.parametrize("seed", range(20))
@pytest.mark.parametrize("n_groups", [300, 600])
def test_shares_follow_the_fractions(seed: int, n_groups: int) -> None:
    rng = random.Random(seed)
    # several tasks per patient: the shares are counted in groups
    rows = [(i, f"patient-{rng.randrange(n_groups)}") for i in range(1, 4 * n_groups)]
    tasks = _tasks([r[0] for r in rows], [r[1] for r in rows])
    out = split(tasks, FRACTIONS, by="data.patient", seed=seed)
    per_group = pd.Series(out.to_numpy(), index=tasks["data.patient"].to_numpy())
    per_group = per_group[~per_group.index.duplicated()]
    shares = per_group.value_counts(normalize=True)
    for name, target in FRACTIONS.items():
        sigma = math.sqrt(target * (1 - target) / len(per_group))
        assert abs(shares.get(name, 0.0) - target) <= 4 * sigma  # 4 sigma: under 9 points


def test_mean_deviation_is_a_few_points() -> None:
    deviations = []
    for seed in range(50):
        ids = list(range(1, 301))
        out = split(_tasks(ids, [None] * 300), {"train": 0.8, "val": 0.2}, seed=seed)
        deviations.append(abs(float((out == "val").mean()) - 0.2))
    assert float(np.mean(deviations)) < 0.03


def test_seed_makes_it_reproducible_and_different() -> None:
    tasks = _tasks(list(range(1, 501)), [None] * 500)
    a, b = split(tasks, FRACTIONS, seed=1), split(tasks, FRACTIONS, seed=1)
    c = split(tasks, FRACTIONS, seed=2)
    assert a.equals(b)
    assert (a != c).sum() > 100


@pytest.mark.filterwarnings("ignore::ls_frames.SplitShareWarning")  # few groups: see below
def test_stratify_on_a_control_and_on_a_column() -> None:
    rng = random.Random(3)
    export = [
        {
            "id": i,
            "data": {"text": str(i), "site": f"s{i % 7}"},
            "annotations": [
                {
                    "id": i,
                    "completed_by": 1,
                    "was_cancelled": False,
                    "ground_truth": False,
                    "result": [
                        {
                            "id": "c",
                            "from_name": "sentiment",
                            "to_name": "text",
                            "type": "choices",
                            "value": {"choices": [rng.choice(["pos", "neg", "pos", "pos"])]},
                        }
                    ],
                }
            ],
        }
        for i in range(1, 2001)
    ]
    frames = ls_frames.read_export(json.dumps(export).encode(), progress=False)
    out = split(frames, {"train": 0.5, "test": 0.5}, stratify="sentiment")
    labels = frames.regions.set_index("task_id")["choices"].map(lambda c: c[0])
    for label in ("pos", "neg"):
        tasks = labels[labels == label].index
        share = float((out.loc[tasks] == "train").mean())
        assert abs(share - 0.5) < 4 * math.sqrt(0.25 / len(tasks))
    by_site = split(frames, {"train": 0.5, "test": 0.5}, by="data.site", stratify="data.site")
    assert by_site.groupby(frames.tasks["data.site"].to_numpy()).nunique().eq(1).all()
    with pytest.raises(ls_frames.ConfigurationError, match="sentimnt"):
        split(frames, {"train": 1.0}, stratify="sentimnt")


@pytest.mark.parametrize("fractions", [{}, {"a": 0.5, "b": 0.6}, {"a": -0.1, "b": 1.1}])
def test_bad_fractions_are_refused(fractions: dict[str, float]) -> None:
    with pytest.raises(ls_frames.ConfigurationError, match="fractions"):
        split(_tasks([1], [None]), fractions)
    with pytest.raises(ls_frames.ConfigurationError, match=r"data\.patient"):
        split(pd.DataFrame({"task_id": [1]}), {"a": 1.0}, by="data.patient")


# -- shares far from the fractions are reported, never corrected ------------------------------
def _patients(n_groups: int, per_group: int) -> pd.DataFrame:
    ids = list(range(1, n_groups * per_group + 1))
    return _tasks(ids, [f"patient-{(i - 1) // per_group}" for i in ids])


def test_a_split_over_few_groups_warns_with_the_shares() -> None:
    tasks = _patients(23, 20)  # 23 patients, 20 images each
    with pytest.warns(ls_frames.SplitShareWarning) as caught:
        out = split(tasks, {"train": 0.8, "val": 0.2}, by="data.patient", seed=9)
    assert float((out == "val").mean()) == pytest.approx(3 / 23)  # 13%, not 20%
    warning = caught[0]
    assert warning.filename == __file__  # at the caller's line
    message = str(warning.message)
    assert "23 groups of 'data.patient' (460 tasks)" in message
    assert "train 87.0%, val 13.0%" in message and "train 80.0%, val 20.0%" in message
    assert "more (smaller) groups" in message and "accept" in message
    found = warning.message
    assert isinstance(found, ls_frames.SplitShareWarning)
    assert found.shares == pytest.approx({"train": 20 / 23, "val": 3 / 23})
    assert found.fractions == {"train": 0.8, "val": 0.2}
    assert (found.groups, found.tasks) == (23, 460)
    with warnings.catch_warnings():  # the same assignment whether or not it warns
        warnings.simplefilter("ignore")
        assert split(tasks, {"train": 0.8, "val": 0.2}, by="data.patient", seed=9).equals(out)


@pytest.mark.parametrize("seed", range(20))
def test_thousands_of_single_tasks_never_warn(seed: int) -> None:
    tasks = _tasks(list(range(1, 10_001)), [None] * 10_000)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ls_frames.SplitShareWarning)
        split(tasks, {"train": 0.8, "val": 0.2}, seed=seed)


def test_a_share_within_two_points_does_not_warn_however_few_the_groups() -> None:
    tasks = _patients(5, 10)
    for seed in range(200):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            out = split(tasks, {"train": 0.8, "val": 0.2}, by="data.patient", seed=seed)
        share = float((out == "val").mean())
        assert bool(caught) == (abs(share - 0.2) > 0.02), (seed, share)


def test_a_small_project_split_task_by_task_is_within_its_own_spread() -> None:
    # 40 tasks: a 10-point miss is under 3 standard deviations of any split of 40 tasks
    tasks = _tasks(list(range(1, 41)), [None] * 40)
    for seed in range(20):
        with warnings.catch_warnings():
            warnings.simplefilter("error", ls_frames.SplitShareWarning)
            out = split(tasks, {"train": 0.5, "val": 0.5}, seed=seed)
        assert abs(float((out == "val").mean()) - 0.5) <= 3 * math.sqrt(0.25 / 40)
