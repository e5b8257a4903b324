"""What the review gallery shows, without widgets: the rows a choice of filters keeps, in
the order picked, page by page, and the cards' HTML.

The rows are :func:`~ls_frames.evaluation.outcomes.region_outcomes`' table (one per
predicted or reference region, and one per task where annotators disagree); the
threshold moves with :func:`~ls_frames.evaluation.outcomes.outcomes_at`.
"""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ls_frames.evaluation.outcomes import (
    DISAGREE,
    FALSE_NEGATIVE,
    FALSE_POSITIVE,
    TRUE_POSITIVE,
    outcomes_at,
    precision_recall,
)

__all__ = [
    "ANY",
    "LOW_IOU",
    "OUTCOMES",
    "SORTS",
    "Choice",
    "card_html",
    "grid_html",
    "image_uri",
    "metrics",
    "metrics_html",
    "page_of",
    "select",
    "task_link",
]

#: a filter's value that keeps everything
ANY = ""
#: the outcome filter's value for predicted regions placed loosely
LOW_IOU = "low_iou"
#: outcome filter values and what the gallery calls them
OUTCOMES: dict[str, str] = {
    TRUE_POSITIVE: "true positive",
    FALSE_POSITIVE: "false positive",
    FALSE_NEGATIVE: "false negative",
    LOW_IOU: "low IoU",
    DISAGREE: "annotators disagree",
}
_COLOURS = {
    TRUE_POSITIVE: "#2e7d32",
    FALSE_POSITIVE: "#c62828",
    FALSE_NEGATIVE: "#ef6c00",
    DISAGREE: "#6a1b9a",
}
#: sort orders: name -> (columns, ascending)
SORTS: dict[str, tuple[tuple[str, ...], tuple[bool, ...]]] = {
    "score, highest first": (("score", "task_id"), (False, True)),
    "score, lowest first": (("score", "task_id"), (True, True)),
    "IoU, lowest first": (("iou", "task_id"), (True, True)),
    "task id": (("task_id", "model_version"), (True, True)),
    "label": (("label", "task_id"), (True, True)),
}


@dataclass(frozen=True)
class Choice:
    """The gallery's filters, threshold and sort order (``ANY``: no filter)."""

    label: str = ANY
    annotator: str = ANY
    model_version: str = ANY
    outcome: str = ANY
    threshold: float = 0.0
    low_iou: float = 0.75
    sort: str = "score, highest first"


def _scoped(outcomes: pd.DataFrame, choice: Choice) -> pd.DataFrame:
    """The rows the label, annotator and model version filters keep (rows where
    annotators disagree belong to no label nor model version and stay)."""
    keep = np.ones(len(outcomes), bool)
    loose = (outcomes["outcome"].astype(object) == DISAGREE).to_numpy(bool)
    if choice.label != ANY:
        keep &= loose | (outcomes["label"].astype(object) == choice.label).to_numpy(bool)
    if choice.model_version != ANY:
        same = outcomes["model_version"].astype(object) == choice.model_version
        keep &= loose | same.to_numpy(bool)
    if choice.annotator != ANY:
        keep &= np.fromiter(
            (choice.annotator in names for names in outcomes["annotators"]), bool, len(outcomes)
        )
    scoped: pd.DataFrame = outcomes[keep]
    return scoped


def select(outcomes: pd.DataFrame, choice: Choice) -> pd.DataFrame:
    """The rows ``choice`` keeps at its score threshold, in its sort order.

    ``outcome`` ``"low_iou"`` keeps predicted regions (true or false positives) whose IoU
    with a reference region of their label is above 0 and under ``choice.low_iou``."""
    rows = outcomes_at(_scoped(outcomes, choice), choice.threshold)
    kind = rows["outcome"].astype(object)
    if choice.outcome == LOW_IOU:
        iou = rows["iou"].to_numpy(np.float64)
        predicted = kind.isin([TRUE_POSITIVE, FALSE_POSITIVE]).to_numpy(bool)
        rows = rows[predicted & (iou > 0) & (iou < choice.low_iou)]
    elif choice.outcome != ANY:
        rows = rows[(kind == choice.outcome).to_numpy(bool)]
    columns, ascending = SORTS[choice.sort]
    ordered: pd.DataFrame = rows.sort_values(
        list(columns), ascending=list(ascending), kind="stable", na_position="last"
    )
    return ordered


def metrics(outcomes: pd.DataFrame, choice: Choice) -> pd.DataFrame:
    """``model_version, precision, recall, f1, tp, fp, fn`` at the threshold, per model
    version, over the rows the label, annotator and model version filters keep."""
    rows = _scoped(outcomes, choice)
    rows = rows[(rows["outcome"].astype(object) != DISAGREE).to_numpy(bool)]
    table = [
        {"model_version": str(version), **precision_recall(part, choice.threshold)}
        for version, part in rows.groupby("model_version", sort=True)
    ]
    columns = ["model_version", "precision", "recall", "f1", "tp", "fp", "fn"]
    out: pd.DataFrame = pd.DataFrame(table, columns=columns)
    return out


