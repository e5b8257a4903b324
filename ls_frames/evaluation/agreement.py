"""Agreement between annotators, and one consensus label per task.

:func:`agreement` scores how far annotators agree on one control (``from_name``):
Cohen's kappa or percent agreement per annotator pair, Fleiss' kappa or Krippendorff's
alpha (nominal) over everyone, or the mean IoU of matched regions per pair. :func:`consensus`
gives one label per task by majority vote, flagging ties and low agreement instead of
guessing. Both read the same cells as :func:`~ls_frames.tables.annotator_pivot`: skipped
annotations never count, an annotator's last annotation of a task counts, and several
values in one annotation (a multi-choice, several labels) form one answer, the sorted set
joined with ``"|"``: two annotators agree on a task when they chose the same set.
"""

from __future__ import annotations

from itertools import combinations
from typing import Any, Literal

import numpy as np
import pandas as pd

from ls_frames.errors import ConfigurationError
from ls_frames.evaluation.kappa import cohen_kappa, fleiss_kappa, krippendorff_alpha
from ls_frames.evaluation.merging import merge_boxes
from ls_frames.evaluation.pivot import annotator_pivot, annotator_regions
from ls_frames.evaluation.results import (
    control_types_of,
    is_region_control,
    require_from_name,
)
from ls_frames.geometry.masks import mask_kinds, region_masks
from ls_frames.geometry.overlap import paired_box_iou, paired_span_iou
from ls_frames.reading.controls import RECTANGLE_TYPES
from ls_frames.tables.frames import Frames

__all__ = ["agreement", "consensus"]

Method = Literal["cohen", "percent", "fleiss", "krippendorff", "iou"]
_METHODS = ("cohen", "percent", "fleiss", "krippendorff", "iou")


def _cells(frames: Frames, from_name: str, by: str) -> pd.DataFrame:
    """``annotator_pivot`` as plain objects: one row per unit, one column per annotator,
    the answer (a string) or ``None``."""
    require_from_name(frames, from_name)
    if by not in ("task", "region"):
        raise ConfigurationError(f"by must be 'task' or 'region', not {by!r}")
    pivot = annotator_pivot(frames, from_name, by=by)  # type: ignore[arg-type]
    out: pd.DataFrame = pd.DataFrame(index=pivot.index)
    for column in pivot.columns:
        values = pivot[column].astype(object)
        out[column] = values.where(values.notna(), None)
    return out


def _annotator_column(names: list[Any]) -> pd.Series:
    column: pd.Series
    if names and all(isinstance(n, (int, np.integer)) for n in names):
        column = pd.Series(names, dtype="Int64")
    else:
        column = pd.Series([str(n) for n in names], dtype="string")
    return column


def _pairwise(cells: pd.DataFrame, method: str) -> pd.DataFrame:
    rows = []
    for a, b in combinations(cells.columns, 2):
        both = cells[a].notna().to_numpy(bool) & cells[b].notna().to_numpy(bool)
        left = cells[a].to_numpy(object)[both]
        right = cells[b].to_numpy(object)[both]
        if not len(left):
            score = float("nan")
        elif method == "percent":
            score = float(np.mean(left == right))
        else:
            score = cohen_kappa(left, right)
        rows.append((a, b, int(both.sum()), score))
    return _pair_frame(rows)


def _pair_frame(
    rows: list[tuple[Any, Any, int, float]], extra: dict[str, list[int]] | None = None
) -> pd.DataFrame:
    out: pd.DataFrame = pd.DataFrame(
        {
            "annotator_a": _annotator_column([r[0] for r in rows]),
            "annotator_b": _annotator_column([r[1] for r in rows]),
            "tasks": pd.Series([r[2] for r in rows], dtype="Int64"),
            **{k: pd.Series(v, dtype="Int64") for k, v in (extra or {}).items()},
            "score": pd.Series([r[3] for r in rows], dtype="float64").astype("Float64"),
        }
    )
    out["score"] = out["score"].where(~np.isnan(out["score"].to_numpy(float, na_value=np.nan)))
    return out


