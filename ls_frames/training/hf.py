"""Hugging Face ``datasets`` for training: detection, classification, segmentation, NER.

:func:`to_hf_dataset` turns :class:`~ls_frames.tables.Frames` (and, for images and audio,
the media table that ``fetch_media`` writes: ``task_id, field, position, uri, path`` (the
local file), ``bytes`` (its size), ``sha256, content_type, error``) into a
``datasets.Dataset``, or a ``DatasetDict`` by a split from :func:`~ls_frames.tables.split`.
``datasets`` is an optional extra::

    pip install "ls_frames[train]"
"""

from __future__ import annotations

import importlib
import importlib.util
import re
from collections.abc import Sequence
from typing import Any, Literal

import pandas as pd

from ls_frames._warnings import PartialResultWarning, warn_outside
from ls_frames.errors import ConfigurationError, DownloadError
from ls_frames.evaluation.reference import Reference, check_reference, choose_annotations
from ls_frames.evaluation.truth import reference_regions
from ls_frames.reading import Control
from ls_frames.reading.controls import control_types
from ls_frames.tables.frames import Frames
from ls_frames.training.hf_tasks import (
    Tokenizer,
    classification_columns,
    detection_columns,
    ner_columns,
    segmentation_columns,
)

__all__ = ["to_hf_dataset", "training_annotations", "whitespace_tokenizer"]

Task = Literal["detection", "classification", "segmentation", "ner"]
_TYPES: dict[str, tuple[str, ...]] = {
    "detection": control_types("rectangle", labelled=True),
    "classification": control_types("choice"),
    "segmentation": control_types("brush", "polygon", "rectangle", "ellipse", labelled=True),
    "ner": control_types("text", labelled=True),
}
_INSTALL = 'pip install "ls_frames[train]"'
_NO_MEDIA = (
    "task={task!r} trains on images, and no media= was given: pass the table of the image "
    "files (ls_frames.fetch_media(frames, 'media/'), or read_parquet(out).media of a "
    "dataset exported with export_project(..., media='media/')), or media=False for a "
    "dataset of the labels alone (no image column)"
)


def _datasets() -> Any:
    try:
        return importlib.import_module("datasets")
    except ImportError:
        raise ConfigurationError(
            f"to_hf_dataset needs the Hugging Face datasets package: {_INSTALL}"
        ) from None


def whitespace_tokenizer(text: str) -> list[tuple[int, int]]:
    """The default tokenizer: ``(start, end)`` character offsets of each run of
    non-whitespace characters."""
    return [(m.start(), m.end()) for m in re.finditer(r"\S+", text)]


def training_annotations(frames: Frames) -> pd.Series:
    """The annotation each task trains on: its ground-truth annotation if it has one, else
    the one updated last; skipped annotations never. A Series ``task_id -> annotation_id``
    (:func:`~ls_frames.evaluation.reference.choose_annotations`, policy
    ``"ground_truth"``; :func:`~ls_frames.reference_annotations` shows them with the
    reason)."""
    return choose_annotations(frames, "ground_truth")


def _control(
    frames: Frames, task: str, from_name: str | None, purpose: str | None = None
) -> tuple[str, Control | None]:
    """The control ``task`` trains on (``purpose`` names what it is for in the messages,
    ``task`` by default)."""
    types = _TYPES[task]
    purpose = purpose or task
    controls = list(frames.label_config.controls) if frames.label_config else []
    if from_name is not None:
        present = {str(v) for v in frames.regions["from_name"].dropna().astype(object)}
        named = {c.name: c for c in controls}
        if from_name not in present and from_name not in named:
            raise ConfigurationError(
                f"no control {from_name!r} in these frames: the results hold {sorted(present)}"
                + (f" and the label config has {sorted(named)}" if named else "")
            )
        return from_name, named.get(from_name)
    fitting = [c for c in controls if c.type in types]
    if not controls:
        seen = frames.regions[frames.regions["type"].astype(object).isin(types).to_numpy(bool)]
        fitting_names = sorted({str(v) for v in seen["from_name"].dropna().astype(object)})
        if len(fitting_names) == 1:
            return fitting_names[0], None
        raise ConfigurationError(
            f"pass from_name= for {purpose}: the results have "
            f"{fitting_names or 'no'} {'/'.join(types)} controls"
        )
    if len(fitting) != 1:
        raise ConfigurationError(
            f"pass from_name= for {purpose}: the label config has "
            f"{[c.name for c in fitting] or 'no'} {'/'.join(types)} "
            f"controls"
        )
    return fitting[0].name, fitting[0]


