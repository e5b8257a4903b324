"""Fuzzed exports: only documented errors, each naming where; nothing lost when well formed.

Four families of generated input, 5,200 cases in all (the sum of ``max_examples``; each
test checks through ``CASES`` that its own cases really ran):

* well-formed exports with random result items (known and unknown ``type`` values, wrong
  value types, huge strings, deep nesting, non-ASCII text, duplicate keys): every result item
  lands in exactly one row of ``regions`` or ``relations`` and ``value_json`` equals the
  original ``value``; the items with an image size that is not an integer, or a coordinate
  that is not a number, are counted in the reader's report, as many as the generator made;
* the same documents damaged (truncated, bytes replaced, invalid UTF-8 inserted, a task
  replaced by a value of the wrong type): either they still read, or ``ExportFormatError``
  names a byte offset or a task index; no other exception escapes;
* ``to_parquet`` on damaged documents: on failure there is no dataset, no ``_SUCCESS`` and no
  leftover temporary folder;
* arbitrary bytes.

Derandomized, so CI runs the same cases each time.
"""

from __future__ import annotations

import json
import warnings
from collections import Counter
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ls_frames
from ls_frames.errors import ExportFormatError
from ls_frames.reading import SCHEMAS, ExportReader
from ls_frames.reading.columns import is_whole
from tests.fuzz_runs import examples, run_counted

CASES: Counter[str] = Counter()


def _settings(max_examples: int) -> settings:
    return settings(
        max_examples=examples(max_examples),
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


KNOWN_TYPES = [
    "rectanglelabels",
    "labels",
    "choices",
    "textarea",
    "rating",
    "number",
    "taxonomy",
    "polygonlabels",
    "keypointlabels",
    "brushlabels",
    "ellipselabels",
    "datetime",
    "videorectangle",
    "ranker",
    "pairwise",
    "hypertextlabels",
    "paragraphlabels",
]
UNKNOWN_TYPES = ["mystery", "timeserieslabels-v9", "Choices", "", "relation_like", "ñ型"]

_text = st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=20) | st.sampled_from(
    ['"}, {"id": 1}', "\\", "\u2028", '\\"', "é" * 300]
)
_huge = st.sampled_from(["x" * 70_000, "é" * 30_000, '"}, {"id": 2, ' * 5_000])
_scalar = (
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | _text
    | st.floats(allow_nan=False, allow_infinity=False)
)
_json = st.recursive(
    _scalar,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_text, inner, max_size=3),
    max_leaves=6,
)


def _deep(depth: int) -> Any:  # nested dicts and lists, ``depth`` levels
    value: Any = "bottom"
    for i in range(depth):
        value = [value] if i % 2 else {"k": value}
    return value


_value = st.one_of(
    st.dictionaries(_text, _json, max_size=4),
    st.fixed_dictionaries(
        {"x": _json, "y": _json, "width": _json, "height": _json, "labels": _json},
    ),
    st.fixed_dictionaries({"start": _json, "end": _json, "text": _json, "choices": _json}),
    st.integers(1, 60).map(lambda d: {"nested": _deep(d)}),
    _huge.map(lambda text: {"text": [text], "labels": ["A"]}),
)


@st.composite
def _result_item(draw: st.DrawFn) -> dict[str, Any]:
    if draw(st.integers(0, 9)) == 0:
        item: dict[str, Any] = {
            "type": "relation",
            "from_id": draw(_text),
            "to_id": draw(_text),
            "direction": draw(st.sampled_from(["right", "left", "bi"])),
        }
        if draw(st.booleans()):
            item["labels"] = draw(st.lists(_text, max_size=3))
        return item
    item = {
        "id": draw(_text),
        "type": draw(st.sampled_from(KNOWN_TYPES + UNKNOWN_TYPES)),
        "from_name": draw(_text),
        "to_name": draw(_text),
        "value": draw(_value),
    }
    for key in ("origin", "parent_id", "score", "readonly", "original_width", "meta"):
        if draw(st.integers(0, 4)) == 0:
            item[key] = draw(_json)
    return item


@st.composite
def _export(draw: st.DrawFn) -> list[dict[str, Any]]:
    ids = iter(range(1, 10_000))
    tasks = []
    for task_id in range(draw(st.integers(0, 4))):
        task: dict[str, Any] = {
            "id": task_id + 1,
            "data": draw(st.dictionaries(_text, _json, max_size=3)),
            "annotations": [
                {
                    "id": next(ids),
                    "result": draw(st.lists(_result_item(), max_size=3)),
                    "was_cancelled": draw(st.booleans()),
                    "ground_truth": draw(st.booleans()),
                    "completed_by": draw(
                        st.integers(1, 9) | st.fixed_dictionaries({"id": st.integers(1, 9)})
                    ),
                }
                for _ in range(draw(st.integers(0, 2)))
            ],
        }
        if draw(st.booleans()):
            task["predictions"] = [
                {
                    "id": next(ids),
                    "result": draw(st.lists(_result_item(), max_size=3)),
                    "model_version": draw(_text),
                }
                for _ in range(draw(st.integers(0, 2)))
            ]
        if draw(st.booleans()):
            task["drafts"] = [
                {"id": next(ids), "result": draw(st.lists(_result_item(), max_size=2))}
                for _ in range(draw(st.integers(0, 1)))
            ]
        tasks.append(task)
    return tasks


