"""Which annotation counts: the one rule every scorer, pivot and training set uses.

:func:`usable_annotations` says which annotations count at all (never a skipped one;
only ground-truth ones when asked). :func:`choose_annotations` picks one of them per
task (or per task and annotator) by an internal policy:

* ``"ground_truth"``: the ground-truth one updated last, else the one updated last;
* ``"latest"``: the one updated last;
* ``"ground_truth_only"``: the ground-truth one updated last (tasks without one have
  none; what the deprecated ``ground_truth_only=True`` asks for).

"Updated last" is the latest ``updated_at`` (a missing time counts as the earliest), then
the highest ``annotation_id`` on a tie.

The public ``reference=`` argument (:func:`~ls_frames.evaluate`,
:func:`~ls_frames.confusion`, :func:`~ls_frames.compare_predictions`,
:func:`~ls_frames.annotator_quality`, :func:`~ls_frames.split`,
:func:`~ls_frames.to_hf_dataset`) takes one of :data:`REFERENCES` or an annotator:

* ``"ground_truth"`` (the default everywhere): the ground-truth annotation, else the
  latest;
* ``"latest"``: the annotation updated last;
* ``"consensus"``: the annotators' consensus (:func:`~ls_frames.consensus`), built by
  :mod:`~ls_frames.evaluation.truth`;
* an annotator, by email (a string with ``"@"``) or user id (an ``int``): that
  annotator's annotation updated last.

:func:`check_reference` checks a value before any work; :func:`reference_ids` maps a
value (other than ``"consensus"``) onto the chooser; :func:`reference_annotations` shows
the annotations chosen, with the reason.
"""

from __future__ import annotations

from typing import Literal, get_args

import numpy as np
import pandas as pd

from ls_frames.errors import ConfigurationError
from ls_frames.tables.frames import Frames

__all__ = [
    "POLICIES",
    "REFERENCES",
    "Policy",
    "Reference",
    "check_reference",
    "choose_annotations",
    "reference_annotations",
    "reference_ids",
    "usable_annotations",
]

Policy = Literal["ground_truth", "latest", "ground_truth_only"]
#: the policies :func:`choose_annotations` knows
POLICIES: tuple[Policy, ...] = get_args(Policy)
#: a ``reference=`` value: one of :data:`REFERENCES`, an annotator's email or user id
Reference = str | int
#: the named ``reference=`` values (an annotator's email or user id is also accepted)
REFERENCES: tuple[str, ...] = ("ground_truth", "latest", "consensus")
_ACCEPTED = (
    "'ground_truth' (the default), 'latest', 'consensus', an annotator's email "
    "(a string with '@') or user id (an int)"
)


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


