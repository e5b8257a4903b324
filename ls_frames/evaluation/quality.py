"""``annotator_quality``: each annotator scored against the reference, like a model.

Per annotator: the tasks they annotated and those compared with the reference (never a
task whose reference is their own annotation); for a region control the precision,
recall and F1 of their regions and the mean IoU of the matched ones, for a choice control
their accuracy and Cohen's kappa.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ls_frames.errors import ConfigurationError
from ls_frames.evaluation.kappa import cohen_kappa
from ls_frames.evaluation.matching import greedy_pairs, label_counts
from ls_frames.evaluation.pivot import annotator_regions
from ls_frames.evaluation.reference import Reference, reference_ids
from ls_frames.evaluation.results import region_geometry, region_values, require_from_name
from ls_frames.evaluation.scores import control_kind, stack_rows
from ls_frames.evaluation.truth import reference_regions, resolve_reference
from ls_frames.tables.frames import Frames

__all__ = ["annotator_quality"]

_REGION_COLUMNS = ("tp", "fp", "fn", "precision", "recall", "f1", "mean_iou")
_CHOICE_COLUMNS = ("accuracy", "kappa")


def annotator_quality(
    frames: Frames,
    from_name: str,
    *,
    reference: Reference = "ground_truth",
    iou_threshold: float = 0.5,
) -> pd.DataFrame:
    """Score each annotator of one control against the reference.

    Each annotator's last annotation of a task (skipped ones never) is compared with the
    task's reference, the way :func:`evaluate` compares a model. An annotator's own
    annotation is never their reference: with ``reference="ground_truth"`` (or
    ``"latest"``), a task whose reference annotation is by that annotator is left out for
    them (so the author of every ground truth is compared only where someone else's
    annotation is the reference); with one annotator as the reference, that annotator is
    compared on no task. ``"consensus"`` includes the annotator's own vote.

    * Region controls (rectangles, polygons by their enclosing boxes, spans): per task,
      the annotator's regions, in drawing order, each take the free reference region of
      the same label with the highest IoU at or above ``iou_threshold`` (and above 0), as
      :func:`evaluate` matches; ``tp, fp, fn``, ``precision, recall, f1`` over the tasks
      compared, and ``mean_iou`` of the matched regions.
    * Choice controls: the annotator's answer (several choices as their sorted set) against
      the reference's per task (``"(none)"`` for no answer): ``accuracy`` (share equal)
      and ``kappa`` (Cohen's kappa of the two answer lists).

    Parameters
    ----------
    frames
        The tables of an export.
    from_name
        The control.
    reference
        ``"ground_truth"`` (the default: the ground-truth annotation, else the latest),
        ``"latest"``, ``"consensus"`` or one annotator by email or user id, as in
        :func:`evaluate`.
    iou_threshold
        For regions: the least IoU of a match.

    Returns
    -------
    pandas.DataFrame
        One row per annotator (email where the export has them, else user id; sorted):
        ``annotator, tasks_annotated, tasks_compared``, then ``tp, fp, fn`` (``Int64``),
        ``precision, recall, f1, mean_iou`` (``Float64``) for a region control or
        ``accuracy, kappa`` (``Float64``) for a choice control; missing where undefined.

    Raises
    ------
    ConfigurationError
        An unknown ``from_name`` or ``reference`` (or an annotator nobody is), a control of
        a kind :func:`evaluate` does not handle, or an ``iou_threshold`` outside (0, 1].
    """
    require_from_name(frames, from_name)
    reference, _ = resolve_reference(frames, reference, None, "annotator_quality")
    if not 0 < iou_threshold <= 1:
        raise ConfigurationError(f"iou_threshold must be in (0, 1], not {iou_threshold!r}")
    rows, drawn_by, chosen = annotator_regions(frames, from_name)
    who_column = str(chosen.index.names[1])
    ref_tasks, ref_rows = reference_regions(frames, from_name, reference)
    owner = _reference_owner(frames, reference, who_column)
    used = stack_rows(ref_rows, rows)
    is_ref = np.arange(len(used)) < len(ref_rows)
    who = np.r_[np.full(len(used) - len(drawn_by), None, dtype=object), drawn_by]
    kind = control_kind(frames, from_name, used)
    _, geo, span_key = region_geometry(used)
    people = sorted({p for p in chosen.index.get_level_values(1)}, key=str)
    task_of = chosen.index.get_level_values(0).to_numpy(np.int64)
    person_of = chosen.index.get_level_values(1).to_numpy(object)
    out = []
    for person in people:
        theirs = np.unique(task_of[person_of == person])
        mine = np.array([t for t in theirs if t in ref_tasks and owner.get(int(t)) != person])
        mine = mine.astype(np.int64)
        task = used["task_id"].to_numpy(np.int64)
        gt = used[is_ref & np.isin(task, mine)]
        dt = used[~is_ref & (who == person) & np.isin(task, mine)]
        row: dict[str, Any] = {
            "annotator": person,
            "tasks_annotated": len(theirs),
            "tasks_compared": len(mine),
        }
        if kind == "choice":
            row.update(_choice_scores(gt, dt, mine))
        else:
            row.update(_region_scores(gt, dt, kind, geo, span_key, iou_threshold))
        out.append(row)
    return _typed(out, kind, who_column)


def _reference_owner(frames: Frames, reference: Reference, who_column: str) -> dict[int, Any]:
    """``task_id -> annotator`` of each task's reference annotation (none for the
    consensus)."""
    if reference == "consensus":
        return {}
    ids = reference_ids(frames, reference)
    annotations = frames.annotations.drop_duplicates("annotation_id").set_index("annotation_id")
    people = annotations[who_column].reindex(ids.to_numpy()).to_numpy(object)
    return {int(t): p for t, p in zip(ids.index, people, strict=True)}


def _answers(frame: pd.DataFrame) -> dict[int, str]:
    found: dict[int, set[str]] = {}
    for task, values in zip(frame["task_id"].to_numpy(np.int64), region_values(frame), strict=True):
        found.setdefault(int(task), set()).update(values)
    return {t: "|".join(sorted(v)) for t, v in found.items()}


def _choice_scores(gt: pd.DataFrame, dt: pd.DataFrame, tasks: np.ndarray) -> dict[str, float]:
    ref, mine = _answers(gt), _answers(dt)
    left = np.array([mine.get(int(t), "(none)") for t in tasks], dtype=object)
    right = np.array([ref.get(int(t), "(none)") for t in tasks], dtype=object)
    if not len(tasks):
        return {"accuracy": np.nan, "kappa": np.nan}
    return {"accuracy": float(np.mean(left == right)), "kappa": cohen_kappa(left, right)}


def _region_scores(
    gt: pd.DataFrame,
    dt: pd.DataFrame,
    kind: str,
    geo: np.ndarray,
    span_key: np.ndarray,
    threshold: float,
) -> dict[str, Any]:
    score = np.full(len(dt), np.nan)
    d, _, overlap = greedy_pairs(gt, dt, score, kind, geo, span_key, threshold, same_label=True)
    tp = len(d)
    counts = label_counts(tp, len(dt) - tp, len(gt) - tp)
    counts["mean_iou"] = float(overlap.mean()) if tp else np.nan
    return counts


def _typed(rows: list[dict[str, Any]], kind: str, who_column: str) -> pd.DataFrame:
    extra = _CHOICE_COLUMNS if kind == "choice" else _REGION_COLUMNS
    columns = ["annotator", "tasks_annotated", "tasks_compared", *extra]
    out = pd.DataFrame(rows, columns=columns)
    names = out["annotator"].tolist()
    out["annotator"] = (
        pd.array(names, dtype="Int64")
        if who_column == "completed_by_id"
        else pd.array([str(n) for n in names], dtype="string")
    )
    for column in columns[1:]:
        values = pd.to_numeric(out[column].astype(object), errors="coerce")
        dtype = (
            "Int64"
            if column in ("tasks_annotated", "tasks_compared", "tp", "fp", "fn")
            else "Float64"
        )
        out[column] = pd.array(values, dtype="float64").astype(dtype)
    table: pd.DataFrame = out
    return table