def _read(doc: bytes, chunk_size: int, counts: dict[str, int] | None = None) -> dict[str, pa.Table]:
    """The tables; ``counts`` receives the malformed items by kind (whose one warning,
    expected of generated items, is caught)."""
    parts: dict[str, list[pa.RecordBatch]] = {}
    reader = ExportReader(doc, chunk_size=chunk_size)
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


_NUMBERS = ("x", "y", "width", "height", "rotation", "radiusX", "radiusY")


def _is_number(v: Any) -> bool:
    return type(v) in (int, float)


def _odd_coordinate(value: dict[str, Any]) -> bool:
    """Some coordinate of this value is not a number (what the reader must report)."""
    return (
        any(value.get(k) is not None and not _is_number(value[k]) for k in _NUMBERS)
        or any(
            value.get(k) is not None and not is_whole(value[k])
            for k in ("startOffset", "endOffset")
        )
        or (
            value.get("points") is not None
            and not (
                type(value["points"]) is list
                and all(type(p) is list and all(map(_is_number, p)) for p in value["points"])
            )
        )
    )


def _encode(tasks: list[dict[str, Any]], indent: int | None, ascii_only: bool) -> bytes:
    return json.dumps(tasks, indent=indent, ensure_ascii=ascii_only).encode()


def _check_names_where(exc: ExportFormatError, doc: bytes) -> None:
    assert exc.offset is not None or exc.task_index is not None, str(exc)
    if exc.offset is not None:
        assert 0 <= exc.offset <= len(doc), (exc.offset, len(doc))
        assert f"byte {exc.offset}" in str(exc)
    if exc.task_index is not None:
        assert exc.task_index >= 0
        assert f"task #{exc.task_index}" in str(exc)


def test_well_formed_exports_lose_nothing() -> None:
    run_counted(_well_formed_exports_lose_nothing, CASES, "well_formed", 1500)


@_settings(1500)
@given(
    tasks=_export(),
    chunk=st.sampled_from([97, 4096, 1 << 20]),
    indent=st.sampled_from([None, 1]),
    ascii_only=st.booleans(),
)
def _well_formed_exports_lose_nothing(
    tasks: list[dict[str, Any]], chunk: int, indent: int | None, ascii_only: bool
) -> None:
    CASES["well_formed"] += 1
    doc = _encode(tasks, indent, ascii_only)
    counts: dict[str, int] = {}
    tables = _read(doc, chunk, counts)

    expected: Counter[tuple[str, int, int]] = Counter()
    values: dict[tuple[str, int, int], Any] = {}
    odd: Counter[str] = Counter()
    for task in tasks:
        for source, key in (
            ("annotation", "annotations"),
            ("prediction", "predictions"),
            ("draft", "drafts"),
        ):
            for obj in task.get(key) or []:
                for index, item in enumerate(obj["result"]):
                    expected[(source, obj["id"], index)] += 1
                    if item["type"] != "relation":
                        values[(source, obj["id"], index)] = item["value"]
                        size = item.get("original_width")
                        odd["image_size_not_integer"] += size is not None and not is_whole(size)
                        odd["coordinate_not_number"] += _odd_coordinate(item["value"])
    # the generator writes every value as an object, and from_name and type as strings
    assert not {"value_not_object", "missing_from_name", "missing_type"} & set(counts)
    for kind, count in odd.items():
        assert counts.get(kind, 0) == count, (kind, counts)

    regions, relations = tables["regions"], tables["relations"]
    seen: Counter[tuple[str, int, int]] = Counter()
    for table in (regions, relations):
        for source, source_id, index in zip(
            table.column("source").to_pylist(),
            table.column("source_id").to_pylist(),
            table.column("result_index").to_pylist(),
            strict=True,
        ):
            seen[(source, source_id, index)] += 1
    assert seen == expected

    for source, source_id, index, text in zip(
        regions.column("source").to_pylist(),
        regions.column("source_id").to_pylist(),
        regions.column("result_index").to_pylist(),
        regions.column("value_json").to_pylist(),
        strict=True,
    ):
        assert json.loads(text) == values[(source, source_id, index)]
    assert tables["tasks"].num_rows == len(tasks)
    assert tables["annotations"].num_rows == sum(len(t["annotations"]) for t in tasks)