def _counts(cells: pd.DataFrame) -> np.ndarray:
    """``units x categories`` counts of the answers in ``cells``."""
    stacked = cells.stack()
    stacked = stacked[stacked.notna().to_numpy(bool)]
    if stacked.empty:
        return np.zeros((0, 0))
    codes, _ = pd.factorize(stacked.to_numpy(object))
    units, _ = pd.factorize(stacked.index.droplevel([-1]))
    counts = np.zeros((int(units.max()) + 1, int(codes.max()) + 1))
    np.add.at(counts, (units, codes), 1)
    return counts


def _overall(cells: pd.DataFrame, method: str) -> pd.DataFrame:
    n_rated = cells.notna().sum(axis=1).to_numpy(int)
    if method == "fleiss":
        # Fleiss' kappa needs the same number of ratings on every task: the tasks with the
        # most common number of ratings (two or more; the larger on a tie) count.
        sizes = pd.Series(n_rated[n_rated >= 2]).value_counts()
        keep = n_rated == (max(sizes[sizes == sizes.max()].index) if len(sizes) else -1)
    else:
        keep = n_rated >= 2
    used = cells[keep]
    counts = _counts(used)
    if not len(counts):
        score = float("nan")
    else:
        score = fleiss_kappa(counts) if method == "fleiss" else krippendorff_alpha(counts)
    people = int(used.notna().any(axis=0).sum())
    overall: pd.DataFrame = pd.DataFrame(
        {
            "tasks": pd.Series([len(used)], dtype="Int64"),
            "annotators": pd.Series([people], dtype="Int64"),
            "score": pd.Series([None if np.isnan(score) else score], dtype="Float64"),
        }
    )
    return overall


def _numbers(regions: pd.DataFrame, columns: tuple[str, ...]) -> np.ndarray:
    values = [pd.to_numeric(regions[c].astype(object), errors="coerce") for c in columns]
    return np.column_stack([np.asarray(v.astype("float64"), float) for v in values]).reshape(
        len(regions), len(columns)
    )


