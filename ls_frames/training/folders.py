"""Training folders on disk: the images of the media cache and their labels in the layout
a trainer reads (:func:`export_dataset`).

Three formats, each a tree under ``out_dir`` (``<split>`` is each split's name, ``train``
without a ``split``)::

    coco                                  yolo                     imagefolder
    annotations/instances_<split>.json    data.yaml                <split>/<class>/<image>
    images/<split>/<image>                images/<split>/<image>
                                          labels/<split>/<stem>.txt

Images are named ``<task_id><extension>``. The labels are written by
:mod:`~ls_frames.training.coco_folder` and :mod:`~ls_frames.training.yolo_folder`; what a
folder holds is planned first (:mod:`~ls_frames.training.folder_plan`), then written into
a temporary folder beside ``out_dir`` that is renamed into place at the end, so a folder
at ``out_dir`` is always complete.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from ls_frames._warnings import PartialResultWarning, count_reasons, warn_outside
from ls_frames.errors import ConfigurationError, OutputExistsError
from ls_frames.evaluation.reference import Reference, check_reference
from ls_frames.evaluation.truth import reference_regions
from ls_frames.reading.controls import control_types
from ls_frames.tables.dataset import staging_dir
from ls_frames.tables.folders import check_output_dir
from ls_frames.tables.frames import Frames
from ls_frames.training.coco_folder import write_coco
from ls_frames.training.folder_plan import (
    LeftOut,
    Picture,
    check_split_names,
    class_names,
    plan_pictures,
    split_of,
)
from ls_frames.training.hf import _control
from ls_frames.training.yolo_folder import write_yolo

__all__ = ["FORMATS", "LINKS", "DatasetSummary", "export_dataset"]

Format = Literal["coco", "yolo", "imagefolder"]
Link = Literal["hard", "copy", "symlink"]
FORMATS: tuple[str, ...] = ("coco", "yolo", "imagefolder")
LINKS: tuple[str, ...] = ("hard", "copy", "symlink")
#: the control kinds (to_hf_dataset's tasks) each format draws its labels from
_TASK = {"coco": "segmentation", "yolo": "segmentation", "imagefolder": "classification"}
_FAMILY = {
    "coco": control_types("rectangle", "polygon", "brush", "ellipse"),
    "yolo": control_types("rectangle", "polygon", "brush", "ellipse"),
    "imagefolder": control_types("choice"),
}


@dataclass(frozen=True)
class DatasetSummary:
    """What :func:`export_dataset` wrote.

    ``images`` and ``labels`` count, split by split (in split order), the images and the
    labels written (COCO annotations, YOLO label lines, imagefolder images); ``classes``
    are the class names in class order (COCO category ``i + 1``, YOLO class ``i``).
    ``left_out_tasks`` and ``left_out_regions`` count what was left out, by reason.
    """

    path: Path
    format: str
    classes: tuple[str, ...]
    images: dict[str, int] = field(default_factory=dict)
    labels: dict[str, int] = field(default_factory=dict)
    left_out_tasks: dict[str, int] = field(default_factory=dict)
    left_out_regions: dict[str, int] = field(default_factory=dict)

    def __str__(self) -> str:
        splits = ", ".join(
            f"{s} {n:,} images / {self.labels.get(s, 0):,} labels" for s, n in self.images.items()
        )
        return f"{self.format} dataset at {self.path}: {splits}; {len(self.classes)} classes"


def _check_options(format: str, link: str, media: object) -> None:
    if format not in FORMATS:
        raise ConfigurationError(f"format must be one of {list(FORMATS)}, not {format!r}")
    if link not in LINKS:
        raise ConfigurationError(f"link must be one of {list(LINKS)}, not {link!r}")
    if not isinstance(media, pd.DataFrame):
        raise TypeError(
            "media= takes the fetch_media table (ls_frames.fetch_media(frames, 'media/'), or "
            f"read_parquet(out).media), not {type(media).__name__}"
        )


@contextlib.contextmanager
def _staging(out: Path, overwrite: bool) -> Iterator[Path]:
    """A temporary folder beside ``out``, renamed to ``out`` when the block ends without an
    error (an old ``out`` is replaced only then) and removed when it does not."""
    tmp = staging_dir(out)  # made as any folder is (the umask's mode, not mkdtemp's 0700)
    try:
        yield tmp
        if out.exists():
            if not overwrite:
                raise OutputExistsError(out)
            old = out.parent / f".{out.name}.old-{uuid.uuid4().hex[:12]}"
            out.rename(old)
            try:
                tmp.rename(out)
            except BaseException:
                old.rename(out)  # the old folder back under its name
                raise
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _place(picture: Picture, target: Path, link: str) -> None:
    """The image at ``target``: a hard link to the cached file (a copy across file
    systems), a copy or a symbolic link; bytes held in the table are written."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if picture.source is None:
        target.write_bytes(picture.content or b"")
        return
    if link == "symlink":
        os.symlink(os.path.abspath(picture.source), target)
        return
    if link == "hard":
        with contextlib.suppress(OSError):  # another file system, or no hard links there
            os.link(picture.source, target)
            return
    shutil.copyfile(picture.source, target)


