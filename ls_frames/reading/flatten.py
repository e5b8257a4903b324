"""Flatten decoded tasks into Arrow record batches, one per table.

Columns are built one at a time from lists of structs (``map(attrgetter(...))``), never
row by row, and JSON text columns are cut straight out of the file's bytes. A value whose
type does not fit its column (a string where a number belongs, say) is converted element
by element; what cannot be converted becomes null, while ``value_json`` always keeps the
exact text of the result's ``value``.

Malformed result items are kept as they are read and noted in a
:class:`~ls_frames.reading.report.MalformedReport` (see :mod:`ls_frames.reading.report`
for the kinds). The checks run on the columns already built: null counts of ``from_name``
and ``type``, the first byte of ``value_json``, and the list of converted values that
only the slow path (after ``pa.array`` refused a column) makes, so a clean export pays
nothing for them. Image sizes and ``item_index`` are converted as float64 and cast to
int64 when every value is a whole number (``pa.array`` would truncate 640.5 into an int64
column without a word); else they are converted exactly as before and the odd ones noted.

Every result item lands in exactly one row: ``type == "relation"`` in ``relations``, all
others (unknown types included) in ``regions`` (typed value columns: see
:mod:`ls_frames.reading.values`). Rows follow the file: task by task, then annotations,
predictions, drafts, then result order (``result_index``). In the ids-only serialization
predictions and drafts are bare ids: they get a row holding only ``prediction_id`` /
``draft_id`` and ``task_id``, and of course no regions.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import chain, compress
from operator import attrgetter
from typing import Any

import msgspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ls_frames.reading.columns import (
    array,
    attr_columns,
    first_element,
    is_whole,
    raw_array,
)
from ls_frames.reading.decode import Draft, Item, Prediction, Task, User
from ls_frames.reading.extras import region_extras, relation_extras
from ls_frames.reading.report import Findings, MalformedReport, Where
from ls_frames.reading.schemas import SCHEMAS
from ls_frames.reading.values import value_columns

__all__ = ["flatten_tasks"]

_UNSET = msgspec.UNSET
_TYPE = attrgetter("type")
_DATA_KEYS = msgspec.json.Decoder(dict[str, msgspec.Raw])
_DATA_LIST = msgspec.json.Decoder(list[dict[str, msgspec.Raw]])
# ``type`` is built once for all items (it splits regions from relations)
_ITEM_COLUMNS = {
    "region_id": "id",
    "from_name": "from_name",
    "to_name": "to_name",
    "original_width": "original_width",
    "original_height": "original_height",
    "image_rotation": "image_rotation",
    "parent_id": "parentID",
    "origin": "origin",
    "score": "score",
    "readonly": "readonly",
    "item_index": "item_index",
}
#: Integer item columns converted through float64 (see the module docstring).
_WHOLE = ("original_width", "original_height", "item_index")
_ITEM_SCHEMA = pa.schema(
    [f.with_type(pa.float64()) if f.name in _WHOLE else f for f in SCHEMAS["regions"]]
)

_EXACT = 2**53  # float64 holds every integer up to here


def _batch(name: str, columns: dict[str, pa.Array], n: int) -> pa.RecordBatch:
    schema = SCHEMAS[name]
    arrays = [columns[f.name] if f.name in columns else pa.nulls(n, f.type) for f in schema]
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def _regions(
    items: list[Item], keys: dict[str, pa.Array], found: Findings | None, rows: Any
) -> pa.RecordBatch:
    """The regions batch; ``found`` (when given) notes malformed items by their place in
    the chunk (``rows``: the place of each row)."""
    n = len(items)
    schema = SCHEMAS["regions"]
    cols = dict(keys)
    changed: dict[str, list[int]] | None = None if found is None else {}
    cols.update(attr_columns(items, _ITEM_COLUMNS, _ITEM_SCHEMA, changed))
    _whole_numbers(items, cols, changed)
    raws = list(map(attrgetter("value"), items))
    cols["value_json"] = raw_array(raws)
    cols["meta_json"] = raw_array(list(map(attrgetter("meta"), items)))
    cols["extra_json"] = region_extras(items, cols)
    cols.update(value_columns(raws, schema, changed))
    if found is not None and changed is not None:
        found.flag_columns(changed, rows)
        is_object = pc.starts_with(cols["value_json"], "{")
        if is_object.null_count or not pc.all(is_object).as_py():
            found.flag("value_not_object", "value", rows[_false(is_object)])
        if cols["from_name"].null_count:
            found.flag("missing_from_name", "from_name", rows[_false(cols["from_name"].is_valid())])
    cols["label"] = first_element(cols["labels"])
    cols["choice"] = first_element(cols["choices"])
    for px, pct, size in (
        ("x_px", "x", "original_width"),
        ("y_px", "y", "original_height"),
        ("width_px", "width", "original_width"),
        ("height_px", "height", "original_height"),
    ):
        size_f = cols[size].cast(pa.float64(), safe=False)  # > 2**53 px: absurd, not fatal
        cols[px] = pc.divide(pc.multiply(cols[pct], size_f), 100.0)
    cols["points_px"] = _points_px(cols["points"], cols["original_width"], cols["original_height"])
    return _batch("regions", cols, n)


def _false(mask: pa.Array) -> Any:
    """Positions where ``mask`` is false or null."""
    return np.flatnonzero(~np.asarray(mask.fill_null(False), dtype=bool))


def _whole_numbers(items: list[Item], cols: dict[str, pa.Array], changed: Any) -> None:
    """The :data:`_WHOLE` columns (converted as float64) as int64; the exact conversion,
    noting every value that is not a whole number, when some value is not one.

    float64 took ``true`` as 1.0: an image size of 0 or 1 px (a boolean, most likely) gets
    the exact check too. (A boolean ``item_index`` reads as 0 or 1 unnoted.)
    """
    for column in _WHOLE:
        col = cols[column]
        if changed is None or column not in changed:
            try:
                ints = col.cast(pa.int64())  # safe: refuses a fraction or an overflow
            except pa.ArrowInvalid:
                pass
            else:
                low, high = (v.as_py() for v in pc.min_max(ints).values())
                floor = -_EXACT if column == "item_index" else 2
                if low is None or floor <= low <= high <= _EXACT:
                    cols[column] = ints
                    continue
        values = list(map(attrgetter(_ITEM_COLUMNS[column]), items))
        cols[column] = array(values, pa.int64())
        if changed is not None:
            changed.pop(column, None)
            odd = [i for i, v in enumerate(values) if v is not None and not is_whole(v)]
            if odd:
                changed[column] = odd


def _points_px(points: pa.Array, width: pa.Array, height: pa.Array) -> pa.Array:
    """``points`` (percent ``[x, y]`` lists) in pixels; null where the image size is not
    known. Each point's first value scales with the width, its second with the height."""
    typ = SCHEMAS["regions"].field("points_px").type
    n = len(points)
    if points.null_count == n:
        return pa.nulls(n, typ)
    inner = points.values  # one list per point
    values = np.asarray(inner.values.to_numpy(zero_copy_only=False), dtype=np.float64)
    inner_offsets = np.asarray(inner.offsets)
    outer_offsets = np.asarray(points.offsets)
    # the row of each point, then of each value, and its place within its point
    point_row = np.repeat(np.arange(n), np.diff(outer_offsets))
    per_point = np.diff(inner_offsets)
    value_row = np.repeat(point_row, per_point)
    place = np.arange(len(values)) - np.repeat(inner_offsets[:-1], per_point)
    w = width.cast(pa.float64()).to_numpy(zero_copy_only=False)
    h = height.cast(pa.float64()).to_numpy(zero_copy_only=False)
    scale = np.where(place == 0, w[value_row], np.where(place == 1, h[value_row], np.nan))
    scaled = pa.array(values[: len(scale)] * scale / 100.0, pa.float64())
    inner_px = pa.ListArray.from_arrays(pa.array(inner_offsets, pa.int32()), scaled)
    unknown = np.isnan(w) | np.isnan(h) | ~np.asarray(points.is_valid())
    return pa.ListArray.from_arrays(
        pa.array(outer_offsets, pa.int32()), inner_px, type=typ, mask=pa.array(unknown)
    )