def _geometry(regions: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """``(boxes, spans)``: rows ``x, y, width, height, rotation`` (pixels where the export
    has the image size, else percent) and ``start, end`` (text offsets, else numeric
    start/end); NaN where a region has no such geometry."""
    pixels = _numbers(regions, ("x_px", "y_px", "width_px", "height_px"))
    percent = _numbers(regions, ("x", "y", "width", "height"))
    use_pixels = ~np.isnan(pixels).any(1)
    boxes = np.where(use_pixels[:, None], pixels, percent)
    boxes = np.column_stack([boxes, np.nan_to_num(_numbers(regions, ("rotation",))[:, 0])])
    offsets = _numbers(regions, ("start_offset", "end_offset"))
    times = _numbers(regions, ("start", "end"))
    spans = np.where(np.isnan(offsets).any(1)[:, None], times, offsets)
    spans[~np.isnan(boxes[:, :4]).any(1)] = np.nan  # a box is not a span
    return boxes, spans


def _candidates(tasks: np.ndarray, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions ``(i, j)`` of every two regions of one task drawn by annotators ``codes[i]
    < codes[j]``."""
    frame = pd.DataFrame({"task": tasks, "code": codes, "pos": np.arange(len(tasks))})
    pairs = frame.merge(frame, on="task", suffixes=("_a", "_b"))
    pairs = pairs[(pairs["code_a"] < pairs["code_b"]).to_numpy(bool)]
    return pairs["pos_a"].to_numpy(np.int64), pairs["pos_b"].to_numpy(np.int64)


def _mask_iou(rows: pd.DataFrame, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """IoU of the pixel masks of rows ``left[k]`` and ``right[k]`` (positions), drawn by
    :func:`~ls_frames.tables.region_masks` at the image's original size."""
    wanted = np.unique(np.r_[left, right])
    masks = {
        int(p): m.mask > 0 for p, m in zip(wanted, region_masks(rows.iloc[wanted]), strict=True)
    }
    out = np.zeros(len(left))
    for k, (i, j) in enumerate(zip(left, right, strict=True)):
        a, b = masks[int(i)], masks[int(j)]
        if a.shape == b.shape:
            union = int(np.logical_or(a, b).sum())
            out[k] = int(np.logical_and(a, b).sum()) / union if union else 0.0
    return out


def _iou_pairs(frames: Frames, from_name: str) -> pd.DataFrame:
    """``agreement(method="iou")``: one row per annotator pair."""
    require_from_name(frames, from_name)
    rows, persons, _ = annotator_regions(frames, from_name)
    tasks = rows["task_id"].to_numpy(np.int64)
    people = sorted(set(persons), key=str)
    rank = {p: k for k, p in enumerate(people)}
    codes = np.array([rank[p] for p in persons], dtype=np.int64)
    sums = np.zeros((len(people), len(people), 4))  # tasks, iou sum, matched, unmatched
    # every task both annotated, and the regions each drew
    drawn = (
        pd.Series(1, index=pd.MultiIndex.from_arrays([tasks, codes])).groupby(level=[0, 1]).size()
    )
    for _, group in drawn.groupby(level=0):
        present = group.index.get_level_values(1).to_numpy()
        counts = group.to_numpy()
        for (i, a), (j, b) in combinations(enumerate(present), 2):
            sums[a, b, 0] += 1
            sums[a, b, 3] += counts[i] + counts[j]
    # every candidate pair of regions (same task, two annotators), scored at once
    left, right = _candidates(tasks, codes)
    score = _region_iou(rows, left, right)
    keep = score > 0
    left, right, score = left[keep], right[keep], score[keep]
    # greedy, best first, within each (task, annotator pair)
    order = np.lexsort((-score, codes[right], codes[left], tasks[left]))
    used: set[tuple[int, int]] = set()  # (region, the other annotator)
    for k in order:
        i, j = int(left[k]), int(right[k])
        key_i, key_j = (i, int(codes[j])), (j, int(codes[i]))
        if key_i in used or key_j in used:
            continue
        used.update((key_i, key_j))
        acc = sums[codes[i], codes[j]]
        acc[1] += score[k]
        acc[2] += 1
        acc[3] -= 2
    pairs = list(combinations(range(len(people)), 2))
    rows_out = [
        (
            people[i],
            people[j],
            int(sums[i, j, 0]),
            sums[i, j, 1] / sums[i, j, 2] if sums[i, j, 2] else float("nan"),
        )
        for i, j in pairs
    ]
    extra = {
        "matched": [int(sums[i, j, 2]) for i, j in pairs],
        "unmatched": [int(sums[i, j, 3]) for i, j in pairs],
    }
    return _pair_frame(rows_out, extra)


def _region_iou(rows: pd.DataFrame, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """IoU of rows ``left[k]`` and ``right[k]``: boxes (rotation aware), spans, or the
    pixels of polygons, brushes and ellipses; 0 for regions of different kinds."""
    boxes, spans = _geometry(rows)
    kinds = mask_kinds(rows["type"])
    is_shape = kinds.isin(["polygon", "brush", "ellipse"]).to_numpy(bool)
    boxes[is_shape] = np.nan  # a polygon or a brush is compared by its pixels
    is_box = ~np.isnan(boxes[:, :4]).any(1)
    is_span = ~np.isnan(spans).any(1)
    score = np.zeros(len(left))
    both_boxes = is_box[left] & is_box[right]
    both_spans = is_span[left] & is_span[right]
    if both_boxes.any():
        score[both_boxes] = paired_box_iou(boxes[left[both_boxes]], boxes[right[both_boxes]])
    if both_spans.any():
        score[both_spans] = paired_span_iou(spans[left[both_spans]], spans[right[both_spans]])
    both_shapes = is_shape[left] & is_shape[right]
    if both_shapes.any():
        score[both_shapes] = _mask_iou(rows, left[both_shapes], right[both_shapes])
    return score


def agreement(
    frames: Frames,
    from_name: str,
    *,
    method: Method = "cohen",
    by: Literal["task", "region"] = "task",
) -> pd.DataFrame:
    """How far annotators agree on one control.

    The answers are the cells of :func:`~ls_frames.tables.annotator_pivot`: skipped
    annotations never count; when an annotator annotated a task more than once, the
    annotation updated last counts; an annotation without a result for ``from_name`` is no
    answer; several values in one annotation (a multi-choice, several labels of a task)
    form one answer, their sorted set, so annotators agree when they chose the same set.
    Annotators are named by email where the export has them, else by user id.

    Parameters
    ----------
    frames
        The tables of an export (:func:`read_export`, ``load_project``,
        :func:`read_parquet`).
    from_name
        The control's name (``<Choices name="...">``).
    method
        ``"cohen"`` (Cohen's kappa) or ``"percent"`` (share of equal answers), one row per
        annotator pair over the tasks both answered: ``annotator_a, annotator_b, tasks,
        score``. ``"fleiss"`` (Fleiss' kappa) or ``"krippendorff"`` (Krippendorff's alpha,
        nominal), one row: ``tasks, annotators, score``; alpha uses every task with two
        answers or more, Fleiss' kappa (which needs equally many answers per task) the tasks
        with the most common number of answers (two or more). ``"iou"``: for boxes (rotation
        aware, in pixels where the export has the image size), spans (text offsets,
        audio/video times) and polygons, brushes and ellipses (by their pixels, drawn by
        :func:`~ls_frames.tables.region_masks`), regions of the two annotators on a task are
        matched greedily by IoU, best first (a match needs IoU > 0; labels are not
        compared); one row per pair: ``annotator_a, annotator_b, tasks`` (both drew
        regions), ``matched, unmatched, score`` (the mean IoU of the matched regions).
    by
        ``"task"``, or ``"region"`` to compare per ``(task_id, region_id)`` (a per-region
        choice on regions the annotators share, e.g. from a prediction).

    Returns
    -------
    pandas.DataFrame
        A DataFrame as above; ``score`` is missing where it is undefined (no common task,
        or chance agreement of 1).

    Raises
    ------
    ConfigurationError
        An unknown ``method`` or ``by``, a ``from_name`` that neither the results nor the
        label config have (the message names those that exist), or a method other than
        ``"iou"`` on a control that draws regions (the message names ``"iou"``).
    RegionError
        ``"iou"`` on a polygon or brush without the image size, or a malformed brush.
    """
    if method not in _METHODS:
        raise ConfigurationError(f"method must be one of {list(_METHODS)}, not {method!r}")
    if method == "iou":
        return _iou_pairs(frames, from_name)
    require_from_name(frames, from_name)
    if is_region_control(frames, from_name):
        raise ConfigurationError(
            f"{from_name!r} draws regions; method={method!r} compares one answer per task. "
            "For regions use method='iou' (or ls_frames.annotator_quality)"
        )
    cells = _cells(frames, from_name, by)
    if method in ("cohen", "percent"):
        return _pairwise(cells, method)
    return _overall(cells, method)


def consensus(
    frames: Frames,
    from_name: str,
    *,
    method: Literal["auto", "majority", "boxes"] = "auto",
    min_agreement: float | None = None,
    iou_threshold: float = 0.5,
) -> pd.DataFrame:
    """The annotators' consensus: one label per task by majority vote, or for rectangles
    the annotators' boxes merged into consensus regions.

    The answers are those :func:`agreement` compares (skipped annotations left out, an
    annotator's last annotation of a task, a multi-choice as its ``"|"``-joined set).

    Parameters
    ----------
    frames
        The tables of an export.
    from_name
        The control's name.
    method
        ``"auto"`` (the default): ``"boxes"`` for a rectangle control, else
        ``"majority"``. ``"majority"``: the answer most annotators gave, one row per task.
        ``"boxes"``: per task, the annotators' rectangles clustered by IoU (each annotator
        adds at most one box to a cluster; a box joins the cluster whose mean box it
        overlaps most, at ``iou_threshold`` or more), one row per merged region with the
        mean of its boxes.
    min_agreement
        Flag tasks (regions, for ``"boxes"``) whose share (``votes / annotators``) is below
        this fraction (``0 < min_agreement <= 1``).
    iou_threshold
        For ``"boxes"``: the least IoU (rotation aware, in pixels where the image size is
        known) for a box to join a cluster.

    Returns
    -------
    pandas.DataFrame
        ``"majority"``: one row per task with an answer, indexed by ``task_id``: ``label``
        (the winning answer; missing when tied or below ``min_agreement``: flagged, never
        guessed), ``votes`` (annotators who gave the winning answer, or each tied answer),
        ``annotators`` (annotators who answered), ``agreement`` (``votes /
        annotators``), ``tie`` and ``low_agreement`` (booleans). ``label`` is a
        categorical in label config order where the config is known.
        ``"boxes"``: one row per merged region: ``task_id``, ``region`` (its number in the
        task), ``label`` (the majority label of its boxes; missing on a tie, ``tie``
        true), ``votes`` (annotators who drew it), ``annotators`` (annotators of the task,
        boxes or not), ``agreement``, ``tie``, ``x, y, width, height, rotation`` (the mean
        of its boxes in Label Studio's percent coordinates, so it can be drawn),
        ``original_width, original_height``, ``low_agreement``.

    Raises
    ------
    ConfigurationError
        An unknown ``method``, ``min_agreement`` or ``iou_threshold`` outside ``(0, 1]``,
        an unknown ``from_name``, or ``"boxes"`` on a control that is not a rectangle one.
    """
    if method not in ("auto", "majority", "boxes"):
        raise ConfigurationError(
            f"method must be one of ['auto', 'majority', 'boxes'], not {method!r}"
        )
    if min_agreement is not None and not 0 < min_agreement <= 1:
        raise ConfigurationError(f"min_agreement must be in (0, 1], not {min_agreement!r}")
    require_from_name(frames, from_name)
    boxes = (
        bool(control_types_of(frames, from_name))
        and control_types_of(frames, from_name) <= RECTANGLE_TYPES
    )
    if method == "boxes" and not boxes:
        raise ConfigurationError(
            f"method='boxes' needs a rectangle control; {from_name!r} is of type "
            f"{sorted(control_types_of(frames, from_name))}"
        )
    if method == "boxes" or (method == "auto" and boxes):
        merged = merge_boxes(frames, from_name, iou_threshold=iou_threshold)
        share = merged["agreement"].to_numpy(float, na_value=np.nan)
        low = share < min_agreement if min_agreement is not None else np.zeros(len(merged), bool)
        merged["low_agreement"] = pd.array(low, dtype="boolean")
        return merged
    return _majority(frames, from_name, min_agreement)


def _majority(frames: Frames, from_name: str, min_agreement: float | None) -> pd.DataFrame:
    """``consensus(method="majority")``."""
    cells = _cells(frames, from_name, "task")
    stacked = cells.stack()
    stacked = stacked[stacked.notna().to_numpy(bool)]
    units = cells.index.get_indexer(stacked.index.droplevel([-1]))
    answers = pd.DataFrame({"unit": units, "answer": stacked.to_numpy(object)})
    tally = answers.groupby(["unit", "answer"], sort=True).size()
    top = tally.groupby(level="unit").max()
    at_top = tally[tally.to_numpy() == top.reindex(tally.index.get_level_values("unit")).to_numpy()]
    n_top = at_top.groupby(level="unit").size()
    winner = at_top.reset_index().drop_duplicates("unit").set_index("unit")["answer"]
    n_units = len(cells)
    votes = top.reindex(range(n_units), fill_value=0).to_numpy(np.int64)
    voters = answers.groupby("unit").size().reindex(range(n_units), fill_value=0).to_numpy()
    ties = n_top.reindex(range(n_units), fill_value=0).to_numpy() > 1
    picked = winner.reindex(range(n_units)).to_numpy(object)
    labels = [None if tie or pd.isna(v) else v for v, tie in zip(picked, ties, strict=True)]
    out: pd.DataFrame = pd.DataFrame(index=cells.index)
    out["label"] = pd.Series(labels, index=cells.index, dtype=object)
    out["votes"] = pd.array(votes, dtype="Int64")
    out["annotators"] = pd.array(voters, dtype="Int64")
    share = np.asarray(votes, float) / np.maximum(np.asarray(voters, float), 1.0)
    out["agreement"] = pd.array(share, dtype="Float64")
    out["tie"] = pd.array(ties, dtype="boolean")
    low = (share < min_agreement) if min_agreement is not None else np.zeros(len(share), bool)
    out["low_agreement"] = pd.array(low, dtype="boolean")
    out.loc[low, "label"] = None
    control = frames.label_config.by_name().get(from_name) if frames.label_config else None
    seen = sorted({str(v) for v in out["label"].dropna()})
    if control is not None and control.values:
        extra = [v for v in seen if v not in control.values]
        out["label"] = out["label"].astype(pd.CategoricalDtype([*control.values, *extra]))
    else:
        out["label"] = out["label"].astype("string")
    return out
