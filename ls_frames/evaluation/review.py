"""Which tasks to look at again: task ids chosen from what the library computes.

Pure functions on tables (no HTTP): their task ids go to :func:`ls_frames.review_tab`::

    ids = review.lowest_scores(frames, 200, model_version="yolo-2026-12")
    ls_frames.review_tab(12, ids, title="200 least sure")

- :func:`lowest_scores`: the tasks whose prediction scores are lowest;
- :func:`most_disagreement`: the tasks where annotators agree least
  (:func:`~ls_frames.consensus`);
- :func:`prediction_errors`: the tasks with false positives, missed regions or wrong
  labels in :func:`~ls_frames.compare_predictions`' table.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Literal

from ls_frames.errors import ConfigurationError

if TYPE_CHECKING:
    import pandas as pd

    from ls_frames.tables import Frames

__all__ = ["ERROR_KINDS", "lowest_scores", "most_disagreement", "prediction_errors"]

ErrorKind = Literal["false_positive", "false_negative", "mismatch"]

#: what :func:`prediction_errors` can look for
ERROR_KINDS: tuple[ErrorKind, ...] = ("false_positive", "false_negative", "mismatch")


def _check_n(n: Any) -> None:
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
        raise ConfigurationError(f"n must be a whole number >= 1 or None, not {n!r}")


def _ranked(per_task: pd.Series, n: int | None, below: float | None) -> list[int]:
    """Task ids by value ascending (ties by task id), at most ``n``, under ``below``."""
    ranked = per_task.dropna()
    if below is not None:
        ranked = ranked[ranked < below]
    order = sorted(zip(ranked.tolist(), ranked.index.tolist(), strict=True))
    return [int(t) for _, t in order[:n]]


def lowest_scores(
    frames: Frames,
    n: int | None = None,
    *,
    model_version: str | None = None,
    below: float | None = None,
) -> list[int]:
    """The tasks whose predictions score lowest, least sure first.

    A task counts with its lowest prediction score; predictions without a score are left
    out.

    Parameters
    ----------
    frames
        Tables with a ``predictions`` table (``load_project``, :func:`read_export`, ...).
    n
        At most this many tasks (all by default).
    model_version
        Only this model version's predictions.
    below
        Only tasks scoring under this.

    Returns
    -------
    list of int
        Task ids, lowest score first (ties by task id).

    Raises
    ------
    ConfigurationError
        A bad ``n``, or a ``model_version`` no prediction carries.
    """
    _check_n(n)
    preds = frames.predictions
    if model_version is not None:
        preds = preds[preds["model_version"] == model_version]
        if preds.empty and not frames.predictions.empty:
            known = sorted(map(str, frames.predictions["model_version"].dropna().unique()))
            raise ConfigurationError(
                f"no prediction has model_version {model_version!r} (there are: {', '.join(known)})"
            )
    per_task = preds.groupby("task_id")["score"].min()
    return _ranked(per_task.astype("float64"), n, below)


def most_disagreement(
    frames: Frames,
    from_name: str,
    n: int | None = None,
    *,
    below: float | None = None,
    min_annotators: int = 2,
) -> list[int]:
    """The tasks where annotators agree least on ``from_name``, least agreement first.

    Agreement is :func:`~ls_frames.consensus`' (the share of annotators giving the winning
    answer; for boxes, a task counts with its least agreed region).

    Parameters
    ----------
    frames
        Tables with annotations.
    from_name
        The control to look at.
    n
        At most this many tasks (all by default).
    below
        Only tasks whose agreement is under this (e.g. ``1.0``: every disagreement).
    min_annotators
        Only tasks answered by at least this many annotators.

    Returns
    -------
    list of int
        Task ids, least agreement first (ties by task id).

    Raises
    ------
    ConfigurationError
        A bad ``n`` or ``min_annotators``, or what :func:`~ls_frames.consensus` refuses.
    """
    from ls_frames.evaluation.agreement import consensus

    _check_n(n)
    if isinstance(min_annotators, bool) or not isinstance(min_annotators, int):
        raise ConfigurationError(f"min_annotators must be a whole number, not {min_annotators!r}")
    table = consensus(frames, from_name)
    if "task_id" not in table.columns:
        table = table.reset_index()
    table = table[table["annotators"] >= min_annotators]
    per_task = table.groupby("task_id")["agreement"].min()
    return _ranked(per_task.astype("float64"), n, below)


def prediction_errors(
    comparison: pd.DataFrame,
    kinds: Iterable[ErrorKind] = ERROR_KINDS,
    *,
    model_version: str | None = None,
) -> list[int]:
    """The tasks where predictions went wrong in :func:`~ls_frames.compare_predictions`'
    table.

    Parameters
    ----------
    comparison
        What ``compare_predictions`` returns.
    kinds
        ``"false_positive"`` (a predicted result the reference lacks),
        ``"false_negative"`` (a reference result no prediction has), ``"mismatch"`` (a
        matched pair whose values differ, such as the label).
    model_version
        Only this model version's rows (a false negative has none: it is counted when the
        task holds a prediction of that version).

    Returns
    -------
    list of int
        Task ids, sorted.

    Raises
    ------
    ConfigurationError
        An unknown kind, or a table without ``compare_predictions``' columns.
    """
    chosen = [kinds] if isinstance(kinds, str) else list(kinds)
    unknown = [k for k in chosen if k not in ERROR_KINDS]
    if unknown or not chosen:
        raise ConfigurationError(
            f"kinds must be among {', '.join(ERROR_KINDS)}, not {unknown or chosen!r}"
        )
    needed = {"task_id", "prediction_id", "annotation_id", "pred_type", "ann_type", "match"}
    missing = needed - set(map(str, comparison.columns))
    if missing:
        raise ConfigurationError(
            f"comparison is not compare_predictions' table (missing: {', '.join(sorted(missing))})"
        )
    rows = comparison
    if model_version is not None:
        tasks = set(rows.loc[rows["model_version"] == model_version, "task_id"])
        rows = rows[rows["task_id"].isin(tasks)]
        rows = rows[rows["model_version"].isna() | (rows["model_version"] == model_version)]
    pred, ann = rows["pred_type"].notna(), rows["ann_type"].notna()
    hit = pred & ~pred  # all false, same index
    if "false_positive" in chosen:
        hit |= pred & ~ann
    if "false_negative" in chosen:
        hit |= ann & ~pred
    if "mismatch" in chosen:
        hit |= pred & ann & ~rows["match"].fillna(False).astype(bool)
    return sorted({int(t) for t in rows.loc[hit, "task_id"]})
