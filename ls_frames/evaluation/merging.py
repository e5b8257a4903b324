"""Box consensus: the annotators' rectangles of a task merged into one set of regions.

:func:`merge_boxes` clusters the boxes each annotator drew on a task by IoU and gives one
row per merged region (its mean geometry in Label Studio's percent coordinates, how many
annotators drew it, the majority label). :func:`~ls_frames.consensus` calls it for
rectangle controls, and ``reference="consensus"`` (:mod:`~ls_frames.evaluation.truth`)
scores against its regions.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from ls_frames.errors import ConfigurationError
from ls_frames.evaluation.pivot import annotator_regions
from ls_frames.evaluation.results import region_geometry, region_values, require_from_name
from ls_frames.geometry.overlap import paired_box_iou
from ls_frames.reading.controls import RECTANGLE_TYPES
from ls_frames.tables.frames import Frames

__all__ = ["BOX_COLUMNS", "merge_boxes"]

#: the columns of :func:`merge_boxes`, in order
BOX_COLUMNS = (
    "task_id",
    "region",
    "label",
    "votes",
    "annotators",
    "agreement",
    "tie",
    "x",
    "y",
    "width",
    "height",
    "rotation",
    "original_width",
    "original_height",
)
_PERCENT = ("x", "y", "width", "height", "rotation")


def _clusters(
    geo: NDArray[np.float64], who: NDArray[np.int64], threshold: float
) -> list[list[int]]:
    """Greedy clusters of one task's boxes (``geo`` rows in drawing order, annotator codes
    ``who``): each box joins the cluster whose mean box it overlaps most (IoU at or above
    ``threshold`` and above 0) among those without a box of its annotator yet, else starts
    one."""
    clusters: list[list[int]] = []
    means: list[NDArray[np.float64]] = []
    for i in range(len(geo)):
        open_ = [k for k, c in enumerate(clusters) if who[i] not in who[c]]
        best = -1
        if open_:
            overlap = paired_box_iou(
                np.repeat(geo[i : i + 1], len(open_), 0), np.stack([means[k] for k in open_])
            )
            j = int(np.argmax(overlap))
            if overlap[j] > 0 and overlap[j] >= threshold:
                best = open_[j]
        if best < 0:
            clusters.append([i])
            means.append(geo[i].copy())
        else:
            clusters[best].append(i)
            means[best] = geo[clusters[best]].mean(axis=0)
    return clusters


def _label(labels: list[str]) -> tuple[str | None, bool]:
    """The most common label, or ``(None, True)`` on a tie."""
    counts = pd.Series(labels, dtype=object).value_counts()
    if len(counts) > 1 and counts.iloc[0] == counts.iloc[1]:
        return None, True
    return (str(counts.index[0]) if len(counts) else None), False


def _rows(frames: Frames, from_name: str, iou_threshold: float) -> list[dict[str, Any]]:
    rows, persons, chosen = annotator_regions(frames, from_name)
    boxes = rows["type"].astype(object).isin(RECTANGLE_TYPES).to_numpy(bool)
    rows, persons = rows[boxes].reset_index(drop=True), persons[boxes]
    _, geo, _ = region_geometry(rows)
    percent = np.column_stack(
        [pd.to_numeric(rows[c].astype(object), errors="coerce").to_numpy(float) for c in _PERCENT]
    ).reshape(len(rows), len(_PERCENT))
    percent[:, 4] = np.nan_to_num(percent[:, 4])
    labels = [v[0] if v else "" for v in region_values(rows)]
    annotators = chosen.groupby(level="task_id").size()
    codes = {p: k for k, p in enumerate(sorted(set(persons.tolist()), key=str))}
    who = np.array([codes[p] for p in persons.tolist()], dtype=np.int64)
    tasks = rows["task_id"].to_numpy(np.int64)
    sizes = rows[["original_width", "original_height"]]
    out: list[dict[str, Any]] = []
    for task in np.unique(tasks):
        at = np.flatnonzero(tasks == task)
        at = at[np.argsort(who[at], kind="stable")]  # annotators in order, drawing order kept
        voters = int(annotators.get(task, len(set(who[at].tolist()))))
        for k, members in enumerate(_clusters(geo[at], who[at], iou_threshold)):
            pos = at[members]
            label, tie = _label([labels[p] for p in pos])
            mean = percent[pos].mean(axis=0)
            out.append(
                {
                    "task_id": int(task),
                    "region": k,
                    "label": label,
                    "votes": len(pos),
                    "annotators": voters,
                    "agreement": len(pos) / voters,
                    "tie": tie,
                    **dict(zip(_PERCENT, mean.tolist(), strict=True)),
                    "original_width": sizes["original_width"].iloc[pos[0]],
                    "original_height": sizes["original_height"].iloc[pos[0]],
                }
            )
    return out


def merge_boxes(frames: Frames, from_name: str, *, iou_threshold: float = 0.5) -> pd.DataFrame:
    """The annotators' rectangles of each task merged into consensus regions.

    The boxes are those :func:`~ls_frames.agreement` compares (each annotator's last
    annotation of a task, skipped ones never). Per task, annotators in order (email, else
    user id) and their boxes in drawing order, each box joins the cluster whose mean box
    it overlaps most (IoU, rotation aware, in pixels where the image size is known; at
    least ``iou_threshold`` and above 0) among the clusters that hold no box of its
    annotator yet, else starts a cluster; a cluster's mean box is updated as it grows.
    Labels are not compared while clustering.

    Returns
    -------
    pandas.DataFrame
        One row per merged region (:data:`BOX_COLUMNS`): ``task_id``, ``region`` (its
        number within the task), ``label`` (the most common label of its boxes; missing on
        a tie, ``tie`` true), ``votes`` (annotators who drew it), ``annotators``
        (annotators of the task), ``agreement`` (votes / annotators), ``x, y, width,
        height, rotation`` (the arithmetic mean of its boxes, Label Studio's percent
        coordinates), ``original_width, original_height``.
    """
    require_from_name(frames, from_name)
    if not 0 < iou_threshold <= 1:
        raise ConfigurationError(f"iou_threshold must be in (0, 1], not {iou_threshold!r}")
    table = pd.DataFrame(_rows(frames, from_name, iou_threshold), columns=list(BOX_COLUMNS))
    for column in ("task_id", "region", "votes", "annotators", "original_width", "original_height"):
        table[column] = pd.array(
            pd.to_numeric(table[column].astype(object), errors="coerce"), dtype="Int64"
        )
    for column in ("agreement", *_PERCENT):
        table[column] = pd.array(table[column].astype(float), dtype="Float64")
    table["label"] = table["label"].astype("string")
    table["tie"] = pd.array(table["tie"].astype(bool), dtype="boolean")
    merged: pd.DataFrame = table
    return merged