def _other_controls(
    frames: Frames, format: str, name: str, reference: Reference, tasks: set[int]
) -> dict[str, int]:
    """The reference regions of the other controls this format could have written."""
    regions = frames.regions
    family = regions["type"].astype(object).isin(_FAMILY[format]).to_numpy(bool)
    others = sorted({str(n) for n in regions.loc[family, "from_name"].dropna().astype(object)})
    found: dict[str, int] = {}
    for other in (o for o in others if o != name and reference != "consensus"):
        _, rows = reference_regions(frames, other, reference)
        n = int(rows["task_id"].isin(list(tasks)).sum())
        if n:
            found[f"regions of another control ({other!r})"] = n
    return found


def _imagefolder(root: Path, pictures: list[Picture], link: str, left_out: LeftOut) -> list[str]:
    """``<split>/<class>/<image>`` for each image with one choice; the classes used."""
    kept: list[tuple[Picture, str]] = []
    for picture in pictures:
        answers = {
            str(v)
            for cs in picture.regions["choices"]
            if isinstance(cs, (list, tuple, np.ndarray))
            for v in cs
        }
        if len(answers) != 1:
            left_out.task("tasks without a choice" if not answers else "tasks with several choices")
            continue
        kept.append((picture, str(next(iter(answers)))))
    used = sorted({c for _, c in kept})
    check_split_names(used, "class names")
    for picture, choice in kept:
        _place(picture, root / picture.split / choice / picture.name, link)
    pictures[:] = [p for p, _ in kept]
    return used


def _warn(left_out: LeftOut, total: int) -> None:
    tasks = sum(left_out.tasks.values())
    regions = sum(left_out.regions.values())
    if not tasks and not regions:
        return
    parts = [f"{tasks:,} of {total:,} tasks"] if tasks else []
    parts += [f"{regions:,} regions"] if regions else []
    reasons = {**left_out.tasks, **left_out.regions}
    warn_outside(
        PartialResultWarning(
            f"{' and '.join(parts)} were left out of the dataset: {count_reasons(reasons)}",
            failed=tasks,
            total=total,
            reasons=dict(sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))),
        )
    )


def _write(
    root: Path,
    format: str,
    pictures: list[Picture],
    names: list[str],
    splits: list[str],
    link: str,
    segmentation: bool,
    left_out: LeftOut,
) -> dict[str, int]:
    """The images and labels of ``format`` under ``root``; the labels of each split."""
    if format == "imagefolder":
        for split in splits:
            (root / split).mkdir(parents=True, exist_ok=True)
        _imagefolder(root, pictures, link, left_out)
        return {s: sum(p.split == s for p in pictures) for s in splits}
    for split in splits:
        (root / "images" / split).mkdir(parents=True, exist_ok=True)
    for picture in pictures:
        _place(picture, root / "images" / picture.split / picture.name, link)
    if format == "coco":
        return write_coco(root, pictures, names, splits, left_out)
    return write_yolo(root, pictures, names, splits, segmentation, left_out)


