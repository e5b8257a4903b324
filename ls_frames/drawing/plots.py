"""Plots of what the evaluation computes, each drawn on a matplotlib ``Axes`` and returned.

Every function takes ``ax=`` (a new figure's axes when ``None``) so plots can share a
figure; none calls ``plt.show()``. matplotlib comes with the ``plot`` extra.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pandas as pd

from ls_frames.drawing.colors import label_colors
from ls_frames.drawing.extras import matplotlib_pyplot
from ls_frames.errors import ConfigurationError

__all__ = ["plot_agreement", "plot_confusion", "plot_label_counts", "plot_pr_curves"]


def _axes(ax: Any, size: tuple[float, float]) -> Any:
    plt = matplotlib_pyplot()
    if ax is not None:
        return ax
    _, made = plt.subplots(figsize=size)
    return made


def _require(table: Any, columns: set[str], what: str) -> pd.DataFrame:
    if not isinstance(table, pd.DataFrame):
        raise ConfigurationError(f"expected {what}, not {type(table).__name__}")
    missing = columns - set(map(str, table.columns))
    if missing:
        raise ConfigurationError(f"expected {what} (missing columns: {', '.join(sorted(missing))})")
    return table


def _heatmap(
    ax: Any, values: np.ndarray, rows: list[str], cols: list[str], fmt: str, **im: Any
) -> None:
    """``values`` as coloured cells, each written in (blank where missing)."""
    image = ax.imshow(np.ma.masked_invalid(values), aspect="auto", **im)
    ax.set_xticks(range(len(cols)), labels=cols, rotation=45, ha="right")
    ax.set_yticks(range(len(rows)), labels=rows)
    finite = values[np.isfinite(values)]
    middle = (finite.min() + finite.max()) / 2 if len(finite) else 0.0
    for i in range(len(rows)):
        for j in range(len(cols)):
            v = values[i, j]
            text = "" if not np.isfinite(v) else format(v, fmt)
            color = "white" if np.isfinite(v) and v > middle else "black"
            ax.text(j, i, text, ha="center", va="center", color=color, fontsize=9)
    ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04)


def plot_confusion(
    matrix: pd.DataFrame,
    *,
    ax: Any = None,
    normalize: Literal["true", "pred"] | None = None,
    cmap: str = "Blues",
) -> Any:
    """A confusion matrix (:func:`~ls_frames.confusion`'s) as a heatmap, each cell written.

    Parameters
    ----------
    matrix
        Reference labels as rows, predicted labels as columns.
    ax
        The axes to draw on (a new figure's when ``None``).
    normalize
        ``"true"``: each row as shares of its total (recall on the diagonal), ``"pred"``:
        each column (precision on the diagonal); counts when ``None``.
    cmap
        A matplotlib colour map.

    Returns
    -------
    matplotlib.axes.Axes
        One cell per label pair (``len(ax.texts) == rows x columns``).

    Raises
    ------
    ConfigurationError
        ``matrix`` is not a DataFrame or ``normalize`` is unknown, or the ``plot`` extra
        (matplotlib) is missing (the message names ``pip install 'ls-frames[plot]'``).
    """
    if not isinstance(matrix, pd.DataFrame):
        raise ConfigurationError(f"expected confusion's DataFrame, not {type(matrix).__name__}")
    if normalize not in (None, "true", "pred"):
        raise ConfigurationError(f"normalize must be 'true', 'pred' or None, not {normalize!r}")
    values = matrix.to_numpy(dtype=float)
    fmt = "g"
    if normalize is not None:
        axis = 1 if normalize == "true" else 0
        totals = values.sum(axis=axis, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            values = np.where(totals > 0, values / totals, np.nan)
        fmt = ".2f"
    n = max(len(matrix.columns), len(matrix.index))
    target = _axes(ax, (1.2 + 0.7 * n, 1.0 + 0.6 * n))
    _heatmap(
        target,
        values,
        [str(i) for i in matrix.index],
        [str(c) for c in matrix.columns],
        fmt,
        cmap=cmap,
    )
    target.set_xlabel(str(matrix.columns.name or "predicted"))
    target.set_ylabel(str(matrix.index.name or "annotated"))
    return target


def plot_pr_curves(
    curve: pd.DataFrame,
    *,
    ax: Any = None,
    label: str | list[str] | None = None,
    model_version: str | list[str] | None = None,
) -> Any:
    """Precision-recall curves (:func:`~ls_frames.pr_curve`'s points), one line per model
    version and label, named with its AP (the mean precision over the 101 points).

    Parameters
    ----------
    curve
        ``model_version, label, recall, precision`` rows.
    ax
        The axes to draw on (a new figure's when ``None``).
    label, model_version
        Only these labels, model versions.

    Returns
    -------
    matplotlib.axes.Axes
        One line per (model version, label) drawn (``len(ax.lines)``).

    Raises
    ------
    ConfigurationError
        ``curve`` lacks ``pr_curve``'s columns, or the ``plot`` extra (matplotlib) is
        missing (the message names ``pip install 'ls-frames[plot]'``).
    """
    table = _require(
        curve, {"model_version", "label", "recall", "precision"}, "pr_curve's DataFrame"
    )
    for column, wanted in (("label", label), ("model_version", model_version)):
        if wanted is not None:
            keep = [wanted] if isinstance(wanted, str) else list(wanted)
            table = table[table[column].isin(keep).to_numpy(bool, na_value=False)]
    target = _axes(ax, (6.0, 4.5))
    versions = pd.unique(table["model_version"].astype(object))
    colors = label_colors(None, pd.unique(table["label"].astype(object)))
    styles = ["-", "--", ":", "-."]
    for (version, lab), part in table.groupby(["model_version", "label"], sort=True):
        part = part.sort_values("recall", kind="stable")
        ap = float(part["precision"].mean())
        name = f"{lab} (AP {ap:.3f})" if len(versions) < 2 else f"{version} · {lab} (AP {ap:.3f})"
        style = styles[list(versions).index(version) % len(styles)]
        rgb = colors[str(lab)]
        target.plot(
            part["recall"].to_numpy(float),
            part["precision"].to_numpy(float),
            style,
            color=tuple(c / 255 for c in rgb),
            label=name,
        )
    target.set_xlim(0, 1)
    target.set_ylim(0, 1.02)
    target.set_xlabel("recall")
    target.set_ylabel("precision")
    if len(target.lines):
        target.legend(fontsize=8, loc="lower left")
    return target


def _values(regions: pd.DataFrame) -> pd.Series:
    """Each region's label, else its choice (missing when it has neither)."""
    label = regions["label"].astype(object)
    if "choice" in regions.columns:
        label = label.where(label.notna(), regions["choice"].astype(object))
    return label


def _groups(frames: Any, regions: pd.DataFrame, by: str) -> pd.Series:
    source = regions["source"].astype(object)
    if by == "source":
        return source
    sid = regions["source_id"]
    if by == "annotator":
        ann = frames.annotations.drop_duplicates("annotation_id").set_index("annotation_id")
        email = ann["completed_by_email"].astype(object)
        user = (
            ann["completed_by_id"].astype(object).map(lambda u: None if u is pd.NA else f"user {u}")
        )
        who = email.where(email.notna(), user)
        mine: pd.Series = sid.map(who).astype(object).where((source == "annotation").to_numpy(bool))
        return mine
    pred = frames.predictions.drop_duplicates("prediction_id").set_index("prediction_id")
    version = pred["model_version"].astype(object).where(pred["model_version"].notna(), "")
    out: pd.Series = sid.map(version).astype(object).where((source == "prediction").to_numpy(bool))
    return out


def plot_label_counts(
    frames: Any,
    *,
    from_name: str | None = None,
    by: Literal["source", "annotator", "model_version"] = "source",
    ax: Any = None,
) -> Any:
    """How many regions (or choices) each label has, in bars grouped by source, annotator
    or model version.

    Parameters
    ----------
    frames
        The tables.
    from_name
        Only this control (all by default).
    by
        ``"source"`` (annotation, prediction, draft), ``"annotator"`` (the annotations'
        regions by annotator: email, else user id) or ``"model_version"`` (the
        predictions' regions).
    ax
        The axes to draw on (a new figure's when ``None``).

    Returns
    -------
    matplotlib.axes.Axes
        One bar per label and group (``len(ax.patches) == labels x groups``), labels in
        config order then the others sorted.

    Raises
    ------
    ConfigurationError
        an unknown ``by``, or the ``plot`` extra (matplotlib) is missing (the message names
        ``pip install 'ls-frames[plot]'``).
    """
    if by not in ("source", "annotator", "model_version"):
        raise ConfigurationError(f"by must be 'source', 'annotator' or 'model_version', not {by!r}")
    regions = frames.regions
    if from_name is not None:
        regions = regions[(regions["from_name"] == from_name).to_numpy(bool, na_value=False)]
    table = pd.DataFrame({"label": _values(regions), "group": _groups(frames, regions, by)})
    table = table.dropna()
    counts = pd.crosstab(table["label"], table["group"]) if len(table) else pd.DataFrame()
    known = list(label_colors(frames, from_name=from_name))
    order = [lab for lab in known if lab in counts.index]
    order += sorted(str(lab) for lab in counts.index if lab not in set(order))
    counts = counts.reindex(order)
    target = _axes(ax, (max(5.0, 0.6 * len(order) * max(1, len(counts.columns)) + 2), 4.0))
    n_groups = max(1, len(counts.columns))
    width = 0.8 / n_groups
    x = np.arange(len(order))
    for i, group in enumerate(counts.columns):
        target.bar(
            x + (i - (n_groups - 1) / 2) * width, counts[group].to_numpy(), width, label=str(group)
        )
    target.set_xticks(
        x,
        labels=order,
        rotation=45 if len(order) > 6 else 0,
        ha="right" if len(order) > 6 else "center",
    )
    target.set_ylabel("regions")
    if len(counts.columns):
        target.legend(title=by.replace("_", " "), fontsize=8)
    return target


def plot_agreement(
    table: pd.DataFrame,
    *,
    ax: Any = None,
    cmap: str = "viridis",
) -> Any:
    """Pairwise agreement (:func:`~ls_frames.agreement` with ``method="cohen"``,
    ``"percent"`` or ``"iou"``) as an annotator x annotator heatmap.

    Both halves of the square are filled (the score is symmetric), the diagonal is blank,
    as is a pair without a score.

    Parameters
    ----------
    table
        ``annotator_a, annotator_b, score`` rows.
    ax
        The axes to draw on (a new figure's when ``None``).
    cmap
        A matplotlib colour map.

    Returns
    -------
    matplotlib.axes.Axes
        ``annotators x annotators`` cells (``len(ax.texts)``).

    Raises
    ------
    ConfigurationError
        ``table`` is not a pairwise table (``method='fleiss'`` and ``'krippendorff'`` give
        one score), or the ``plot`` extra (matplotlib) is missing (the message names
        ``pip install 'ls-frames[plot]'``).
    """
    rows = _require(
        table,
        {"annotator_a", "annotator_b", "score"},
        "agreement's pairwise DataFrame (method='cohen', 'percent' or 'iou')",
    )
    names = sorted({str(a) for a in rows["annotator_a"]} | {str(b) for b in rows["annotator_b"]})
    where = {n: i for i, n in enumerate(names)}
    values = np.full((len(names), len(names)), np.nan)
    for a, b, score in zip(rows["annotator_a"], rows["annotator_b"], rows["score"], strict=True):
        if score is pd.NA or score is None:
            continue
        values[where[str(a)], where[str(b)]] = values[where[str(b)], where[str(a)]] = float(score)
    target = _axes(ax, (1.5 + 0.8 * len(names), 1.0 + 0.7 * len(names)))
    _heatmap(
        target,
        values,
        names,
        names,
        ".2f",
        cmap=cmap,
        vmin=min(0.0, np.nanmin(values, initial=0.0)),
        vmax=1.0,
    )
    return target