def _relations(
    items: list[Item], keys: dict[str, pa.Array], found: Findings | None, rows: Any
) -> pa.RecordBatch:
    """The relations batch: ids that are not strings are kept as their JSON text, a lone
    label string as a one-element list (``pa.array`` would split it into characters)."""
    cols = dict(keys)
    changed: dict[str, list[int]] = {}
    for column, typ in (
        ("from_id", pa.string()),
        ("to_id", pa.string()),
        ("direction", pa.string()),
        ("labels", pa.list_(pa.string())),
    ):
        odd: list[int] = []
        values = list(map(attrgetter(column), items))
        if column == "labels" and str in set(map(type, values)):
            odd = [i for i, v in enumerate(values) if type(v) is str]
            values = [[v] if type(v) is str else v for v in values]
        cols[column] = array(values, typ, odd)
        if odd:
            changed[column] = odd
    cols["extra_json"] = relation_extras(items)
    if found is not None:
        found.flag_columns(changed, rows)
    return _batch("relations", cols, len(items))


_SOURCES = ("annotation", "prediction", "draft")


def _results(
    results: list[Sequence[Item]],
    ids: pa.Array,
    g_pos: list[int],
    g_source: list[int],
    g_sid: list[Any],
    wanted: set[str],
    report: MalformedReport | None,
) -> dict[str, pa.RecordBatch]:
    """Regions and relations of result lists, each with its task (a place in ``ids``),
    source (an index in ``_SOURCES``) and source id; malformed items go to ``report``."""
    items: list[Item] = list(chain.from_iterable(results))
    sizes = np.fromiter(map(len, results), np.int64, len(results))
    group_of = np.repeat(np.arange(len(results)), sizes)
    starts = np.cumsum(sizes) - sizes
    index = np.arange(len(items)) - np.repeat(starts, sizes)
    task = ids.take(pa.array(g_pos, pa.int64()))
    source = pa.array(_SOURCES, pa.string()).take(pa.array(g_source, pa.int8()))
    sid = pa.array(g_sid, pa.int64())
    found = None if report is None else Findings()
    odd: list[int] = []
    types = array(list(map(_TYPE, items)), pa.string(), odd)
    if found is not None:
        found.flag("converted", "type", odd)
        if types.null_count:
            found.flag("missing_type", "type", _false(types.is_valid()))
    is_relation = pc.equal(types, "relation").fill_null(False).to_numpy(zero_copy_only=False)
    out: dict[str, pa.RecordBatch] = {}
    for name, mask in (("regions", ~is_relation), ("relations", is_relation)):
        if name not in wanted:
            continue
        rows = np.flatnonzero(mask)
        every = len(rows) == len(items)
        picked = items if every else list(compress(items, mask))  # C loop, not a listcomp
        take = pa.array(group_of[rows])
        keys = {
            "task_id": task.take(take),
            "source": source.take(take),
            "source_id": sid.take(take),
            "result_index": pa.array(index[rows], pa.int64()),
        }
        if name == "regions":
            keys["type"] = types if every else types.filter(pa.array(mask))
            out[name] = _regions(picked, keys, found, rows)
        else:
            out[name] = _relations(picked, keys, found, rows)
    if found is not None and report is not None:
        for kind, (count, at, column) in found.summary().items():
            group = int(group_of[at])
            place = g_pos[group]
            where = Where(
                task_index=place,
                task_id=ids[place].as_py(),
                source=_SOURCES[g_source[group]],
                source_id=g_sid[group],
                result_index=int(index[at]),
                column=column,
                order=at,
            )
            report.add(kind, count, where)
    return out