def metrics_html(table: pd.DataFrame, threshold: float) -> str:
    """:func:`metrics`' table as HTML."""
    if table.empty:
        return "<small>no predicted or reference regions under these filters</small>"

    def number(v: float) -> str:
        return "n/a" if math.isnan(v) else f"{v:.3f}"

    lines = [
        f"<tr class='lsf-metrics-row' data-version='{html.escape(str(r['model_version']))}'>"
        f"<td>{html.escape(str(r['model_version']))}</td><td>{number(r['precision'])}</td>"
        f"<td>{number(r['recall'])}</td><td>{number(r['f1'])}</td>"
        f"<td>{r['tp']}</td><td>{r['fp']}</td><td>{r['fn']}</td></tr>"
        for r in table.to_dict("records")
    ]
    head = "".join(
        f"<th style='padding:0 8px'>{h}</th>"
        for h in ("model version", "precision", "recall", "F1", "tp", "fp", "fn")
    )
    return (
        f"<small>at score ≥ {threshold:.2f}</small>"
        f"<table class='lsf-metrics'><tr>{head}</tr>{''.join(lines)}</table>"
    )


def page_of(rows: pd.DataFrame, page: int, size: int) -> tuple[pd.DataFrame, int, int]:
    """Page ``page`` (from 0, clamped) of ``rows``: the rows, the page and the number of
    pages (at least 1)."""
    pages = max(1, math.ceil(len(rows) / size))
    page = min(max(page, 0), pages - 1)
    shown: pd.DataFrame = rows.iloc[page * size : (page + 1) * size]
    return shown, page, pages


def task_link(base_url: str, project: int, task_id: int) -> str:
    """The task in Label Studio's Data Manager: ``<url>/projects/<id>/data?task=<id>``."""
    return f"{base_url.rstrip('/')}/projects/{int(project)}/data?task={int(task_id)}"


def _fmt(value: Any, digits: int = 2) -> str | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else f"{number:.{digits}f}"


def _outcome_of(row: Mapping[str, Any], low_iou: float) -> str:
    kind = str(row["outcome"])
    name = OUTCOMES.get(kind, kind)
    iou = _fmt(row["iou"])
    if kind in (TRUE_POSITIVE, FALSE_POSITIVE) and iou is not None and 0 < float(iou) < low_iou:
        name += ", low IoU"
    return name


def image_uri(image: Any) -> str:
    """A data URI of what the card draws: ``bytes`` of a JPEG or PNG, or an ``str`` that is
    already a URI."""
    if isinstance(image, str):
        return image
    data = bytes(image)
    kind = "png" if data[:8] == b"\x89PNG\r\n\x1a\n" else "jpeg"
    return f"data:image/{kind};base64,{base64.b64encode(data).decode('ascii')}"


def card_html(row: Mapping[str, Any], image: str, link: str | None, low_iou: float = 0.75) -> str:
    """One card: the drawn task, its outcome, label, score and IoU, model version,
    annotators, and the link to the task in Label Studio."""
    kind = str(row["outcome"])
    colour = _COLOURS.get(kind, "#455a64")
    facts = [html.escape(str(row["label"]))] if row["label"] is not None else []
    if kind == DISAGREE and row.get("tie") is True:
        facts.append("labels tied")
    elif kind == DISAGREE and _fmt(row["agreement"]) is not None:
        facts.append(f"agreement {_fmt(row['agreement'])}")
    for name, key in (("score", "score"), ("IoU", "iou")):
        if _fmt(row[key]) is not None:
            facts.append(f"{name} {_fmt(row[key])}")
    who = [str(row["model_version"])] if row["model_version"] is not None else []
    who.extend(str(a) for a in row["annotators"])
    task = int(row["task_id"])
    anchor = (
        f"<a class='lsf-task-link' href='{html.escape(link)}' target='_blank' "
        f"rel='noopener'>task {task} in Label Studio</a>"
        if link
        else f"task {task}"
    )
    return (
        f"<div class='lsf-card lsf-card-{kind}' data-task='{task}' style='border:1px solid "
        f"#ccc;border-radius:4px;padding:4px;background:#fff'>"
        f"<img class='lsf-card-image' src='{image}' alt='task {task}' "
        "style='width:100%;display:block'/>"
        f"<div><span class='lsf-outcome' style='background:{colour};color:#fff;"
        f"padding:0 4px;border-radius:3px'>{html.escape(_outcome_of(row, low_iou))}</span> "
        f"{' · '.join(facts)}</div>"
        f"<div style='color:#555;font-size:smaller'>{html.escape(' · '.join(who))}</div>"
        f"<div>{anchor}</div></div>"
    )


def grid_html(cards: list[str], width: int) -> str:
    """The cards in a grid of columns ``width`` pixels wide."""
    if not cards:
        return "<p class='lsf-empty'>no rows under these filters</p>"
    return (
        "<div class='lsf-grid' style='display:grid;grid-template-columns:repeat(auto-fill,"
        f"minmax({width}px,1fr));gap:8px'>{''.join(cards)}</div>"
    )
