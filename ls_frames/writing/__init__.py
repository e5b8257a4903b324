"""Writing back: region rows into Label Studio result lists, checked against the config.

- :func:`to_results` (:mod:`.results`): the inverse of flattening, region and relation
  rows into one result list per annotation, prediction or draft;
- builders (:mod:`.builders`): region rows from what models produce (boxes, polygons,
  keypoints, masks, text spans, choices), for :func:`to_results`;
- :func:`check_results` (:mod:`.checks`): every item against the project's label config
  and the known tasks, before anything is sent.

Pure: tables in, tables out, no HTTP (the network half sends what these return).
"""

from ls_frames.writing.builders import (
    boxes_to_regions,
    choices_to_regions,
    keypoints_to_regions,
    masks_to_regions,
    polygons_to_regions,
    spans_to_regions,
)
from ls_frames.writing.checks import check_results
from ls_frames.writing.results import to_results

__all__ = [
    "boxes_to_regions",
    "check_results",
    "choices_to_regions",
    "keypoints_to_regions",
    "masks_to_regions",
    "polygons_to_regions",
    "spans_to_regions",
    "to_results",
]
