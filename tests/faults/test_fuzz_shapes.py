"""Fuzzed exports, second family: damage aimed at one field of one task.

Each case starts from a valid export (tasks with annotations, predictions, drafts, known and
unknown result types) and changes one thing the fuzz suite in ``tests/test_fuzz_reading.py``
does not aim at:

* one field anywhere in one task (a task field, an annotation field, a result item field,
  a value) replaced by a value of another JSON type, huge, or deeply nested;
* a duplicate key added to one object (valid JSON; the last one wins, as in ``json.loads``);
* the document cut at a byte offset;
* JSON_MIN records and single-object files with the same damage;
* ``to_parquet`` over an existing dataset (``overwrite=True``) with a damaged export whose
  first tasks were already written: the old dataset stays whole and nothing else is left.

The contract: either the export reads, and then every result item of the export (as
``json.loads`` sees it) lands in exactly one row of ``regions`` or ``relations`` with
``value_json`` equal to its ``value``; or an :class:`~ls_frames.errors.ExportFormatError`
names a byte offset inside the document, or the index of the damaged task. Nothing else
escapes. A result item damaged into a malformed one (its value not an object, no
``from_name`` or ``type``, a coordinate not a number) is counted in the reader's report. ``CASES`` counts the cases that ran; each test checks its own ran (5,000 in all; derandomized: CI runs the same cases).
"""

from __future__ import annotations

import contextlib
import json
import sys
import warnings
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ls_frames
from ls_frames.errors import ExportFormatError
from ls_frames.reading import SCHEMAS, ExportReader
from tests.fuzz_runs import examples, run_counted

CASES: Counter[str] = Counter()
SOURCES = (("annotation", "annotations"), ("prediction", "predictions"), ("draft", "drafts"))


def _settings(max_examples: int) -> settings:
    return settings(
        max_examples=examples(max_examples),
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow],
    )


def _nested(depth: int) -> Any:
    value: Any = 1
    for i in range(depth):
        value = {"n": value} if i % 2 else [value]
    return value


#: Placeholders for nestings too deep for ``json.dumps``: :func:`_encode` writes the text.
DEEP = {f"\x00deep{n}\x00": b"[" * n + b"]" * n for n in (990, 1000, 1010, 3000)}


def _encode(obj: Any, indent: int | None = None) -> bytes:
    doc = json.dumps(obj, indent=indent).encode()
    for marker, text in DEEP.items():
        doc = doc.replace(json.dumps(marker).encode(), text)
    return doc


@contextlib.contextmanager
def _deep_ok() -> Iterator[None]:
    """``json.loads`` and ``==`` of the deep placeholders' text need a higher limit."""
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 20_000))
    try:
        yield
    finally:
        sys.setrecursionlimit(limit)


_wrong = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False),
    st.text(max_size=8),
    st.sampled_from(["x" * 100_000, "\U0001f600" * 5000]),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=3),
    st.integers(1, 200).map(_nested),
    st.sampled_from(sorted(DEEP)),  # about the decoder's nesting limit, and far past it
)


def _item(i: int, kind: str) -> dict[str, Any]:
    if kind == "relation":
        return {
            "type": "relation",
            "from_id": f"r{i}",
            "to_id": f"r{i + 1}",
            "direction": "right",
            "labels": ["rel"],
        }
    values: dict[str, dict[str, Any]] = {
        "rectanglelabels": {
            "x": 1.5,
            "y": 2,
            "width": 3,
            "height": 4,
            "rotation": 0,
            "rectanglelabels": ["Car"],
        },
        "choices": {"choices": ["a", "b"]},
        "labels": {"start": 3, "end": 9, "text": "hello", "labels": ["PER"]},
        "textarea": {"text": ["free text"]},
        "rating": {"rating": 4},
        "mystery": {"anything": [1, {"deep": None}], "text": 5},
        "futuretag": {"future": {"x": "1"}, "labels": "not a list"},
    }
    value = values[kind]
    return {
        "id": f"r{i}",
        "type": kind,
        "from_name": "tag",
        "to_name": "img",
        "origin": "manual",
        "value": value,
    }


KINDS = [
    "rectanglelabels",
    "choices",
    "labels",
    "textarea",
    "rating",
    "mystery",
    "futuretag",
    "relation",
]


