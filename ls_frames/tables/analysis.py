"""Analysis helpers on :class:`~ls_frames.tables.Frames`: model evaluation and agreement.

:func:`compare_predictions` puts each prediction's results next to the annotation's they
should match; :func:`annotator_pivot` lays one control out with one column per annotator.
Both read only the pandas tables, so they work on :func:`read_export`, ``load_project`` and
:func:`read_parquet` results alike.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from ls_frames.errors import ConfigurationError
from ls_frames.tables.frames import Frames
from ls_frames.tables.geometry import points_box
from ls_frames.tables.overlap import box_iou, paired_box_iou, paired_span_iou

__all__ = ["annotator_pivot", "compare_predictions", "iou", "region_values",
           "require_from_name"]  # fmt: skip


def iou(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    """Intersection over union of two axis-aligned boxes given as ``(x, y, width, height)``.

    In Label Studio's percent coordinates this equals the IoU in pixels (both axes scale
    uniformly). 0.0 when the boxes do not overlap or have no area. For many boxes at once,
    and rotated ones, see :mod:`ls_frames.tables.overlap`.
    """
    return float(box_iou([a], [b])[0, 0])


def require_from_name(frames: Frames, from_name: str) -> None:
    """Raise :class:`ConfigurationError` unless ``from_name`` is a control of ``frames``:
    one its regions use, or one of its label config. The message names both lists."""
    regions = frames.regions
    held = sorted(str(v) for v in pd.unique(regions["from_name"].dropna()))
    config = frames.label_config
    configured = [c.name for c in config.controls] if config is not None else []
    if from_name in held or from_name in configured:
        return
    message = f"no from_name {from_name!r} in these frames; their regions have {held}"
    if config is not None:
        message += f" and the label config has {configured}"
    raise ConfigurationError(message)


def _filled(value: Any) -> bool:
    """A non-empty list (numpy array or Python list; not None, NaN or pd.NA)."""
    return isinstance(value, (np.ndarray, list)) and len(value) > 0


def region_values(regions: pd.DataFrame, value_json: pd.Series | None = None) -> list[list[str]]:
    """The comparable value of each result row: its labels, choices, taxonomy paths
    (joined with ``" / "``), text lines, rating, number or datetime, else its
    ``value_json`` (``regions["value_json"]``, or ``value_json`` row for row)."""
    out: list[list[str] | None] = []
    columns = [regions[c].to_numpy(object) for c in ("labels", "choices", "taxonomy", "text")]
    for labels, choices, taxonomy, text in zip(*columns, strict=True):
        if type(labels) is np.ndarray and len(labels):  # the common case first
            out.append(labels.tolist())
        elif _filled(labels):
            out.append([str(v) for v in labels])
        elif _filled(choices):
            out.append([str(v) for v in choices])
        elif _filled(taxonomy):
            out.append([" / ".join(str(p) for p in path) for path in taxonomy])
        elif _filled(text):
            out.append([str(t) for t in text])
        else:
            out.append(None)
    rest = [i for i, v in enumerate(out) if v is None]
    if rest:  # scalar values, else the JSON text: only for the rows that need them
        sub = regions.iloc[rest]
        raw = regions["value_json"] if value_json is None else value_json
        scalars = [sub[c].astype(object).to_numpy(object) for c in ("rating", "number", "datetime")]
        scalars.append(raw.iloc[rest].astype(object).to_numpy(object))
        for i, *values in zip(rest, *scalars, strict=True):
            got = next((v for v in values if v is not None and v is not pd.NA), None)
            out[i] = [] if got is None else [str(got)]
    return out  # type: ignore[return-value]


def _floats(column: pd.Series) -> NDArray[np.float64]:
    if column.dtype.kind in "iufb" or str(column.dtype) in ("Int64", "Float64"):
        return column.to_numpy(dtype=np.float64, na_value=np.nan)
    return np.asarray(pd.to_numeric(column.astype(object), errors="coerce"), dtype=np.float64)


_NONE, _BOX, _SPAN = 0, 1, 2


def region_geometry(regions: pd.DataFrame) -> tuple[NDArray[np.int8], NDArray[np.float64],
                                                    NDArray[Any]]:  # fmt: skip
    """Geometry of each row for matching: a kind (0 none, 1 box, 2 span), an ``(n, 5)``
    float array and a span key.

    Boxes are ``x, y, width, height, rotation``: rectangles as they are, polygons and
    polylines as the box enclosing their points. They are in pixels when the task's image
    size is known (the first ``original_width`` / ``original_height`` of the task's rows,
    so a prediction imported without a size compares with an annotation that has one),
    else in percent. Spans are ``start, end`` (offsets) in the first two columns; their key
    is the ``start``/``end`` text the offsets sit in (two spans compare only when their
    keys are equal)."""
    n = len(regions)
    geo = np.full((n, 5), np.nan)
    kind = np.zeros(n, np.int8)
    box = np.column_stack([_floats(regions[c]) for c in ("x", "y", "width", "height")])
    is_box = np.asarray(~np.isnan(box).any(axis=1), dtype=bool)
    if "points" in regions and not is_box.all():
        rest = np.flatnonzero(~is_box)
        around = points_box(list(regions["points"].iloc[rest]), np.full(len(rest), 100.0),
                             np.full(len(rest), 100.0))  # fmt: skip
        found = ~np.isnan(around).any(axis=1)
        box[rest[found]] = np.column_stack([around[:, :2], around[:, 2:] - around[:, :2]])[found]
        is_box[rest[found]] = True
    width, height = _floats(regions["original_width"]), _floats(regions["original_height"])
    if "task_id" in regions and n:
        sizes = pd.DataFrame({"task": regions["task_id"].to_numpy(np.float64, na_value=np.nan),
                              "w": width, "h": height})  # fmt: skip
        first = sizes.groupby("task", dropna=False)[["w", "h"]].transform("first")
        width, height = first["w"].to_numpy(np.float64), first["h"].to_numpy(np.float64)
    sized = ~(np.isnan(width) | np.isnan(height))
    scale_w = np.where(sized, width / 100.0, 1.0)
    scale_h = np.where(sized, height / 100.0, 1.0)
    geo[:, 0], geo[:, 2] = box[:, 0] * scale_w, box[:, 2] * scale_w
    geo[:, 1], geo[:, 3] = box[:, 1] * scale_h, box[:, 3] * scale_h
    geo[:, 4] = np.nan_to_num(_floats(regions["rotation"]))
    kind[is_box] = _BOX
    offsets = np.column_stack([_floats(regions["start_offset"]), _floats(regions["end_offset"])])
    has_offsets = np.asarray(~np.isnan(offsets).any(axis=1), dtype=bool)
    plain = np.column_stack([_floats(regions["start"]), _floats(regions["end"])])
    has_plain = ~np.isnan(plain).any(axis=1)
    spans = np.where(has_offsets[:, None], offsets, plain)
    is_span = ~is_box & (has_offsets | has_plain)
    geo[is_span, :2] = spans[is_span]
    kind[is_span] = _SPAN
    text_cols = [c for c in ("start_text", "end_text") if c in regions]
    if not text_cols:
        text_cols = ["start", "end"]
    key = np.full(n, "", dtype=object)
    if has_offsets.any():
        texts = [regions[c].astype(object).where(regions[c].notna(), "").to_numpy(object)
                 for c in text_cols]  # fmt: skip
        joined = np.array([f"{a}\x1f{b}" for a, b in zip(*texts, strict=True)], dtype=object)
        key = np.where(has_offsets, joined, key)
    return kind, geo, key


def _codes(*columns: NDArray[np.int64]) -> NDArray[np.int64]:
    """Dense codes (0, 1, ... in order of appearance) of the rows' tuples of integers."""
    code = np.zeros(len(columns[0]), np.int64)
    for column in columns:
        dense, uniques = pd.factorize(column)
        code, _ = pd.factorize(code * max(len(uniques), 1) + dense)
    return np.asarray(code, np.int64)


