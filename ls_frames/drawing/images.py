"""The picture behind a task: from an image given, the media table, a folder or a mapping.

``media=`` takes what a user has at hand:

* the media table of :func:`~ls_frames.fetch_media` (or a dataset's ``frames.media``):
  ``task_id, field, position, path``; the row of the field the regions are drawn on
  (their ``to_name``'s data key in the label config), the first one otherwise;
* a folder: the file named as the last part of the task's data URL
  (``/data/upload/3/ab12-street.jpg`` -> ``FOLDER/ab12-street.jpg``);
* a mapping ``task_id -> path`` (or an image);
* ``None``: the frames' own media table when they carry one.

An image is read with Pillow; ``size`` fits it into a box before anything is drawn (a
JPEG is decoded at a reduced scale first: Pillow's ``draft``, several times faster than
decoding it whole and shrinking it).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ls_frames.drawing.extras import pillow
from ls_frames.drawing.lookup import lookup
from ls_frames.errors import ConfigurationError, MediaError

__all__ = ["image_field", "load_image", "media_path", "open_image"]

ImageSource = Any  # a PIL image, a numpy array, a path


def _missing(task_id: int, field: str | None, where: Any, why: str) -> MediaError:
    """A :class:`MediaError` with one failure: the task's image is missing or unreadable."""
    return MediaError([(task_id, field or "", 0, str(where), why)])


def image_field(frames: Any, to_names: list[str]) -> str | None:
    """The data key of the first object tag the regions are drawn on (``None`` when the
    frames carry no label config or it names none of them)."""
    config = getattr(frames, "label_config", None)
    if config is None:
        return None
    fields = {o.name: o.field for o in config.objects}
    for name in to_names:
        if name in fields:
            return str(fields[name])
    images = [o.field for o in config.objects if o.type == "image"]
    return images[0] if images else None


def _from_table(table: pd.DataFrame, task_id: int, field: str | None, item: int) -> str:
    missing = {"task_id", "path"} - set(table.columns)
    if missing:
        raise ConfigurationError(
            f"media table needs the columns task_id and path (fetch_media's); missing {missing}"
        )
    rows = table[(table["task_id"] == task_id).to_numpy(bool, na_value=False)]
    if field is not None and "field" in rows.columns and (rows["field"] == field).any():
        rows = rows[(rows["field"] == field).to_numpy(bool, na_value=False)]
    if "position" in rows.columns and len(rows) > 1:
        at = rows["position"]
        if item and (at == item).any():
            rows = rows[(at == item).to_numpy(bool, na_value=False)]
        rows = rows.sort_values("position", na_position="first", kind="stable")
    paths = [p for p in rows["path"].tolist() if isinstance(p, str) and p]
    if not paths:
        why = "no row" if not len(rows) else "no path (the fetch failed: see its error column)"
        raise _missing(task_id, field, "media table", f"the media table has {why}")
    return paths[0]


def _data_value(frames: Any, task_id: int, field: str | None, item: int) -> str:
    data_json = lookup(frames).data_json(frames, task_id)
    if data_json is None:
        raise ConfigurationError(f"task {task_id} is not in the frames")
    data = json.loads(data_json or "{}")
    if field is None:
        found = [v for v in data.values() if isinstance(v, str) and "/" in v]
        if not found:
            raise _missing(task_id, field, "task data", "no data value looks like a file")
        return str(found[0])
    value = data.get(field)
    if isinstance(value, list) and value:
        value = value[item] if item < len(value) else None
    if not isinstance(value, str):
        raise _missing(task_id, field, "task data", f"data[{field!r}] is not a file reference")
    return value


def media_path(
    frames: Any, task_id: int, media: Any, field: str | None, item: int = 0
) -> ImageSource:
    """The file (or image) ``media`` holds for ``task_id`` (see the module docstring).

    Raises
    ------
    MediaError
        ``media`` holds nothing for the task.
    ConfigurationError
        ``media`` is none of the kinds above, or ``None`` and the frames carry no media
        table.
    """
    if media is None:
        arrow = getattr(frames, "arrow", {})
        if "media" not in arrow:
            raise ConfigurationError(
                "no media: pass media= (fetch_media's table, a folder or a task_id -> "
                "path mapping) or image="
            )
        media = frames.media
    if isinstance(media, pd.DataFrame):
        return _from_table(media, task_id, field, item)
    if isinstance(media, Mapping):
        if task_id not in media:
            raise _missing(task_id, field, "media mapping", "not in the media mapping")
        return media[task_id]
    if isinstance(media, (str, os.PathLike)):
        folder = Path(media)
        if not folder.is_dir():
            raise ConfigurationError(f"media folder {folder} does not exist")
        name = (
            _data_value(frames, task_id, field, item).split("?")[0].rstrip("/").rsplit("/", 1)[-1]
        )
        path = folder / name
        if not path.is_file():
            raise _missing(task_id, field, folder / name, "no such file in the media folder")
        return str(path)
    raise ConfigurationError(
        f"media must be fetch_media's table, a folder or a mapping, not {type(media).__name__}"
    )


def _fit(image: Any, size: tuple[int, int]) -> Any:
    """``image`` scaled (up or down, aspect kept) to fit ``size``."""
    scale = min(size[0] / image.width, size[1] / image.height)
    if abs(scale - 1.0) < 1e-9:
        return image
    target = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(target, pillow().Image.Resampling.BILINEAR)


def open_image(source: ImageSource, size: tuple[int, int] | None = None) -> Any:
    """``source`` as an RGB PIL image (a copy when it is one already), fitted into
    ``size`` when given (a JPEG is then decoded at a reduced scale first: Pillow's
    ``draft``)."""
    pil = pillow()
    if isinstance(source, pil.Image.Image):
        image = source.convert("RGB") if source.mode != "RGB" else source.copy()
    elif isinstance(source, np.ndarray):
        array = source if source.dtype == np.uint8 else np.clip(source, 0, 255).astype(np.uint8)
        image = pil.Image.fromarray(array).convert("RGB")
    elif isinstance(source, (str, os.PathLike)):
        try:
            image = pil.Image.open(source)
            if size is not None:
                image.draft("RGB", size)
            image.load()
            if image.mode != "RGB":  # convert copies: only when it must
                image = image.convert("RGB")
        except (OSError, pil.UnidentifiedImageError) as exc:
            raise MediaError(
                [(None, "", 0, str(source), f"cannot read the image: {exc}")]
            ) from None
    else:
        raise ConfigurationError(
            f"an image is a PIL image, a numpy array or a path, not {type(source).__name__}"
        )
    return image if size is None else _fit(image, size)


def load_image(
    frames: Any,
    task_id: int,
    *,
    media: Any,
    image: ImageSource | None,
    field: str | None,
    size: tuple[int, int] | None = None,
    item: int = 0,
) -> Any:
    """The task's picture as an RGB PIL image: ``image`` when given, else from ``media``
    (the ``item``-th of a list of images; fitted into ``size`` when given)."""
    source = image if image is not None else media_path(frames, task_id, media, field, item)
    return open_image(source, size)
