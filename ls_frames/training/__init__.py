"""Training data from the tables: reproducible :func:`split` s, Hugging Face datasets
(:func:`to_hf_dataset`, the ``train`` extra) and training folders on disk
(:func:`export_dataset`: COCO, YOLO, image folders).

Modules: :mod:`~ls_frames.training.splits` (hash-based splits, stratified by a consensus
label), :mod:`~ls_frames.training.hf` (the dataset: which annotation each task trains on,
the control, the media, the split) and :mod:`~ls_frames.training.hf_tasks` (the columns
and features of detection, classification, NER and segmentation),
:mod:`~ls_frames.training.folders` (training folders: the plan in
:mod:`~ls_frames.training.folder_plan`, the labels in
:mod:`~ls_frames.training.coco_folder` and :mod:`~ls_frames.training.yolo_folder`). The
top layer of the data stack: it may import evaluation, geometry and the tables.
"""

from typing import TYPE_CHECKING as _TYPE_CHECKING

from ls_frames._lazy import attach as _attach

if _TYPE_CHECKING:
    from ls_frames.training.folders import DatasetSummary, export_dataset
    from ls_frames.training.hf import to_hf_dataset, whitespace_tokenizer
    from ls_frames.training.splits import split

_LAZY = {
    "DatasetSummary": "ls_frames.training.folders",
    "export_dataset": "ls_frames.training.folders",
    "to_hf_dataset": "ls_frames.training.hf",
    "whitespace_tokenizer": "ls_frames.training.hf",
    "split": "ls_frames.training.splits",
}


__getattr__, __dir__ = _attach(__name__, _LAZY)


__all__ = ["DatasetSummary", "export_dataset", "split", "to_hf_dataset", "whitespace_tokenizer"]