@st.composite
def _damaged(draw: st.DrawFn) -> bytes:
    tasks = draw(_export().filter(bool))
    doc = _encode(tasks, draw(st.sampled_from([None, 1])), draw(st.booleans()))
    how = draw(st.sampled_from(["truncate", "replace", "utf8", "wrong_task", "dup_keys", "insert"]))
    if how == "truncate":
        return doc[: draw(st.integers(0, len(doc) - 1))]
    if how == "replace":
        at = draw(st.integers(0, len(doc) - 1))
        return doc[:at] + draw(st.binary(min_size=1, max_size=4)) + doc[at + 1 :]
    if how == "utf8":
        at = draw(st.integers(0, len(doc)))
        bad = draw(st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xf8\x88\x80\x80"]))
        return doc[:at] + bad + doc[at:]
    if how == "insert":
        at = draw(st.integers(0, len(doc)))
        return (
            doc[:at]
            + draw(st.sampled_from([b",", b"]", b"[", b"{", b"}", b'"', b"\\", b"null", b"\x00"]))
            + doc[at:]
        )
    if how == "dup_keys":
        # a duplicate "id" key inside the first task: valid JSON, last one wins
        return doc.replace(b'{"id": 1,', b'{"id": "one", "id": 1,', 1)
    wrong = draw(
        st.sampled_from(
            [
                b"5",
                b'"task"',
                b"null",
                b"[1]",
                b"true",
                b'{"id": "x", "annotations": 3}',
                b'{"id": 1, "annotations": [{"result": {"a": 1}}]}',
            ]
        )
    )
    at = draw(st.integers(0, len(tasks) - 1))
    parts = [json.dumps(t).encode() for t in tasks]
    parts[at] = wrong
    return b"[" + b", ".join(parts) + b"]"


def test_damaged_exports_fail_with_a_located_error() -> None:
    rejected = CASES["damaged_rejected"]
    ran = run_counted(_damaged_exports_fail_with_a_located_error, CASES, "damaged", 1500)
    assert CASES["damaged_rejected"] - rejected > ran // 2  # the damage was real


@_settings(1500)
@given(doc=_damaged(), chunk=st.sampled_from([1, 97, 4096, 1 << 20]))
def _damaged_exports_fail_with_a_located_error(doc: bytes, chunk: int) -> None:
    CASES["damaged"] += 1
    try:
        _read(doc, chunk)
    except ExportFormatError as exc:
        CASES["damaged_rejected"] += 1
        _check_names_where(exc, doc)


def test_to_parquet_leaves_nothing_that_looks_complete(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    run_counted(
        _to_parquet_leaves_nothing_that_looks_complete,
        CASES,
        "to_parquet",
        200,
        tmp_path_factory=tmp_path_factory,
    )


@_settings(200)
@given(doc=_damaged())
def _to_parquet_leaves_nothing_that_looks_complete(
    doc: bytes, tmp_path_factory: pytest.TempPathFactory
) -> None:
    CASES["to_parquet"] += 1
    base = tmp_path_factory.mktemp("fuzz")
    out = base / "dataset"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ls_frames.MalformedResultWarning)
            ls_frames.to_parquet(doc, out, progress=False)
    except ExportFormatError as exc:
        _check_names_where(exc, doc)
        assert not out.exists()
        assert [p.name for p in base.iterdir()] == []  # no temporary folder left behind
    else:
        assert (out / "_SUCCESS").is_file()


def test_arbitrary_bytes() -> None:
    run_counted(_arbitrary_bytes, CASES, "bytes", 2000)


@_settings(2000)
@given(doc=st.binary(max_size=200) | st.binary(max_size=50).map(lambda b: b"[" + b))
def _arbitrary_bytes(doc: bytes) -> None:
    CASES["bytes"] += 1
    try:
        _read(doc, 16)
    except ExportFormatError as exc:
        _check_names_where(exc, doc)


@pytest.mark.parametrize("depth", [500, 5000, 100_000])
def test_deep_nesting_is_kept_or_rejected_with_a_location(depth: int) -> None:
    deep = b'{"k": [' * depth + b'"bottom"' + b"]}" * depth
    doc = b'[{"id": 1, "data": {"deep": ' + deep + b'}, "annotations": [{"id": 2, "result": ['
    doc += b'{"id": "r", "type": "mystery", "from_name": "a", "to_name": "b", "value": '
    doc += deep + b"}]}]}]"
    try:
        tables = _read(doc, 1 << 20)
    except ExportFormatError as exc:
        _check_names_where(exc, doc)
    else:  # kept: byte for byte, in the JSON text columns
        assert tables["tasks"].column("data_json")[0].as_py() == '{"deep": ' + deep.decode() + "}"
        assert tables["regions"].column("value_json")[0].as_py() == deep.decode()
