"""Analysis helpers on :class:`~ls_frames.tables.Frames`: model evaluation and agreement.

:func:`compare_predictions` puts each prediction's results next to the annotation's they
should match; :func:`annotator_pivot` lays one control out with one column per annotator.
Both read only the pandas tables, so they work on :func:`read_export`, ``load_project`` and
:func:`read_parquet` results alike.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any, Literal

import numpy as np
import pandas as pd

from ls_frames.errors import ConfigurationError
from ls_frames.tables.frames import Frames

__all__ = ["annotator_pivot", "compare_predictions", "iou"]

_SIDE_COLUMNS = ("region_id", "type", "value", "label", "x", "y", "width", "height",
                 "rotation", "start", "end", "score")  # fmt: skip


def iou(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    """Intersection over union of two axis-aligned boxes given as ``(x, y, width, height)``.

    In Label Studio's percent coordinates this equals the IoU in pixels (both axes scale
    uniformly). 0.0 when the boxes do not overlap or have no area.
    """
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    iw = min(ax + aw, bx + bw) - max(ax, bx)
    ih = min(ay + ah, by + bh) - max(ay, by)
    if iw <= 0 or ih <= 0:
        return 0.0
    inter = iw * ih
    union = aw * ah + bw * bh - inter
    return float(inter / union) if union > 0 else 0.0


def _span_iou(a: tuple[float, float], b: tuple[float, float]) -> float:
    inter = min(a[1], b[1]) - max(a[0], b[0])
    union = max(a[1], b[1]) - min(a[0], b[0])
    return float(inter / union) if inter > 0 and union > 0 else 0.0


def _values(row: Any) -> list[str]:
    """The comparable value of one result row: its labels, choices, taxonomy paths (joined
    with ``" / "``), text lines, rating, number or datetime, else its ``value_json``."""
    for column in ("labels", "choices"):
        got = getattr(row, column)
        if got is not None and not (isinstance(got, float) and np.isnan(got)) and len(got):
            return [str(v) for v in got]
    taxonomy = row.taxonomy
    if taxonomy is not None and not isinstance(taxonomy, float) and len(taxonomy):
        return [" / ".join(str(p) for p in path) for path in taxonomy]
    text = row.text
    if text is not None and not isinstance(text, float) and len(text):
        return [str(t) for t in text]
    for column in ("rating", "number", "datetime"):
        got = getattr(row, column)
        if got is not None and not pd.isna(got):
            return [str(got)]
    return [] if pd.isna(row.value_json) else [str(row.value_json)]


def _float(value: Any) -> float | None:
    if value is None or pd.isna(value):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None  # an XPath start of hypertext or paragraphs: not a number


def _geometry(row: Any) -> tuple[str, tuple[float, ...]] | None:
    box = tuple(_float(getattr(row, c)) for c in ("x", "y", "width", "height"))
    if None not in box:
        return "box", box  # type: ignore[return-value]
    span = (_float(row.start_offset), _float(row.end_offset))
    if None in span:
        span = (_float(row.start), _float(row.end))
    if None not in span:
        return "span", span  # type: ignore[return-value]
    return None


def _side(row: Any | None, prefix: str) -> dict[str, Any]:
    if row is None:
        return {f"{prefix}_{c}": None for c in _SIDE_COLUMNS}
    values = _values(row)
    return {
        f"{prefix}_region_id": row.region_id, f"{prefix}_type": row.type,
        f"{prefix}_value": values, f"{prefix}_label": values[0] if values else None,
        f"{prefix}_x": row.x, f"{prefix}_y": row.y, f"{prefix}_width": row.width,
        f"{prefix}_height": row.height, f"{prefix}_rotation": row.rotation,
        f"{prefix}_start": row.start, f"{prefix}_end": row.end, f"{prefix}_score": row.score,
    }  # fmt: skip


def _match(preds: list[Any], anns: list[Any], min_iou: float) -> list[tuple[Any, Any, str, Any]]:
    """Pairs ``(pred, ann, matched_by, iou)`` of one task, control, prediction and annotation,
    the unmatched ones paired with ``None``."""
    pairs: list[tuple[Any, Any, str, Any]] = []
    free_p = list(range(len(preds)))
    free_a = list(range(len(anns)))
    by_id: dict[Any, int] = {}
    for j in free_a:
        by_id.setdefault(anns[j].region_id, j)
    for i in list(free_p):
        same = by_id.get(preds[i].region_id)
        if preds[i].region_id is not None and same is not None and same in free_a:
            overlap = _overlap(_geometry(preds[i]), _geometry(anns[same]))
            pairs.append((preds[i], anns[same], "region_id", overlap))
            free_p.remove(i)
            free_a.remove(same)
    candidates = []
    for i in free_p:
        g_p = _geometry(preds[i])
        for j in free_a:
            overlap = _overlap(g_p, _geometry(anns[j]))
            if overlap is not None and overlap >= min_iou:
                candidates.append((-overlap, i, j))
    for neg, i, j in sorted(candidates):
        if i in free_p and j in free_a:
            pairs.append((preds[i], anns[j], "iou", -neg))
            free_p.remove(i)
            free_a.remove(j)
    # results without geometry (a task-level choice, rating, text area): in result order
    plain_p = [i for i in free_p if _geometry(preds[i]) is None]
    plain_a = [j for j in free_a if _geometry(anns[j]) is None]
    for i, j in zip(plain_p, plain_a, strict=False):
        pairs.append((preds[i], anns[j], "order", None))
        free_p.remove(i)
        free_a.remove(j)
    pairs.extend((preds[i], None, "unmatched", None) for i in free_p)
    pairs.extend((None, anns[j], "unmatched", None) for j in free_a)
    return pairs


def _overlap(a: tuple[str, tuple[float, ...]] | None,
             b: tuple[str, tuple[float, ...]] | None) -> float | None:  # fmt: skip
    if a is None or b is None or a[0] != b[0]:
        return None
    if a[0] == "box":
        return iou(a[1], b[1])  # type: ignore[arg-type]
    return _span_iou(a[1], b[1])  # type: ignore[arg-type]


def compare_predictions(
    frames: Frames,
    control: str | None = None,
    *,
    min_iou: float = 0.5,
    ground_truth_only: bool = False,
) -> pd.DataFrame:
    """Predictions next to annotations, one row per matched (or unmatched) result.

    For every task holding both, each prediction is compared with each annotation that was
    not skipped (only ground-truth ones with ``ground_truth_only``), control by control
    (``from_name``; just ``control`` when given). Within one task, control, prediction and
    annotation, results are matched in three steps:

    1. the same region id (an annotation started from a prediction keeps its ids);
    2. then regions with geometry, greedily by overlap, best first: boxes by IoU of the
       axis-aligned ``x, y, width, height`` (rotation ignored), spans (text, audio) by the
       IoU of ``start_offset, end_offset`` or else numeric ``start, end``; a pair needs
       ``overlap >= min_iou``;
    3. then results without geometry (a task-level choice, a rating, a text area) in
       result order.

    What is left stays on a row of its own with the other side empty (a false positive or
    a missed region). Results without a task id or source id (import files) are left out.

    Columns: ``task_id, from_name, prediction_id, model_version, prediction_score,
    annotation_id, completed_by_id, completed_by_email, ground_truth, matched_by``
    (``region_id`` / ``iou`` / ``order`` / ``unmatched``), ``iou`` (the overlap of the
    pair, for boxes and spans), ``match`` (both sides present with the same values, order
    ignored), then ``pred_*`` and ``ann_*``: ``region_id, type, value`` (list of strings:
    labels, choices, taxonomy paths joined with ``" / "``, text, rating, number or
    datetime), ``label`` (its first element), ``x, y, width, height, rotation, start, end,
    score``.

    Parameters
    ----------
    frames
        The tables of an export holding predictions and annotations.
    control
        Compare only this control (``from_name``); all by default.
    min_iou
        The least overlap for two regions to be matched by geometry.
    ground_truth_only
        Compare with ground-truth annotations only.

    Returns
    -------
    pandas.DataFrame
        One row per matched pair or unmatched result, with the columns above (typed and
        empty when nothing compares).

    Raises
    ------
    KeyError
        ``frames`` lacks the ``regions``, ``annotations`` or ``predictions`` table (read
        with ``tables=`` leaving one out).
    """
    regions = frames.regions
    annotations = frames.annotations
    predictions = frames.predictions
    if control is not None:
        regions = regions[(regions["from_name"].astype(object) == control).to_numpy(bool)]
    keep = ~annotations["was_cancelled"].fillna(False).to_numpy(bool)
    if ground_truth_only:
        keep &= annotations["ground_truth"].fillna(False).to_numpy(bool)
    ann_info = annotations[keep].set_index("annotation_id")
    pred_info = predictions.set_index("prediction_id")
    source = regions["source"].astype(object)
    pred_rows = regions[(source == "prediction").to_numpy(bool)]
    ann_rows = regions[(source == "annotation").to_numpy(bool)]
    ann_rows = ann_rows[ann_rows["source_id"].isin(ann_info.index).to_numpy(bool)]

    def grouped(df: pd.DataFrame) -> dict[tuple[int, str], dict[Hashable, list[Any]]]:
        out: dict[tuple[int, str], dict[Hashable, list[Any]]] = {}
        row: Any
        for row in df.itertuples(index=False):
            if pd.isna(row.task_id) or pd.isna(row.source_id):
                continue  # an import file without ids: nothing to match on
            key = (int(row.task_id), str(row.from_name))
            out.setdefault(key, {}).setdefault(row.source_id, []).append(row)
        return out

    by_pred, by_ann = grouped(pred_rows), grouped(ann_rows)
    records = []
    for key in sorted(set(by_pred) & set(by_ann)):
        task_id, from_name = key
        for pid, p_items in by_pred[key].items():
            for aid, a_items in by_ann[key].items():
                for p, a, how, overlap in _match(p_items, a_items, min_iou):
                    pred_side, ann_side = _side(p, "pred"), _side(a, "ann")
                    match = p is not None and a is not None and (
                        sorted(pred_side["pred_value"]) == sorted(ann_side["ann_value"])
                    )
                    records.append({
                        "task_id": task_id, "from_name": from_name, "prediction_id": pid,
                        "model_version": _get(pred_info, pid, "model_version"),
                        "prediction_score": _get(pred_info, pid, "score"),
                        "annotation_id": aid,
                        "completed_by_id": _get(ann_info, aid, "completed_by_id"),
                        "completed_by_email": _get(ann_info, aid, "completed_by_email"),
                        "ground_truth": _get(ann_info, aid, "ground_truth"),
                        "matched_by": how, "iou": overlap, "match": match,
                        **pred_side, **ann_side,
                    })  # fmt: skip
    return _typed_comparison(records)


def _get(info: pd.DataFrame, key: Any, column: str) -> Any:
    if key not in info.index or column not in info.columns:
        return None
    value: Any = info.at[key, column]
    if isinstance(value, pd.Series):  # duplicated ids: take the first
        value = value.iloc[0]
    return None if pd.isna(value) else value


_INTS = ("task_id", "prediction_id", "annotation_id", "completed_by_id")
_FLOATS = ("prediction_score", "iou",
           *(f"{s}_{c}" for s in ("pred", "ann")
             for c in ("x", "y", "width", "height", "rotation", "score")))  # fmt: skip
_STRINGS = ("from_name", "model_version", "completed_by_email", "matched_by",
            *(f"{s}_{c}" for s in ("pred", "ann") for c in ("region_id", "type", "label",
                                                            "start", "end")))  # fmt: skip
_ORDER = ("task_id", "from_name", "prediction_id", "model_version", "prediction_score",
          "annotation_id", "completed_by_id", "completed_by_email", "ground_truth",
          "matched_by", "iou", "match",
          *(f"{s}_{c}" for s in ("pred", "ann") for c in _SIDE_COLUMNS))  # fmt: skip


def _typed_comparison(records: list[dict[str, Any]]) -> pd.DataFrame:
    df: pd.DataFrame = pd.DataFrame.from_records(records, columns=list(_ORDER))
    for column in _INTS:
        df[column] = pd.array(df[column].astype(object).where(df[column].notna(), None),
                              dtype="Int64")
    for column in _FLOATS:
        df[column] = pd.to_numeric(df[column].astype(object), errors="coerce").astype("Float64")
    for column in _STRINGS:
        df[column] = df[column].astype(object).where(df[column].notna(), None).astype("string")
    df["ground_truth"] = df["ground_truth"].astype(object).astype("boolean")
    df["match"] = df["match"].astype(bool)
    return df


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
        The tables of an export (:func:`~ls_frames.read_export` and the like).
    from_name
        The control to lay out (its ``name`` in the label config).
    by
        ``"task"``: one row per task; ``"region"``: one row per ``(task_id, region_id)``.
    annotator
        Column names: ``"email"`` or ``"id"``; by default emails when the export has them.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``task_id`` (and ``region_id``), one column per annotator.

    Raises
    ------
    ConfigurationError
        ``by`` or ``annotator`` is not one of its values.
    """
    if by not in ("task", "region"):
        raise ConfigurationError(f"by must be 'task' or 'region', not {by!r}")
    annotations = frames.annotations
    annotations = annotations[~annotations["was_cancelled"].fillna(False).to_numpy(bool)]
    if annotator is None:
        annotator = "email" if annotations["completed_by_email"].notna().any() else "id"
    if annotator not in ("email", "id"):
        raise ConfigurationError(f"annotator must be 'email' or 'id', not {annotator!r}")
    who_column = "completed_by_email" if annotator == "email" else "completed_by_id"
    latest = (annotations.sort_values(["updated_at", "annotation_id"], na_position="first")
              .drop_duplicates(["task_id", who_column], keep="last"))  # fmt: skip
    who = latest.set_index("annotation_id")[who_column]
    regions = frames.regions
    mask = ((regions["source"].astype(object) == "annotation")
            & (regions["from_name"].astype(object) == from_name)
            & regions["source_id"].isin(who.index)).to_numpy(bool)  # fmt: skip
    rows = regions[mask]
    index = ["task_id"] if by == "task" else ["task_id", "region_id"]
    cells: dict[tuple[Any, ...], dict[Any, set[str]]] = {}
    for row in rows.itertuples(index=False):
        key = tuple(getattr(row, c) for c in index)
        person = who.loc[row.source_id]
        if isinstance(person, pd.Series):
            person = person.iloc[0]
        cells.setdefault(key, {}).setdefault(person, set()).update(_values(row))
    people = sorted({p for v in cells.values() for p in v if not pd.isna(p)}, key=str)
    data = {
        p: ["|".join(sorted(cells[k][p])) if p in cells[k] else None for k in sorted(cells)]
        for p in people
    }
    keys = sorted(cells)
    out_index = (pd.Index([k[0] for k in keys], name="task_id", dtype="Int64") if by == "task"
                 else pd.MultiIndex.from_tuples(keys, names=index))  # fmt: skip
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
