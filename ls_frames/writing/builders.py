"""Region rows from what models produce: boxes, polygons, keypoints, masks, text spans and
choices, one function each, all returning rows of the ``regions`` table's columns (source
``prediction``, a fresh ``region_id``, ``value_json`` and its typed columns) that
:func:`~ls_frames.to_results` turns into result items.

Shared arguments: ``task_id`` (one for every row, or one per row), ``label`` (likewise),
``score`` (optional, the item's score), ``from_name`` / ``to_name`` (taken from
``label_config`` when it has exactly one control of the kind), and for image geometry
``normalized`` (coordinates in 0-1 of the image, else pixels) and ``image_size`` (see
:func:`ls_frames.writing.targets.image_sizes`; needed for pixels and for rotated boxes).
Geometry is written in percent of the image, as Label Studio stores it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, Literal, TypeVar

import numpy as np
import pandas as pd

from ls_frames.errors import ConfigurationError
from ls_frames.geometry.brush import mask_to_rle
from ls_frames.reading.controls import LABEL_KEYS
from ls_frames.writing.targets import column_or, control_for, image_sizes, per_row, region_rows

__all__ = [
    "boxes_to_regions",
    "choices_to_regions",
    "keypoints_to_regions",
    "masks_to_regions",
    "polygons_to_regions",
    "spans_to_regions",
]

BoxFormat = Literal["xyxy", "xywh", "cxcywh"]

#: The parameter and error texts every builder shares (``%(name)s`` in a docstring).
_DOCS = {
    "rows": """task_id, label, score
        One value for every row or one per row (a sequence of the rows' length); a
        DataFrame argument's ``task_id`` / ``label`` / ``score`` columns are used where
        the argument is not given. ``score`` is the item's score (optional).""",
    "rows_no_label": """task_id, score
        One value for every row or one per row; ``score`` is the item's score
        (optional).""",
    "image": """normalized, image_size
        ``normalized=True``: coordinates in 0-1 of the image; else pixels, converted with
        the image sizes ``image_size`` gives: ``(width, height)`` for every row, a mapping
        or a table by task, or a :class:`~ls_frames.Frames` (see
        :func:`ls_frames.writing.targets.image_sizes`).""",
    "target": """from_name, to_name, label_config
        The control and the object tag the items belong to; taken from ``label_config``
        (a config's XML or a parsed one) when it has exactly one control of the kind.""",
    "raises": """ConfigurationError
        No single control of the kind in the config (or ``from_name`` / ``to_name`` not
        given without one), a per-row argument of the wrong length, no ``task_id``, pixel
        coordinates without the image size.""",
}
_F = TypeVar("_F", bound=Callable[..., Any])


def _shared_docs(func: _F) -> _F:
    """Fill the ``%(name)s`` fields of ``func``'s docstring from :data:`_DOCS`."""
    if func.__doc__:
        func.__doc__ = func.__doc__ % _DOCS
    return func


class _Common:
    """The per-row arguments every builder takes, resolved once."""

    def __init__(self, n: int, kind: str, data: Any, args: dict[str, Any]) -> None:
        self.n = n
        self.task_ids = per_row(column_or(data, ["task_id"], args["task_id"]), n, "task_id")
        if any(t is None for t in self.task_ids):
            raise ConfigurationError("task_id is needed: every region belongs to a task")
        self.labels = per_row(column_or(data, ["label"], args.get("label")), n, "label")
        self.scores = per_row(column_or(data, ["score"], args.get("score")), n, "score")
        config = args.get("label_config")
        self.target = control_for(kind, config, args.get("from_name"), args.get("to_name"))
        self.widths, self.heights = image_sizes(args.get("image_size"), self.task_ids)

    def columns(self, **extra: list[Any]) -> dict[str, list[Any]]:
        from_name, to_name, type_ = self.target
        return {
            "task_id": self.task_ids,
            "from_name": [from_name] * self.n,
            "to_name": [to_name] * self.n,
            "type": [type_] * self.n,
            "score": self.scores,
            **extra,
        }

    def labelled(self, value: dict[str, Any], i: int) -> dict[str, Any]:
        """The value with row ``i``'s label under the type's key (none when null, or for
        a control without labels such as ``rectangle``)."""
        label = self.labels[i]
        if label is not None and self.target[2] in LABEL_KEYS:
            value[self.target[2]] = list(label) if isinstance(label, list | tuple) else [label]
        return value

    def scale(self, i: int, normalized: bool) -> tuple[float, float]:
        """Factors from the input's units to percent for row ``i`` (x, y)."""
        if normalized:
            return 100.0, 100.0
        w, h = self.widths[i], self.heights[i]
        if not w or not h:
            raise ConfigurationError(
                f"row {i} (task {self.task_ids[i]}): pixel coordinates need the image size: "
                "pass image_size=(width, height), a mapping, a table or Frames, "
                "or normalized=True"
            )
        return 100.0 / w, 100.0 / h


