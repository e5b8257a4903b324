"""Training data from the tables: reproducible :func:`split` s and Hugging Face datasets
(:func:`to_hf_dataset`, the ``train`` extra).

Modules: :mod:`~ls_frames.training.splits` (hash-based splits, stratified by a consensus
label), :mod:`~ls_frames.training.hf` (the dataset: which annotation each task trains on,
the control, the media, the split) and :mod:`~ls_frames.training.hf_tasks` (the columns
and features of detection, classification, NER and segmentation). The top layer of the
data stack: it may import evaluation, geometry and the tables.
"""

from typing import TYPE_CHECKING as _TYPE_CHECKING

from ls_frames._lazy import attach as _attach

if _TYPE_CHECKING:
    from ls_frames.training.hf import to_hf_dataset, whitespace_tokenizer
    from ls_frames.training.splits import split

_LAZY = {
    "to_hf_dataset": "ls_frames.training.hf",
    "whitespace_tokenizer": "ls_frames.training.hf",
    "split": "ls_frames.training.splits",
}


__getattr__, __dir__ = _attach(__name__, _LAZY)


__all__ = ["split", "to_hf_dataset", "whitespace_tokenizer"]