_TASK_COLUMNS = {
    "task_id": "id",
    "inner_id": "inner_id",
    "project_id": "project",
    "created_at": "created_at",
    "updated_at": "updated_at",
    "total_annotations": "total_annotations",
    "cancelled_annotations": "cancelled_annotations",
    "total_predictions": "total_predictions",
    "comment_count": "comment_count",
    "unresolved_comment_count": "unresolved_comment_count",
    "last_comment_updated_at": "last_comment_updated_at",
    "file_upload": "file_upload",
    "updated_by": "updated_by",
    "allow_skip": "allow_skip",
    "agreement": "agreement",
}
_ANNOTATION_COLUMNS = {
    "annotation_id": "id",
    "project_id": "project",
    "was_cancelled": "was_cancelled",
    "ground_truth": "ground_truth",
    "lead_time": "lead_time",
    "created_at": "created_at",
    "updated_at": "updated_at",
    "draft_created_at": "draft_created_at",
    "parent_prediction": "parent_prediction",
    "parent_annotation": "parent_annotation",
    "last_action": "last_action",
    "unique_id": "unique_id",
    "result_count": "result_count",
    "updated_by": "updated_by",
    "import_id": "import_id",
    "bulk_created": "bulk_created",
    "last_created_by": "last_created_by",
}
_PREDICTION_COLUMNS = {
    "prediction_id": "id",
    "project_id": "project",
    "model_version": "model_version",
    "score": "score",
    "cluster": "cluster",
    "mislabeling": "mislabeling",
    "created_at": "created_at",
    "updated_at": "updated_at",
    "model": "model",
    "model_run": "model_run",
}
_DRAFT_COLUMNS = {
    "draft_id": "id",
    "annotation_id": "annotation",
    "user": "user",
    "created_username": "created_username",
    "lead_time": "lead_time",
    "was_postponed": "was_postponed",
    "import_id": "import_id",
    "created_at": "created_at",
    "updated_at": "updated_at",
}


