"""What a training folder will hold, decided before a file is written: one
:class:`Picture` per task (its split, its file name, its source in the media cache, its
size in pixels and its reference regions), and what is left out, by reason
(:class:`LeftOut`).

:func:`plan_pictures` reads the media table that ``fetch_media`` writes (``task_id,
field, position, uri, path, bytes, sha256, content_type, error``): the first item of the
control's image field of each task, chosen as :func:`~ls_frames.to_hf_dataset` chooses it.
"""

from __future__ import annotations

import importlib.util
import mimetypes
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ls_frames.errors import ConfigurationError
from ls_frames.reading import Control
from ls_frames.training.hf import _bytes, _media_rows

__all__ = [
    "LeftOut",
    "Picture",
    "check_split_names",
    "class_names",
    "label_of",
    "plan_pictures",
    "split_of",
]

#: a split or class name usable as one folder name on every file system
_UNSAFE = re.compile(r'[\\/:*?"<>|\x00-\x1f]')


@dataclass
class Picture:
    """One image of the folder: task ``task_id`` in ``split``, written as ``name`` (from
    ``source``, a file of the media cache, or ``content``, its bytes), ``width x height``
    pixels, with the reference ``regions`` of the control (rows of ``frames.regions``)."""

    task_id: int
    split: str
    name: str
    source: str | None
    content: bytes | None
    width: int
    height: int
    regions: pd.DataFrame


@dataclass
class LeftOut:
    """What a folder leaves out: tasks and regions, each counted by reason."""

    tasks: dict[str, int] = field(default_factory=dict)
    regions: dict[str, int] = field(default_factory=dict)

    def task(self, why: str, n: int = 1) -> None:
        if n:
            self.tasks[why] = self.tasks.get(why, 0) + n

    def region(self, why: str, n: int = 1) -> None:
        if n:
            self.regions[why] = self.regions.get(why, 0) + n


def check_split_names(names: list[str], what: str) -> None:
    """Refuse names that cannot be one folder's name (``/``, ``..``, control characters)."""
    bad = [n for n in names if not n or n in (".", "..") or _UNSAFE.search(n)]
    if bad:
        raise ConfigurationError(
            f'{what} {bad} cannot be folder names (no / \\ : * ? " < > |, control '
            "characters, '.' or '..'): rename them"
        )


def split_of(split: pd.Series | None, task_ids: list[int]) -> tuple[dict[int, str], list[str]]:
    """``task_id -> split name`` and the split names in order (the categories of a
    categorical Series, else sorted); every task in one split ``"train"`` without one."""
    if split is None:
        return dict.fromkeys(task_ids, "train"), ["train"]
    where = split.astype(object)
    lost = [t for t in task_ids if t not in where.index or pd.isna(where.loc[t])]
    if lost:
        raise ConfigurationError(
            f"{len(lost)} tasks have no split, e.g. {lost[:10]}: split the same frames"
        )
    names = (
        [str(c) for c in split.cat.categories]
        if isinstance(split.dtype, pd.CategoricalDtype)
        else sorted({str(v) for v in where.dropna()})
    )
    check_split_names(names, "split names")
    return {t: str(where.loc[t]) for t in task_ids}, names


def _extension(row: pd.Series) -> str:
    for value in (row["path"], row["uri"]):
        if isinstance(value, str):
            suffix = Path(value.split("?")[0]).suffix.lower()
            if 1 < len(suffix) <= 6 and suffix[1:].isalnum():
                return suffix
    guessed = mimetypes.guess_extension(str(row["content_type"] or "").split(";")[0])
    return guessed or ".bin"


def _size_from_regions(regions: pd.DataFrame) -> tuple[int, int] | None:
    if not {"original_width", "original_height"} <= set(regions.columns):
        return None
    known = regions[["original_width", "original_height"]].dropna()
    known = known[(known.iloc[:, 0] > 0).to_numpy(bool) & (known.iloc[:, 1] > 0).to_numpy(bool)]
    return (int(known.iloc[0, 0]), int(known.iloc[0, 1])) if len(known) else None