_USED = ("task_id", "source", "source_id", "region_id", "from_name", "type", "labels",
         "choices", "taxonomy", "text", "rating", "number", "datetime", "x", "y",
         "width", "height", "rotation", "points", "start", "end", "start_text", "end_text",
         "start_offset", "end_offset", "original_width", "original_height", "score")  # fmt: skip
_SIDE_COLUMNS = ("region_id", "type", "value", "label", "x", "y", "width", "height",
                 "rotation", "start", "end", "score")  # fmt: skip
_HOW = np.array(["region_id", "iou", "order", "unmatched", "unmatched"], dtype=object)


def _items(regions: pd.DataFrame, mask: NDArray[np.bool_]) -> pd.DataFrame:
    rows = np.flatnonzero(mask)
    rid = regions["region_id"].iloc[rows]
    items: pd.DataFrame = pd.DataFrame({
        "pos": rows, "key": regions["key"].to_numpy()[rows], "sid": regions["sid"].to_numpy()[rows],
        "rid": rid.astype(object).where(rid.notna(), None).to_numpy(object),
    })  # fmt: skip
    return items


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

    1. the same region id (an annotation started from a prediction keeps its ids); a
       result without an id (imported predictions need none) never matches by id;
    2. then regions with geometry, greedily by overlap, best first: boxes by IoU, rotation
       included (in pixels where ``original_width``/``original_height`` are known), spans
       (text, audio) by the IoU of ``start_offset, end_offset`` (within the same
       ``start``/``end`` nodes) or else numeric ``start, end``; a pair needs
       ``iou >= min_iou`` and ``iou > 0`` (regions that do not overlap never match);
    3. then results without geometry (a task-level choice, a rating, a text area) in
       result order.

    What is left stays on a row of its own with the other side empty (a false positive or
    a missed region). Results without a task id or source id (import files) are left out.

    Args:
        frames: the tables of an export (:func:`read_export`, ``load_project``,
            :func:`read_parquet`).
        control: a ``from_name`` to compare alone (all controls when ``None``).
        min_iou: the least overlap for a match by geometry.
        ground_truth_only: compare with ground-truth annotations only.

    Returns:
        Columns ``task_id, from_name, prediction_id, model_version, prediction_score,
        annotation_id, completed_by_id, completed_by_email, ground_truth, matched_by``
        (``region_id`` / ``iou`` / ``order`` / ``unmatched``), ``iou`` (the overlap of the
        pair, for boxes and spans), ``match`` (both sides present with the same values,
        order ignored), then ``pred_*`` and ``ann_*``: ``region_id, type, value`` (list of
        strings: labels, choices, taxonomy paths joined with ``" / "``, text, rating,
        number or datetime), ``label`` (its first element), ``x, y, width, height,
        rotation, start, end, score``. Sorted by task, control, prediction, annotation.

    Raises:
        ConfigurationError: ``control`` is neither a ``from_name`` of the regions nor a
            control of the label config.
    """
    if control is not None:
        require_from_name(frames, control)
    regions = frames.regions
    regions = regions[[c for c in _USED if c in regions.columns]]
    annotations = frames.annotations
    predictions = frames.predictions
    keep = ~annotations["was_cancelled"].fillna(False).to_numpy(bool)
    if ground_truth_only:
        keep &= annotations["ground_truth"].fillna(False).to_numpy(bool)
    ann_info = annotations[keep].drop_duplicates("annotation_id").set_index("annotation_id")
    pred_info = predictions.drop_duplicates("prediction_id").set_index("prediction_id")
    source = regions["source"]
    name_codes, names = pd.factorize(regions["from_name"])
    usable = (regions["task_id"].notna() & regions["source_id"].notna()).to_numpy(bool).copy()
    usable &= name_codes >= 0
    if control is not None:
        usable &= name_codes == (list(names).index(control) if control in set(names) else -2)
    pred_mask = usable & (source == "prediction").to_numpy(bool, na_value=False)
    ann_mask = usable & (source == "annotation").to_numpy(bool, na_value=False)
    ann_mask &= regions["source_id"].isin(ann_info.index).to_numpy(bool)
    # only (task, control) pairs that have both sides can pair up
    task = regions["task_id"].to_numpy(np.int64, na_value=-1)
    key = task * max(len(names), 1) + name_codes
    both = np.intersect1d(key[pred_mask], key[ann_mask])
    pred_mask &= np.isin(key, both)
    ann_mask &= np.isin(key, both)
    rows = np.flatnonzero(pred_mask | ann_mask)
    raw_json = frames.regions["value_json"].iloc[rows].reset_index(drop=True)
    compact = regions.iloc[rows].reset_index(drop=True)
    compact["key"] = _codes(key[rows])
    compact["sid"] = regions["source_id"].to_numpy(np.int64, na_value=-1)[rows]
    preds = _items(compact, pred_mask[rows])
    anns = _items(compact, ann_mask[rows])
    pairs = _match_all(compact, preds, anns, min_iou)
    return _assemble(compact, raw_json, preds, anns, pairs, pred_info, ann_info)


def _match_all(regions: pd.DataFrame, preds: pd.DataFrame, anns: pd.DataFrame,
               min_iou: float) -> pd.DataFrame:  # fmt: skip
    """Rows ``pi, aj, how, iou, pg, ag`` (``pi``/``aj`` index ``preds``/``anns``, -1 for
    none; ``pg``/``ag`` number the (key, source) groups; ``how`` indexes ``_HOW``)."""
    preds["pg"] = _codes(preds["key"].to_numpy(np.int64), preds["sid"].to_numpy(np.int64))
    anns["ag"] = _codes(anns["key"].to_numpy(np.int64), anns["sid"].to_numpy(np.int64))
    groups = preds[["key", "pg"]].drop_duplicates().merge(
        anns[["key", "ag"]].drop_duplicates(), on="key")
    n_ag = max(int(anns["ag"].max()) + 1 if len(anns) else 1, 1)
    kind, geo, span_key = region_geometry(regions.iloc[np.concatenate(
        [preds["pos"].to_numpy(), anns["pos"].to_numpy()])])  # fmt: skip
    n_p = len(preds)
    preds["kind"], anns["kind"] = kind[:n_p], kind[n_p:]
    cand = preds[["key", "pg"]].reset_index(names="pi").merge(
        anns[["key", "ag"]].reset_index(names="aj"), on="key")
    pi, aj = cand["pi"].to_numpy(), cand["aj"].to_numpy()
    rid_p, rid_a = preds["rid"].to_numpy(object)[pi], anns["rid"].to_numpy(object)[aj]
    by_id = np.asarray((rid_p == rid_a) & (rid_p != None), dtype=bool)  # noqa: E711
    kp, ka = kind[pi], kind[n_p + aj]
    comparable = (kp == ka) & (kp != _NONE) & (span_key[pi] == span_key[n_p + aj])
    overlap = np.full(len(pi), np.nan)
    boxes = comparable & (kp == _BOX)
    overlap[boxes] = paired_box_iou(geo[pi[boxes]], geo[n_p + aj[boxes]])
    spans = comparable & (kp == _SPAN)
    overlap[spans] = paired_span_iou(geo[pi[spans], :2], geo[n_p + aj[spans], :2])
    by_iou = comparable & (overlap > 0) & (overlap >= min_iou)
    pg, ag = cand["pg"].to_numpy(), cand["ag"].to_numpy()
    # step 1 (ids, in result order), then step 2 (best overlap first), greedily
    first = np.flatnonzero(by_id)
    second = np.flatnonzero(by_iou)
    second = second[np.lexsort((aj[second], pi[second], -overlap[second]))]
    used_p: set[int] = set()
    used_a: set[int] = set()
    chosen: list[int] = []
    how: list[int] = []
    for stage, order in ((0, first), (1, second)):
        for c, p_key, a_key in zip(order.tolist(), (pi[order] * n_ag + ag[order]).tolist(),
                                   (aj[order] * (len(preds) + 1) + pg[order]).tolist(),
                                   strict=True):  # fmt: skip
            if p_key in used_p or a_key in used_a:
                continue
            used_p.add(p_key)
            used_a.add(a_key)
            chosen.append(c)
            how.append(stage)
    picked = np.asarray(chosen, np.int64)
    matched = pd.DataFrame({"pi": pi[picked], "aj": aj[picked], "how": np.asarray(how, np.int64),
                            "iou": overlap[picked], "pg": pg[picked], "ag": ag[picked]})
    # every item of every (prediction, annotation) pair: matched, by order, or unmatched
    side_p = groups[["pg", "ag"]].merge(preds[["pg"]].reset_index(names="pi"), on="pg")
    side_a = groups[["pg", "ag"]].merge(anns[["ag"]].reset_index(names="aj"), on="ag")
    side_p = side_p[~np.isin(side_p["pi"].to_numpy() * n_ag + side_p["ag"].to_numpy(),
                             matched["pi"].to_numpy() * n_ag + matched["ag"].to_numpy())]
    side_a = side_a[~np.isin(side_a["aj"].to_numpy() * (len(preds) + 1) + side_a["pg"].to_numpy(),
                             matched["aj"].to_numpy() * (len(preds) + 1)
                             + matched["pg"].to_numpy())]  # fmt: skip
    plain_p = side_p[preds["kind"].to_numpy()[side_p["pi"].to_numpy()] == _NONE].copy()
    plain_a = side_a[anns["kind"].to_numpy()[side_a["aj"].to_numpy()] == _NONE].copy()
    plain_p["rank"] = plain_p.groupby(["pg", "ag"]).cumcount()
    plain_a["rank"] = plain_a.groupby(["pg", "ag"]).cumcount()
    ordered = plain_p.merge(plain_a, on=["pg", "ag", "rank"])[["pi", "aj", "pg", "ag"]]
    ordered["how"], ordered["iou"] = 2, np.nan
    left_p = side_p[~np.isin(
        side_p["pi"].to_numpy() * n_ag + side_p["ag"].to_numpy(),
        ordered["pi"].to_numpy() * n_ag + ordered["ag"].to_numpy())]
    left_a = side_a[~np.isin(
        side_a["aj"].to_numpy() * (len(preds) + 1) + side_a["pg"].to_numpy(),
        ordered["aj"].to_numpy() * (len(preds) + 1) + ordered["pg"].to_numpy())]
    left_p = left_p.assign(aj=-1, how=3, iou=np.nan)
    left_a = left_a.assign(pi=-1, how=4, iou=np.nan)
    columns = ["pi", "aj", "how", "iou", "pg", "ag"]
    out: pd.DataFrame = pd.concat(
        [matched[columns], ordered[columns], left_p[columns], left_a[columns]], ignore_index=True)
    return out


def _take(frame: pd.DataFrame, index: NDArray[np.int64]) -> pd.DataFrame:
    """Rows of ``frame`` at ``index``, all missing where ``index`` is -1."""
    padded: pd.DataFrame = (
        pd.concat([frame, frame.iloc[:0].reindex([len(frame)])], ignore_index=True)
        if len(frame) else frame.reindex([0])
    )  # fmt: skip
    out: pd.DataFrame = padded.iloc[np.where(index < 0, len(padded) - 1, index)]
    result: pd.DataFrame = out.reset_index(drop=True)
    return result


_FRONT = ("task_id", "from_name", "prediction_id", "model_version", "prediction_score",
          "annotation_id", "completed_by_id", "completed_by_email", "ground_truth",
          "matched_by", "iou", "match")  # fmt: skip


def _side(regions: pd.DataFrame, raw_json: pd.Series, items: pd.DataFrame,
          index: NDArray[np.int64], prefix: str) -> tuple[pd.DataFrame, NDArray[Any]]:  # fmt: skip
    """The ``pred_*`` or ``ann_*`` columns at ``index`` into ``items``, and the sorted
    values joined (to compare the two sides)."""
    positions = items["pos"].to_numpy()
    sub = regions.iloc[positions].reset_index(drop=True)
    values = region_values(sub, raw_json.iloc[positions])
    table = pd.DataFrame({
        "region_id": sub["region_id"].astype("string"), "type": sub["type"].astype("string"),
        "value": pd.Series(values, dtype=object),
        "label": pd.Series([v[0] if v else None for v in values], dtype="string"),
        **{c: sub[c] for c in ("x", "y", "width", "height", "rotation")},
        "start": sub["start"], "end": sub["end"], "score": sub["score"],
    })  # fmt: skip
    joined = np.array([v[0] if len(v) == 1 else "\x1f".join(sorted(v)) for v in values]
                      + [None], dtype=object)  # fmt: skip
    out = _take(table, index)
    out.columns = [f"{prefix}_{c}" for c in out.columns]
    return out, joined[np.where(index < 0, len(values), index)]


def _assemble(regions: pd.DataFrame, raw_json: pd.Series, preds: pd.DataFrame,
              anns: pd.DataFrame,
              pairs: pd.DataFrame, pred_info: pd.DataFrame,
              ann_info: pd.DataFrame) -> pd.DataFrame:  # fmt: skip
    pi, aj = pairs["pi"].to_numpy(np.int64), pairs["aj"].to_numpy(np.int64)
    # each row's pair: a prediction (pg) and an annotation (ag) of one task and control
    pg_first = preds.drop_duplicates("pg").set_index("pg")["pos"]
    ag_first = anns.drop_duplicates("ag").set_index("ag")["pos"]
    pos_p = pg_first.reindex(pairs["pg"]).to_numpy()
    pos_a = ag_first.reindex(pairs["ag"]).to_numpy()
    pos_p = pos_p.astype(np.int64) if len(pairs) else np.zeros(0, np.int64)
    pos_a = pos_a.astype(np.int64) if len(pairs) else np.zeros(0, np.int64)
    sid = regions["sid"].to_numpy(np.int64)
    pid, aid = sid[pos_p], sid[pos_a]
    pred_side, pred_joined = _side(regions, raw_json, preds, pi, "pred")
    ann_side, ann_joined = _side(regions, raw_json, anns, aj, "ann")
    front = pd.DataFrame({
        "task_id": pd.array(regions["task_id"].to_numpy(np.int64)[pos_p], dtype="Int64"),
        "from_name": regions["from_name"].iloc[pos_p].astype("string").reset_index(drop=True),
        "prediction_id": pd.array(pid, dtype="Int64"),
    })
    pid_index = pd.Index(pid)
    aid_index = pd.Index(aid)
    front["model_version"] = _lookup(pred_info, "model_version", pid_index, "string")
    front["prediction_score"] = _lookup(pred_info, "score", pid_index, "Float64")
    front["annotation_id"] = pd.array(aid, dtype="Int64")
    front["completed_by_id"] = _lookup(ann_info, "completed_by_id", aid_index, "Int64")
    front["completed_by_email"] = _lookup(ann_info, "completed_by_email", aid_index, "string")
    front["ground_truth"] = _lookup(ann_info, "ground_truth", aid_index, "boolean")
    front["matched_by"] = pd.array(_HOW[pairs["how"].to_numpy(np.int64)], dtype="string")
    front["iou"] = pd.array(pairs["iou"].to_numpy(np.float64), dtype="Float64")
    front.loc[front["iou"].isna(), "iou"] = pd.NA
    front["match"] = (pi >= 0) & (aj >= 0) & (pred_joined == ann_joined)
    out = pd.concat([front, pred_side, ann_side], axis=1)
    how = pairs["how"].to_numpy()
    order = np.lexsort((
        np.where(pi >= 0, pi, aj), -np.nan_to_num(pairs["iou"].to_numpy(np.float64)), how,
        pairs["ag"].to_numpy(), pairs["pg"].to_numpy(),
    ))  # fmt: skip
    result: pd.DataFrame = out.iloc[order].reset_index(drop=True)
    return result


def _lookup(info: pd.DataFrame, column: str, ids: pd.Index, dtype: Any) -> Any:
    if column not in info.columns:
        return pd.Series([None] * len(ids), dtype=object).astype(dtype).array
    return info[column].reindex(ids).astype(dtype).array


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

    Args:
        frames: the tables of an export.
        from_name: the control to lay out.
        by: ``"task"`` or ``"region"``.
        annotator: ``"email"`` or ``"id"`` for the column names (see above).

    Returns:
        The pivot, indexed by ``task_id`` (or ``task_id, region_id``).

    Raises:
        ConfigurationError: ``from_name`` is neither a ``from_name`` of the regions nor a
            control of the label config, or ``by`` / ``annotator`` is not a known choice.
    """
    if by not in ("task", "region"):
        raise ConfigurationError(f"by must be 'task' or 'region', not {by!r}")
    require_from_name(frames, from_name)
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
