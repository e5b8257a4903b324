"""``show_errors``: the worst mistakes of a model, drawn: from the frames to a page of
pictures in one call.

The mistakes are those of :func:`~ls_frames.compare_predictions` (each prediction next
to the reference annotation): a false positive is a predicted region the reference lacks,
a false negative a reference region no prediction matched, a mismatch a matched pair
whose labels differ. The worst come first: false positives and mismatches by the
prediction's score, highest first (the model was sure and wrong), false negatives by task.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pandas as pd

from ls_frames.drawing.pictures import show_grid
from ls_frames.errors import ConfigurationError
from ls_frames.evaluation.comparison import compare_predictions
from ls_frames.evaluation.reference import Reference

__all__ = ["ERROR_KINDS", "show_errors", "worst_errors"]

ErrorKind = Literal["false_positive", "false_negative", "mismatch"]
ERROR_KINDS: tuple[ErrorKind, ...] = ("false_positive", "false_negative", "mismatch")
_SHORT = {"false_positive": "FP", "false_negative": "FN", "mismatch": "wrong label"}


def worst_errors(
    frames: Any,
    from_name: str,
    *,
    kind: ErrorKind = "false_positive",
    n: int | None = 12,
    reference: Reference = "ground_truth",
    model_version: str | None = None,
    min_iou: float = 0.5,
) -> pd.DataFrame:
    """The rows of :func:`~ls_frames.compare_predictions` that are mistakes of one kind,
    worst first (see the module docstring), at most ``n``.

    Parameters
    ----------
    frames
        The tables.
    from_name
        The control.
    kind
        ``"false_positive"``, ``"false_negative"`` or ``"mismatch"``.
    n
        At most this many rows (all when ``None``).
    reference, min_iou
        As :func:`~ls_frames.compare_predictions` takes them.
    model_version
        Only this model version's predictions.

    Returns
    -------
    pandas.DataFrame
        ``compare_predictions``' columns plus ``score`` (the region's score, else its
        prediction's) and ``region`` (the label of the mistaken region in
        ``frames.regions``' index, for :func:`show`'s ``highlight``).

    Raises
    ------
    ConfigurationError
        An unknown ``kind``, an ``n`` that is not a whole number >= 1, or what
        ``compare_predictions`` raises (an unknown control or reference).
    """
    if kind not in ERROR_KINDS:
        raise ConfigurationError(f"kind must be one of {list(ERROR_KINDS)}, not {kind!r}")
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
        raise ConfigurationError(f"n must be a whole number >= 1 or None, not {n!r}")
    table = compare_predictions(frames, from_name, min_iou=min_iou, reference=reference)
    if model_version is not None:
        held = table["model_version"].astype(object) == model_version
        table = table[(held | table["model_version"].isna()).to_numpy(bool)]
    pred, ann = table["pred_type"].notna(), table["ann_type"].notna()
    if kind == "false_positive":
        hit = pred & ~ann
    elif kind == "false_negative":
        hit = ann & ~pred
    else:
        hit = pred & ann & ~table["match"].fillna(False).astype(bool)
    rows = table[hit.to_numpy(bool)].copy()
    score = rows["pred_score"].astype("Float64").fillna(rows["prediction_score"].astype("Float64"))
    rows["score"] = score
    if kind == "false_negative":
        rows = rows.sort_values(["task_id"], kind="stable")
    else:
        rows = rows.assign(_key=-score.fillna(-np.inf).astype(float))
        rows = rows.sort_values(["_key", "task_id"], kind="stable").drop(columns="_key")
    rows = rows.head(n) if n is not None else rows
    side = "ann" if kind == "false_negative" else "pred"
    rows["region"] = _index_of(frames.regions, rows, side)
    out: pd.DataFrame = rows.reset_index(drop=True)
    return out


def show_errors(
    frames: Any,
    from_name: str,
    *,
    media: Any = None,
    kind: ErrorKind = "false_positive",
    n: int = 12,
    reference: Reference = "ground_truth",
    model_version: str | None = None,
    min_iou: float = 0.5,
    columns: int = 4,
    tile: tuple[int, int] = (480, 270),
) -> Any:
    """A page of the worst mistakes of one kind: each task drawn with its reference
    annotation and its predictions, the mistaken region drawn with wider lines.

    ::

        frames = ls_frames.load_project(12)
        media = ls_frames.fetch_media(frames, "media/")
        ls_frames.show_errors(frames, "label", media=media)   # the surest false positives

    Parameters
    ----------
    frames
        The tables.
    from_name
        The region control (a rectangle, polygon, ... control).
    media
        As :func:`show` takes it.
    kind
        ``"false_positive"``, ``"false_negative"`` or ``"mismatch"``.
    n
        How many (one picture each; a task with several mistakes appears once per mistake).
    reference, min_iou
        As :func:`~ls_frames.compare_predictions` takes them.
    model_version
        Only this model version's predictions.
    columns, tile
        As :func:`show_grid` takes them.

    Returns
    -------
    PIL.Image.Image
        The page, each picture titled ``task <id> · FP <label> <score>``; an empty white
        tile when there is no mistake of the kind.

    Raises
    ------
    ConfigurationError
        What :func:`worst_errors` and :func:`show` raise.
    MediaError
        An image is missing or cannot be read.
    """
    rows = worst_errors(
        frames,
        from_name,
        kind=kind,
        n=n,
        reference=reference,
        model_version=model_version,
        min_iou=min_iou,
    )
    side = "ann" if kind == "false_negative" else "pred"
    titles = []
    for task, label, score in zip(
        rows["task_id"], rows[f"{side}_label"].astype(object), rows["score"], strict=True
    ):
        text = f"task {task} · {_SHORT[kind]} {'' if label is None or label is pd.NA else label}"
        if kind != "false_negative" and score is not pd.NA and score == score:
            text += f" {float(score):.2f}"
        titles.append(text)
    marks = [None if r is None else [r] for r in rows["region"]]
    return show_grid(
        frames,
        [int(t) for t in rows["task_id"]],
        columns=columns,
        tile=tile,
        titles=titles,
        highlight=marks,
        media=media,
        from_name=from_name,
        reference=reference,
        model_version=model_version,
    )


def _index_of(regions: pd.DataFrame, rows: pd.DataFrame, side: str) -> list[Any]:
    """The ``frames.regions`` index label of each comparison row's ``side`` region."""
    source = "prediction" if side == "pred" else "annotation"
    sid_col = "prediction_id" if side == "pred" else "annotation_id"
    held = regions[(regions["source"].astype(object) == source).to_numpy(bool)]
    found: list[Any] = []
    for _, row in rows.iterrows():
        mine = held[(held["source_id"] == row[sid_col]).to_numpy(bool, na_value=False)]
        rid = row.get(f"{side}_region_id")
        if rid is not None and rid is not pd.NA and (mine["region_id"] == rid).any():
            mine = mine[(mine["region_id"] == rid).to_numpy(bool, na_value=False)]
        else:
            for c in ("x", "y"):
                want = row.get(f"{side}_{c}")
                if want is not None and want is not pd.NA:
                    close = np.isclose(mine[c].to_numpy(float, na_value=np.nan), float(want))
                    mine = mine[close]
        found.append(mine.index[0] if len(mine) else None)
    return found
