"""``show``: one task's picture with its regions drawn; ``show_grid``: a page of them.

The regions drawn are those of ``frames.regions`` for the task, chosen by source
(annotations, predictions, drafts), control (``from_name``), annotation (``reference``)
and model version; each is captioned with its label and, for an annotation, its annotator
(email, else user id), for a prediction its score.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import pandas as pd

from ls_frames.drawing.canvas import DRAWN_KINDS, draw_legend, draw_regions
from ls_frames.drawing.colors import label_colors
from ls_frames.drawing.extras import pillow
from ls_frames.drawing.images import image_field, load_image
from ls_frames.drawing.lookup import COLUMNS, lookup
from ls_frames.errors import ConfigurationError
from ls_frames.evaluation.reference import Reference
from ls_frames.reading.controls import kind_of

__all__ = ["SOURCES", "region_records", "select_regions", "show", "show_grid"]

#: what ``sources=`` may name (plural or singular), as the regions table's ``source``
SOURCES = {
    "annotations": "annotation",
    "annotation": "annotation",
    "predictions": "prediction",
    "prediction": "prediction",
    "drafts": "draft",
    "draft": "draft",
}


def _sources(sources: str | Iterable[str]) -> set[str]:
    chosen = [sources] if isinstance(sources, str) else list(sources)
    unknown = [s for s in chosen if s not in SOURCES]
    if unknown or not chosen:
        raise ConfigurationError(
            f"sources must be among annotations, predictions, drafts, not {unknown or chosen!r}"
        )
    return {SOURCES[s] for s in chosen}


def region_records(
    frames: Any,
    task_id: int,
    *,
    sources: str | Iterable[str] = ("annotations", "predictions"),
    from_name: str | None = None,
    reference: Reference | None = None,
    model_version: str | Iterable[str] | None = None,
    item: int = 0,
) -> list[dict[str, Any]]:
    """The task's regions ``show`` draws, as dicts with a ``caption`` and ``index`` (the
    row's label in ``frames.regions``)."""
    wanted = _sources(sources)
    found = lookup(frames)
    if (
        from_name is not None
        and from_name not in found.names
        and (frames.label_config is None or from_name not in frames.label_config.by_name())
    ):
        raise ConfigurationError(
            f"no control {from_name!r}; the regions have {sorted(found.names)}"
        )
    annotations = None
    if reference is not None and "annotation" in wanted:
        annotations = found.reference(frames, reference)
    versions = None
    if model_version is not None:
        versions = [model_version] if isinstance(model_version, str) else list(model_version)
    return found.records(int(task_id), wanted, from_name, annotations, versions, item)


def select_regions(
    frames: Any,
    task_id: int,
    *,
    sources: str | Iterable[str] = ("annotations", "predictions"),
    from_name: str | None = None,
    reference: Reference | None = None,
    model_version: str | Iterable[str] | None = None,
) -> pd.DataFrame:
    """:func:`region_records` as a DataFrame indexed like ``frames.regions``."""
    records = region_records(
        frames,
        task_id,
        sources=sources,
        from_name=from_name,
        reference=reference,
        model_version=model_version,
    )
    table = pd.DataFrame(records, columns=[*COLUMNS, "index", "caption"])
    out: pd.DataFrame = table.set_index("index").rename_axis(frames.regions.index.name)
    return out


def _emphasis(records: list[dict[str, Any]], highlight: Iterable[Any] | None) -> list[bool] | None:
    if highlight is None:
        return None
    marks = list(highlight)
    ids = {m for m in marks if isinstance(m, str)}
    index = {m for m in marks if not isinstance(m, str)}
    return [(r["region_id"] in ids) or (r["index"] in index) for r in records]


def _known_task(frames: Any, task_id: int) -> None:
    """Refuse a task id the frames do not hold (rather than a media error about it)."""
    try:
        tasks = frames["tasks"]
    except KeyError:  # a mapping of some tables only: nothing to check against
        return
    if "task_id" not in tasks or (tasks["task_id"] == task_id).any():
        return
    ids = tasks["task_id"]
    held = f"ids {ids.min()} to {ids.max()}" if len(ids) else "none"
    raise ConfigurationError(f"task {task_id} is not in these frames ({len(ids)} tasks: {held})")


