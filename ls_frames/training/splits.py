"""Reproducible train/validation/test splits that stay put when the project grows.

Each group of tasks (a task on its own, or every task sharing a value of a ``by`` column)
draws a number in ``[0, 1)`` from a hash of the seed and the group's key, and falls into
the split whose share of ``[0, 1)`` holds it. The assignment depends on nothing but the
group's identity: not on row order, not on the other tasks, so a task keeps its split when
tasks are added (a ``sync_parquet`` refresh, a new import) and a group never straddles
splits.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from ls_frames.errors import ConfigurationError
from ls_frames.evaluation.reference import Reference, check_reference
from ls_frames.evaluation.results import region_values, require_from_name
from ls_frames.evaluation.truth import reference_regions
from ls_frames.tables.frames import Frames

__all__ = ["split"]


def _unit(seed: int, key: str) -> float:
    digest = hashlib.blake2b(f"{seed}\x1f{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2.0**64


def _key(value: Any) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return "\x00missing"
    if isinstance(value, (int, np.integer)):
        return f"i:{int(value)}"
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return f"i:{int(value)}"
    return f"s:{value}"


def _check_fractions(fractions: Mapping[str, float]) -> tuple[list[str], np.ndarray]:
    names = [str(k) for k in fractions]
    if not names:
        raise ConfigurationError("fractions must name at least one split")
    if len(set(names)) != len(names):
        raise ConfigurationError(f"split names must be distinct: {names}")
    shares = np.asarray([float(v) for v in fractions.values()], float)
    if (shares < 0).any() or not np.isfinite(shares).all():
        raise ConfigurationError(f"fractions must be non-negative numbers, not {dict(fractions)}")
    if not math.isclose(float(shares.sum()), 1.0, abs_tol=1e-6):
        raise ConfigurationError(f"fractions must add up to 1, not {float(shares.sum())}")
    return names, np.cumsum(shares)


def _tasks(frames: Frames | pd.DataFrame) -> pd.DataFrame:
    tasks = frames.tasks if isinstance(frames, Frames) else frames
    if "task_id" not in tasks.columns:
        raise ConfigurationError("the tasks table has no task_id column")
    return tasks


def split(
    frames: Frames | pd.DataFrame,
    fractions: Mapping[str, float],
    *,
    by: str | None = None,
    stratify: str | None = None,
    seed: int = 0,
    reference: Reference = "ground_truth",
) -> pd.Series:
    """Assign every task to a split, reproducibly and stably.

    Each group (a task, or the tasks sharing a value of ``by``) is placed by a hash of
    ``seed`` and its key (the task id, or the ``by`` value), so the same tasks always land
    in the same split for a seed, groups never straddle splits, and a task keeps its split
    when the project grows. The shares follow ``fractions`` as a random draw would (about
    ``sqrt(f * (1 - f) / groups)``: within a few points on a few hundred groups).

    Parameters
    ----------
    frames
        :class:`Frames`, or a tasks DataFrame with ``task_id``.
    fractions
        Split name -> share, adding up to 1 (``{"train": 0.8, "val": 0.2}``).
    by
        A tasks column (``"data.patient"``) whose groups stay whole; tasks with no value
        form one group.
    stratify
        A ``from_name`` whose label in the task's reference (see ``reference``; several
        values sorted and joined with ``"|"``; missing when none) each group is hashed
        with, or a tasks column. Groups are drawn per stratum, so every label's share follows the
        fractions independently of the others; the assignment stays a function of the group
        and its label, so a task keeps its split as the project grows unless its label
        changes. With ``by``, a group's stratum is its most common label.
    seed
        A different seed gives a different, equally reproducible split.
    reference
        For ``stratify`` on a ``from_name``: the annotation whose label counts, as
        :func:`~ls_frames.evaluate` and :func:`~ls_frames.to_hf_dataset` choose it:
        ``"ground_truth"`` (the default: the ground-truth annotation, else the latest),
        ``"latest"``, ``"consensus"`` (the majority answer) or one annotator by email or
        user id.

    Returns
    -------
    pandas.Series
        A categorical Series indexed by ``task_id`` whose categories are the keys of
        ``fractions`` in their order, named ``"split"``.

    Raises
    ------
    ConfigurationError
        Fractions that are empty, negative or do not add up to 1, an unknown ``by``,
        ``stratify`` or ``reference``.
    """
    names, bounds = _check_fractions(fractions)
    tasks = _tasks(frames)
    if isinstance(frames, Frames):
        check_reference(frames, reference)
    task_ids = tasks["task_id"].to_numpy()
    if by is None:
        groups = [_key(t) for t in task_ids]
    else:
        if by not in tasks.columns:
            known = [c for c in tasks.columns if str(c).startswith("data.")]
            raise ConfigurationError(f"no tasks column {by!r}; the tasks have {known}")
        groups = [_key(v) for v in tasks[by].astype(object)]
    strata = _strata(frames, tasks, stratify, groups, reference)
    draws = {g: _unit(seed, g if s is None else f"{s}\x1e{g}") for g, s in strata.items()}
    positions = np.searchsorted(bounds, [draws[g] for g in groups], side="right")
    positions = np.minimum(positions, len(names) - 1)
    values = pd.Categorical.from_codes(positions.astype(np.int64), dtype=pd.CategoricalDtype(names))
    index = pd.Index(task_ids, name="task_id", dtype="Int64")
    out: pd.Series = pd.Series(values, index=index, name="split")
    return out


def _reference_labels(frames: Frames, from_name: str, reference: Reference) -> dict[int, str]:
    """``task_id -> label`` of ``from_name`` in each task's reference (several values
    sorted and joined with ``"|"``)."""
    _, rows = reference_regions(frames, from_name, reference)
    found: dict[int, set[str]] = {}
    for task, values in zip(rows["task_id"].to_numpy(np.int64), region_values(rows), strict=True):
        found.setdefault(int(task), set()).update(values)
    return {t: "|".join(sorted(v)) for t, v in found.items() if v}


def _strata(
    frames: Frames | pd.DataFrame,
    tasks: pd.DataFrame,
    stratify: str | None,
    groups: list[str],
    reference: Reference,
) -> dict[str, str | None]:
    if stratify is None:
        return dict.fromkeys(groups)
    if stratify in tasks.columns:
        labels = tasks[stratify].astype(object)
    elif isinstance(frames, Frames):
        require_from_name(frames, stratify)
        chosen = _reference_labels(frames, stratify, reference)
        labels = pd.Series(
            [chosen.get(int(t)) if pd.notna(t) else None for t in tasks["task_id"]], dtype=object
        )
    else:
        raise ConfigurationError(f"no tasks column {stratify!r} to stratify on")
    by_group: dict[str, list[str]] = {}
    for group, label in zip(groups, labels.to_numpy(object), strict=True):
        by_group.setdefault(group, []).append(_key(label))
    # the most common label; a tie goes to the smallest key, whatever the row order
    return {g: min(set(v), key=lambda k: (-v.count(k), k)) for g, v in by_group.items()}