def _n_results(objs: Sequence[Any]) -> pa.Array:
    return pa.array([len(o.result or ()) for o in objs], pa.int64())


def _repeat(ids: pa.Array, counts: list[int]) -> pa.Array:
    """Each task id repeated as many times as the task has annotations (say)."""
    return ids.take(pa.array(np.repeat(np.arange(len(counts)), np.asarray(counts, np.int64))))


def _expanded_or_ids(
    name: str, objs: list[Any], task_ids: pa.Array, cls: type, names: dict[str, str]
) -> pa.RecordBatch:
    """Rows for predictions/drafts: expanded objects, or bare ids (ids-only shape)."""
    full = [o if isinstance(o, cls) else cls(id=o) for o in objs]
    cols = attr_columns(full, names, SCHEMAS[name])
    cols["task_id"] = task_ids
    cols["n_results"] = pa.array(
        [len(o.result or ()) if isinstance(o, cls) else None for o in objs],  # type: ignore[attr-defined]
        pa.int64(),
    )
    return _batch(name, cols, len(objs))


def flatten_tasks(
    tasks: Iterable[Task[Any]],
    tables: Iterable[str] | None = None,
    data_keys: dict[str, None] | None = None,
    report: MalformedReport | None = None,
) -> dict[str, pa.RecordBatch]:
    """One record batch per requested table (default: all) for these tasks.

    ``data_keys``, when given, collects (in first-seen order) the keys of every ``data``;
    ``report`` the malformed result items (task indexes counted from the first of
    ``tasks``), when ``regions`` or ``relations`` is requested.
    """
    tasks = list(tasks)
    wanted = set(SCHEMAS if tables is None else tables)
    anns: list[Any] = []
    preds: list[Any] = []
    drafts: list[Any] = []
    # per task: numbers of annotations, predictions, drafts (task ids repeated from these)
    n_ann: list[int] = []
    n_pred: list[int] = []
    n_draft: list[int] = []
    # result lists, task by task (annotations, predictions, drafts): the order of rows never
    # depends on chunks
    results: list[Sequence[Item]] = []
    g_pos: list[int] = []  # the place of each result list's task in ``tasks``
    g_source: list[int] = []
    g_sid: list[Any] = []
    items_wanted = bool(wanted & {"regions", "relations"})
    for pos, t in enumerate(tasks):
        a_list, p_list, d_list = t.annotations, t.predictions, t.drafts
        n_ann.append(len(a_list) if a_list else 0)
        n_pred.append(len(p_list) if p_list else 0)
        n_draft.append(len(d_list) if d_list else 0)
        if a_list:
            anns += a_list
            if items_wanted:
                for a in a_list:
                    if a.result:
                        results.append(a.result)
                        g_pos.append(pos)
                        g_source.append(0)
                        g_sid.append(a.id)
        if p_list:
            preds += p_list
            if items_wanted:
                for p in p_list:
                    if type(p) is Prediction and p.result:
                        results.append(p.result)
                        g_pos.append(pos)
                        g_source.append(1)
                        g_sid.append(p.id)
        if d_list:
            drafts += d_list
            if items_wanted:
                for d in d_list:
                    if type(d) is Draft and d.result:
                        results.append(d.result)
                        g_pos.append(pos)
                        g_source.append(2)
                        g_sid.append(d.id)
    ids = pa.array([t.id for t in tasks], pa.int64()) if tasks else pa.array([], pa.int64())
    out: dict[str, pa.RecordBatch] = {}
    if "tasks" in wanted:
        cols = attr_columns(tasks, _TASK_COLUMNS, SCHEMAS["tasks"])
        cols["data_json"] = raw_array([t.data for t in tasks])
        cols["meta_json"] = raw_array([t.meta for t in tasks])
        cols["comment_authors_json"] = raw_array([t.comment_authors for t in tasks])
        for column, counts in (
            ("annotation_count", n_ann),
            ("prediction_count", n_pred),
            ("draft_count", n_draft),
        ):
            cols[column] = pa.array(counts, pa.int64())
        out["tasks"] = _batch("tasks", cols, len(tasks))
        if data_keys is not None:
            datas = [t.data for t in tasks if t.data is not _UNSET]
            doc = b"[" + b",".join(datas) + b"]"
            try:
                for data in _DATA_LIST.decode(doc):
                    for key in data:
                        data_keys.setdefault(key)
            except msgspec.ValidationError:  # some data is not an object
                for raw in datas:
                    if bytes(raw)[:1] == b"{":
                        for key in _DATA_KEYS.decode(raw):
                            data_keys.setdefault(key)
    if "annotations" in wanted:
        cols = attr_columns(anns, _ANNOTATION_COLUMNS, SCHEMAS["annotations"])
        cols["task_id"] = _repeat(ids, n_ann)
        users = [a.completed_by for a in anns]
        cols["completed_by_id"] = array([u.id if type(u) is User else u for u in users], pa.int64())
        cols["completed_by_email"] = array(
            [u.email if type(u) is User else None for u in users], pa.string()
        )
        cols["prediction_json"] = raw_array([a.prediction for a in anns])
        cols["n_results"] = _n_results(anns)
        out["annotations"] = _batch("annotations", cols, len(anns))
    if "predictions" in wanted:
        out["predictions"] = _expanded_or_ids(
            "predictions", preds, _repeat(ids, n_pred), Prediction, _PREDICTION_COLUMNS
        )
    if "drafts" in wanted:
        out["drafts"] = _expanded_or_ids(
            "drafts", drafts, _repeat(ids, n_draft), Draft, _DRAFT_COLUMNS
        )
    if items_wanted:
        out.update(_results(results, ids, g_pos, g_source, g_sid, wanted, report))
    return {name: out[name] for name in SCHEMAS if name in wanted}