def _media_field(media: pd.DataFrame, field: str | None, control: Control | None) -> str:
    """The media field to use: ``field``, else the control's ``toName``, else the only one."""
    fields = sorted({str(f) for f in media["field"].dropna().astype(object)})
    if field is None:
        guesses = [t for t in (control.to_name if control else ()) if t in fields]
        if guesses:
            field = guesses[0]
        elif len(fields) == 1:
            field = fields[0]
        else:
            raise ConfigurationError(f"pass field= to choose the media: the table has {fields}")
    if field not in fields:
        raise ConfigurationError(f"no media field {field!r}: the table has {fields}")
    return field


def _media_rows(
    media: pd.DataFrame, field: str | None, control: Control | None, task_ids: Sequence[int]
) -> tuple[pd.DataFrame, str, dict[int, str]]:
    """The first item of the media field of each task, whether it is image or audio, and
    the tasks without a usable file with the reason (``error``, or what is missing)."""
    field = _media_field(media, field, control)
    rows = media[(media["field"].astype(object) == field).to_numpy(bool)]
    position = pd.to_numeric(rows["position"], errors="coerce").fillna(0)
    rows = rows.assign(_pos=position.to_numpy()).sort_values(["task_id", "_pos"])
    rows = rows.drop_duplicates("task_id").set_index("task_id")
    missing: dict[int, str] = {}
    for t in task_ids:
        if t not in rows.index:
            missing[t] = f"no {field!r} row in the media table"
        elif not pd.isna(rows.at[t, "error"]):
            missing[t] = str(rows.at[t, "error"])
        elif pd.isna(rows.at[t, "path"]) and _bytes(rows.at[t, "bytes"]) is None:
            missing[t] = "neither a path nor bytes in the media table"
    usable = rows[~rows.index.isin(list(missing))]
    kinds = {str(c).split("/")[0] for c in usable["content_type"].dropna().astype(object)}
    kind = "audio" if kinds == {"audio"} else "image"
    if kinds - {"audio", "image"} or len(kinds) > 1:
        raise ConfigurationError(
            f"media {field!r} must be all images or all audio, not "
            f"{sorted(usable['content_type'].dropna().astype(str).unique())}"
        )
    return rows, kind, missing


def _by_reason(missing: dict[int, str]) -> dict[str, list[int]]:
    """The tasks of each reason, the most common reason first."""
    grouped: dict[str, list[int]] = {}
    for task_id, why in missing.items():
        grouped.setdefault(why, []).append(task_id)
    return dict(sorted(grouped.items(), key=lambda kv: (-len(kv[1]), kv[0])))


def _refuse_missing(missing: dict[int, str], total: int) -> None:
    """``on_error="raise"``: a :class:`DownloadError` listing the tasks by reason."""
    parts = []
    for why, tasks in _by_reason(missing).items():
        shown = ", ".join(str(t) for t in tasks[:10]) + (", ..." if len(tasks) > 10 else "")
        parts.append(f"{len(tasks):,} {why} (task{'s' if len(tasks) > 1 else ''} {shown})")
    raise DownloadError(
        f"cannot build the dataset: the media of {len(missing):,} of {total:,} tasks is "
        f"missing: {'; '.join(parts)}. Fetch them again (fetch_media), pass only the tasks "
        'that have media, or on_error="skip" to build without them'
    )


def _usable_tasks(
    media: pd.DataFrame,
    field: str | None,
    control: Control | None,
    task_ids: list[int],
    on_error: str,
) -> tuple[pd.DataFrame, str, list[int]]:
    """The media rows, their kind and the tasks to build: all of them, or (``on_error=
    "skip"``) those with media, the others counted in a :class:`PartialResultWarning`."""
    rows, kind, missing = _media_rows(media, field, control, task_ids)
    if not missing:
        return rows, kind, task_ids
    if on_error == "raise":
        _refuse_missing(missing, len(task_ids))
    reasons = {why: len(tasks) for why, tasks in _by_reason(missing).items()}
    warn_outside(
        PartialResultWarning.of(
            len(missing),
            len(task_ids),
            "tasks",
            reasons,
            "were left out of the dataset for want of media",
            then='on_error="raise" refuses instead',
        )
    )
    return rows, kind, [t for t in task_ids if t not in missing]


