"""What happened to each region: true positive, false positive, missed, loosely placed.

:func:`region_outcomes` gives one row per predicted region and per reference region of
one control, matched as :func:`~ls_frames.evaluate` matches them (per task and label, by
descending score, IoU at or above the threshold), plus one row per task where annotators
disagree. Its counts at a score threshold of 0 are ``evaluate``'s ``tp``, ``fp`` and
``fn`` at the same IoU threshold; :func:`outcomes_at` and :func:`precision_recall` move
the score threshold without matching again (matching by descending score means that
dropping the detections under a threshold leaves the matches of the others as they are).
The review gallery (:class:`~ls_frames.ReviewPanel`) is drawn from this table.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from ls_frames.errors import ConfigurationError
from ls_frames.evaluation.matching import detection_scores, greedy_pairs, region_labels
from ls_frames.evaluation.reference import Reference
from ls_frames.evaluation.results import region_values, require_from_name
from ls_frames.evaluation.scores import Compared, compared_rows
from ls_frames.evaluation.truth import resolve_reference
from ls_frames.geometry.overlap import paired_box_iou, paired_span_iou
from ls_frames.tables.frames import Frames

__all__ = [
    "DISAGREE",
    "FALSE_NEGATIVE",
    "FALSE_POSITIVE",
    "OUTCOME_COLUMNS",
    "TRUE_POSITIVE",
    "outcomes_at",
    "precision_recall",
    "region_outcomes",
]

TRUE_POSITIVE, FALSE_POSITIVE, FALSE_NEGATIVE, DISAGREE = "tp", "fp", "fn", "disagree"

#: the columns of :func:`region_outcomes`' table
OUTCOME_COLUMNS = (
    "task_id",
    "model_version",
    "label",
    "predicted_label",
    "outcome",
    "score",
    "iou",
    "prediction_id",
    "pred_region_id",
    "annotation_id",
    "ann_region_id",
    "annotators",
    "agreement",
    "tie",
)


def _annotator_names(frames: Frames) -> dict[int, str]:
    """annotation id -> the annotator's email, else ``user <id>``."""
    ann = frames.annotations
    emails = ann["completed_by_email"].astype(object).to_numpy(object)
    users = ann["completed_by_id"].astype(object).to_numpy(object)
    out: dict[int, str] = {}
    for aid, email, user in zip(
        ann["annotation_id"].to_numpy(np.int64), emails, users, strict=True
    ):
        if isinstance(email, str) and email:
            out[int(aid)] = email
        elif user is not None and user is not pd.NA:
            out[int(aid)] = f"user {user}"
    return out


def _best_overlap(seen: Compared, gt: pd.DataFrame, dt: pd.DataFrame) -> NDArray[np.float64]:
    """Each predicted row's highest IoU with a reference row of its task and label (NaN
    when there is none)."""
    left = pd.DataFrame({"task": dt["task_id"].to_numpy(np.int64), "label": region_labels(dt)})
    right = pd.DataFrame({"task": gt["task_id"].to_numpy(np.int64), "label": region_labels(gt)})
    left["d"], right["g"] = np.arange(len(dt)), np.arange(len(gt))
    cand = left.merge(right, on=["task", "label"])
    best = np.full(len(dt), np.nan)
    if not len(cand):
        return best
    a = dt.index.to_numpy()[cand["d"].to_numpy()]
    b = gt.index.to_numpy()[cand["g"].to_numpy()]
    if seen.kind == "span":
        overlap = paired_span_iou(seen.geo[a, :2], seen.geo[b, :2])
        overlap = np.where(seen.span_key[a] == seen.span_key[b], overlap, 0.0)
    else:
        overlap = paired_box_iou(seen.geo[a], seen.geo[b])
    per = pd.Series(overlap).groupby(cand["d"].to_numpy()).max()
    best[per.index.to_numpy(np.int64)] = per.to_numpy(np.float64)
    return best


def _frame(columns: dict[str, Any], names: list[str] | None = None) -> pd.DataFrame:
    frame: pd.DataFrame = pd.DataFrame(columns, columns=names)
    return frame


