"""``confusion``: a choice control's reference answers against its predicted ones, as a
matrix of task counts."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ls_frames.errors import ConfigurationError
from ls_frames.evaluation.reference import Reference
from ls_frames.evaluation.results import region_values, require_from_name
from ls_frames.evaluation.scores import compared_rows
from ls_frames.evaluation.truth import resolve_reference
from ls_frames.tables.frames import Frames

__all__ = ["confusion"]


def confusion(
    frames: Frames,
    from_name: str,
    *,
    reference: Reference = "ground_truth",
    model_version: str | None = None,
    ground_truth_only: bool | None = None,
) -> pd.DataFrame:
    """Confusion matrix of a choice control: reference (rows, ``annotated``) against
    prediction (columns, ``predicted``), counting tasks.

    The reference and the tasks compared are those of :func:`evaluate`. A cell label is
    the task's choice (several sorted and joined with ``"|"``), ``"(none)"`` when one side
    has no result for the control. Labels follow the label config's order when known.

    Parameters
    ----------
    frames
        The tables of an export.
    from_name
        A ``Choices`` (or ``Taxonomy``) control.
    reference
        What each task is judged by, as in :func:`evaluate` (``"ground_truth"`` by
        default: the ground-truth annotation, else the latest).
    model_version
        The model version (needed when the predictions hold several).
    ground_truth_only
        Deprecated: use ``reference``. ``True`` keeps only the tasks that have a
        ground-truth annotation.

    Returns
    -------
    pandas.DataFrame
        Counts (``int64``), every label on both axes.

    Raises
    ------
    ConfigurationError
        ``from_name`` is not a control of the frames or not a choice control, an unknown
        ``reference``, or several model versions are present and none was chosen.
    """
    require_from_name(frames, from_name)
    reference, strict = resolve_reference(frames, reference, ground_truth_only, "confusion")
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
    if seen.kind != "choice":
        raise ConfigurationError(f"confusion needs a choice control; {from_name!r} has regions")
    actual, guessed = _choice_cells(gt, dt, tasks)
    extra = "(none)"
    seen_labels = sorted((set(actual) | set(guessed)) - set(known) - {extra})
    labels = [*known, *seen_labels]
    if extra in actual or extra in guessed:
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
