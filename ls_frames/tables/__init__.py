"""pandas and Parquet from the reading layer's Arrow output.

:func:`read_export` gives :class:`Frames` (six DataFrames); :func:`to_parquet` streams an
export into a Parquet dataset in bounded memory; :func:`read_parquet` reads one back.
:func:`evaluate` scores predictions (COCO average precision for boxes) and
:func:`confusion` cross-tabulates a choice; :func:`compare_predictions` and
:func:`annotator_pivot` lay predictions and annotators side by side.
"""

from ls_frames.tables.agreement import agreement, consensus
from ls_frames.tables.analysis import annotator_pivot, compare_predictions, iou
from ls_frames.tables.dtypes import DTYPE_BACKENDS, table_to_pandas, types_mapper
from ls_frames.tables.evaluation import COCO_IOU_THRESHOLDS, confusion, evaluate
from ls_frames.tables.frames import METADATA_KEY, Frames, read_export, read_parquet
from ls_frames.tables.geometry import box_corners, to_coco, to_pixels, to_xyxy, to_yolo
from ls_frames.tables.hf import to_hf_dataset, whitespace_tokenizer
from ls_frames.tables.parquet import to_parquet
from ls_frames.tables.splits import split

__all__ = [
    "COCO_IOU_THRESHOLDS",
    "DTYPE_BACKENDS",
    "METADATA_KEY",
    "Frames",
    "agreement",
    "annotator_pivot",
    "box_corners",
    "compare_predictions",
    "confusion",
    "consensus",
    "evaluate",
    "iou",
    "read_export",
    "read_parquet",
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