def _region_rows(
    seen: Compared,
    version: str,
    preds: pd.DataFrame,
    iou_threshold: float,
    names: dict[int, str],
) -> pd.DataFrame:
    """One model version's rows: every predicted region (tp or fp) and every reference
    region no prediction matched (fn)."""
    _, gt, dt = seen.version(preds)
    score = detection_scores(dt, preds.set_index("prediction_id")["score"])
    d, g, overlap = greedy_pairs(
        gt, dt, score, seen.kind, seen.geo, seen.span_key, iou_threshold, same_label=True
    )
    best = _best_overlap(seen, gt, dt)
    best[d] = overlap
    partner = np.full(len(dt), -1, np.int64)
    partner[d] = g
    g_label, d_label = region_labels(gt), region_labels(dt)
    g_aid = gt["source_id"].to_numpy(np.int64)
    g_rid = gt["region_id"].astype(object).to_numpy(object)
    task_ref = dict(zip(gt["task_id"].to_numpy(np.int64).tolist(), g_aid.tolist(), strict=True))
    has = partner >= 0
    safe = np.where(has, partner, 0)
    d_task = dt["task_id"].to_numpy(np.int64)
    ref_aid = np.array(
        [
            g_aid[p] if h else task_ref.get(int(t), -1)
            for p, h, t in zip(safe, has, d_task, strict=True)
        ],
        dtype=np.int64,
    )
    predicted = _frame(
        {
            "task_id": d_task,
            "model_version": version,
            "label": d_label,
            "predicted_label": d_label,
            "outcome": np.where(has, TRUE_POSITIVE, FALSE_POSITIVE),
            "score": score,
            "iou": best,
            "prediction_id": dt["source_id"].to_numpy(np.int64),
            "pred_region_id": dt["region_id"].astype(object).to_numpy(object),
            "annotation_id": ref_aid,
            "ann_region_id": [g_rid[p] if h else None for p, h in zip(safe, has, strict=True)],
        }
    )
    missed = np.setdiff1d(np.arange(len(gt)), g)
    task_pred = dict(
        zip(d_task.tolist(), dt["source_id"].to_numpy(np.int64).tolist(), strict=True)
    ) | {int(t): int(p) for p, t in zip(preds["prediction_id"], preds["task_id"], strict=True)}
    m_task = gt["task_id"].to_numpy(np.int64)[missed]
    missing = _frame(
        {
            "task_id": m_task,
            "model_version": version,
            "label": g_label[missed],
            "predicted_label": None,
            "outcome": FALSE_NEGATIVE,
            "score": np.nan,
            "iou": np.nan,
            "prediction_id": [task_pred.get(int(t), -1) for t in m_task],
            "pred_region_id": None,
            "annotation_id": g_aid[missed],
            "ann_region_id": g_rid[missed],
        }
    )
    out = pd.concat([predicted, missing], ignore_index=True)
    out["annotators"] = [(names[a],) if a in names else () for a in out["annotation_id"].tolist()]
    return out


def _choice_rows(
    seen: Compared, version: str, preds: pd.DataFrame, names: dict[int, str]
) -> pd.DataFrame:
    """One model version's rows of a choice control: per task and choice, tp (both
    answer it), fp (only the prediction) or fn (only the reference)."""
    tasks, gt, dt = seen.version(preds)
    ref: dict[int, set[str]] = {}
    ref_aid: dict[int, int] = {}
    for task, aid, values in zip(
        gt["task_id"].to_numpy(np.int64),
        gt["source_id"].to_numpy(np.int64),
        region_values(gt),
        strict=True,
    ):
        ref.setdefault(int(task), set()).update(values)
        ref_aid[int(task)] = int(aid)
    pred: dict[int, set[str]] = {}
    for task, values in zip(dt["task_id"].to_numpy(np.int64), region_values(dt), strict=True):
        pred.setdefault(int(task), set()).update(values)
    info = preds.drop_duplicates("task_id").set_index("task_id")
    rows = []
    for task in (int(t) for t in tasks):
        r, p = ref.get(task, set()), pred.get(task, set())
        for label in sorted(r | p):
            outcome = (
                TRUE_POSITIVE
                if label in r and label in p
                else FALSE_NEGATIVE
                if label in r
                else FALSE_POSITIVE
            )
            aid = ref_aid.get(task, -1)
            rows.append(
                {
                    "task_id": task,
                    "model_version": version,
                    "label": label,
                    "predicted_label": label if label in p else None,
                    "outcome": outcome,
                    "score": float(info.at[task, "score"]) if task in info.index else np.nan,
                    "iou": np.nan,
                    "prediction_id": int(info.at[task, "prediction_id"])
                    if task in info.index
                    else -1,
                    "pred_region_id": None,
                    "annotation_id": aid,
                    "ann_region_id": None,
                    "annotators": (names[aid],) if aid in names else (),
                }
            )
    return _frame(rows, list(OUTCOME_COLUMNS[:-2]))  # type: ignore[arg-type]


