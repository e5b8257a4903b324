"""``pr_curve``: the precision-recall points COCO interpolates, per label and model
version, to plot next to :func:`~ls_frames.evaluate`'s average precision."""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from ls_frames.errors import ConfigurationError
from ls_frames.evaluation.matching import curve_points
from ls_frames.evaluation.reference import Reference
from ls_frames.evaluation.results import require_from_name
from ls_frames.evaluation.scores import compared_rows
from ls_frames.evaluation.truth import resolve_reference
from ls_frames.tables.frames import Frames

__all__ = ["pr_curve"]

_COLUMNS = ("model_version", "label", "recall", "precision", "score")


def pr_curve(
    frames: Frames,
    from_name: str,
    *,
    iou_threshold: float = 0.5,
    reference: Reference = "ground_truth",
    model_version: str | Iterable[str] | None = None,
) -> pd.DataFrame:
    """Precision-recall curve points of one region control, per model version and label.

    The points are those pycocotools' ``COCOeval`` averages into AP at one IoU threshold
    (its ``eval["precision"]`` and ``eval["scores"]`` arrays, area "all", 100 detections):
    regions are matched as :func:`evaluate` matches them, then at each of the 101 recall
    points 0.00, 0.01, ..., 1.00 the precision is the highest reached at that recall or
    beyond, and the score is that of the detection where the recall is first reached
    (both 0 past the highest recall the model reaches). The mean of ``precision`` over a
    label's points is :func:`evaluate`'s ``ap50`` at ``iou_threshold=0.5``.

    Parameters
    ----------
    frames
        The tables of an export.
    from_name
        A rectangle, polygon or span control whose predictions carry scores.
    iou_threshold
        The IoU threshold of a match.
    reference
        What each task is judged by, as in :func:`evaluate` (``"ground_truth"`` by
        default: the ground-truth annotation, else the latest).
    model_version
        Only these model versions (all by default).

    Returns
    -------
    pandas.DataFrame
        ``model_version, label`` (``string``), ``recall, precision, score``
        (``float64``): 101 rows per model version and label the reference holds, recall
        ascending. A model version whose regions are not all scored has no rows.

    Raises
    ------
    ConfigurationError
        ``from_name`` is not a control of the frames or is a choice control, an unknown
        ``reference``, a ``model_version`` without predictions, or an ``iou_threshold``
        outside (0, 1].
    """
    require_from_name(frames, from_name)
    reference, _ = resolve_reference(frames, reference, None, "pr_curve")
    if not 0 < iou_threshold <= 1:
        raise ConfigurationError(f"iou_threshold must be in (0, 1], not {iou_threshold!r}")
    seen = compared_rows(frames, from_name, reference, model_version=model_version)
    if seen.kind == "choice":
        raise ConfigurationError(
            f"pr_curve needs scored regions; {from_name!r} is a choice control "
            "(ls_frames.evaluate and ls_frames.confusion score choices)"
        )
    parts = []
    for version, preds in seen.predictions.groupby("model_version", sort=True):
        _, gt, dt = seen.version(preds)
        pred_score = preds.set_index("prediction_id")["score"]
        points = curve_points(gt, dt, pred_score, seen.kind, iou_threshold, seen.geo, seen.span_key)
        if len(points):
            points.insert(0, "model_version", str(version))
            parts.append(points)
    out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=list(_COLUMNS))
    out = out.reindex(columns=list(_COLUMNS))
    for column in ("model_version", "label"):
        out[column] = out[column].astype("string")
    for column in ("recall", "precision", "score"):
        out[column] = out[column].astype("float64")
    curve: pd.DataFrame = out
    return curve
