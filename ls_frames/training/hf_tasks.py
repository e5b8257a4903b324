"""The columns and ``datasets`` features of each training task of
:func:`~ls_frames.training.hf.to_hf_dataset`: detection (COCO boxes), classification
(choices), NER (BIO tags over tokens) and segmentation (a class-id mask per image).

Each builder takes the ``datasets`` module, the chosen annotation's regions of every task
(``groups``, in task order) and fills ``columns`` and ``features`` in place.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import pandas as pd

from ls_frames.errors import ConfigurationError
from ls_frames.geometry.masks import region_masks
from ls_frames.geometry.shapes import to_coco
from ls_frames.reading import Control
from ls_frames.tables.frames import Frames

__all__ = [
    "Tokenizer",
    "classification_columns",
    "detection_columns",
    "ner_columns",
    "segmentation_columns",
]

Tokenizer = Callable[[str], Iterable[Any]]


def _names(control: Control | None, seen: Iterable[str]) -> list[str]:
    names = list(control.values) if control is not None and control.values else []
    return names + sorted(set(seen) - set(names))


def _first(values: Any) -> str | None:
    if values is None or isinstance(values, float) or not len(values):
        return None
    return str(values[0])


def _image_size(value: dict[str, Any]) -> tuple[int, int]:
    from PIL import Image  # datasets' Image feature depends on Pillow

    with Image.open(value["path"] or io.BytesIO(value["bytes"])) as im:
        width, height = im.size
    return int(width), int(height)


def _text_column(frames: Frames, field: str | None, control: Control | None) -> str:
    columns = [c for c in frames.tasks.columns if str(c).startswith("data.")]
    wanted = [field] if field else [t for t in (control.to_name if control else ())]
    for name in wanted:
        if f"data.{name}" in columns:
            return f"data.{name}"
    if field is None and len(columns) == 1:
        return str(columns[0])
    raise ConfigurationError(f"pass field= to choose the text: the tasks have {columns}")


def _bio(
    text: str, spans: list[tuple[int, int, str]], tokenizer: Tokenizer
) -> tuple[list[str], list[str]]:
    offsets: list[tuple[int, int]] = []
    cursor = 0
    for token in tokenizer(text):
        if isinstance(token, str):  # token strings: found in the text in order
            start = text.find(token, cursor)
            if start < 0:
                raise ConfigurationError(f"token {token!r} is not in the text after {cursor}")
            offsets.append((start, start + len(token)))
        else:
            start, end = int(token[0]), int(token[1])
            offsets.append((start, end))
        cursor = offsets[-1][1]
    tags = ["O"] * len(offsets)
    for start, end, label in sorted(spans):
        inside = [i for i, (s, e) in enumerate(offsets) if s < end and e > start and tags[i] == "O"]
        for k, i in enumerate(inside):
            tags[i] = f"{'B' if k == 0 else 'I'}-{label}"
    return [text[s:e] for s, e in offsets], tags


def detection_columns(
    ds: Any,
    frames: Frames,
    control: Control | None,
    groups: list[pd.DataFrame],
    columns: dict[str, list[Any]],
    features: dict[str, Any],
    kind: str | None,
) -> None:
    seen = {v for g in groups for v in (_first(x) for x in g["labels"]) if v}
    names = _names(control, seen)
    widths, heights, objects = [], [], []
    for i, group in enumerate(groups):
        boxes = group[group["x"].notna().to_numpy(bool)]
        if kind == "image":
            size = _image_size(columns["image"][i])
        else:
            known = boxes[["original_width", "original_height"]].dropna()
            size = (int(known.iloc[0, 0]), int(known.iloc[0, 1])) if len(known) else (0, 0)
        coco = to_coco(boxes, size if size != (0, 0) else None)
        bbox = np.column_stack([coco["x"], coco["y"], coco["width"], coco["height"]])
        widths.append(size[0])
        heights.append(size[1])
        objects.append(
            {
                "bbox": bbox.tolist(),
                "category": [
                    names.index(_first(x) or "") if _first(x) in names else -1
                    for x in boxes["labels"]
                ],
                "region_id": [str(r) for r in boxes["region_id"]],
                "area": (bbox[:, 2] * bbox[:, 3]).tolist(),
            }
        )
    columns.update(width=widths, height=heights, objects=objects)
    features.update(
        width=ds.Value("int32"),
        height=ds.Value("int32"),
        objects={
            "bbox": ds.List(ds.List(ds.Value("float32"), length=4)),
            "category": ds.List(ds.ClassLabel(names=names)),
            "region_id": ds.List(ds.Value("string")),
            "area": ds.List(ds.Value("float32")),
        },
    )


def classification_columns(
    ds: Any,
    control: Control | None,
    groups: list[pd.DataFrame],
    columns: dict[str, list[Any]],
    features: dict[str, Any],
) -> None:
    answers = [
        sorted({str(c) for cs in g["choices"] if cs is not None and len(cs) for c in cs})
        for g in groups
    ]
    names = _names(control, {a for answer in answers for a in answer})
    label = ds.ClassLabel(names=names)
    if any(len(a) > 1 for a in answers):
        columns["labels"] = [[names.index(a) for a in answer] for answer in answers]
        features["labels"] = ds.List(label)
    else:
        columns["label"] = [names.index(a[0]) if a else -1 for a in answers]
        features["label"] = label


def ner_columns(
    ds: Any,
    frames: Frames,
    control: Control | None,
    field: str | None,
    groups: list[pd.DataFrame],
    task_ids: list[int],
    columns: dict[str, list[Any]],
    features: dict[str, Any],
    tokenizer: Tokenizer,
) -> None:
    column = _text_column(frames, field, control)
    texts = frames.tasks.set_index("task_id")[column].astype(object)
    seen = {v for g in groups for v in (_first(x) for x in g["labels"]) if v}
    names = _names(control, seen)
    tag_names = ["O", *(f"{p}-{n}" for n in names for p in ("B", "I"))]
    all_tokens, all_tags, all_texts = [], [], []
    for task_id, group in zip(task_ids, groups, strict=True):
        text = texts.get(task_id)
        text = "" if text is None or pd.isna(text) else str(text)
        spans = []
        for row in group.itertuples(index=False):
            start, end = pd.to_numeric(pd.Series([row.start, row.end]), errors="coerce")
            label = _first(row.labels)
            if label is not None and not (pd.isna(start) or pd.isna(end)):
                spans.append((int(start), int(end), label))
        tokens, tags = _bio(text, spans, tokenizer)
        all_texts.append(text)
        all_tokens.append(tokens)
        all_tags.append([tag_names.index(t) for t in tags])
    columns.update(text=all_texts, tokens=all_tokens, ner_tags=all_tags)
    features.update(
        text=ds.Value("string"),
        tokens=ds.List(ds.Value("string")),
        ner_tags=ds.List(ds.ClassLabel(names=tag_names)),
    )


def segmentation_columns(
    ds: Any,
    control: Control | None,
    groups: list[pd.DataFrame],
    columns: dict[str, list[Any]],
    features: dict[str, Any],
    kind: str | None,
) -> None:
    seen = {v for g in groups for v in (_first(x) for x in g["labels"]) if v}
    names = _names(control, seen)
    masks, present = [], []
    for i, group in enumerate(groups):
        if kind == "image":
            width, height = _image_size(columns["image"][i])
        else:
            known = group[["original_width", "original_height"]].dropna()
            if not len(known):
                raise ConfigurationError(
                    f"task {columns['task_id'][i]}: no image size in the export; pass media="
                )
            width, height = int(known.iloc[0, 0]), int(known.iloc[0, 1])
        canvas = np.zeros((height, width), np.uint8)
        classes: set[int] = set()
        for region in region_masks(group, shape=(height, width)):  # in result order
            label = _first(group.at[region.index, "labels"])
            if label is not None:
                canvas[region.mask > 0] = names.index(label) + 1
                classes.add(names.index(label))
        masks.append(canvas)
        present.append(sorted(classes))
    columns.update(mask=masks, categories=present)
    features.update(mask=ds.Image(), categories=ds.List(ds.ClassLabel(names=names)))
