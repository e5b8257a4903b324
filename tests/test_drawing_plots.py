"""The plot functions: each returns matplotlib Axes holding one bar, cell or curve per
row of what it was given (counted from the inputs, not hard-coded)."""

from __future__ import annotations

import json
from itertools import product
from typing import Any

import numpy as np
import pandas as pd
import pytest

import ls_frames
from tests.image_tasks import scene
from tests.needs import missing

try:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.axes import Axes
except ImportError:  # pragma: no cover - the plot extra installs it
    plt = None  # type: ignore[assignment]

CONFIG = """<View><Image name="image" value="$image"/>
<RectangleLabels name="box" toName="image"><Label value="cat"/><Label value="dog"/><Label value="bird"/></RectangleLabels>
<Choices name="scene" toName="image"><Choice value="indoor"/><Choice value="outdoor"/></Choices>
</View>"""
LABELS = ["cat", "dog", "bird"]


@pytest.fixture(autouse=True)
def _matplotlib() -> Any:
    if plt is None:
        missing("matplotlib (the plot extra)")
    yield
    plt.close("all")


def _box(x: float, label: str, score: float | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {
        "from_name": "box",
        "to_name": "image",
        "type": "rectanglelabels",
        "original_width": 100,
        "original_height": 100,
        "value": {
            "x": x,
            "y": 10,
            "width": 8,
            "height": 8,
            "rotation": 0,
            "rectanglelabels": [label],
        },
    }
    if score is not None:
        item["score"] = score
    return item


def _scene(value: str) -> dict[str, Any]:
    return scene(value, rid=None)


def _frames() -> Any:
    """Six tasks, two annotators each, predictions of two model versions."""
    rng = np.random.default_rng(3)
    tasks = []
    for t in range(1, 7):
        annotations = []
        for k, who in enumerate(("a@x.org", "b@x.org", "c@x.org")):
            label = LABELS[(t + k * (t % 2)) % 3]
            annotations.append(
                {
                    "id": t * 10 + k,
                    "completed_by": {"id": k + 1, "email": who},
                    "was_cancelled": False,
                    "ground_truth": k == 0,
                    "updated_at": "2024-01-01T00:00:00Z",
                    "result": [
                        _box(10, label),
                        _box(50, LABELS[t % 3]),
                        _scene(["indoor", "outdoor"][(t + k) % 2]),
                    ],
                }
            )
        predictions = [
            {
                "id": t * 100 + v,
                "model_version": f"m{v}",
                "result": [
                    _box(
                        10 + float(rng.uniform(0, 3)),
                        LABELS[(t + v) % 3],
                        float(rng.uniform(0.1, 1)),
                    ),
                    _box(80, LABELS[t % 3], float(rng.uniform(0.1, 1))),
                    _scene(["indoor", "outdoor"][(t + v) % 2]),
                ],
            }
            for v in (1, 2)
        ]
        tasks.append(
            {
                "id": t,
                "data": {"image": f"{t}.png"},
                "annotations": annotations,
                "predictions": predictions,
            }
        )
    return ls_frames.read_export(json.dumps(tasks).encode(), label_config=CONFIG, progress=False)


def test_plot_confusion_has_one_cell_per_label_pair() -> None:
    frames = _frames()
    matrix = ls_frames.confusion(frames, "box", model_version="m1")
    ax = ls_frames.plot_confusion(matrix)
    assert isinstance(ax, Axes)
    assert len(ax.texts) == matrix.shape[0] * matrix.shape[1]
    written = [t.get_text() for t in ax.texts]
    assert written == [str(v) for v in matrix.to_numpy().ravel()]
    assert [t.get_text() for t in ax.get_yticklabels()] == [str(i) for i in matrix.index]
    shares = ls_frames.plot_confusion(matrix, normalize="true")
    rows = matrix.to_numpy(float)
    expected = rows / rows.sum(axis=1, keepdims=True)
    first = next(i for i in range(len(rows)) if rows[i].sum())
    assert [t.get_text() for t in shares.texts][
        first * rows.shape[1]
    ] == f"{expected[first, 0]:.2f}"


def test_plot_pr_curves_draws_one_curve_per_model_version_and_label() -> None:
    frames = _frames()
    curve = ls_frames.pr_curve(frames, "box")
    groups = curve.groupby(["model_version", "label"]).ngroups
    assert groups >= 4
    ax = ls_frames.plot_pr_curves(curve)
    assert len(ax.lines) == groups
    first = ax.lines[0]
    part = curve[
        (curve["model_version"] == "m1") & (curve["label"] == sorted(set(curve["label"]))[0])
    ]
    assert np.allclose(first.get_ydata(), part.sort_values("recall")["precision"].to_numpy())
    assert (
        len(ls_frames.plot_pr_curves(curve, model_version="m2").lines)
        == curve[curve["model_version"] == "m2"].groupby("label").ngroups
    )
    with pytest.raises(ls_frames.ConfigurationError, match="pr_curve"):
        ls_frames.plot_pr_curves(ls_frames.evaluate(frames, "box").drop(columns="recall"))


@pytest.mark.parametrize("by", ["source", "annotator", "model_version"])
def test_plot_label_counts_has_one_bar_per_label_and_group(by: Any) -> None:
    frames = _frames()
    regions = frames.regions[frames.regions["from_name"] == "box"]
    groups = {"source": 2, "annotator": 3, "model_version": 2}[by]
    ax = ls_frames.plot_label_counts(frames, from_name="box", by=by)
    assert len(ax.patches) == len(LABELS) * groups
    heights = sorted(p.get_height() for p in ax.patches)
    if by == "source":
        counts = regions.groupby(["label", "source"], observed=True).size()
        assert heights == sorted(counts.tolist())
    assert sum(heights) == (
        len(regions)
        if by == "source"
        else len(
            regions[regions["source"] == ("annotation" if by == "annotator" else "prediction")]
        )
    )
    assert [t.get_text() for t in ax.get_xticklabels()] == LABELS  # config order


def test_plot_agreement_has_one_cell_per_annotator_pair() -> None:
    frames = _frames()
    table = ls_frames.agreement(frames, "scene", method="cohen")
    names = sorted(set(table["annotator_a"]) | set(table["annotator_b"]))
    assert len(names) == 3
    ax = ls_frames.plot_agreement(table)
    assert len(ax.texts) == len(names) ** 2
    cells = {
        (a, b): t.get_text() for (a, b), t in zip(product(names, names), ax.texts, strict=True)
    }
    for a, b, score in zip(table["annotator_a"], table["annotator_b"], table["score"], strict=True):
        text = "" if pd.isna(score) else f"{score:.2f}"
        assert cells[(a, b)] == cells[(b, a)] == text
    assert all(cells[(n, n)] == "" for n in names)
    overall = ls_frames.agreement(frames, "scene", method="fleiss")
    with pytest.raises(ls_frames.ConfigurationError, match="pairwise"):
        ls_frames.plot_agreement(overall)


def test_plots_draw_on_the_axes_given() -> None:
    frames = _frames()
    figure, axes = plt.subplots(1, 2)
    assert ls_frames.plot_label_counts(frames, ax=axes[0]) is axes[0]
    assert ls_frames.plot_agreement(ls_frames.agreement(frames, "scene"), ax=axes[1]) is axes[1]
    assert len(figure.axes) >= 2