def show(
    frames: Any,
    task_id: int,
    *,
    media: Any = None,
    image: Any = None,
    sources: str | Iterable[str] = ("annotations", "predictions"),
    from_name: str | None = None,
    reference: Reference | None = None,
    model_version: str | Iterable[str] | None = None,
    highlight: Iterable[Any] | None = None,
    legend: bool = True,
    captions: bool = True,
    size: tuple[int, int] | None = None,
    item: int = 0,
) -> Any:
    """One task's image with its regions drawn on it, in pixels.

    Rectangles (turned about their top-left corner, as Label Studio turns them), polygons,
    polylines, ellipses and keypoints are outlined, brush masks tinted over the image,
    each in its label's colour: the label config's ``background`` where it sets one, else
    a colour that stays the same for the name (:func:`label_colors`). Annotations are
    drawn with solid lines, predictions with dashed ones (a predicted mask: a dotted
    edge); each region is captioned with its label and its annotator (email, else user
    id) or its score, where the caption fits; a key in the bottom-left corner says which
    is which.

    Parameters
    ----------
    frames
        The tables (:func:`~ls_frames.load_project`, :func:`~ls_frames.read_parquet`, ...).
    task_id
        The task.
    media
        Where the image is: :func:`~ls_frames.fetch_media`'s table (or a dataset's
        ``frames.media``, used when ``media`` is ``None``), a folder holding the files
        under their names in the task data, or a mapping ``task_id -> path``.
    image
        The picture itself (a PIL image, a numpy array or a path) instead of ``media``.
    sources
        ``"annotations"``, ``"predictions"``, ``"drafts"``, or several.
    from_name
        Only this control's regions (all by default).
    reference
        Only this annotation per task, as :func:`~ls_frames.evaluate` chooses it
        (``"ground_truth"``, ``"latest"``, an annotator's email or user id); ``None``
        draws every annotation.
    model_version
        Only the predictions of these model versions.
    highlight
        Regions drawn with lines twice as wide: region ids (strings) or labels of
        ``frames.regions``' index.
    legend
        Draw the key.
    captions
        Write each region's label, annotator or score beside it.
    size
        ``(width, height)`` to fit the picture into (its aspect kept) before drawing, so
        lines and captions are sized for it; a JPEG is then decoded at a reduced scale
        (faster for thumbnails). The image's own size by default.
    item
        For a task showing a list of images (``<Image valueList="$images">``): which one
        (0-based); the regions drawn are those of that image.

    Returns
    -------
    PIL.Image.Image
        An RGB image (a new one: a given ``image`` is not drawn on).

    Raises
    ------
    ConfigurationError
        A task the frames do not hold, an unknown source or control, no ``media`` and no
        ``image``, the ``plot`` extra missing (its message names
        ``pip install 'ls-frames[plot]'``).
    MediaError
        ``media`` holds no image for the task, or it cannot be read.
    RegionError
        A brush region that cannot be decoded.
    """
    pillow()
    _known_task(frames, int(task_id))
    rows = region_records(
        frames,
        int(task_id),
        sources=sources,
        from_name=from_name,
        reference=reference,
        model_version=model_version,
        item=item,
    )
    to_names = list(dict.fromkeys(str(r["to_name"]) for r in rows if isinstance(r["to_name"], str)))
    picture = load_image(
        frames,
        int(task_id),
        media=media,
        image=image,
        field=image_field(frames, to_names),
        size=size,
        item=item,
    )
    records = [r for r in rows if kind_of(r["type"]) in DRAWN_KINDS]
    labels = list(dict.fromkeys(str(r["label"]) for r in records if isinstance(r["label"], str)))
    palette = label_colors(frames, labels, from_name=from_name)
    if not captions:
        for record in records:
            record["caption"] = ""
    sources_drawn = draw_regions(
        picture, records, colors=palette, emphasis=_emphasis(records, highlight)
    )
    if legend:
        draw_legend(picture, sources_drawn, {lab: palette[lab] for lab in labels})
    return picture


def show_grid(
    frames: Any,
    task_ids: Sequence[int],
    *,
    columns: int = 4,
    tile: tuple[int, int] = (480, 270),
    titles: Sequence[str] | None = None,
    highlight: Sequence[Iterable[Any] | None] | None = None,
    **options: Any,
) -> Any:
    """A page of :func:`show` pictures, ``columns`` wide, each shrunk into ``tile``.

    Parameters
    ----------
    frames
        The tables.
    task_ids
        The tasks, in page order.
    columns
        Pictures per row.
    tile
        ``(width, height)`` each picture is fitted into (its aspect kept).
    titles
        A line above each picture (default: ``task <id>``).
    highlight
        One :func:`show` ``highlight`` per task.
    **options
        :func:`show`'s other keyword arguments (``media``, ``sources``, ``from_name``,
        ``reference``, ``model_version``, ``legend``).

    Returns
    -------
    PIL.Image.Image
        The page (white where a row is not full).

    Raises
    ------
    ConfigurationError
        ``columns`` below 1, ``titles`` of another length, or what :func:`show` raises.
    MediaError
        A task's image is missing or cannot be read.
    """
    pil = pillow()
    from ls_frames.drawing.canvas import font

    if columns < 1:
        raise ConfigurationError(f"columns must be >= 1, not {columns!r}")
    ids = [int(t) for t in task_ids]
    if titles is not None and len(titles) != len(ids):
        raise ConfigurationError("titles must have one line per task")
    options.setdefault("legend", False)
    face = font(13)
    title_h = 20
    rows = max(1, math.ceil(len(ids) / columns))
    page = pil.Image.new("RGB", (columns * tile[0], rows * (tile[1] + title_h)), "white")
    draw = pil.ImageDraw.Draw(page)
    for i, task in enumerate(ids):
        mark = highlight[i] if highlight is not None else None
        picture = show(frames, task, highlight=mark, size=tile, **options)
        x, y = (i % columns) * tile[0], (i // columns) * (tile[1] + title_h)
        page.paste(picture, (x + (tile[0] - picture.width) // 2, y + title_h))
        text = titles[i] if titles is not None else f"task {task}"
        draw.text((x + 4, y + 3), text, fill=(0, 0, 0), font=face)
    return page
