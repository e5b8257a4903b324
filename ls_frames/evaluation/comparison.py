"""``compare_predictions``: each prediction's results next to the annotations' they should
match, for all tasks at once (numpy arrays and one greedy pass, no loop over tasks)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from ls_frames.errors import ConfigurationError
from ls_frames.evaluation.reference import Reference, reference_ids, usable_annotations
from ls_frames.evaluation.results import (
    BOX,
    NONE,
    SPAN,
    region_geometry,
    region_values,
    require_from_name,
)
from ls_frames.evaluation.truth import resolve_reference
from ls_frames.geometry.overlap import paired_box_iou, paired_span_iou
from ls_frames.tables.frames import Frames

__all__ = ["compare_predictions"]


def _codes(*columns: NDArray[np.int64]) -> NDArray[np.int64]:
    """Dense codes (0, 1, ... in order of appearance) of the rows' tuples of integers."""
    code = np.zeros(len(columns[0]), np.int64)
    for column in columns:
        dense, uniques = pd.factorize(column)
        code, _ = pd.factorize(code * max(len(uniques), 1) + dense)
    return np.asarray(code, np.int64)


_USED = (
    "task_id",
    "source",
    "source_id",
    "region_id",
    "from_name",
    "type",
    "labels",
    "choices",
    "taxonomy",
    "text",
    "rating",
    "number",
    "datetime",
    "x",
    "y",
    "width",
    "height",
    "rotation",
    "points",
    "start",
    "end",
    "start_text",
    "end_text",
    "start_offset",
    "end_offset",
    "original_width",
    "original_height",
    "score",
)
_SIDE_COLUMNS = (
    "region_id",
    "type",
    "value",
    "label",
    "x",
    "y",
    "width",
    "height",
    "rotation",
    "start",
    "end",
    "score",
)
_HOW = np.array(["region_id", "iou", "order", "unmatched", "unmatched"], dtype=object)


def _items(regions: pd.DataFrame, mask: NDArray[np.bool_]) -> pd.DataFrame:
    rows = np.flatnonzero(mask)
    rid = regions["region_id"].iloc[rows]
    items: pd.DataFrame = pd.DataFrame(
        {
            "pos": rows,
            "key": regions["key"].to_numpy()[rows],
            "sid": regions["sid"].to_numpy()[rows],
            "rid": rid.astype(object).where(rid.notna(), None).to_numpy(object),
        }
    )
    return items


def compare_predictions(
    frames: Frames,
    control: str | None = None,
    *,
    min_iou: float = 0.5,
    reference: Reference = "ground_truth",
    ground_truth_only: bool | None = None,
) -> pd.DataFrame:
    """Predictions next to annotations, one row per matched (or unmatched) result.

    For every task holding both, each prediction is compared with the task's reference
    annotation (by default its ground-truth annotation, else its latest; see
    ``reference``), control by control (``from_name``; just ``control`` when given).
    Within one task, control, prediction and annotation, results are matched in three steps:

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

    Parameters
    ----------
    frames
        The tables of an export (:func:`read_export`, ``load_project``,
        :func:`read_parquet`).
    control
        A ``from_name`` to compare alone (all controls when ``None``).
    min_iou
        The least overlap for a match by geometry.
    reference
        The annotation each prediction is compared with: ``"ground_truth"`` (the default:
        the ground-truth annotation, else the latest), ``"latest"``, or one annotator by
        email or user id (their latest annotation of the task);
        :func:`~ls_frames.reference_annotations` shows the annotations chosen.
        ``"consensus"`` is no annotation and is refused here (:func:`evaluate` and
        :func:`confusion` take it).
    ground_truth_only
        Deprecated: use ``reference``. ``True`` compares only with ground-truth
        annotations (tasks without one are left out).

    Returns
    -------
    pandas.DataFrame
        Columns ``task_id, from_name, prediction_id, model_version, prediction_score,
        annotation_id, completed_by_id, completed_by_email, ground_truth, matched_by``
        (``region_id`` / ``iou`` / ``order`` / ``unmatched``), ``iou`` (the overlap of the
        pair, for boxes and spans), ``match`` (both sides present with the same values,
        order ignored), then ``pred_*`` and ``ann_*``: ``region_id, type, value`` (list of
        strings: labels, choices, taxonomy paths joined with ``" / "``, text, rating,
        number or datetime), ``label`` (its first element), ``x, y, width, height,
        rotation, start, end, score``. Sorted by task, control, prediction, annotation.

    Raises
    ------
    ConfigurationError
        ``control`` is neither a ``from_name`` of the regions nor a control of the label
        config, an unknown ``reference`` (or an annotator nobody is), or ``"consensus"``.
    """
    if control is not None:
        require_from_name(frames, control)
    reference, strict = resolve_reference(
        frames, reference, ground_truth_only, "compare_predictions"
    )
    if reference == "consensus":
        raise ConfigurationError(
            "compare_predictions compares with annotations; reference='consensus' is none "
            "(evaluate and confusion take it)"
        )
    regions = frames.regions
    regions = regions[[c for c in _USED if c in regions.columns]]
    annotations = frames.annotations
    predictions = frames.predictions
    chosen = reference_ids(annotations, reference, strict=strict)
    usable = usable_annotations(annotations)
    usable = usable[usable["annotation_id"].isin(chosen.to_numpy()).to_numpy(bool)]
    ann_info = usable.drop_duplicates("annotation_id").set_index("annotation_id")
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


