"""The labels of a COCO training folder: one ``annotations/instances_<split>.json`` a
split, the layout torchvision's ``CocoDetection`` and detectron2's
``register_coco_instances`` read with ``images/<split>`` as the image root.

Each image is a task (``id`` = ``task_id``, ``file_name`` relative to ``images/<split>``,
``width``, ``height``); each annotation a region of the control: ``bbox`` from
:func:`~ls_frames.geometry.shapes.to_coco` (the enclosing box in pixels, rotation
included), ``segmentation`` from :mod:`~ls_frames.geometry.coco` (a polygon for
rectangles and polygons, compressed RLE for brushes and ellipses), ``area`` the area of
that segmentation, ``iscrowd`` 0. Categories are the classes in order, ids from 1.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ls_frames.geometry.masks import mask_kinds, region_masks
from ls_frames.geometry.shapes import to_coco
from ls_frames.training.folder_plan import LeftOut, Picture, label_of

__all__ = ["coco_annotations", "write_coco"]


def _polygon_area(flat: list[float]) -> float:
    x, y = np.asarray(flat[0::2], float), np.asarray(flat[1::2], float)
    return float(abs(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1))) / 2.0)


def _text(value: Any) -> str | None:
    return None if value is None or value is pd.NA or pd.isna(value) else str(value)


def _mask_boxes(rows: pd.DataFrame, shape: tuple[int, int]) -> dict[Any, tuple[list[float], int]]:
    """``index -> (bbox, area)`` of the brush and ellipse rows from their pixels."""
    drawn = rows[mask_kinds(rows["type"]).isin(["brush", "ellipse"]).to_numpy(bool)]
    out: dict[Any, tuple[list[float], int]] = {}
    for region in region_masks(drawn, shape=shape):
        ys, xs = np.nonzero(region.mask)
        if len(xs):
            box = [float(xs.min()), float(ys.min()), float(np.ptp(xs) + 1), float(np.ptp(ys) + 1)]
            out[region.index] = (box, len(xs))
    return out


def coco_annotations(
    picture: Picture, names: list[str], first_id: int, left_out: LeftOut
) -> list[dict[str, Any]]:
    """The COCO annotations of one image, ids from ``first_id``; regions without a label
    or a geometry counted in ``left_out``."""
    rows = picture.regions.reset_index(drop=True)
    if not len(rows):
        return []
    labels = [label_of(v) for v in rows["labels"]]
    size = (picture.width, picture.height)
    coco = to_coco(rows, size, segmentation=True)
    kinds = mask_kinds(rows["type"]).to_numpy(object)
    drawn = _mask_boxes(rows, (picture.height, picture.width))
    out: list[dict[str, Any]] = []
    for i, label in enumerate(labels):
        if label is None:
            left_out.region("regions without a label")
            continue
        segmentation = coco["segmentation"][i]
        if kinds[i] in ("brush", "ellipse"):
            if i not in drawn:
                left_out.region("regions with an empty mask")
                continue
            bbox, area = drawn[i][0], float(drawn[i][1])
            if kinds[i] == "ellipse":  # the exact enclosing box, as to_coco gives it
                bbox = [float(coco[k][i]) for k in ("x", "y", "width", "height")]
        else:
            bbox = [float(coco[k][i]) for k in ("x", "y", "width", "height")]
            area = _polygon_area(segmentation[0]) if segmentation else bbox[2] * bbox[3]
        if not np.isfinite(bbox).all():
            left_out.region("regions without a geometry")
            continue
        out.append(
            {
                "id": first_id + len(out),
                "image_id": picture.task_id,
                "category_id": names.index(label) + 1,
                "bbox": bbox,
                "area": area,
                "segmentation": segmentation,
                "iscrowd": 0,
                "region_id": _text(rows.at[i, "region_id"]),
            }
        )
    return out


def write_coco(
    root: Path, pictures: list[Picture], names: list[str], splits: list[str], left_out: LeftOut
) -> dict[str, int]:
    """Write ``annotations/instances_<split>.json`` for every split (an empty split too);
    returns the number of annotations of each split."""
    (root / "annotations").mkdir(parents=True, exist_ok=True)
    categories = [{"id": i + 1, "name": n, "supercategory": ""} for i, n in enumerate(names)]
    counts: dict[str, int] = {}
    next_id = 1
    for split in splits:
        images: list[dict[str, Any]] = []
        annotations: list[dict[str, Any]] = []
        for picture in (p for p in pictures if p.split == split):
            images.append(
                {
                    "id": picture.task_id,
                    "file_name": picture.name,
                    "width": picture.width,
                    "height": picture.height,
                }
            )
            found = coco_annotations(picture, names, next_id, left_out)
            annotations.extend(found)
            next_id += len(found)
        document = {
            "info": {"description": f"ls_frames export_dataset, split {split!r}"},
            "licenses": [],
            "images": images,
            "annotations": annotations,
            "categories": categories,
        }
        path = root / "annotations" / f"instances_{split}.json"
        path.write_text(json.dumps(document, separators=(",", ":")))
        counts[split] = len(annotations)
    return counts
