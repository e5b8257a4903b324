"""What the panel shows of a result: row counts, a tab per table, a label bar chart.

Plain HTML widgets, so the preview looks the same in JupyterLab, Voila and a static render.
"""

from __future__ import annotations

import html

import ipywidgets as W
import pandas as pd

from ls_frames.tables import Frames

__all__ = ["PREVIEW_TABLES", "Preview", "bar_chart", "label_counts"]

PREVIEW_TABLES = ("tasks", "annotations", "regions", "relations", "predictions")
_ROWS = 10
_CHARS = 60


def label_counts(frames: Frames) -> pd.Series:
    """How many annotation regions carry each label (the first choice where a project has
    no labels); config labels nobody used count 0."""
    regions = frames.regions
    regions = regions[regions["source"].astype(object) == "annotation"]
    for column in ("label", "choice"):
        values = regions[column]
        if values.notna().any():
            counts: pd.Series = values.value_counts(sort=False, dropna=True)
            counts.name = column
            return counts
    return pd.Series(dtype="int64", name="label")


def bar_chart(counts: pd.Series, title: str) -> str:
    """A horizontal bar chart in plain HTML."""
    if counts.empty:
        return f"<p><b>{html.escape(title)}</b>: no labels yet</p>"
    top = max(int(counts.max()), 1)
    rows = []
    for name, value in counts.items():
        width = 100.0 * int(value) / top
        label = html.escape(str(name))
        rows.append(
            f"<tr><td style='padding-right:8px'>{label}</td><td style='width:240px'>"
            f"<div style='background:#4c78a8;height:14px;width:{width:.1f}%'></div></td>"
            f"<td style='padding-left:6px'>{int(value)}</td></tr>"
        )
    return f"<b>{html.escape(title)}</b><table class='lsf-bars'>{''.join(rows)}</table>"


def _table_html(df: pd.DataFrame) -> str:
    head = df.head(_ROWS).map(
        lambda v: v[:_CHARS] + "…" if isinstance(v, str) and len(v) > _CHARS else v
    )
    shown = head.to_html(index=False, max_cols=14, na_rep="", escape=True)
    more = f"<small>first {min(len(df), _ROWS)} of {len(df):,} rows</small>"
    return f"<div style='overflow:auto;max-height:320px'>{more}{shown}</div>"


class Preview(W.VBox):
    """Counts line, one tab per table, label distribution."""

    def __init__(self) -> None:
        self.counts = W.HTML("")
        self.counts.add_class("lsf-counts")
        self.tabs = W.Tab()
        self.chart = W.HTML("")
        self.chart.add_class("lsf-chart")
        super().__init__([self.counts, self.tabs, self.chart])
        self.layout.display = "none"

    def show(self, frames: Frames) -> None:
        sizes = {name: len(frames[name]) for name in frames}
        self.counts.value = "<b>Rows:</b> " + " · ".join(
            f"<span class='lsf-count-{name}'>{name} {count:,}</span>"
            for name, count in sizes.items()
        )
        names = [name for name in PREVIEW_TABLES if name in sizes]
        self.tabs.children = [W.HTML(_table_html(frames[name])) for name in names]
        self.tabs.titles = tuple(f"{name} ({sizes[name]:,})" for name in names)
        counts = label_counts(frames)
        self.chart.value = bar_chart(counts, f"Annotated regions by {counts.name}")
        self.layout.display = None

    def clear(self) -> None:
        self.counts.value = ""
        self.tabs.children = []
        self.chart.value = ""
        self.layout.display = "none"
