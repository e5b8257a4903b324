"""The reference regions of one control: what a model or an annotator is scored against.

:func:`reference_regions` turns a ``reference=`` value into result rows shaped like
``frames.regions``: the rows of the chosen annotation of each task
(:func:`~ls_frames.evaluation.reference.reference_ids`), or for ``"consensus"`` rows
built from :func:`~ls_frames.consensus`: the majority choice of a task, or the merged
boxes of a rectangle control that more than half of the task's annotators drew, with a
majority label (a merged box whose label is tied is no reference).
:func:`resolve_reference` folds the deprecated ``ground_truth_only=`` into ``reference=``.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from ls_frames.errors import ConfigurationError
from ls_frames.evaluation.agreement import consensus
from ls_frames.evaluation.reference import Reference, check_reference, reference_ids
from ls_frames.evaluation.results import control_types_of
from ls_frames.reading.controls import CHOICE_TYPES, RECTANGLE_TYPES
from ls_frames.tables.frames import Frames

__all__ = ["reference_regions", "resolve_reference"]


def resolve_reference(
    frames: Frames, reference: Reference, ground_truth_only: bool | None, caller: str
) -> tuple[Reference, bool]:
    """``(reference, strict)`` after checking ``reference`` and folding in the deprecated
    ``ground_truth_only`` (with a :class:`DeprecationWarning` naming ``reference=``):
    ``True`` is the strict ground-truth policy (only tasks with a ground-truth annotation
    count), ``False`` the default reference."""
    check_reference(frames, reference)
    if ground_truth_only is None:
        return reference, False
    warnings.warn(
        f"{caller}(): the 'ground_truth_only' argument is deprecated; use reference= "
        "(reference='ground_truth', the default, judges a task by its ground-truth "
        "annotation, else its latest; ground_truth_only=True still leaves out tasks "
        "without a ground truth)",
        DeprecationWarning,
        stacklevel=3,
    )
    if ground_truth_only and reference != "ground_truth":
        raise ConfigurationError(
            f"ground_truth_only=True asks for the ground truth; it cannot go with "
            f"reference={reference!r}"
        )
    return reference, bool(ground_truth_only)


def _synthetic(frames: Frames, table: pd.DataFrame) -> pd.DataFrame:
    """Rows with the columns of ``frames.regions`` (missing where ``table`` has none),
    source ``"consensus"`` and a source id of ``-task_id`` (never an annotation's)."""
    task = table["task_id"].to_numpy(np.int64)
    table = table.assign(source="consensus", source_id=-task)
    rows: pd.DataFrame = table.reindex(columns=frames.regions.columns)
    return rows


def _consensus_regions(frames: Frames, from_name: str) -> tuple[pd.Index, pd.DataFrame]:
    types = control_types_of(frames, from_name)
    if types and types <= RECTANGLE_TYPES:
        merged = consensus(frames, from_name, method="boxes")
        tasks = pd.Index(pd.unique(merged["task_id"].to_numpy(np.int64)), name="task_id")
        kept = merged[
            (merged["votes"] * 2 > merged["annotators"]).to_numpy(bool)
            & merged["label"].notna().to_numpy(bool)
        ]
        labels = kept["label"].astype(object).to_numpy(object)
        table = pd.DataFrame(
            {
                "task_id": kept["task_id"].to_numpy(np.int64),
                "from_name": from_name,
                "type": sorted(types)[0],
                "region_id": [f"consensus-{int(r)}" for r in kept["region"]],
                "labels": [np.array([v], dtype=object) for v in labels],
                **{
                    c: kept[c].to_numpy(float, na_value=np.nan)
                    for c in ("x", "y", "width", "height", "rotation")
                },
                "original_width": kept["original_width"].to_numpy(float, na_value=np.nan),
                "original_height": kept["original_height"].to_numpy(float, na_value=np.nan),
            }
        )
        return tasks, _synthetic(frames, table)
    if types and not types <= CHOICE_TYPES:
        raise ConfigurationError(
            f"reference='consensus' needs a choice or rectangle control; {from_name!r} is of "
            f"type {sorted(types)}"
        )
    votes = consensus(frames, from_name, method="majority")["label"].astype(object).dropna()
    tasks = pd.Index(votes.index.to_numpy(np.int64), name="task_id")
    table = pd.DataFrame(
        {
            "task_id": tasks.to_numpy(np.int64),
            "from_name": from_name,
            "type": sorted(types)[0] if types else "choices",
            "choices": [np.array(str(v).split("|"), dtype=object) for v in votes],
        }
    )
    return tasks, _synthetic(frames, table)


def reference_regions(
    frames: Frames, from_name: str, reference: Reference, *, strict: bool = False
) -> tuple[pd.Index, pd.DataFrame]:
    """The tasks that have a reference and the reference's result rows of ``from_name``.

    Parameters
    ----------
    frames
        The tables of an export.
    from_name
        The control.
    reference
        A checked ``reference=`` value (:mod:`~ls_frames.evaluation.reference`).
    strict
        With ``"ground_truth"``: only tasks with a ground-truth annotation.

    Returns
    -------
    tuple of pandas.Index and pandas.DataFrame
        The ``task_id`` of each task with a reference (sorted; a task whose reference has
        no result for ``from_name`` is there too), and the rows of ``frames.regions``
        (columns as there) of the reference results. ``"consensus"`` rows have source
        ``"consensus"`` and source id ``-task_id``.
    """
    if reference == "consensus":
        tasks, rows = _consensus_regions(frames, from_name)
        return tasks.sort_values(), rows.reset_index(drop=True)
    ids = reference_ids(frames, reference, strict=strict)
    regions = frames.regions
    mask = (
        (regions["source"].astype(object) == "annotation")
        & (regions["from_name"].astype(object) == from_name)
        & regions["source_id"].isin(ids.to_numpy())
    ).to_numpy(bool)
    tasks = pd.Index(ids.index.to_numpy(np.int64), name="task_id")
    return tasks, regions[mask].reset_index(drop=True)
