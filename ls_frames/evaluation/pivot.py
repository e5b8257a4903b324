"""One control laid out per annotator, and the IoU of two boxes.

:func:`annotator_pivot` gives one row per task (or region) and one column per annotator
holding what each chose: the cells :func:`~ls_frames.agreement` and
:func:`~ls_frames.consensus` compare. :func:`iou` is the intersection over union of two
axis-aligned boxes (for many boxes, and rotated ones, see
:mod:`ls_frames.geometry.overlap`). Both read only the pandas tables, so they work on
:func:`~ls_frames.read_export`, ``load_project`` and :func:`~ls_frames.read_parquet`
results alike.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from ls_frames.errors import ConfigurationError
from ls_frames.evaluation.reference import choose_annotations, usable_annotations
from ls_frames.evaluation.results import region_values, require_from_name
from ls_frames.geometry.overlap import box_iou
from ls_frames.tables.frames import Frames

__all__ = ["annotator_pivot", "annotator_regions", "iou"]


def iou(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    """Intersection over union of two axis-aligned boxes given as ``(x, y, width, height)``.

    In Label Studio's percent coordinates this equals the IoU in pixels (both axes scale
    uniformly). 0.0 when the boxes do not overlap or have no area. For many boxes at once,
    and rotated ones, see :mod:`ls_frames.geometry.overlap`.
    """
    return float(box_iou([a], [b])[0, 0])


def annotator_pivot(
    frames: Frames,
    from_name: str,
    *,
    by: Literal["task", "region"] = "task",
    annotator: Literal["email", "id"] | None = None,
) -> pd.DataFrame:
    """One control laid out for agreement work: one row per task (or per ``(task_id,
    region_id)`` with ``by="region"``), one column per annotator.

    A cell holds what that annotator chose for ``from_name``: the label or choice (see
    :func:`compare_predictions` for other tags); several distinct values in one annotation
    (a multi-choice, several boxes of a task) are sorted and joined with ``"|"``. Skipped
    annotations are left out; when an annotator annotated a task more than once, the
    annotation updated last counts. Columns are the annotators' emails (``annotator=
    "email"``, the default when the export has them) or user ids (``"id"``, the default for
    an ids-only export), sorted. With a label config, cells are categoricals in config
    order; an annotator who did not answer has a missing value.

    Parameters
    ----------
    frames
        The tables of an export.
    from_name
        The control to lay out.
    by
        ``"task"`` or ``"region"``.
    annotator
        ``"email"`` or ``"id"`` for the column names (see above).

    Returns
    -------
    pandas.DataFrame
        The pivot, indexed by ``task_id`` (or ``task_id, region_id``).

    Raises
    ------
    ConfigurationError
        ``from_name`` is neither a ``from_name`` of the regions nor a control of the label
        config, or ``by`` / ``annotator`` is not a known choice.
    """
    if by not in ("task", "region"):
        raise ConfigurationError(f"by must be 'task' or 'region', not {by!r}")
    require_from_name(frames, from_name)
    annotations = usable_annotations(frames)
    if annotator is None:
        annotator = "email" if annotations["completed_by_email"].notna().any() else "id"
    if annotator not in ("email", "id"):
        raise ConfigurationError(f"annotator must be 'email' or 'id', not {annotator!r}")
    who_column = "completed_by_email" if annotator == "email" else "completed_by_id"
    latest = choose_annotations(annotations, "latest", annotator=who_column)
    who = pd.Series(latest.index.get_level_values(who_column), index=latest.to_numpy())
    regions = frames.regions
    mask = (
        (regions["source"].astype(object) == "annotation")
        & (regions["from_name"].astype(object) == from_name)
        & regions["source_id"].isin(who.index)
    ).to_numpy(bool)
    rows = regions[mask]
    index = ["task_id"] if by == "task" else ["task_id", "region_id"]
    cells: dict[tuple[Any, ...], dict[Any, set[str]]] = {}
    who = who[~who.index.duplicated()]
    people_of = who.reindex(rows["source_id"]).to_numpy(object)
    key_columns = [rows[c].to_numpy(object) for c in index]
    for *key, person, values in zip(*key_columns, people_of, region_values(rows), strict=True):
        cells.setdefault(tuple(key), {}).setdefault(person, set()).update(values)
    people = sorted({p for v in cells.values() for p in v if not pd.isna(p)}, key=str)
    data = {
        p: ["|".join(sorted(cells[k][p])) if p in cells[k] else None for k in sorted(cells)]
        for p in people
    }
    keys = sorted(cells)
    out_index = (
        pd.Index([k[0] for k in keys], name="task_id", dtype="Int64")
        if by == "task"
        else pd.MultiIndex.from_tuples(keys, names=index)
    )
    out: pd.DataFrame = pd.DataFrame(data, index=out_index, columns=people)
    out.columns.name = "annotator"
    control = frames.label_config.by_name().get(from_name) if frames.label_config else None
    if control is not None and control.values:
        for p in people:
            column = out[p]
            extra = sorted(set(column.dropna()) - set(control.values))
            out[p] = column.astype(pd.CategoricalDtype([*control.values, *extra]))
    else:
        for p in people:
            out[p] = out[p].astype("string")
    return out


def annotator_regions(
    frames: Frames, from_name: str
) -> tuple[pd.DataFrame, NDArray[Any], pd.Series]:
    """The regions of ``from_name`` in each annotator's last annotation of a task (by
    email where the export has them, else by user id), who drew each, and the chosen
    annotations (``annotation_id`` indexed by ``task_id`` and annotator; annotations
    without an annotator left out), whether they hold a region of ``from_name`` or not."""
    annotations = usable_annotations(frames)
    use_email = bool(annotations["completed_by_email"].notna().any())
    who_column = "completed_by_email" if use_email else "completed_by_id"
    latest = choose_annotations(annotations, "latest", annotator=who_column)
    persons = latest.index.get_level_values(who_column)
    latest = latest[persons.notna()]
    persons = latest.index.get_level_values(who_column)
    who = pd.Series(persons.to_numpy(object), index=latest.to_numpy(np.int64))
    regions = frames.regions
    mask = (
        (regions["source"].astype(object) == "annotation")
        & (regions["from_name"].astype(object) == from_name)
        & regions["source_id"].isin(who.index)
    ).to_numpy(bool)
    rows = regions[mask]
    drawn_by = who.reindex(rows["source_id"].to_numpy(np.int64)).to_numpy(object)
    return rows, drawn_by, latest