def _match_all(
    regions: pd.DataFrame, preds: pd.DataFrame, anns: pd.DataFrame, min_iou: float
) -> pd.DataFrame:
    """Rows ``pi, aj, how, iou, pg, ag`` (``pi``/``aj`` index ``preds``/``anns``, -1 for
    none; ``pg``/``ag`` number the (key, source) groups; ``how`` indexes ``_HOW``)."""
    preds["pg"] = _codes(preds["key"].to_numpy(np.int64), preds["sid"].to_numpy(np.int64))
    anns["ag"] = _codes(anns["key"].to_numpy(np.int64), anns["sid"].to_numpy(np.int64))
    n_ag = max(int(anns["ag"].max()) + 1 if len(anns) else 1, 1)
    cand = _candidates(regions, preds, anns, min_iou)
    matched = _greedy(cand, n_ag, len(preds))
    groups = (
        preds[["key", "pg"]]
        .drop_duplicates()
        .merge(anns[["key", "ag"]].drop_duplicates(), on="key")
    )
    ordered, left_p, left_a = _rest(groups, preds, anns, matched, n_ag)
    columns = ["pi", "aj", "how", "iou", "pg", "ag"]
    out: pd.DataFrame = pd.concat(
        [matched[columns], ordered[columns], left_p[columns], left_a[columns]], ignore_index=True
    )
    return out


def _candidates(
    regions: pd.DataFrame, preds: pd.DataFrame, anns: pd.DataFrame, min_iou: float
) -> pd.DataFrame:
    """Every (prediction item, annotation item) pair of one key: ``pi, aj, pg, ag``,
    ``overlap`` (NaN without comparable geometry), ``by_id`` and ``by_iou`` (may match
    in step 1 or 2). Sets ``preds["kind"]`` and ``anns["kind"]``."""
    kind, geo, span_key = region_geometry(
        regions.iloc[np.concatenate([preds["pos"].to_numpy(), anns["pos"].to_numpy()])]
    )
    n_p = len(preds)
    preds["kind"], anns["kind"] = kind[:n_p], kind[n_p:]
    cand: pd.DataFrame = (
        preds[["key", "pg"]]
        .reset_index(names="pi")
        .merge(anns[["key", "ag"]].reset_index(names="aj"), on="key")
    )
    pi, aj = cand["pi"].to_numpy(), cand["aj"].to_numpy()
    rid_p, rid_a = preds["rid"].to_numpy(object)[pi], anns["rid"].to_numpy(object)[aj]
    cand["by_id"] = np.asarray((rid_p == rid_a) & (rid_p != None), dtype=bool)  # noqa: E711
    kp, ka = kind[pi], kind[n_p + aj]
    comparable = (kp == ka) & (kp != NONE) & (span_key[pi] == span_key[n_p + aj])
    overlap = np.full(len(pi), np.nan)
    boxes = comparable & (kp == BOX)
    overlap[boxes] = paired_box_iou(geo[pi[boxes]], geo[n_p + aj[boxes]])
    spans = comparable & (kp == SPAN)
    overlap[spans] = paired_span_iou(geo[pi[spans], :2], geo[n_p + aj[spans], :2])
    cand["overlap"] = overlap
    cand["by_iou"] = comparable & (overlap > 0) & (overlap >= min_iou)
    return cand


