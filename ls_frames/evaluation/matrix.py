"""``confusion``: a control's reference labels against its predicted labels, as a matrix.

For choices each task is one cell; for regions (rectangles, polygons by their enclosing
boxes, spans) predicted regions are first paired with reference regions by IoU, whatever
their labels, the way COCO pairs detections (greedy by score), and each pair, unmatched
prediction or missed reference is one cell, with ``background`` standing for the side
that has no region.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ls_frames.errors import ConfigurationError
from ls_frames.evaluation.matching import detection_scores, greedy_pairs, region_labels
from ls_frames.evaluation.reference import Reference
from ls_frames.evaluation.results import region_values, require_from_name
from ls_frames.evaluation.scores import Compared, compared_rows
from ls_frames.evaluation.truth import resolve_reference
from ls_frames.tables.frames import Frames

__all__ = ["BACKGROUND", "confusion"]

#: the label of the missing side of an unmatched region in :func:`confusion`
BACKGROUND = "background"


def confusion(
    frames: Frames,
    from_name: str,
    *,
    reference: Reference = "ground_truth",
    model_version: str | None = None,
    iou_threshold: float = 0.5,
    ground_truth_only: bool | None = None,
) -> pd.DataFrame:
    """Confusion matrix of a control: reference labels (rows, ``annotated``) against
    predicted labels (columns, ``predicted``), scikit-learn's orientation.

    The reference and the tasks compared are those of :func:`evaluate`.

    * Choices (and taxonomy) count tasks. A cell label is the task's choice (several
      sorted and joined with ``"|"``), ``"(none)"`` when one side has no result for the
      control.
    * Regions (rectangles, polygons by their enclosing boxes, spans) count regions. Per
      task, predicted regions by descending score each take the free reference region of
      highest IoU at or above ``iou_threshold`` (and above 0), whatever the labels, as
      COCO matches; a pair counts in (reference label, predicted label). A prediction left
      unmatched counts in the ``background`` row (a false positive), a reference region
      left unmatched in the ``background`` column (a miss); ``background`` x
      ``background`` is 0.

    Labels follow the label config's order when known, then the others sorted.

    Parameters
    ----------
    frames
        The tables of an export.
    from_name
        A choice control, or a rectangle, polygon or span control.
    reference
        What each task is judged by, as in :func:`evaluate` (``"ground_truth"`` by
        default: the ground-truth annotation, else the latest).
    model_version
        The model version (needed when the predictions hold several).
    iou_threshold
        For regions: the least IoU of a pair.
    ground_truth_only
        Deprecated: use ``reference``. ``True`` keeps only the tasks that have a
        ground-truth annotation.

    Returns
    -------
    pandas.DataFrame
        Counts (``int64``), every label on both axes (and ``background`` last for regions).

    Raises
    ------
    ConfigurationError
        ``from_name`` is not a control of the frames or of a kind evaluate handles, an
        unknown ``reference``, several model versions and none chosen, or an
        ``iou_threshold`` outside (0, 1].
    """
    require_from_name(frames, from_name)
    reference, strict = resolve_reference(frames, reference, ground_truth_only, "confusion")
    if not 0 < iou_threshold <= 1:
        raise ConfigurationError(f"iou_threshold must be in (0, 1], not {iou_threshold!r}")
    seen = compared_rows(frames, from_name, reference, strict=strict, model_version=model_version)
    held = sorted(set(seen.predictions["model_version"]))
    if len(held) > 1:
        raise ConfigurationError(
            f"the predictions hold several model versions {held}; pass model_version="
        )
    tasks, gt, dt = seen.version(seen.predictions)
    config = frames.label_config
    control = config.by_name().get(from_name) if config is not None else None
    known = list(control.values) if control is not None else []
    if seen.kind == "choice":
        actual, guessed = _choice_cells(gt, dt, tasks)
        extra = "(none)"
    else:
        actual, guessed = _region_cells(seen, gt, dt, iou_threshold)
        extra = BACKGROUND
    seen_labels = sorted((set(actual) | set(guessed)) - set(known) - {extra})
    labels = [*known, *seen_labels]
    if seen.kind != "choice" or extra in actual or extra in guessed:
        labels.append(extra)
    table = pd.crosstab(
        pd.Categorical(actual, categories=labels),
        pd.Categorical(guessed, categories=labels),
        dropna=False,
    )
    table = table.reindex(index=labels, columns=labels, fill_value=0).astype("int64")
    table.index.name, table.columns.name = "annotated", "predicted"
    matrix: pd.DataFrame = table
    return matrix


def _choice_cells(
    gt: pd.DataFrame, dt: pd.DataFrame, tasks: np.ndarray
) -> tuple[list[str], list[str]]:
    def cells(frame: pd.DataFrame) -> dict[int, str]:
        out: dict[int, set[str]] = {}
        for task, values in zip(
            frame["task_id"].to_numpy(np.int64), region_values(frame), strict=True
        ):
            out.setdefault(int(task), set()).update(values)
        return {k: "|".join(sorted(v)) for k, v in out.items()}

    ref, pred = cells(gt), cells(dt)
    compared = [int(t) for t in tasks if int(t) in ref or int(t) in pred]
    return [ref.get(t, "(none)") for t in compared], [pred.get(t, "(none)") for t in compared]


def _region_cells(
    seen: Compared, gt: pd.DataFrame, dt: pd.DataFrame, threshold: float
) -> tuple[list[str], list[str]]:
    pred_score = seen.predictions.set_index("prediction_id")["score"]
    score = detection_scores(dt, pred_score)
    d, g, _ = greedy_pairs(gt, dt, score, seen.kind, seen.geo, seen.span_key, threshold)
    g_label, d_label = region_labels(gt), region_labels(dt)
    free_d = np.setdiff1d(np.arange(len(dt)), d)
    free_g = np.setdiff1d(np.arange(len(gt)), g)
    actual = [*g_label[g].tolist(), *[BACKGROUND] * len(free_d), *g_label[free_g].tolist()]
    guessed = [*d_label[d].tolist(), *d_label[free_d].tolist(), *[BACKGROUND] * len(free_g)]
    return [str(a) for a in actual], [str(p) for p in guessed]