def choose_annotations(
    source: Frames | pd.DataFrame, policy: Policy, *, annotator: str | None = None
) -> pd.Series:
    """The annotation each task is judged by (or trains on), by ``policy``.

    Parameters
    ----------
    source
        :class:`~ls_frames.Frames`, or their ``annotations`` table.
    policy
        ``"ground_truth"``, ``"latest"`` or ``"ground_truth_only"`` (see the module
        docstring). Skipped annotations never count; neither do annotations without a
        task id.
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
    kept = usable_annotations(annotations, ground_truth_only=policy == "ground_truth_only")
    kept = kept[kept["task_id"].notna().to_numpy(bool)]
    order = ["updated_at", "annotation_id"]
    if policy == "ground_truth":
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


def _annotator_column(reference: Reference) -> str | None:
    """The annotations column naming an annotator ``reference`` (None for a policy)."""
    if isinstance(reference, bool):
        return None
    if isinstance(reference, (int, np.integer)):
        return "completed_by_id"
    if isinstance(reference, str) and "@" in reference:
        return "completed_by_email"
    return None


def check_reference(source: Frames | pd.DataFrame, reference: Reference) -> None:
    """Raise :class:`ConfigurationError` unless ``reference`` is a ``reference=`` value
    these annotations can answer: one of :data:`REFERENCES`, or an annotator who
    annotated (the message names the annotators that exist)."""
    if isinstance(reference, str) and reference in REFERENCES:
        return
    column = _annotator_column(reference)
    if column is None:
        raise ConfigurationError(f"reference must be {_ACCEPTED}; not {reference!r}")
    annotations = _table(source)
    held = annotations[column].dropna()
    if column == "completed_by_id":
        known = sorted({int(v) for v in held})
        found = int(reference) in known
    else:
        known_names = sorted({str(v) for v in held})
        found = reference in known_names
    if not found:
        people = sorted({str(v) for v in annotations["completed_by_email"].dropna()})
        ids = sorted({int(v) for v in annotations["completed_by_id"].dropna()})
        raise ConfigurationError(
            f"no annotator {reference!r} in these annotations; they have the emails "
            f"{people} and the user ids {ids}"
        )


def reference_ids(
    source: Frames | pd.DataFrame, reference: Reference, *, strict: bool = False
) -> pd.Series:
    """``task_id -> annotation_id`` of the reference annotation of each task that has one.

    ``reference`` is a checked ``reference=`` value other than ``"consensus"`` (which is no
    annotation: see :mod:`~ls_frames.evaluation.truth`); ``strict`` turns
    ``"ground_truth"`` into ``"ground_truth_only"`` (tasks without a ground truth have
    none)."""
    check_reference(source, reference)
    if reference == "consensus":
        raise ConfigurationError("the consensus is not one annotation: it has no annotation id")
    column = _annotator_column(reference)
    if column is None:
        policy: Policy = "ground_truth_only" if strict else reference  # type: ignore[assignment]
        return choose_annotations(source, policy)
    annotations = _table(source)
    held = annotations[column]
    mine = annotations[(held.notna() & (held.astype(object) == reference)).to_numpy(bool)]
    return choose_annotations(mine, "latest")


def reference_annotations(frames: Frames, reference: Reference = "ground_truth") -> pd.DataFrame:
    """The annotations used as the truth: one row of the annotations table per task, with
    the reason it was chosen.

    The same choice :func:`~ls_frames.evaluate`, :func:`~ls_frames.confusion`,
    :func:`~ls_frames.compare_predictions`, :func:`~ls_frames.annotator_quality`,
    :func:`~ls_frames.split` and :func:`~ls_frames.to_hf_dataset` make for the same
    ``reference``: skipped annotations never count, and "the latest" is the one updated
    last (latest ``updated_at``, then highest id).

    Parameters
    ----------
    frames
        The tables of an export.
    reference
        ``"ground_truth"`` (the default: the ground-truth annotation, else the latest),
        ``"latest"``, or an annotator by email (a string with ``"@"``) or user id (an
        ``int``): their latest annotation of each task they annotated.

    Returns
    -------
    pandas.DataFrame
        The chosen rows of ``frames.annotations`` (its columns and dtypes), sorted by
        ``task_id``, and a ``reason`` column (``string``): ``"ground_truth"``,
        ``"latest"`` or ``"annotator"``.

    Raises
    ------
    ConfigurationError
        An unknown ``reference``, an annotator nobody is (the message names the annotators
        that exist), or ``"consensus"``, which is no annotation
        (:func:`~ls_frames.consensus` gives it).
    """
    check_reference(frames, reference)
    if reference == "consensus":
        raise ConfigurationError(
            "reference='consensus' is not one annotation; ls_frames.consensus(frames, "
            "from_name) gives the consensus of each task"
        )
    ids = reference_ids(frames, reference)
    annotations = frames.annotations.drop_duplicates("annotation_id")
    rows = annotations.set_index("annotation_id", drop=False).loc[ids.to_numpy()]
    rows = rows.reset_index(drop=True)
    if _annotator_column(reference) is not None:
        reason = np.full(len(rows), "annotator", dtype=object)
    elif reference == "latest":
        reason = np.full(len(rows), "latest", dtype=object)
    else:
        truth = rows["ground_truth"].fillna(False).to_numpy(bool)
        reason = np.where(truth, "ground_truth", "latest").astype(object)
    out: pd.DataFrame = rows.assign(reason=pd.array(reason, dtype="string"))
    return out
