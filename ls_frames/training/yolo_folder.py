"""The labels of a YOLO training folder, the layout Ultralytics reads:
``labels/<split>/<image stem>.txt`` beside ``images/<split>/<image>``, and ``data.yaml``.

A label file has one line per region: ``class x_center y_center width height``, from
:func:`~ls_frames.geometry.shapes.to_yolo` (the enclosing box, normalised to 0-1), clipped
to the image (Ultralytics drops a whole image whose labels leave 0-1). With
``segmentation=True`` every line is a polygon instead, ``class x1 y1 x2 y2 ...``
normalised and each coordinate clamped to 0-1: polygons' points, rectangles' four corners
(rotation included); a label file never mixes boxes and polygons, so ellipses and brushes
are left out then. Brushes have no box line either. An image without regions gets an
empty file (a background image).

``data.yaml`` is written by hand (no YAML library): ``train:``/``val:``/... relative to
the file's folder (Ultralytics resolves them there when there is no ``path:`` key),
``nc:`` and ``names:`` (class id -> name, in class order).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from ls_frames.geometry.masks import mask_kinds
from ls_frames.geometry.pixels import box_corners
from ls_frames.geometry.shapes import to_yolo
from ls_frames.training.folder_plan import LeftOut, Picture, label_of

__all__ = ["data_yaml", "write_yolo", "yolo_lines"]


def _numbers(values: list[float]) -> str:
    return " ".join(f"{min(max(v, 0.0), 1.0):.6f}" for v in values)


def _box_lines(rows: pd.DataFrame, picture: Picture, classes: list[int]) -> list[str]:
    yolo = to_yolo(rows, (picture.width, picture.height))
    lines = []
    for i, k in enumerate(classes):
        cx, cy, w, h = (float(yolo[c][i]) for c in ("x_center", "y_center", "width", "height"))
        # clip the box to the image, then write it again as centre and size
        x0, y0 = max(cx - w / 2, 0.0), max(cy - h / 2, 0.0)
        x1, y1 = min(cx + w / 2, 1.0), min(cy + h / 2, 1.0)
        lines.append(f"{k} {_numbers([(x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0])}")
    return lines


def _polygon_line(row: pd.Series, picture: Picture, k: int, kind: str) -> str:
    if kind == "rectangle":
        corners = box_corners(row.to_frame().T, (picture.width, picture.height))[0]
        flat = [v for x, y in corners for v in (x / picture.width, y / picture.height)]
    else:
        flat = [float(v) / 100.0 for p in row["points"] for v in list(p)[:2]]
    return f"{k} {_numbers(flat)}"


def yolo_lines(
    picture: Picture, names: list[str], segmentation: bool, left_out: LeftOut
) -> list[str]:
    """The label file's lines of one image; the regions it cannot hold counted in
    ``left_out``."""
    rows = picture.regions.reset_index(drop=True)
    if not len(rows):
        return []
    kinds = mask_kinds(rows["type"]).fillna("").to_numpy(object)
    labels = [label_of(v) for v in rows["labels"]]
    keep = []
    for i, (kind, label) in enumerate(zip(kinds, labels, strict=True)):
        if label is None:
            left_out.region("regions without a label")
        elif kind == "brush":
            left_out.region("brush regions (YOLO labels hold boxes and polygons)")
        elif segmentation and kind not in ("rectangle", "polygon"):
            left_out.region(f"{kind} regions (YOLO segmentation lines are polygons)")
        else:
            keep.append(i)
    picked = rows.iloc[keep].reset_index(drop=True)
    classes = [names.index(str(labels[i])) for i in keep]
    if not segmentation:
        yolo = to_yolo(picked, (picture.width, picture.height))
        finite = np.isfinite(np.column_stack(list(yolo.values()))).all(axis=1)
        left_out.region("regions without a geometry", int((~finite).sum()))
        picked = picked[finite].reset_index(drop=True)
        return _box_lines(picked, picture, [k for k, ok in zip(classes, finite, strict=True) if ok])
    return [
        _polygon_line(picked.iloc[j], picture, k, str(kinds[keep[j]]))
        for j, k in enumerate(classes)
    ]


def data_yaml(splits: list[str], names: list[str]) -> str:
    """The ``data.yaml`` of the folder (names quoted as JSON strings, which YAML reads)."""
    lines = [
        "# written by ls_frames.export_dataset; paths are relative to this file's folder",
        *(f"{split}: images/{split}" for split in splits),
        f"nc: {len(names)}",
        "names:",
        *(f"  {i}: {json.dumps(name, ensure_ascii=False)}" for i, name in enumerate(names)),
    ]
    return "\n".join(lines) + "\n"


def write_yolo(
    root: Path,
    pictures: list[Picture],
    names: list[str],
    splits: list[str],
    segmentation: bool,
    left_out: LeftOut,
) -> dict[str, int]:
    """Write ``labels/<split>/*.txt`` and ``data.yaml``; returns the lines of each split."""
    counts = dict.fromkeys(splits, 0)
    for split in splits:
        (root / "labels" / split).mkdir(parents=True, exist_ok=True)
    for picture in pictures:
        lines = yolo_lines(picture, names, segmentation, left_out)
        path = root / "labels" / picture.split / f"{Path(picture.name).stem}.txt"
        path.write_text("".join(f"{line}\n" for line in lines))
        counts[picture.split] += len(lines)
    (root / "data.yaml").write_text(data_yaml(splits, names))
    return counts
