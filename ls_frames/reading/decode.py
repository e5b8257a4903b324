"""Decode chunks of tasks with msgspec into light, typed structs.

Only the fields the tables need are decoded; ``data``, ``meta`` and each result's ``value``
stay :class:`msgspec.Raw` (the exact bytes of the file) so JSON text columns are lossless
and cheap. Structs are declared with ``gc=False``: the cyclic GC never scans them.

Shapes other than a server snapshot are normalised first (see :func:`normalise_task`):

- import payloads whose task has no ``data`` key: the object minus the task fields is the
  data (as Label Studio imports it);
- JSON_MIN records (flat rows with ``annotation_id``/``annotator``): one task row per record
  (a task with two annotations appears twice), the flattened answers in ``data.<key>``, and
  one annotation row (id, annotator email, times, lead time); JSON_MIN has no regions;
- local-files storage files: one annotation with its task nested under ``task``.

A file holding a single object must be a task (an integer ``id``, or a ``data`` object as
Label Studio imports it) or a storage annotation whose task is one: an error answer saved
where an export was due (``{"detail": "Authentication credentials were not provided."}``)
is an :class:`~ls_frames.errors.ExportFormatError`, not a task with no id.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, ClassVar, Generic, TypeVar

import msgspec

from ls_frames.errors import ExportFormatError
from ls_frames.reading.extras import attach_extras

__all__ = [
    "EXTRA_FIELD",
    "Annotation",
    "Draft",
    "Item",
    "Prediction",
    "StrictItem",
    "Task",
    "User",
    "decode_chunk",
    "normalise_task",
]


#: Integers the tables keep in int64 columns: a larger one is refused here, with its path,
#: instead of overflowing when the column is built.
Int64 = Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)]


class User(msgspec.Struct, gc=False):
    id: Int64 | None = None
    email: str | None = None


#: The JSON name of :attr:`Item.extra`: never a key of a file's item (the strict decoder
#: refuses it, so a file holding it takes the path that sets ``extra`` itself).
EXTRA_FIELD = "ls_frames:extra"
_NOT_NULL: Any = None  # the default of a strict field: absent is fine, an explicit null is not


class Item(msgspec.Struct, gc=False):
    """One result item (a region, an attribute of a region, or a relation).

    ``extra`` holds, as a JSON object, the item's keys its table has no column for or
    cannot give back as they are (see :mod:`ls_frames.reading.extras`); unset when none.
    """

    id: Any = None
    type: Any = None
    from_name: Any = None
    to_name: Any = None
    value: msgspec.Raw | msgspec.UnsetType = msgspec.UNSET
    origin: Any = None
    score: Any = None
    readonly: Any = None
    meta: msgspec.Raw | msgspec.UnsetType = msgspec.UNSET
    parentID: Any = None
    item_index: Any = None
    original_width: Any = None
    original_height: Any = None
    image_rotation: Any = None
    from_id: Any = None
    to_id: Any = None
    direction: Any = None
    labels: Any = None
    extra: msgspec.Raw | msgspec.UnsetType = msgspec.field(default=msgspec.UNSET, name=EXTRA_FIELD)
    #: items of the fast decoder never have an ``extra``
    strict: ClassVar[bool] = False


class StrictItem(msgspec.Struct, gc=False, forbid_unknown_fields=True):
    """An :class:`Item` whose every key the tables give back exactly as it is: known keys
    only, no explicit null, each of the type its column holds (``score`` an int or a
    float: :func:`~ls_frames.reading.flatten.flatten_tasks` notes the ints). An item that
    does not fit fails the fast decoder, and its chunk is decoded again with
    :class:`Item`, whose ``extra`` keeps what the columns cannot."""

    id: str = _NOT_NULL
    type: str = _NOT_NULL
    from_name: str = _NOT_NULL
    to_name: str = _NOT_NULL
    value: msgspec.Raw | msgspec.UnsetType = msgspec.UNSET
    origin: str = _NOT_NULL
    score: int | float = _NOT_NULL
    readonly: bool = _NOT_NULL
    meta: msgspec.Raw | msgspec.UnsetType = msgspec.UNSET
    parentID: str = _NOT_NULL
    item_index: int = _NOT_NULL
    original_width: int = _NOT_NULL
    original_height: int = _NOT_NULL
    image_rotation: int = _NOT_NULL
    from_id: str = _NOT_NULL
    to_id: str = _NOT_NULL
    direction: str = _NOT_NULL
    labels: list[str] = _NOT_NULL
    extra: msgspec.UnsetType = msgspec.field(default=msgspec.UNSET, name=EXTRA_FIELD)
    strict: ClassVar[bool] = True


ItemT = TypeVar("ItemT", Item, StrictItem)


class Annotation(msgspec.Struct, Generic[ItemT], gc=False):
    id: Int64 | None = None
    completed_by: Int64 | User | None = None
    result: list[ItemT] | None = None
    was_cancelled: bool | None = None
    ground_truth: bool | None = None
    created_at: str | None = None
    updated_at: str | None = None
    draft_created_at: str | None = None
    lead_time: float | None = None
    prediction: msgspec.Raw | msgspec.UnsetType = msgspec.UNSET
    result_count: Int64 | None = None
    unique_id: str | None = None
    import_id: Int64 | None = None
    last_action: str | None = None
    bulk_created: bool | None = None
    task: Int64 | None = None
    project: Int64 | None = None
    updated_by: Int64 | None = None
    parent_prediction: Int64 | None = None
    parent_annotation: Int64 | None = None
    last_created_by: Int64 | None = None


class Prediction(msgspec.Struct, Generic[ItemT], gc=False):
    id: Int64 | None = None
    result: list[ItemT] | None = None
    model_version: Any = None
    score: float | None = None
    cluster: Int64 | None = None
    mislabeling: float | None = None
    created_at: str | None = None
    updated_at: str | None = None
    model: Int64 | None = None
    model_run: Int64 | None = None
    task: Int64 | None = None
    project: Int64 | None = None


class Draft(msgspec.Struct, Generic[ItemT], gc=False):
    id: Int64 | None = None
    user: Any = None
    created_username: str | None = None
    result: list[ItemT] | None = None
    lead_time: float | None = None
    was_postponed: bool | None = None
    import_id: Int64 | None = None
    created_at: str | None = None
    updated_at: str | None = None
    task: Int64 | None = None
    annotation: Int64 | None = None


class Task(msgspec.Struct, Generic[ItemT], gc=False):
    id: Int64 | None = None
    annotations: list[Annotation[ItemT]] | None = None
    drafts: list[Int64 | Draft[ItemT]] | None = None
    predictions: list[Int64 | Prediction[ItemT]] | None = None
    data: msgspec.Raw | msgspec.UnsetType = msgspec.UNSET
    meta: msgspec.Raw | msgspec.UnsetType = msgspec.UNSET
    created_at: str | None = None
    updated_at: str | None = None
    inner_id: Int64 | None = None
    project: Int64 | None = None
    total_annotations: Int64 | None = None
    cancelled_annotations: Int64 | None = None
    total_predictions: Int64 | None = None
    comment_count: Int64 | None = None
    unresolved_comment_count: Int64 | None = None
    last_comment_updated_at: str | None = None
    updated_by: Any = None
    allow_skip: bool | None = None
    file_upload: Any = None
    agreement: float | None = None
    comment_authors: msgspec.Raw | msgspec.UnsetType = msgspec.UNSET


TASK_FIELDS = frozenset(Task.__struct_fields__)
_JSON_MIN_KEYS = ("annotation_id", "annotator")
_JSON_MIN_META = ("id", "annotation_id", "annotator", "created_at", "updated_at", "lead_time")
_TASKS = msgspec.json.Decoder(list[Task[Item]])
_STRICT = msgspec.json.Decoder(list[Task[StrictItem]])
_ANY = msgspec.json.Decoder()
_ENCODE = msgspec.json.Encoder()
_PATH_INDEX = re.compile(r"\$\[(\d+)\]")
_BYTE = re.compile(r"byte (\d+)")


def normalise_task(obj: Any) -> Any:
    """Bring a non-snapshot task object into the snapshot shape (leave others untouched)."""
    if not isinstance(obj, dict):
        return obj
    if "data" in obj:
        return obj
    if isinstance(obj.get("task"), dict) and "result" in obj:  # local-files storage annotation
        task = dict(obj["task"])
        annotation = {k: v for k, v in obj.items() if k != "task"}
        annotation.setdefault("task", task.get("id"))
        annotations = list(task.get("annotations") or [])
        ann_id = annotation.get("id")
        if not any(isinstance(a, dict) and a.get("id") == ann_id for a in annotations):
            annotations.append(annotation)
        task["annotations"] = annotations
        return normalise_task(task)
    if any(k in obj for k in _JSON_MIN_KEYS):  # JSON_MIN: one flat row per annotation
        annotator = obj.get("annotator")
        annotation = {
            "id": obj.get("annotation_id"),
            "completed_by": {"email": annotator} if isinstance(annotator, str) else annotator,
            "created_at": obj.get("created_at"),
            "updated_at": obj.get("updated_at"),
            "lead_time": obj.get("lead_time"),
            "task": obj.get("id"),
        }
        data = {k: v for k, v in obj.items() if k not in _JSON_MIN_META}
        # a task nobody annotated is written with annotation_id null: no annotation row
        has_annotation = obj.get("annotation_id") is not None
        return {"id": obj.get("id"), "data": data, "annotations": [annotation] * has_annotation}
    # import payload: a task without "data" is all data, minus the task's own fields
    task = {k: v for k, v in obj.items() if k in TASK_FIELDS}
    task["data"] = {k: v for k, v in obj.items() if k not in TASK_FIELDS}
    return task


#: Keys of an error answer (Label Studio's ``{"detail", "status_code", "exc_info", "id",
#: "version"}``, Django REST framework's ``{"detail"}``, gateways' ``{"error", "message"}``).
_ERROR_KEYS = frozenset(
    {
        "detail",
        "error",
        "errors",
        "message",
        "status_code",
        "status",
        "code",
        "validation_errors",
        "title",
        "type",
        "instance",
    }
)
#: Keys no error answer has.
_TASK_KEYS = frozenset({"data", "result", "annotations", "predictions", "task"})


def _check_single(obj: Any, shift: int, first_index: int, path: str | None) -> None:
    """A file holding one object is a task (an integer ``id``, or a ``data`` object as Label
    Studio imports it) or a local-files storage annotation whose task is one. An error
    answer saved as an export is refused, and so is any other object."""
    if not isinstance(obj, dict):
        return  # refused by _normalised, naming the type
    where: dict[str, Any] = {"offset": max(shift, 0), "task_index": first_index, "path": path}
    said = next(
        (obj[k] for k in ("detail", "message", "error") if isinstance(obj.get(k), str)), None
    )
    if obj and (set(obj) <= _ERROR_KEYS or (said is not None and not _TASK_KEYS & set(obj))):
        quoted = f": {said!r}" if said else f" (keys: {', '.join(sorted(obj))})"
        raise ExportFormatError(
            f"not a Label Studio export but an error answer from a server{quoted}", **where
        )
    task = obj["task"] if isinstance(obj.get("task"), dict) and "result" in obj else obj
    task_id = task.get("id")
    has_id = isinstance(task_id, int) and not isinstance(task_id, bool)
    if not has_id and not (task_id is None and isinstance(task.get("data"), dict)):
        keys = ", ".join(sorted(map(str, task))[:8]) or "none"
        raise ExportFormatError(
            "a single JSON object that is not a Label Studio task: it has no integer "
            f'"id" (found {task_id!r}) and no "data" object (keys: {keys})',
            **where,
        )


def _fail(exc: Exception, shift: int, first_index: int, path: str | None) -> ExportFormatError:
    """``shift`` maps a byte index in the decoded document to an offset in the source."""
    text = str(exc)
    m = _PATH_INDEX.search(text)
    b = _BYTE.search(text)
    return ExportFormatError(
        f"malformed export: {text}",
        offset=shift + int(b.group(1)) if b else max(shift, 0),
        task_index=first_index + int(m.group(1)) if m else (None if b else first_index),
        path=path,
    )


def decode_chunk(
    data: bytes,
    *,
    offset: int = 0,
    first_index: int = 0,
    single: bool = False,
    framed: bool = False,
    path: str | None = None,
) -> list[Task[Any]]:
    """Decode a chunk (whole tasks, comma separated, no brackets) into :class:`Task` s.

    ``framed`` says ``data`` already is ``[...]`` (a :class:`~ls_frames.reading.chunker.Chunk`'s
    ``doc``); ``offset`` is always that of the first task. ``single`` marks a file holding
    one object. Errors become :class:`ExportFormatError` naming the byte offset and/or the
    task index.
    """
    doc = data if single or framed else b"".join((b"[", data, b"]"))
    shift = offset if single else offset - 1
    try:
        if not doc.isascii():  # ASCII (a whole pass at memory speed) is valid UTF-8
            doc.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ExportFormatError(
            f"invalid UTF-8: {exc.reason}", offset=shift + exc.start, path=path
        ) from None
    try:
        return _decode_chunk(doc, shift, first_index, single, path)
    except RecursionError:
        at, index = _deepest(doc, single)
        raise ExportFormatError(
            "malformed export: nested too deeply to decode (arrays and objects)",
            offset=shift + at,
            task_index=first_index + index,
            path=path,
        ) from None


def _deepest(doc: bytes, single: bool) -> tuple[int, int]:
    """Where the nesting of ``doc`` is deepest (first such byte) and the index of the task
    holding it. Only runs after a decode failed, so a plain loop is fast enough."""
    depth = best = at = index = best_index = 0
    top = 0 if single else 1
    in_string = escaped = False
    for i, c in enumerate(doc):
        if in_string:
            if escaped:
                escaped = False
            elif c == 92:  # backslash
                escaped = True
            elif c == 34:
                in_string = False
        elif c == 34:
            in_string = True
        elif c in (91, 123):  # [ {
            depth += 1
            if depth > best:
                best, at, best_index = depth, i, index
        elif c in (93, 125):  # ] }
            depth -= 1
            if depth == top:
                index += 1
    return at, best_index


def _decode_chunk(
    doc: bytes, shift: int, first_index: int, single: bool, path: str | None
) -> list[Task[Any]]:
    """The fast decoder (:class:`StrictItem`) first; a chunk it refuses (an item with a key
    the tables have no column for, an odd type, a shape to normalise, a mistake) again with
    :class:`Item`, noting each item's extra keys, or the mistake."""
    if not single:
        try:
            strict = _STRICT.decode(doc)
        except (msgspec.ValidationError, msgspec.DecodeError):
            pass
        else:
            if all(t.data is not msgspec.UNSET for t in strict):
                return strict
    try:
        if single:
            obj = _ANY.decode(doc)
            _check_single(obj, shift, first_index, path)
            return _normalised([obj], shift, first_index, path)
        tasks = _TASKS.decode(doc)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        if single:
            raise _fail(exc, shift, first_index, path) from None
        err: Exception = exc
    else:
        objs = _ANY.decode(doc)
        if all(t.data is not msgspec.UNSET for t in tasks):
            return attach_extras(tasks, objs)
        return _normalised(objs, shift, first_index, path)
    if isinstance(err, msgspec.DecodeError):
        raise _fail(err, shift, first_index, path) from None
    # a validation error: maybe a shape we normalise (import payload, JSON_MIN)
    try:
        objs = _ANY.decode(doc)
    except msgspec.DecodeError as exc:  # pragma: no cover - same bytes decoded above
        raise _fail(exc, shift, first_index, path) from None
    if any("data" not in o for o in objs if isinstance(o, dict)):
        return _normalised(objs, shift, first_index, path)
    raise _fail(err, shift, first_index, path) from None


def _normalised(objs: list[Any], shift: int, first_index: int, path: str | None) -> list[Task[Any]]:
    for i, o in enumerate(objs):
        if not isinstance(o, dict):
            raise ExportFormatError(
                f"task is not a JSON object but {type(o).__name__}",
                task_index=first_index + i,
                path=path,
            )
    fixed = [normalise_task(o) for o in objs]
    try:
        return attach_extras(_TASKS.decode(_ENCODE.encode(fixed)), fixed)
    except msgspec.ValidationError as exc:
        raise _fail(exc, shift, first_index, path) from None
