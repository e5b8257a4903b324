"""Tables: the project's data as pandas, Parquet and Delta Lake.

:func:`read_export` gives :class:`Frames` (six DataFrames); :func:`to_parquet` streams an
export into a Parquet dataset in bounded memory; :func:`read_parquet` reads one back;
:func:`read_delta` / :func:`compact_delta` read and maintain versioned Delta Lake tables
(:mod:`ls_frames.tables.delta`).

Modules: ``frames`` (:class:`Frames`, :func:`read_export`, :func:`read_parquet`),
``dtypes`` (Arrow to pandas), ``writer`` and ``dataset`` (the Parquet dataset format and
its manifest), ``parquet`` (:func:`to_parquet`), ``storage`` (``read_storage``) and
``delta``. This layer reads only :mod:`ls_frames.reading`.

What is computed from the tables sits in the layers above: :mod:`ls_frames.geometry`
(boxes, overlaps, masks, tracks), :mod:`ls_frames.evaluation` (scores, agreement) and
:mod:`ls_frames.training` (splits, Hugging Face datasets). Their functions were reachable
here before; those names still resolve, with a :class:`DeprecationWarning` naming the new
place (and the top-level name, ``ls_frames.evaluate`` and so on, where there is one).
"""

import importlib as _importlib
import warnings as _warnings
from typing import TYPE_CHECKING as _TYPE_CHECKING
from typing import Any as _Any

from ls_frames._lazy import attach as _attach

if _TYPE_CHECKING:
    from ls_frames.tables.dataset import METADATA_KEY
    from ls_frames.tables.delta import compact_delta, read_delta
    from ls_frames.tables.dtypes import DTYPE_BACKENDS, table_to_pandas, types_mapper
    from ls_frames.tables.frames import Frames, read_export, read_parquet
    from ls_frames.tables.parquet import to_parquet

# Each name is imported from its module on first use: ``to_parquet`` (say) does not pay
# for the Delta or pandas conversion imports it does not need.
_LAZY = {
    "METADATA_KEY": "ls_frames.tables.dataset",
    "compact_delta": "ls_frames.tables.delta",
    "read_delta": "ls_frames.tables.delta",
    "DTYPE_BACKENDS": "ls_frames.tables.dtypes",
    "table_to_pandas": "ls_frames.tables.dtypes",
    "types_mapper": "ls_frames.tables.dtypes",
    "Frames": "ls_frames.tables.frames",
    "read_export": "ls_frames.tables.frames",
    "read_parquet": "ls_frames.tables.frames",
    "to_parquet": "ls_frames.tables.parquet",
}

# Names that moved out of this package (0.x): still importable from here, with a warning.
_MOVED = {
    "agreement": "ls_frames.evaluation.agreement",
    "consensus": "ls_frames.evaluation.agreement",
    "annotator_pivot": "ls_frames.evaluation.pivot",
    "compare_predictions": "ls_frames.evaluation.comparison",
    "iou": "ls_frames.evaluation.pivot",
    "COCO_IOU_THRESHOLDS": "ls_frames.evaluation.scores",
    "confusion": "ls_frames.evaluation.matrix",
    "evaluate": "ls_frames.evaluation.scores",
    "rle_to_mask": "ls_frames.geometry.brush",
    "mask_to_coco_rle": "ls_frames.geometry.coco",
    "box_corners": "ls_frames.geometry.pixels",
    "to_coco": "ls_frames.geometry.shapes",
    "to_pixels": "ls_frames.geometry.pixels",
    "to_xyxy": "ls_frames.geometry.shapes",
    "to_yolo": "ls_frames.geometry.shapes",
    "RegionMask": "ls_frames.geometry.masks",
    "ellipse_mask": "ls_frames.geometry.masks",
    "polygon_mask": "ls_frames.geometry.masks",
    "region_masks": "ls_frames.geometry.masks",
    "interpolate_tracks": "ls_frames.geometry.tracks",
    "iter_tracks": "ls_frames.geometry.tracks",
    "split": "ls_frames.training.splits",
    "to_hf_dataset": "ls_frames.training.hf",
    "whitespace_tokenizer": "ls_frames.training.hf",
}


_lazy_getattr, __dir__ = _attach(__name__, _LAZY)


def __getattr__(name: str) -> _Any:
    if name not in _MOVED:
        return _lazy_getattr(name)
    module = _MOVED[name]
    package = module.rsplit(".", 1)[0]
    if name in getattr(_importlib.import_module(package), "__all__", ()):
        module = package
    _warnings.warn(
        f"ls_frames.tables.{name} moved: import it from {module}; the old name will be "
        "removed in a later release",
        DeprecationWarning,
        stacklevel=2,
    )
    return getattr(_importlib.import_module(module), name)


__all__ = [
    "DTYPE_BACKENDS",
    "METADATA_KEY",
    "Frames",
    "compact_delta",
    "read_delta",
    "read_export",
    "read_parquet",
    "table_to_pandas",
    "to_parquet",
    "types_mapper",
]