def _array(data: Any, n_cols: int, names: Sequence[Sequence[str]], what: str) -> Any:
    """An ``(n, n_cols)`` float array from an array-like or a DataFrame's named columns."""
    if isinstance(data, pd.DataFrame):
        for cols in names:
            if set(cols) <= set(data.columns):
                return data[list(cols)].to_numpy(dtype=float)
        raise ConfigurationError(f"{what} need columns {' or '.join(map(str, names))}")
    arr = np.asarray(data, dtype=float).reshape(-1, n_cols) if len(data) else np.empty((0, n_cols))
    return arr


@_shared_docs
def boxes_to_regions(
    boxes: Any,
    *,
    task_id: Any = None,
    label: Any = None,
    score: Any = None,
    format: BoxFormat = "xyxy",
    rotation: Any = None,
    normalized: bool = False,
    image_size: Any = None,
    from_name: str | None = None,
    to_name: str | None = None,
    label_config: Any = None,
) -> pd.DataFrame:
    """Region rows of rectangles (``rectanglelabels``).

    Parameters
    ----------
    boxes
        An ``(n, 4)`` array-like, or a DataFrame with the format's columns (``x1 y1 x2 y2``
        or ``xmin ymin xmax ymax``; ``x y w h``; ``cx cy w h``) and optionally ``task_id``,
        ``label``, ``score``, ``rotation`` columns, used where the argument is not given.
    %(rows)s
    format
        ``"xyxy"`` (corners), ``"xywh"`` (top-left corner and size) or ``"cxcywh"``
        (centre and size).
    rotation
        Degrees clockwise, one value or one per box: about the top-left corner for
        ``xyxy`` / ``xywh`` (Label Studio's own convention), about the centre for
        ``cxcywh`` (oriented boxes as detectors give them; converted in pixels, so
        the image size is needed).
    %(image)s
    %(target)s

    Returns
    -------
    pandas.DataFrame
        One region row per box.

    Raises
    ------
    %(raises)s

    Examples
    --------
    >>> rows = boxes_to_regions([[10, 20, 110, 70]], task_id=5, label="cat", score=0.9,
    ...                         image_size=(200, 100), from_name="box", to_name="image")
    >>> [float(rows[k].iloc[0]) for k in ("x", "y", "width", "height")], rows.label[0]
    ([5.0, 20.0, 50.0, 50.0], 'cat')
    """
    names = {"xyxy": [("x1", "y1", "x2", "y2"), ("xmin", "ymin", "xmax", "ymax")]}
    names["xywh"] = [("x", "y", "w", "h"), ("x", "y", "width", "height")]
    names["cxcywh"] = [("cx", "cy", "w", "h"), ("cx", "cy", "width", "height")]
    if format not in names:
        raise ConfigurationError(f"format must be one of {sorted(names)}, got {format!r}")
    arr = _array(boxes, 4, names[format], "boxes")
    n = len(arr)
    args = dict(locals())
    common = _Common(n, "rectangle", boxes, args)
    angles = per_row(column_or(boxes, ["rotation"], rotation), n, "rotation")
    values = []
    for i, (a, b, c, d) in enumerate(arr.tolist()):
        w, h = (c - a, d - b) if format == "xyxy" else (c, d)
        x, y = (a - w / 2, b - h / 2) if format == "cxcywh" else (a, b)
        angle = float(angles[i] or 0.0)
        if angle and format == "cxcywh":  # the top-left corner of the turned box
            px, py = (1.0, 1.0) if not normalized else (common.widths[i], common.heights[i])
            if px is None or py is None:
                raise ConfigurationError("a rotated normalized box needs image_size")
            t = math.radians(angle)
            hw, hh = w * px / 2, h * py / 2
            x = (a * px - hw * math.cos(t) + hh * math.sin(t)) / px
            y = (b * py - hw * math.sin(t) - hh * math.cos(t)) / py
        sx, sy = common.scale(i, normalized)
        value = {"x": x * sx, "y": y * sy, "width": w * sx, "height": h * sy, "rotation": angle}
        values.append(common.labelled(value, i))
    return region_rows(_image_columns(common), values)


