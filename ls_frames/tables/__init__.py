"""pandas and Parquet from the reading layer's Arrow output.

:func:`read_export` gives :class:`Frames` (six DataFrames); :func:`to_parquet` streams an
export into a Parquet dataset in bounded memory; :func:`read_parquet` reads one back.
:func:`evaluate` scores predictions (COCO average precision for boxes) and
:func:`confusion` cross-tabulates a choice; :func:`compare_predictions` and
:func:`annotator_pivot` lay predictions and annotators side by side.
:func:`region_masks` / :func:`rle_to_mask` give image masks and
``to_coco(..., segmentation=True)`` COCO segmentations; :func:`interpolate_tracks` /
:func:`iter_tracks` fill in video keyframes frame by frame. :func:`agreement`,
:func:`consensus`, :func:`split` and :func:`to_hf_dataset` prepare training data.
:func:`read_delta` / :func:`compact_delta` read and maintain versioned Delta Lake tables
(:mod:`ls_frames.tables.delta`).
"""

import importlib as _importlib
from typing import TYPE_CHECKING as _TYPE_CHECKING
from typing import Any as _Any

if _TYPE_CHECKING:
    from ls_frames.tables.agreement import agreement, consensus
    from ls_frames.tables.analysis import annotator_pivot, compare_predictions, iou
    from ls_frames.tables.brush import rle_to_mask
    from ls_frames.tables.coco import mask_to_coco_rle
    from ls_frames.tables.dataset import METADATA_KEY
    from ls_frames.tables.delta import compact_delta, read_delta
    from ls_frames.tables.dtypes import DTYPE_BACKENDS, table_to_pandas, types_mapper
    from ls_frames.tables.evaluation import COCO_IOU_THRESHOLDS, confusion, evaluate
    from ls_frames.tables.frames import Frames, read_export, read_parquet
    from ls_frames.tables.geometry import box_corners, to_coco, to_pixels, to_xyxy, to_yolo
    from ls_frames.tables.hf import to_hf_dataset, whitespace_tokenizer
    from ls_frames.tables.masks import RegionMask, ellipse_mask, polygon_mask, region_masks
    from ls_frames.tables.parquet import to_parquet
    from ls_frames.tables.splits import split
    from ls_frames.tables.tracks import interpolate_tracks, iter_tracks

# Each name is imported from its module on first use: ``to_parquet`` (say) does not pay
# for the analysis modules' imports (about a third of a second on a fresh process).
_LAZY = {
    "agreement": "ls_frames.tables.agreement",
    "consensus": "ls_frames.tables.agreement",
    "annotator_pivot": "ls_frames.tables.analysis",
    "compare_predictions": "ls_frames.tables.analysis",
    "iou": "ls_frames.tables.analysis",
    "rle_to_mask": "ls_frames.tables.brush",
    "mask_to_coco_rle": "ls_frames.tables.coco",
    "METADATA_KEY": "ls_frames.tables.dataset",
    "compact_delta": "ls_frames.tables.delta",
    "read_delta": "ls_frames.tables.delta",
    "DTYPE_BACKENDS": "ls_frames.tables.dtypes",
    "table_to_pandas": "ls_frames.tables.dtypes",
    "types_mapper": "ls_frames.tables.dtypes",
    "COCO_IOU_THRESHOLDS": "ls_frames.tables.evaluation",
    "confusion": "ls_frames.tables.evaluation",
    "evaluate": "ls_frames.tables.evaluation",
    "Frames": "ls_frames.tables.frames",
    "read_export": "ls_frames.tables.frames",
    "read_parquet": "ls_frames.tables.frames",
    "box_corners": "ls_frames.tables.geometry",
    "to_coco": "ls_frames.tables.geometry",
    "to_pixels": "ls_frames.tables.geometry",
    "to_xyxy": "ls_frames.tables.geometry",
    "to_yolo": "ls_frames.tables.geometry",
    "to_hf_dataset": "ls_frames.tables.hf",
    "whitespace_tokenizer": "ls_frames.tables.hf",
    "RegionMask": "ls_frames.tables.masks",
    "ellipse_mask": "ls_frames.tables.masks",
    "polygon_mask": "ls_frames.tables.masks",
    "region_masks": "ls_frames.tables.masks",
    "to_parquet": "ls_frames.tables.parquet",
    "split": "ls_frames.tables.splits",
    "interpolate_tracks": "ls_frames.tables.tracks",
    "iter_tracks": "ls_frames.tables.tracks",
}


def __getattr__(name: str) -> _Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'ls_frames.tables' has no attribute {name!r}")
    value = getattr(_importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "COCO_IOU_THRESHOLDS",
    "DTYPE_BACKENDS",
    "METADATA_KEY",
    "Frames",
    "RegionMask",
    "agreement",
    "annotator_pivot",
    "box_corners",
    "compact_delta",
    "compare_predictions",
    "confusion",
    "consensus",
    "ellipse_mask",
    "evaluate",
    "interpolate_tracks",
    "iou",
    "iter_tracks",
    "mask_to_coco_rle",
    "polygon_mask",
    "read_delta",
    "read_export",
    "read_parquet",
    "region_masks",
    "rle_to_mask",
    "split",
    "table_to_pandas",
    "to_coco",
    "to_hf_dataset",
    "to_parquet",
    "to_pixels",
    "to_xyxy",
    "to_yolo",
    "types_mapper",
    "whitespace_tokenizer",
]
