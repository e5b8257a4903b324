"""What one result row holds, for comparing results: its values and its geometry.

Shared by :mod:`~ls_frames.evaluation.comparison`, :mod:`~ls_frames.evaluation.scores` and
:mod:`~ls_frames.evaluation.pivot`; pandas in, numpy or lists out.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from ls_frames.errors import ConfigurationError
from ls_frames.geometry.pixels import points_box
from ls_frames.reading.controls import ATTRIBUTE_TYPES
from ls_frames.tables.frames import Frames

__all__ = [
    "BOX",
    "NONE",
    "SPAN",
    "control_types_of",
    "is_region_control",
    "region_geometry",
    "region_values",
    "require_from_name",
]

NONE, BOX, SPAN = 0, 1, 2


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


def control_types_of(frames: Frames, from_name: str) -> set[str]:
    """The type of control ``from_name`` in the label config, else the types of its
    results (lower case)."""
    config = frames.label_config
    control = config.by_name().get(from_name) if config is not None else None
    if control is not None:
        return {str(control.type).lower()}
    regions = frames.regions
    mine = regions[(regions["from_name"].astype(object) == from_name).to_numpy(bool)]
    return {str(t).lower() for t in pd.unique(mine["type"].dropna().astype(object))}


def is_region_control(frames: Frames, from_name: str) -> bool:
    """Whether ``from_name`` draws regions (boxes, polygons, spans, masks, ...) rather than
    answering per task (choices, taxonomy, text, rating, number, datetime)."""
    types = control_types_of(frames, from_name)
    return bool(types) and not types <= ATTRIBUTE_TYPES


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


def region_geometry(
    regions: pd.DataFrame,
) -> tuple[NDArray[np.int8], NDArray[np.float64], NDArray[Any]]:
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
        around = points_box(
            list(regions["points"].iloc[rest]), np.full(len(rest), 100.0), np.full(len(rest), 100.0)
        )
        found = ~np.isnan(around).any(axis=1)
        box[rest[found]] = np.column_stack([around[:, :2], around[:, 2:] - around[:, :2]])[found]
        is_box[rest[found]] = True
    width, height = _floats(regions["original_width"]), _floats(regions["original_height"])
    if "task_id" in regions and n:
        sizes = pd.DataFrame(
            {
                "task": regions["task_id"].to_numpy(np.float64, na_value=np.nan),
                "w": width,
                "h": height,
            }
        )
        first = sizes.groupby("task", dropna=False)[["w", "h"]].transform("first")
        width, height = first["w"].to_numpy(np.float64), first["h"].to_numpy(np.float64)
    sized = ~(np.isnan(width) | np.isnan(height))
    scale_w = np.where(sized, width / 100.0, 1.0)
    scale_h = np.where(sized, height / 100.0, 1.0)
    geo[:, 0], geo[:, 2] = box[:, 0] * scale_w, box[:, 2] * scale_w
    geo[:, 1], geo[:, 3] = box[:, 1] * scale_h, box[:, 3] * scale_h
    geo[:, 4] = np.nan_to_num(_floats(regions["rotation"]))
    kind[is_box] = BOX
    offsets = np.column_stack([_floats(regions["start_offset"]), _floats(regions["end_offset"])])
    has_offsets = np.asarray(~np.isnan(offsets).any(axis=1), dtype=bool)
    plain = np.column_stack([_floats(regions["start"]), _floats(regions["end"])])
    has_plain = ~np.isnan(plain).any(axis=1)
    spans = np.where(has_offsets[:, None], offsets, plain)
    is_span = ~is_box & (has_offsets | has_plain)
    geo[is_span, :2] = spans[is_span]
    kind[is_span] = SPAN
    text_cols = [c for c in ("start_text", "end_text") if c in regions]
    if not text_cols:
        text_cols = ["start", "end"]
    key = np.full(n, "", dtype=object)
    if has_offsets.any():
        texts = [
            regions[c].astype(object).where(regions[c].notna(), "").to_numpy(object)
            for c in text_cols
        ]
        joined = np.array([f"{a}\x1f{b}" for a, b in zip(*texts, strict=True)], dtype=object)
        key = np.where(has_offsets, joined, key)
    return kind, geo, key