def _greedy(cand: pd.DataFrame, n_ag: int, n_preds: int) -> pd.DataFrame:
    """Steps 1 (same region id, in result order) and 2 (best overlap first), greedily:
    an item is matched at most once per (prediction, annotation) pair. Rows ``pi, aj,
    how, iou, pg, ag``."""
    pi, aj = cand["pi"].to_numpy(), cand["aj"].to_numpy()
    pg, ag = cand["pg"].to_numpy(), cand["ag"].to_numpy()
    overlap = cand["overlap"].to_numpy(np.float64)
    first = np.flatnonzero(cand["by_id"].to_numpy(bool))
    second = np.flatnonzero(cand["by_iou"].to_numpy(bool))
    second = second[np.lexsort((aj[second], pi[second], -overlap[second]))]
    used_p: set[int] = set()
    used_a: set[int] = set()
    chosen: list[int] = []
    how: list[int] = []
    for stage, order in ((0, first), (1, second)):
        for c, p_key, a_key in zip(
            order.tolist(),
            (pi[order] * n_ag + ag[order]).tolist(),
            (aj[order] * (n_preds + 1) + pg[order]).tolist(),
            strict=True,
        ):
            if p_key in used_p or a_key in used_a:
                continue
            used_p.add(p_key)
            used_a.add(a_key)
            chosen.append(c)
            how.append(stage)
    picked = np.asarray(chosen, np.int64)
    matched: pd.DataFrame = pd.DataFrame(
        {
            "pi": pi[picked],
            "aj": aj[picked],
            "how": np.asarray(how, np.int64),
            "iou": overlap[picked],
            "pg": pg[picked],
            "ag": ag[picked],
        }
    )
    return matched