def _needs_media(frames: Frames, task: str, control: Control | None) -> bool:
    """Whether ``task`` trains on images: detection and segmentation always, classification
    when its control labels an ``<Image>``."""
    if task in ("detection", "segmentation"):
        return True
    if task != "classification" or control is None or frames.label_config is None:
        return False
    kinds = {o.name: o.type for o in frames.label_config.objects}
    return any(kinds.get(name) == "image" for name in control.to_name)


def _bytes(value: Any) -> bytes | None:
    """The content in a ``bytes`` cell: ``fetch_media`` writes the file's size there (an
    int: the content is at ``path``); a table built by hand may hold the bytes."""
    return bytes(value) if isinstance(value, (bytes, bytearray, memoryview)) else None


def _media_value(row: pd.Series) -> dict[str, Any]:
    path = None if pd.isna(row["path"]) else str(row["path"])
    return {"bytes": _bytes(row["bytes"]) if path is None else None, "path": path}


def to_hf_dataset(
    frames: Frames,
    *,
    media: pd.DataFrame | Literal[False] | None = None,
    split: pd.Series | None = None,
    task: Task = "detection",
    from_name: str | None = None,
    field: str | None = None,
    tokenizer: Tokenizer | None = None,
    on_error: Literal["raise", "skip"] = "raise",
    reference: Reference = "ground_truth",
) -> Any:
    """A Hugging Face dataset to train on, one row per annotated task.

    Each task contributes its reference annotation (by default the ground-truth one, else
    the one updated last; skipped annotations never; see ``reference``); tasks without one
    are left out. Class names come from the label config in config order (labels the results use
    but the config lacks follow, sorted), as ``ClassLabel`` features.

    Parameters
    ----------
    frames
        The tables of an export.
    media
        The ``fetch_media`` table (``task_id, field, position, uri, path, bytes, sha256,
        content_type, error``); adds an ``image`` (``datasets.Image``) or ``audio``
        (``datasets.Audio``) column from the first item of ``field`` of each task. A task
        whose media is missing or failed is handled as ``on_error`` says. Required for the
        tasks that train on images (detection, segmentation, classification of an
        ``<Image>``); ``media=False`` builds the labels alone (no image column; detection
        sizes from the export's ``original_width/height``).
    split
        A Series ``task_id -> split name`` (:func:`~ls_frames.tables.split`): gives a
        ``DatasetDict`` with one dataset per category, in category order.
    task
        ``"detection"``: ``width, height`` (pixels of the media when given, else the
        export's ``original_width/height``) and ``objects`` (``bbox`` as COCO ``[x, y,
        width, height]`` in pixels, the enclosing box of a rotated one; ``category`` class
        ids; ``region_id``; ``area``). ``"classification"``: ``label`` (-1 when the
        annotation has no choice), or ``labels`` (a list) when some annotation holds several
        choices. ``"ner"``: ``text``, ``tokens`` and ``ner_tags`` (BIO, ``O`` first, then
        ``B-``/``I-`` per label), a span tagging every token it overlaps (where spans
        overlap, the earlier one wins). ``"segmentation"``: ``mask`` (a grey image of the
        image's size: pixel = class id + 1, 0 background; where regions overlap, the later
        result wins) drawn from brush, polygon, rectangle and ellipse regions by
        :func:`~ls_frames.tables.region_masks`, and ``categories`` (the class ids present;
        its ``ClassLabel`` names the pixel values).
    from_name
        The control to train on; by default the only control of the task's kind
        (RectangleLabels, Choices, Labels; brush, polygon, rectangle or ellipse labels).
    field
        The data key of the media or text (default: the control's ``toName`` or the only one
        there is).
    tokenizer
        For ``"ner"``, a callable from text to token ``(start, end)`` offsets or token
        strings (found in the text in order); :func:`whitespace_tokenizer` by default.
    on_error
        When the media of some tasks is missing or failed: ``"raise"`` (the default) a
        :class:`~ls_frames.errors.DownloadError` listing the tasks by reason; ``"skip"``
        builds the dataset without them and issues one
        :class:`~ls_frames.PartialResultWarning` counting them by reason.
    reference
        The annotation each task trains on, as :func:`~ls_frames.evaluate` scores against:
        ``"ground_truth"`` (the default: the ground-truth annotation, else the latest),
        ``"latest"``, ``"consensus"`` (the majority choice; for rectangles the merged boxes
        more than half the annotators drew, label not tied) or one annotator by email or
        user id.

    Returns
    -------
    datasets.Dataset or datasets.DatasetDict
        ``datasets.Dataset``, or ``datasets.DatasetDict`` with ``split``; every row has
        ``task_id``. ``.with_format("numpy")`` or ``("torch")`` give arrays.

    Raises
    ------
    ConfigurationError
        ``datasets`` is not installed (with the ``pip install`` line), an unknown ``task``,
        ``from_name``, ``on_error`` or ``reference``, an ambiguous control or field, tasks
        missing from ``split``, no ``media`` for a task that trains on images.
    DownloadError
        Media missing or failed for some tasks, with ``on_error="raise"``.
    TypeError
        ``media`` is neither a DataFrame, ``False`` nor ``None``.

    Warns
    -----
    PartialResultWarning
        With ``on_error="skip"``, when tasks were left out for want of media.
    """
    if task not in _TYPES:
        raise ConfigurationError(f"task must be one of {list(_TYPES)}, not {task!r}")
    if on_error not in ("raise", "skip"):
        raise ConfigurationError(f'on_error must be "raise" or "skip", not {on_error!r}')
    check_reference(frames, reference)
    ds = _datasets()
    name, control = _control(frames, task, from_name)
    if media is None and _needs_media(frames, task, control):
        raise ConfigurationError(_NO_MEDIA.format(task=task))
    if not (media is None or media is False or isinstance(media, pd.DataFrame)):
        raise TypeError(f"media= takes the fetch_media table or False, not {media!r}")
    chosen, mine = reference_regions(frames, name, reference)
    task_ids = [int(t) for t in chosen]
    regions = frames.regions
    by_task = {int(t): g for t, g in mine.groupby("task_id", sort=False)}  # type: ignore[arg-type]
    kind = None
    if isinstance(media, pd.DataFrame):
        rows, kind, task_ids = _usable_tasks(media, field, control, task_ids, on_error)
    columns: dict[str, list[Any]] = {"task_id": task_ids}
    features: dict[str, Any] = {"task_id": ds.Value("int64")}
    if kind is not None:
        if kind == "audio" and importlib.util.find_spec("torchcodec") is None:
            raise ConfigurationError(
                "audio media needs torchcodec, which datasets uses to "
                "read and write audio: pip install torchcodec"
            )
        columns[kind] = [_media_value(rows.loc[t]) for t in task_ids]
        features[kind] = ds.Image() if kind == "image" else ds.Audio()
    empty = regions.iloc[0:0]
    groups = [by_task.get(t, empty) for t in task_ids]
    if task == "detection":
        detection_columns(ds, frames, control, groups, columns, features, kind)
    elif task == "classification":
        classification_columns(ds, control, groups, columns, features)
    elif task == "ner":
        ner_columns(
            ds,
            frames,
            control,
            field,
            groups,
            task_ids,
            columns,
            features,
            tokenizer or whitespace_tokenizer,
        )
    else:
        segmentation_columns(ds, control, groups, columns, features, kind)
    dataset = ds.Dataset.from_dict(columns, features=ds.Features(features))
    if split is None:
        return dataset
    return _by_split(ds, dataset, split, task_ids)


def _by_split(ds: Any, dataset: Any, split: pd.Series, task_ids: list[int]) -> Any:
    where = split.astype(object)
    lost = [t for t in task_ids if t not in where.index]
    if lost:
        raise ConfigurationError(
            f"{len(lost)} tasks have no split, e.g. {lost[:10]}: split the same frames"
        )
    names = (
        [str(c) for c in split.cat.categories]
        if isinstance(split.dtype, pd.CategoricalDtype)
        else sorted({str(v) for v in where.dropna()})
    )
    assigned = [str(where.loc[t]) for t in task_ids]
    return ds.DatasetDict(
        {n: dataset.select([i for i, a in enumerate(assigned) if a == n]) for n in names}
    )
