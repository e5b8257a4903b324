"""Which annotation counts: the one rule every scorer, pivot and training set uses.

:func:`usable_annotations` says which annotations count at all (never a skipped one;
only ground-truth ones when asked). :func:`reference_annotations` picks one of them per
task (or per task and annotator) by a policy:

* ``"latest"``: the one updated last;
* ``"ground_truth"``: the ground-truth one updated last (tasks without one have none);
* ``"ground_truth_else_latest"``: the ground-truth one updated last, else the one
  updated last.

"Updated last" is the latest ``updated_at`` (a missing time counts as the earliest), then
the highest ``annotation_id`` on a tie. Callers state their policy:
:func:`~ls_frames.evaluate` and :func:`~ls_frames.confusion` use ``"latest"`` (or
``"ground_truth"`` with ``ground_truth_only=True``), :func:`~ls_frames.to_hf_dataset`
``"ground_truth_else_latest"``, :func:`~ls_frames.annotator_pivot` (and so
:func:`~ls_frames.agreement` and :func:`~ls_frames.consensus`) ``"latest"`` per
annotator.
"""

from __future__ import annotations

from typing import Literal, get_args

import pandas as pd

from ls_frames.errors import ConfigurationError
from ls_frames.tables.frames import Frames

__all__ = ["POLICIES", "Policy", "reference_annotations", "usable_annotations"]

Policy = Literal["latest", "ground_truth", "ground_truth_else_latest"]
#: the policies :func:`reference_annotations` knows
POLICIES: tuple[Policy, ...] = get_args(Policy)


def _table(source: Frames | pd.DataFrame) -> pd.DataFrame:
    table: pd.DataFrame = source.annotations if isinstance(source, Frames) else source
    return table


def usable_annotations(
    source: Frames | pd.DataFrame, *, ground_truth_only: bool = False
) -> pd.DataFrame:
    """The annotations that may count: not skipped (``was_cancelled``), and ground-truth
    ones only with ``ground_truth_only``.

    Parameters
    ----------
    source
        :class:`~ls_frames.Frames`, or their ``annotations`` table.
    ground_truth_only
        Keep only the annotations marked ground truth.

    Returns
    -------
    pandas.DataFrame
        The rows of the annotations table that count, in table order.
    """
    annotations = _table(source)
    keep = ~annotations["was_cancelled"].fillna(False).to_numpy(bool)
    if ground_truth_only:
        keep &= annotations["ground_truth"].fillna(False).to_numpy(bool)
    usable: pd.DataFrame = annotations[keep]
    return usable


def reference_annotations(
    source: Frames | pd.DataFrame, policy: Policy, *, annotator: str | None = None
) -> pd.Series:
    """The annotation each task is judged by (or trains on), by ``policy``.

    Parameters
    ----------
    source
        :class:`~ls_frames.Frames`, or their ``annotations`` table.
    policy
        ``"latest"``, ``"ground_truth"`` or ``"ground_truth_else_latest"`` (see the
        module docstring). Skipped annotations never count; neither do annotations
        without a task id.
    annotator
        A column of the annotations table (``"completed_by_email"`` or
        ``"completed_by_id"``): choose one annotation per task and annotator instead of
        one per task (annotations without an annotator form one group per task).

    Returns
    -------
    pandas.Series
        ``annotation_id`` named ``"annotation_id"``, indexed by ``task_id`` (or by
        ``task_id`` and ``annotator``), sorted by the index.

    Raises
    ------
    ConfigurationError
        An unknown ``policy``, or an ``annotator`` column the table does not have.
    """
    if policy not in POLICIES:
        raise ConfigurationError(f"policy must be one of {list(POLICIES)}, not {policy!r}")
    annotations = _table(source)
    if annotator is not None and annotator not in annotations.columns:
        raise ConfigurationError(f"the annotations table has no column {annotator!r}")
    kept = usable_annotations(annotations, ground_truth_only=policy == "ground_truth")
    kept = kept[kept["task_id"].notna().to_numpy(bool)]
    order = ["updated_at", "annotation_id"]
    if policy == "ground_truth_else_latest":
        kept = kept.assign(_gt=kept["ground_truth"].fillna(False).astype(bool))
        order = ["_gt", *order]
    group = ["task_id"] if annotator is None else ["task_id", annotator]
    chosen = kept.sort_values(order, na_position="first").drop_duplicates(group, keep="last")
    index = (
        pd.Index(chosen["task_id"].array, name="task_id")
        if annotator is None
        else pd.MultiIndex.from_arrays(
            [chosen["task_id"].array, chosen[annotator].array], names=["task_id", annotator]
        )
    )
    out: pd.Series = pd.Series(
        chosen["annotation_id"].array, index=index, name="annotation_id"
    ).sort_index()
    return out