def _rest(
    groups: pd.DataFrame,
    preds: pd.DataFrame,
    anns: pd.DataFrame,
    matched: pd.DataFrame,
    n_ag: int,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """What steps 1 and 2 left, per (prediction, annotation) pair: results without
    geometry paired in result order (step 3), then the unmatched items of each side."""
    n_p = len(preds) + 1
    side_p = groups[["pg", "ag"]].merge(preds[["pg"]].reset_index(names="pi"), on="pg")
    side_a = groups[["pg", "ag"]].merge(anns[["ag"]].reset_index(names="aj"), on="ag")
    side_p = side_p[~_pair_in(side_p, matched, "pi", "ag", n_ag)]
    side_a = side_a[~_pair_in(side_a, matched, "aj", "pg", n_p)]
    plain_p = side_p[preds["kind"].to_numpy()[side_p["pi"].to_numpy()] == NONE].copy()
    plain_a = side_a[anns["kind"].to_numpy()[side_a["aj"].to_numpy()] == NONE].copy()
    plain_p["rank"] = plain_p.groupby(["pg", "ag"]).cumcount()
    plain_a["rank"] = plain_a.groupby(["pg", "ag"]).cumcount()
    ordered = plain_p.merge(plain_a, on=["pg", "ag", "rank"])[["pi", "aj", "pg", "ag"]]
    ordered["how"], ordered["iou"] = 2, np.nan
    left_p = side_p[~_pair_in(side_p, ordered, "pi", "ag", n_ag)]
    left_a = side_a[~_pair_in(side_a, ordered, "aj", "pg", n_p)]
    left_p = left_p.assign(aj=-1, how=3, iou=np.nan)
    left_a = left_a.assign(pi=-1, how=4, iou=np.nan)
    return ordered, left_p, left_a


def _pair_in(
    rows: pd.DataFrame, taken: pd.DataFrame, item: str, group: str, size: int
) -> NDArray[np.bool_]:
    """Whether each row's ``(item, group)`` is one of ``taken``'s."""
    key = rows[item].to_numpy() * size + rows[group].to_numpy()
    return np.isin(key, taken[item].to_numpy() * size + taken[group].to_numpy())


def _take(frame: pd.DataFrame, index: NDArray[np.int64]) -> pd.DataFrame:
    """Rows of ``frame`` at ``index``, all missing where ``index`` is -1."""
    padded: pd.DataFrame = (
        pd.concat([frame, frame.iloc[:0].reindex([len(frame)])], ignore_index=True)
        if len(frame)
        else frame.reindex([0])
    )
    out: pd.DataFrame = padded.iloc[np.where(index < 0, len(padded) - 1, index)]
    result: pd.DataFrame = out.reset_index(drop=True)
    return result


_FRONT = (
    "task_id",
    "from_name",
    "prediction_id",
    "model_version",
    "prediction_score",
    "annotation_id",
    "completed_by_id",
    "completed_by_email",
    "ground_truth",
    "matched_by",
    "iou",
    "match",
)


def _side(
    regions: pd.DataFrame,
    raw_json: pd.Series,
    items: pd.DataFrame,
    index: NDArray[np.int64],
    prefix: str,
) -> tuple[pd.DataFrame, NDArray[Any]]:
    """The ``pred_*`` or ``ann_*`` columns at ``index`` into ``items``, and the sorted
    values joined (to compare the two sides)."""
    positions = items["pos"].to_numpy()
    sub = regions.iloc[positions].reset_index(drop=True)
    values = region_values(sub, raw_json.iloc[positions])
    table = pd.DataFrame(
        {
            "region_id": sub["region_id"].astype("string"),
            "type": sub["type"].astype("string"),
            "value": pd.Series(values, dtype=object),
            "label": pd.Series([v[0] if v else None for v in values], dtype="string"),
            **{c: sub[c] for c in ("x", "y", "width", "height", "rotation")},
            "start": sub["start"],
            "end": sub["end"],
            "score": sub["score"],
        }
    )
    joined = np.array(
        [v[0] if len(v) == 1 else "\x1f".join(sorted(v)) for v in values] + [None], dtype=object
    )
    out = _take(table, index)
    out.columns = [f"{prefix}_{c}" for c in out.columns]
    return out, joined[np.where(index < 0, len(values), index)]


def _assemble(
    regions: pd.DataFrame,
    raw_json: pd.Series,
    preds: pd.DataFrame,
    anns: pd.DataFrame,
    pairs: pd.DataFrame,
    pred_info: pd.DataFrame,
    ann_info: pd.DataFrame,
) -> pd.DataFrame:
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
    front = pd.DataFrame(
        {
            "task_id": pd.array(regions["task_id"].to_numpy(np.int64)[pos_p], dtype="Int64"),
            "from_name": regions["from_name"].iloc[pos_p].astype("string").reset_index(drop=True),
            "prediction_id": pd.array(pid, dtype="Int64"),
        }
    )
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
    order = np.lexsort(
        (
            np.where(pi >= 0, pi, aj),
            -np.nan_to_num(pairs["iou"].to_numpy(np.float64)),
            how,
            pairs["ag"].to_numpy(),
            pairs["pg"].to_numpy(),
        )
    )
    result: pd.DataFrame = out.iloc[order].reset_index(drop=True)
    return result


def _lookup(info: pd.DataFrame, column: str, ids: pd.Index, dtype: Any) -> Any:
    if column not in info.columns:
        return pd.Series([None] * len(ids), dtype=object).astype(dtype).array
    return info[column].reindex(ids).astype(dtype).array