def _disagreement_rows(frames: Frames, from_name: str, names: dict[int, str]) -> pd.DataFrame:
    """One row per task where annotators agree less than fully (``consensus``)."""
    from ls_frames.evaluation.agreement import consensus

    ann = frames.annotations
    usable = ann[~ann["was_cancelled"].fillna(False).astype(bool).to_numpy(bool)]
    if not usable["task_id"].duplicated().any():  # one annotation a task: nobody to disagree
        return _frame({}, list(OUTCOME_COLUMNS))
    try:
        table = consensus(frames, from_name)
    except ConfigurationError:
        return _frame({}, list(OUTCOME_COLUMNS))
    if "task_id" not in table.columns:
        table = table.reset_index()
    table = table[table["annotators"] >= 2]
    table = table.assign(tie=table["tie"].fillna(False).astype(bool)) if "tie" in table else table
    grouped = table.groupby("task_id")
    per_task = grouped["agreement"].min().astype("float64")
    tied = grouped["tie"].any() if "tie" in table else per_task < 0
    split = (per_task < 1.0) | tied.reindex(per_task.index, fill_value=False)
    per_task = per_task[split.to_numpy(bool)]
    who = usable.groupby("task_id")["annotation_id"].agg(list)
    rows = [
        {
            "task_id": int(task),
            "model_version": None,
            "label": None,
            "predicted_label": None,
            "outcome": DISAGREE,
            "score": np.nan,
            "iou": np.nan,
            "prediction_id": -1,
            "pred_region_id": None,
            "annotation_id": -1,
            "ann_region_id": None,
            "annotators": tuple(dict.fromkeys(names[a] for a in who.get(task, []) if a in names)),
            "agreement": float(value),
            "tie": bool(tied.get(task, False)),
        }
        for task, value in per_task.items()
    ]
    return _frame(rows, list(OUTCOME_COLUMNS))  # type: ignore[arg-type]