def _image_columns(common: _Common) -> dict[str, list[Any]]:
    return common.columns(original_width=common.widths, original_height=common.heights)


@_shared_docs
def polygons_to_regions(
    polygons: Sequence[Any],
    *,
    task_id: Any = None,
    label: Any = None,
    score: Any = None,
    normalized: bool = False,
    image_size: Any = None,
    from_name: str | None = None,
    to_name: str | None = None,
    label_config: Any = None,
) -> pd.DataFrame:
    """Region rows of polygons (``polygonlabels``, closed).

    Parameters
    ----------
    polygons
        One ``(k, 2)`` array-like of ``(x, y)`` points per polygon.
    %(rows)s
    %(image)s
    %(target)s

    Returns
    -------
    pandas.DataFrame
        One region row per polygon.

    Raises
    ------
    %(raises)s

    Examples
    --------
    >>> rows = polygons_to_regions([[(0, 0), (50, 0), (50, 25)]], task_id=5, label="roof",
    ...                            image_size=(100, 50), from_name="poly", to_name="image")
    >>> [p.tolist() for p in rows["points"].iloc[0]]
    [[0.0, 0.0], [50.0, 0.0], [50.0, 50.0]]
    """
    shapes = [np.asarray(p, dtype=float).reshape(-1, 2) for p in polygons]
    common = _Common(len(shapes), "polygon", None, dict(locals()))
    values = []
    for i, shape in enumerate(shapes):
        sx, sy = common.scale(i, normalized)
        points = (shape * np.array([sx, sy])).tolist()
        values.append(common.labelled({"points": points, "closed": True}, i))
    return region_rows(_image_columns(common), values)


@_shared_docs
def keypoints_to_regions(
    points: Any,
    *,
    task_id: Any = None,
    label: Any = None,
    score: Any = None,
    size: float | None = None,
    normalized: bool = False,
    image_size: Any = None,
    from_name: str | None = None,
    to_name: str | None = None,
    label_config: Any = None,
) -> pd.DataFrame:
    """Region rows of keypoints (``keypointlabels``), one per point.

    Parameters
    ----------
    points
        An ``(n, 2)`` array-like of ``(x, y)``, or a DataFrame with ``x`` and ``y``
        columns (and optionally ``task_id``, ``label``, ``score``).
    size
        The point's drawn size (``value.width``, percent of the image width); none when
        ``None``.
    %(rows)s
    %(image)s
    %(target)s

    Returns
    -------
    pandas.DataFrame
        One region row per point.

    Raises
    ------
    %(raises)s

    Examples
    --------
    >>> rows = keypoints_to_regions([(0.5, 0.25)], task_id=5, label="nose", normalized=True,
    ...                             from_name="kp", to_name="image")
    >>> [float(rows.x[0]), float(rows.y[0])]
    [50.0, 25.0]
    """
    arr = _array(points, 2, [("x", "y")], "keypoints")
    common = _Common(len(arr), "keypoint", points, dict(locals()))
    values = []
    for i, (x, y) in enumerate(arr.tolist()):
        sx, sy = common.scale(i, normalized)
        value: dict[str, Any] = {"x": x * sx, "y": y * sy}
        if size is not None:
            value["width"] = float(size)
        values.append(common.labelled(value, i))
    return region_rows(_image_columns(common), values)