def export_dataset(
    frames: Frames,
    out_dir: str | os.PathLike[str],
    *,
    format: Format = "coco",
    media: pd.DataFrame,
    from_name: str | None = None,
    split: pd.Series | None = None,
    reference: Reference = "ground_truth",
    overwrite: bool = False,
    link: Link = "hard",
    segmentation: bool = False,
    field: str | None = None,
) -> DatasetSummary:
    """Write a training folder: the images of the media cache and their labels in the
    layout COCO, YOLO (Ultralytics) or image-folder trainers read.

    Each task with a reference annotation (see ``reference``) and an image is one image of
    the folder, named ``<task_id><extension>``; tasks without one are left out and
    counted. The trees (``<split>`` for each split, ``train`` without ``split``)::

        coco:         annotations/instances_<split>.json, images/<split>/<image>
        yolo:         data.yaml, images/<split>/<image>, labels/<split>/<stem>.txt
        imagefolder:  <split>/<class>/<image>

    COCO: ``torchvision.datasets.CocoDetection(out/"images"/split,
    out/"annotations"/f"instances_{split}.json")`` or detectron2's
    ``register_coco_instances(name, {}, json_file, image_root)`` read it. Image ``id`` is
    the task id, ``width``/``height`` the file's (read from its header with Pillow; without
    Pillow the regions' ``original_width/height``), and the percent coordinates are scaled
    to that size; ``bbox`` is
    :func:`~ls_frames.geometry.shapes.to_coco`'s (the enclosing box in pixels),
    ``segmentation`` a polygon for rectangles and polygons, compressed RLE for brushes and
    ellipses; categories are the classes in order, ids from 1. YOLO:
    ``ultralytics.YOLO(...).train(data=str((out/"data.yaml").resolve()))`` (it needs a
    ``val`` split; an absolute path, as older releases resolve a relative one elsewhere):
    ``class x_center y_center width height`` normalised (:func:`~ls_frames.geometry.shapes.to_yolo`,
    clipped to the image), or polygons with ``segmentation=True``; ``data.yaml`` names the
    classes in order. imagefolder: ``torchvision.datasets.ImageFolder(out/split)`` or
    ``datasets.load_dataset("imagefolder", data_dir=out)``; a task with no choice or
    several is left out; only classes with images get a folder.

    Parameters
    ----------
    frames
        The tables of an export.
    out_dir
        The folder to write; refused if it exists, unless ``overwrite``.
    format
        ``"coco"``, ``"yolo"`` or ``"imagefolder"``.
    media
        The ``fetch_media`` table (``ls_frames.fetch_media(frames, "media/")``, or
        ``read_parquet(out).media``): the first item of the control's image field of each
        task.
    from_name
        The control; by default the only one of the format's kind (RectangleLabels,
        PolygonLabels, BrushLabels or EllipseLabels for COCO and YOLO; Choices for
        imagefolder).
    split
        A Series ``task_id -> split name`` (:func:`~ls_frames.split`); every task in
        ``"train"`` without one. Split and class names must be usable as folder names.
    reference
        The annotation each task is labelled by, as :func:`~ls_frames.to_hf_dataset`
        chooses it: ``"ground_truth"`` (the default: the ground-truth annotation, else the
        latest), ``"latest"``, ``"consensus"`` or one annotator by email or user id.
    overwrite
        Replace a folder at ``out_dir`` (it stays until the new one is complete).
    link
        How images get into the folder: ``"hard"`` links to the cached files (a copy
        where the cache is on another file system; the folder and the cache share the
        files then: edit neither in place), ``"copy"`` or ``"symlink"`` (absolute links).
    segmentation
        YOLO only: polygon lines (``class x1 y1 x2 y2 ...``) for polygons and rectangles
        instead of boxes.
    field
        The data key of the images in the media table (default: the control's ``toName``,
        or the only field there is).

    Returns
    -------
    DatasetSummary
        The folder, its classes, the images and labels of each split and what was left
        out by reason.

    Raises
    ------
    OutputExistsError
        ``out_dir`` exists and ``overwrite`` is false (before anything is written).
    ConfigurationError
        An unknown ``format``, ``link``, ``reference`` or ``from_name``, an ambiguous
        control, tasks missing from ``split``, names that cannot be folders, image sizes
        neither the export nor Pillow gives.
    RegionError
        A region whose segmentation cannot be made (nothing is left at ``out_dir``).

    Warns
    -----
    PartialResultWarning
        Once, when tasks (without a reference annotation, without media, without one
        choice) or regions (of other controls of the format's kind, without a label or a
        geometry, that the format cannot hold) were left out; ``reasons`` counts them.
    """
    _check_options(format, link, media)
    if segmentation and format != "yolo":
        raise ConfigurationError(
            "segmentation=True is for format='yolo' (COCO files always hold segmentations)"
        )
    check_reference(frames, reference)
    out = Path(out_dir)
    check_output_dir(out, overwrite)
    name, control = _control(frames, _TASK[format], from_name, f"format={format!r}")
    chosen, rows = reference_regions(frames, name, reference)
    task_ids = [int(t) for t in chosen]
    left_out = LeftOut()
    every = {int(t) for t in frames.tasks["task_id"].dropna()}
    left_out.task("tasks without a reference annotation", len(every - set(task_ids)))
    splits, split_names = split_of(split, task_ids)
    by_task = {int(t): g for t, g in rows.groupby("task_id", sort=False)}  # type: ignore[arg-type]
    pictures = plan_pictures(
        media, control, field, task_ids, by_task, splits, left_out, format != "imagefolder"
    )
    for why, n in _other_controls(frames, format, name, reference, set(task_ids)).items():
        left_out.region(why, n)
    column = "choices" if format == "imagefolder" else "labels"
    names = class_names(control, pictures, column)
    with _staging(out, overwrite) as root:
        labels = _write(root, format, pictures, names, split_names, link, segmentation, left_out)
    summary = DatasetSummary(
        path=out,
        format=format,
        classes=tuple(names),
        images={s: sum(p.split == s for p in pictures) for s in split_names},
        labels=labels,
        left_out_tasks=dict(left_out.tasks),
        left_out_regions=dict(left_out.regions),
    )
    _warn(left_out, len(every))
    return summary
