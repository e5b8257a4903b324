"""``show_text``: a text task's spans highlighted in HTML, one block per annotation and
prediction, each span in its label's colour with the label after it.

The HTML is plain (inline styles, the text escaped); what is returned is a ``str`` that
Jupyter shows as HTML (it has ``_repr_html_``), so no IPython import is needed.
"""

from __future__ import annotations

import html
import itertools
import json
from collections.abc import Iterable
from typing import Any

import pandas as pd

from ls_frames.drawing.colors import RGB, label_colors
from ls_frames.drawing.pictures import select_regions
from ls_frames.errors import ConfigurationError
from ls_frames.evaluation.reference import Reference
from ls_frames.reading.controls import kind_of

__all__ = ["HTML", "show_text"]


class HTML(str):
    """An HTML string that Jupyter shows rendered."""

    def _repr_html_(self) -> str:
        return str(self)


def _text_of(frames: Any, task_id: int, to_names: list[str]) -> str:
    tasks = frames.tasks
    rows = tasks[(tasks["task_id"] == task_id).to_numpy(bool, na_value=False)]
    if not len(rows):
        raise ConfigurationError(f"task {task_id} is not in the frames")
    data = json.loads(rows["data_json"].iloc[0] or "{}")
    config = frames.label_config
    if config is not None:
        fields = {o.name: o.field for o in config.objects}
        texts = [o.field for o in config.objects if o.type in ("text", "hypertext")]
        for key in [fields[n] for n in to_names if n in fields] + texts:
            if isinstance(data.get(key), str):
                return str(data[key])
    found = [v for v in data.values() if isinstance(v, str)]
    if not found:
        raise ConfigurationError(f"task {task_id} has no text in its data")
    return max(found, key=len)


def _css(color: RGB, alpha: float) -> str:
    return f"rgba({color[0]},{color[1]},{color[2]},{alpha})"


def _marked(text: str, spans: list[tuple[int, int, str]], colors: dict[str, RGB]) -> str:
    """The text with each span in a ``<mark>``; overlapping spans split at every edge, a
    piece coloured by the last span covering it, each label after the span's end."""
    edges = sorted({0, len(text), *(s for s, _, _ in spans), *(e for _, e, _ in spans)})
    edges = [e for e in edges if 0 <= e <= len(text)]
    out = []
    for a, b in itertools.pairwise(edges):
        covering = [lab for s, e, lab in spans if s <= a and b <= e]
        piece = html.escape(text[a:b])
        if covering:
            color = colors[covering[-1]]
            piece = f'<mark style="background:{_css(color, 0.35)};padding:0">{piece}</mark>'
        out.append(piece)
        for s, e, lab in spans:
            if e == b and s < e:
                color = colors[lab]
                out.append(
                    f'<sup style="background:{_css(color, 1)};color:#fff;border-radius:3px;'
                    f'padding:0 3px;font-size:70%">{html.escape(lab)}</sup>'
                )
    return "".join(out)


def show_text(
    frames: Any,
    task_id: int,
    *,
    sources: str | Iterable[str] = ("annotations", "predictions"),
    from_name: str | None = None,
    reference: Reference | None = None,
    model_version: str | Iterable[str] | None = None,
) -> HTML:
    """A text task's labelled spans, highlighted: one block per annotation and prediction.

    Parameters
    ----------
    frames, task_id, sources, from_name, reference, model_version
        As :func:`show` takes them.

    Returns
    -------
    HTML
        A ``str`` of HTML that a notebook shows rendered; each block is headed by its
        source (``annotation 12 · anna@example.com``, ``prediction 7``).

    Raises
    ------
    ConfigurationError
        An unknown source or control, a task the frames do not hold or without text.
    """
    rows = select_regions(
        frames,
        int(task_id),
        sources=sources,
        from_name=from_name,
        reference=reference,
        model_version=model_version,
    )
    is_text = [kind_of(t) == "text" for t in rows["type"].astype(object)]
    spans = rows[
        is_text & rows["start"].notna().to_numpy(bool) & rows["end"].notna().to_numpy(bool)
    ]
    text = _text_of(frames, int(task_id), [str(t) for t in pd.unique(spans["to_name"].dropna())])
    labels = list(pd.unique(spans["label"].dropna().astype(object)))
    colors = label_colors(frames, labels, from_name=from_name)
    blocks = []
    for (source, sid), part in spans.groupby(["source", "source_id"], sort=True):
        marks = [
            (int(s), int(e), str(lab))
            for s, e, lab in zip(
                part["start"], part["end"], part["label"].astype(object), strict=True
            )
            if s is not pd.NA and e is not pd.NA and lab is not None and lab is not pd.NA
        ]
        who = {c.split(" · ", 1)[1] for c in part["caption"] if " · " in c}
        head = f"{source} {sid}" + (f" · {', '.join(sorted(who))}" if who else "")
        body = _marked(text, marks, colors)
        blocks.append(
            f'<div style="margin:0 0 1em 0"><div style="font:600 0.85em sans-serif;'
            f'color:#555">{html.escape(head)}</div><div style="white-space:pre-wrap;'
            f'line-height:1.7">{body}</div></div>'
        )
    if not blocks:
        blocks.append(f'<div style="white-space:pre-wrap">{html.escape(text)}</div>')
    return HTML("".join(blocks))