@_shared_docs
def masks_to_regions(
    masks: Any,
    *,
    task_id: Any = None,
    label: Any = None,
    score: Any = None,
    from_name: str | None = None,
    to_name: str | None = None,
    label_config: Any = None,
) -> pd.DataFrame:
    """Region rows of brush masks (``brushlabels``), encoded by :func:`~ls_frames.mask_to_rle`.

    Parameters
    ----------
    masks
        An ``(n, height, width)`` array or a sequence of ``(height, width)`` arrays
        (booleans, or alpha 0-255); the image size is the mask's.
    %(rows)s
    %(target)s

    Returns
    -------
    pandas.DataFrame
        One region row per mask.

    Raises
    ------
    %(raises)s

    Examples
    --------
    >>> import numpy as np
    >>> m = np.zeros((4, 6), dtype=bool)
    >>> m[1:3, 2:5] = True
    >>> rows = masks_to_regions([m], task_id=5, label="sky", from_name="mask",
    ...                         to_name="image")
    >>> rows[["original_width", "original_height"]].iloc[0].tolist()
    [6, 4]
    """
    arrays = [np.asarray(m) for m in masks]
    common = _Common(len(arrays), "brush", None, dict(locals()))
    values = [
        common.labelled({"format": "rle", "rle": mask_to_rle(m)}, i) for i, m in enumerate(arrays)
    ]
    widths = [int(m.shape[1]) if m.ndim == 2 else None for m in arrays]
    heights = [int(m.shape[0]) if m.ndim == 2 else None for m in arrays]
    return region_rows(common.columns(original_width=widths, original_height=heights), values)


@_shared_docs
def spans_to_regions(
    starts: Any,
    ends: Any,
    *,
    task_id: Any = None,
    label: Any = None,
    score: Any = None,
    text: Any = None,
    from_name: str | None = None,
    to_name: str | None = None,
    label_config: Any = None,
) -> pd.DataFrame:
    """Region rows of text spans (``labels``): character offsets ``[start, end)``.

    Parameters
    ----------
    starts, ends
        The spans' character offsets (sequences of the same length).
    text
        The document (one for every span, or one per span): each span's ``text`` is
        ``document[start:end]``; ``None``: no ``text`` in the value.
    %(rows)s
    %(target)s

    Returns
    -------
    pandas.DataFrame
        One region row per span.

    Raises
    ------
    %(raises)s

    Examples
    --------
    >>> rows = spans_to_regions([0], [5], task_id=5, label="PER", text="Alice went home",
    ...                         from_name="ner", to_name="text")
    >>> rows["text"].iloc[0].tolist()
    ['Alice']
    """
    starts, ends = [int(s) for s in starts], [int(e) for e in ends]
    if len(starts) != len(ends):
        raise ConfigurationError(f"{len(starts)} starts for {len(ends)} ends")
    common = _Common(len(starts), "text", None, dict(locals()))
    docs = per_row(text, len(starts), "text")
    values = []
    for i, (s, e) in enumerate(zip(starts, ends, strict=True)):
        value: dict[str, Any] = {"start": s, "end": e}
        if docs[i] is not None:
            value["text"] = docs[i][s:e]
        values.append(common.labelled(value, i))
    return region_rows(common.columns(), values)


@_shared_docs
def choices_to_regions(
    choices: Any,
    *,
    task_id: Any = None,
    score: Any = None,
    from_name: str | None = None,
    to_name: str | None = None,
    label_config: Any = None,
) -> pd.DataFrame:
    """Region rows of task-level choices (``choices``), one per task.

    Parameters
    ----------
    choices
        One choice (a string) or a list of choices per row.
    %(rows_no_label)s
    %(target)s

    Returns
    -------
    pandas.DataFrame
        One region row per row of ``choices``.

    Raises
    ------
    %(raises)s

    Examples
    --------
    >>> rows = choices_to_regions(["good", "bad"], task_id=[1, 2], score=[0.8, 0.6],
    ...                           from_name="quality", to_name="image")
    >>> rows["choice"].tolist()
    ['good', 'bad']
    """
    picked = list(choices)
    common = _Common(len(picked), "choice", None, dict(locals()))
    values = [{"choices": [c] if isinstance(c, str) else list(c)} for c in picked]
    return region_rows(common.columns(), values)