@st.composite
def _tasks(draw: st.DrawFn) -> list[dict[str, Any]]:
    ids = iter(range(1, 100_000))
    tasks = []
    for t in range(draw(st.integers(1, 4))):
        task: dict[str, Any] = {
            "id": 100 + t,
            "data": {"image": f"/img/{t}.png", "n": t},
            "meta": {},
            "created_at": "2026-11-23T08:00:00Z",
        }
        for _, key in SOURCES:
            task[key] = [
                {
                    "id": next(ids),
                    "completed_by": {"id": 1, "email": "a@b.c"},
                    "was_cancelled": False,
                    "ground_truth": False,
                    "lead_time": 1.5,
                    "result": [
                        _item(i, draw(st.sampled_from(KINDS)))
                        for i in range(draw(st.integers(0, 3)))
                    ],
                }
                for _ in range(draw(st.integers(0 if key != "annotations" else 1, 2)))
            ]
        tasks.append(task)
    return tasks


def _paths(obj: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value inside ``obj`` (dict keys and list indexes)."""
    out = [prefix] if prefix else []
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out += _paths(v, (*prefix, i))
    return out


def _set(obj: Any, path: tuple[Any, ...], value: Any) -> None:
    for step in path[:-1]:
        obj = obj[step]
    obj[path[-1]] = value


def _read(doc: bytes, chunk: int, counts: dict[str, int] | None = None) -> dict[str, pa.Table]:
    """The tables; ``counts`` receives the malformed items by kind (their one warning is
    caught: the base exports hold some, an unknown type's ``"text": 5`` say)."""
    parts: dict[str, list[pa.RecordBatch]] = {}
    reader = ExportReader(doc, chunk_size=chunk)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ls_frames.MalformedResultWarning)
        for batches in reader:
            for name, batch in batches.items():
                parts.setdefault(name, []).append(batch)
    assert len(caught) == bool(reader.report)
    if counts is not None:
        counts.update(reader.report.counts)
    return {
        name: pa.Table.from_batches(parts[name]) if name in parts else schema.empty_table()
        for name, schema in SCHEMAS.items()
    }


def _expected(tasks: Any) -> tuple[Counter[tuple[str, Any, int]], dict[Any, Any]]:
    """Result items per (source, id, index) and the values of non-relations, as json.loads
    reads the document (only for well-shaped containers; else ``None``)."""
    rows: Counter[tuple[str, Any, int]] = Counter()
    values: dict[Any, Any] = {}
    for task in tasks:
        for source, key in SOURCES:
            for obj in task.get(key) or []:
                for index, item in enumerate(obj["result"]):
                    rows[(source, obj["id"], index)] += 1
                    if item.get("type") != "relation":
                        values[(source, obj["id"], index)] = item.get("value")
    return rows, values


def _check_lossless(doc: bytes, tables: dict[str, pa.Table]) -> None:
    with _deep_ok():
        rows, values = _expected(json.loads(doc))
    seen: Counter[tuple[str, Any, int]] = Counter()
    for name in ("regions", "relations"):
        t = tables[name]
        for key in zip(
            t.column("source").to_pylist(),
            t.column("source_id").to_pylist(),
            t.column("result_index").to_pylist(),
            strict=True,
        ):
            seen[key] += 1
    assert seen == rows
    r = tables["regions"]
    for source, sid, index, text in zip(
        r.column("source").to_pylist(),
        r.column("source_id").to_pylist(),
        r.column("result_index").to_pylist(),
        r.column("value_json").to_pylist(),
        strict=True,
    ):
        with _deep_ok():
            got = None if text is None else json.loads(text)
            assert got == values[(source, sid, index)], (source, sid, index)


def _check_located(exc: ExportFormatError, doc: bytes, task_index: int | None) -> None:
    assert exc.offset is not None or exc.task_index is not None, str(exc)
    if exc.offset is not None:
        assert 0 <= exc.offset <= len(doc), (exc.offset, len(doc), str(exc))
        assert f"byte {exc.offset}" in str(exc)
    if exc.task_index is not None:
        assert f"task #{exc.task_index}" in str(exc)
        if task_index is not None:
            assert exc.task_index == task_index, (exc.task_index, task_index, str(exc))


def _malformed_kind(task: dict[str, Any], path: tuple[Any, ...], new: Any) -> str | None:
    """The kind of malformed item a damage at ``path`` makes (when a simple rule says)."""
    if len(path) < 5 or path[0] not in dict(SOURCES).values() or path[2] != "result":
        return None
    item = task[path[0]][path[1]]["result"][path[3]]
    if not isinstance(item, dict) or item.get("type") == "relation" or path[4] == "type":
        return "missing_type" if path[4:] == ("type",) and new is None else None
    if path[4:] == ("value",) and not isinstance(new, dict):
        return "value_not_object"
    if path[4:] == ("from_name",) and new is None:
        return "missing_from_name"
    coordinate = len(path) == 6 and path[4] == "value" and path[5] in ("x", "y", "width")
    if coordinate and new is not None and type(new) not in (int, float):
        return "coordinate_not_number"
    return None


def _is_well_shaped(tasks: Any) -> bool:
    """Whether the containers the lossless check walks are of the right types."""
    try:
        for task in tasks:
            for _, key in SOURCES:
                for obj in task.get(key) or []:
                    for item in obj["result"]:
                        if not isinstance(item, dict):
                            return False
                        if not isinstance(item.get("type"), (str, type(None))):
                            return False
        return all(isinstance(t, dict) for t in tasks)
    except (TypeError, KeyError, AttributeError):
        return False


def test_one_field_of_another_type() -> None:
    rejected = CASES["wrong_type_rejected"]
    reported = CASES["wrong_type_reported"]
    run_counted(_one_field_of_another_type, CASES, "wrong_type", 2000)
    assert CASES["wrong_type_rejected"] > rejected  # the damage reached the checks
    assert CASES["wrong_type_reported"] > reported  # and made malformed items


@_settings(2000)
@given(tasks=_tasks(), data=st.data(), chunk=st.sampled_from([1, 64, 1 << 20]))
def _one_field_of_another_type(
    tasks: list[dict[str, Any]], data: st.DataObject, chunk: int
) -> None:
    CASES["wrong_type"] += 1
    t = data.draw(st.integers(0, len(tasks) - 1))
    path = data.draw(st.sampled_from(_paths(tasks[t])))
    new = data.draw(_wrong)
    _set(tasks[t], path, new)
    doc = _encode(tasks)
    counts: dict[str, int] = {}
    try:
        tables = _read(doc, chunk, counts)
    except ExportFormatError as exc:
        CASES["wrong_type_rejected"] += 1
        _check_located(exc, doc, t)
        return
    assert tables["tasks"].num_rows == len(tasks)
    kind = _malformed_kind(tasks[t], path, new)
    if kind is not None:
        CASES["wrong_type_reported"] += 1
        assert counts.get(kind, 0) >= 1, (kind, path, counts)
    if _is_well_shaped(tasks):
        _check_lossless(doc, tables)


def test_duplicate_keys_last_one_wins() -> None:
    run_counted(_duplicate_keys_last_one_wins, CASES, "duplicate_key", 900)


@_settings(900)
@given(tasks=_tasks(), data=st.data(), chunk=st.sampled_from([1, 64, 1 << 20]))
def _duplicate_keys_last_one_wins(
    tasks: list[dict[str, Any]], data: st.DataObject, chunk: int
) -> None:
    """A duplicate key in one object (the first copy holds another value): read as
    ``json.loads`` reads it, or refused with a location."""
    CASES["duplicate_key"] += 1
    doc = _encode(tasks)
    objects = [i for i in range(len(doc)) if doc[i : i + 2] == b'{"']
    at = data.draw(st.sampled_from(objects))
    key_end = doc.index(b'"', at + 2)
    key = doc[at + 1 : key_end + 1]
    first = _encode(data.draw(_wrong))
    damaged = doc[: at + 1] + key + b": " + first + b", " + doc[at + 1 :]
    with _deep_ok():
        assert json.loads(damaged) == tasks
    try:
        tables = _read(damaged, chunk)
    except ExportFormatError as exc:
        CASES["duplicate_key_rejected"] += 1
        _check_located(exc, damaged, None)
        return
    _check_lossless(damaged, tables)


def test_cut_anywhere_is_refused_within_the_document() -> None:
    run_counted(_cut_anywhere_is_refused_within_the_document, CASES, "cut", 1100)


@_settings(1100)
@given(
    tasks=_tasks(),
    data=st.data(),
    chunk=st.sampled_from([1, 64, 1 << 20]),
    indent=st.sampled_from([None, 2]),
)
def _cut_anywhere_is_refused_within_the_document(
    tasks: list[dict[str, Any]], data: st.DataObject, chunk: int, indent: int | None
) -> None:
    """A document cut short is always refused (never read as fewer tasks), at an offset no
    further than the cut."""
    CASES["cut"] += 1
    doc = json.dumps(tasks, indent=indent).encode()
    cut = data.draw(st.integers(0, len(doc.rstrip()) - 1))
    with pytest.raises(ExportFormatError) as info:
        _read(doc[:cut], chunk)
    _check_located(info.value, doc[:cut], None)


def test_single_object_and_json_min_records() -> None:
    run_counted(_single_object_and_json_min_records, CASES, "other_shapes", 800)


@_settings(800)
@given(tasks=_tasks(), data=st.data())
def _single_object_and_json_min_records(tasks: list[dict[str, Any]], data: st.DataObject) -> None:
    """A file holding one task, and JSON_MIN rows built from the tasks, with one field of
    another type: they read, or are refused with a location."""
    CASES["other_shapes"] += 1
    if data.draw(st.booleans()):
        doc_obj: Any = tasks[0]
    else:
        doc_obj = [
            {
                "id": t["id"],
                "image": t["data"]["image"],
                "annotation_id": 7 + i,
                "annotator": 1,
                "choice": "a",
                "lead_time": 2.0,
                "created_at": "2026-11-23T08:00:00Z",
            }
            for i, t in enumerate(tasks)
        ]
    paths = _paths(doc_obj)
    if paths:
        _set(doc_obj, data.draw(st.sampled_from(paths)), data.draw(_wrong))
    doc = _encode(doc_obj)
    try:
        tables = _read(doc, data.draw(st.sampled_from([1, 1 << 20])))
    except ExportFormatError as exc:
        CASES["other_shapes_rejected"] += 1
        _check_located(exc, doc, None)
        return
    assert tables["tasks"].num_rows >= 1


def test_to_parquet_failure_keeps_the_old_dataset(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    run_counted(
        _to_parquet_failure_keeps_the_old_dataset,
        CASES,
        "to_parquet",
        200,
        tmp_path_factory=tmp_path_factory,
    )


@_settings(200)
@given(tasks=_tasks(), data=st.data())
def _to_parquet_failure_keeps_the_old_dataset(
    tasks: list[dict[str, Any]], data: st.DataObject, tmp_path_factory: pytest.TempPathFactory
) -> None:
    CASES["to_parquet"] += 1
    base = tmp_path_factory.mktemp("shapes")
    out = base / "dataset"
    old = json.dumps([{"id": 1, "data": {"v": "old"}, "annotations": []}]).encode()
    ls_frames.to_parquet(old, out, progress=False)
    before = {p.relative_to(base): p.read_bytes() for p in sorted(base.rglob("*")) if p.is_file()}
    t = data.draw(st.integers(0, len(tasks) - 1))
    _set(tasks[t], data.draw(st.sampled_from(_paths(tasks[t]))), data.draw(_wrong))
    doc = _encode(tasks)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ls_frames.MalformedResultWarning)
            ls_frames.to_parquet(doc, out, overwrite=True, chunk_size=64, progress=False)
    except ExportFormatError as exc:
        CASES["to_parquet_rejected"] += 1
        _check_located(exc, doc, t)
        after = {
            p.relative_to(base): p.read_bytes() for p in sorted(base.rglob("*")) if p.is_file()
        }
        assert after == before  # the old dataset, byte for byte, and nothing beside it
        assert [p.name for p in base.iterdir()] == ["dataset"]
    else:
        assert (out / "_SUCCESS").is_file()
        tasks_file = out / "tasks" / "part-0000.parquet"
        assert pq.read_table(tasks_file).num_rows == len(tasks)
        assert sorted(p.name for p in base.iterdir()) == ["dataset"]
        assert not any(Path(p).name.startswith(".") for p in out.rglob("*"))