def _size_from_file(source: str | None, content: bytes | None) -> tuple[int, int] | None:
    """The image's size from its header (Pillow reads no pixels for it); ``None`` when
    Pillow cannot read the file."""
    import io

    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(source if source is not None else io.BytesIO(content or b"")) as im:
            width, height = im.size
    except (UnidentifiedImageError, OSError):
        return None
    return int(width), int(height)


def _source(row: pd.Series) -> tuple[str | None, bytes | None, str | None]:
    """``(path, content, why not)``: the cached file, else bytes held in the table."""
    path = None if pd.isna(row["path"]) else str(row["path"])
    if path is not None:
        return (path, None, None) if os.path.isfile(path) else (None, None, "cached file gone")
    content = _bytes(row["bytes"])
    return (None, content, None) if content is not None else (None, None, "no file")


def plan_pictures(
    media: pd.DataFrame,
    control: Control | None,
    field: str | None,
    task_ids: list[int],
    regions: dict[int, pd.DataFrame],
    splits: dict[int, str],
    left_out: LeftOut,
    needs_size: bool,
) -> list[Picture]:
    """One :class:`Picture` per task that has a usable image, in task order; the others
    counted in ``left_out`` (no media row, a failed fetch, a cached file gone).

    Sizes come from the file's header when Pillow is installed (the percent coordinates
    are scaled to the image the trainer reads, whatever size the export says it had; a
    file Pillow cannot read is left out), else (``needs_size``) from the regions'
    ``original_width/height``; a :class:`~ls_frames.errors.ConfigurationError` names the
    tasks whose size neither gives.
    """
    if not isinstance(media, pd.DataFrame):
        raise TypeError(f"media= takes the fetch_media table, not {type(media).__name__}")
    if not len(media):
        left_out.task("tasks without media (the media table is empty)", len(task_ids))
        return []
    rows, kind, missing = _media_rows(media, field, control, task_ids)
    if kind != "image":
        raise ConfigurationError("a training folder is made of images; this media is audio")
    pillow = importlib.util.find_spec("PIL") is not None
    pictures: list[Picture] = []
    unsized: list[int] = []
    empty = next(iter(regions.values()), pd.DataFrame()).iloc[0:0]
    for task_id in task_ids:
        if task_id in missing:
            left_out.task(f"tasks without media ({missing[task_id]})")
            continue
        row = rows.loc[task_id]
        source, content, why = _source(row)
        if why is not None:
            left_out.task(f"tasks without media ({why})")
            continue
        mine = regions.get(task_id, empty)
        size: tuple[int, int] | None = (0, 0)
        if pillow:
            size = _size_from_file(source, content)
            if size is None:
                left_out.task("tasks without media (not an image Pillow reads)")
                continue
        elif needs_size:
            size = _size_from_regions(mine)
        if size is None:
            unsized.append(task_id)
            continue
        name = f"{task_id}{_extension(row)}"
        pictures.append(
            Picture(task_id, splits[task_id], name, source, content, size[0], size[1], mine)
        )
    if unsized:
        shown = ", ".join(str(t) for t in unsized[:10]) + (", ..." if len(unsized) > 10 else "")
        raise ConfigurationError(
            f"the image size of {len(unsized)} tasks ({shown}) is not in the export (no "
            "region with original_width/height) and Pillow, which would read it from the "
            'file, is not installed: pip install "ls_frames[train]"'
        )
    return pictures


def label_of(values: Any) -> str | None:
    """The first of a region's ``labels`` (or ``choices``), ``None`` when it has none."""
    if values is None or isinstance(values, float) or not len(values):
        return None
    return str(values[0])


def class_names(control: Control | None, pictures: list[Picture], column: str) -> list[str]:
    """The classes: the control's values in config order, then the labels the regions use
    that the config lacks, sorted (as :func:`~ls_frames.to_hf_dataset` names them)."""
    names = list(control.values) if control is not None and control.values else []
    seen = {
        v for p in pictures if column in p.regions for v in map(label_of, p.regions[column]) if v
    }
    return names + sorted(seen - set(names))