def region_outcomes(
    frames: Frames,
    from_name: str,
    *,
    iou_threshold: float = 0.5,
    reference: Reference = "ground_truth",
    disagreement: bool = True,
) -> pd.DataFrame:
    """What happened to each predicted and each reference region of one control.

    Regions are matched as :func:`~ls_frames.evaluate` matches them: per task, model
    version and label, predicted regions by descending score each take the free reference
    region of highest IoU at or above ``iou_threshold``. Choices are compared per task,
    choice by choice.

    Parameters
    ----------
    frames
        The tables of an export, with predictions.
    from_name
        The control to look at (rectangles, polygons, spans or choices).
    iou_threshold
        The IoU of a match.
    reference
        What each task is judged by, as in :func:`~ls_frames.evaluate`.
    disagreement
        Add a row per task where annotators disagree (:func:`~ls_frames.consensus`'
        agreement under 1, or tied labels, among two or more annotators).

    Returns
    -------
    pandas.DataFrame
        One row per outcome (:data:`OUTCOME_COLUMNS`): ``task_id``, ``model_version``,
        ``label`` (the predicted label, for a missed region the reference's),
        ``predicted_label``, ``outcome`` (``"tp"``, ``"fp"``, ``"fn"``, ``"disagree"``),
        ``score`` (the region's, else its prediction's), ``iou`` (of the match; for a false
        positive its highest IoU with a reference region of its label), ``prediction_id``,
        ``pred_region_id``, ``annotation_id`` (the reference annotation; -1 for none),
        ``ann_region_id``, ``annotators`` (tuple of the reference's annotator, every
        annotator of the task for ``"disagree"``), ``agreement`` and ``tie``
        (``"disagree"`` rows: consensus' least agreement over the task's regions, and
        whether the annotators' labels tie, as when two annotators draw the same box with
        two labels).
        Counted at a score threshold of 0, the ``tp``, ``fp`` and ``fn`` rows of a model
        version are :func:`~ls_frames.evaluate`'s counts at ``iou_thresholds=[iou_threshold]``.

    Raises
    ------
    ConfigurationError
        What :func:`~ls_frames.evaluate` refuses.
    """
    require_from_name(frames, from_name)
    if not 0 < iou_threshold <= 1:
        raise ConfigurationError(f"iou_threshold must be in (0, 1], not {iou_threshold!r}")
    reference, strict = resolve_reference(frames, reference, None, "region_outcomes")
    seen = compared_rows(frames, from_name, reference, strict=strict)
    names = _annotator_names(frames)
    parts = []
    for version, preds in seen.predictions.groupby("model_version", sort=True):
        if seen.kind == "choice":
            parts.append(_choice_rows(seen, str(version), preds, names))
        else:
            parts.append(_region_rows(seen, str(version), preds, iou_threshold, names))
    if disagreement:
        parts.append(_disagreement_rows(frames, from_name, names))
    parts = [p for p in parts if len(p)]
    out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    return _typed(out)


def _typed(out: pd.DataFrame) -> pd.DataFrame:
    out = out.reindex(columns=list(OUTCOME_COLUMNS))
    for column in ("task_id", "prediction_id", "annotation_id"):
        out[column] = out[column].astype("float64").fillna(-1).astype("int64")
    for column in ("model_version", "label", "predicted_label", "outcome"):
        out[column] = out[column].astype("string")
    for column in ("score", "iou", "agreement"):
        out[column] = out[column].astype("float64")
    out["tie"] = out["tie"].astype(object).eq(True).astype(bool)
    out["annotators"] = [a if isinstance(a, tuple) else () for a in out["annotators"]]
    typed: pd.DataFrame = out.sort_values(
        ["task_id", "model_version", "outcome"], kind="stable"
    ).reset_index(drop=True)
    return typed


def _check_outcomes(outcomes: Any) -> None:
    missing = (
        set(OUTCOME_COLUMNS) - set(map(str, outcomes.columns))
        if isinstance(outcomes, pd.DataFrame)
        else set(OUTCOME_COLUMNS)
    )
    if missing:
        raise ConfigurationError(
            f"outcomes must be region_outcomes' table (missing: {', '.join(sorted(missing))})"
        )


def outcomes_at(outcomes: pd.DataFrame, threshold: float) -> pd.DataFrame:
    """``outcomes`` with predictions scoring under ``threshold`` left out: their false
    positives go, their true positives become misses (``"fn"``) of the reference region.
    A region without a score counts as 0."""
    _check_outcomes(outcomes)
    score = outcomes["score"].to_numpy(np.float64)
    kind = outcomes["outcome"].astype(object).to_numpy(object)
    under = np.nan_to_num(score, nan=0.0) < threshold
    drop = under & (kind == FALSE_POSITIVE)
    out = outcomes[~drop].copy()
    missed = (under & (kind == TRUE_POSITIVE))[~drop]
    if missed.any():
        out.loc[missed, "outcome"] = FALSE_NEGATIVE
    moved: pd.DataFrame = out
    return moved


def precision_recall(outcomes: pd.DataFrame, threshold: float = 0.0) -> dict[str, Any]:
    """``tp, fp, fn, precision, recall, f1`` of ``outcomes``' region rows at a score
    threshold (NaN where undefined)."""
    from ls_frames.evaluation.matching import label_counts

    kind = outcomes_at(outcomes, threshold)["outcome"].astype(object)
    return label_counts(
        int((kind == TRUE_POSITIVE).sum()),
        int((kind == FALSE_POSITIVE).sum()),
        int((kind == FALSE_NEGATIVE).sum()),
    )
