"""Malformed input raises ExportFormatError naming where; the chunker finds real boundaries."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ls_frames.errors import ExportFormatError
from ls_frames.reading import ExportReader, iter_chunks

LS = Path(__file__).resolve().parent / "corpus" / "label-studio-1.23.2"


def _count(source: Any, chunk_size: int = 64) -> int:
    reader = ExportReader(source, chunk_size=chunk_size)
    for _ in reader:
        pass
    return reader.task_count


def _task(i: int, text: str = "x") -> dict[str, Any]:
    return {
        "id": i,
        "data": {"text": text},
        "annotations": [
            {
                "id": 100 + i,
                "result": [
                    {
                        "id": f"r{i}",
                        "type": "labels",
                        "from_name": "l",
                        "to_name": "t",
                        "value": {"start": 0, "end": 1, "text": text, "labels": ["A"]},
                    }
                ],
            }
        ],
    }


def test_truncated_file_names_offset_and_task() -> None:
    doc = json.dumps([_task(i) for i in range(5)]).encode()
    cut = doc[: len(doc) - 30]
    with pytest.raises(ExportFormatError) as info:
        _count(cut)
    assert info.value.offset is not None and 0 < info.value.offset <= len(cut)
    assert info.value.task_index == 4


def test_truncated_after_last_task() -> None:
    doc = json.dumps([_task(0)]).encode()[:-1]
    with pytest.raises(ExportFormatError, match="not closed") as info:
        _count(doc)
    assert info.value.offset == len(doc)


@pytest.mark.parametrize("doc", [b'{"not": "a list"', b'"text"', b"42", b"", b"   "])
def test_not_an_array(doc: bytes) -> None:
    with pytest.raises(ExportFormatError):
        _count(doc)


@pytest.mark.parametrize("element, index", [(b"5", 1), (b'"x"', 1), (b"[1, 2]", 1)])
def test_task_that_is_not_an_object(element: bytes, index: int) -> None:
    doc = (
        b"["
        + json.dumps(_task(0)).encode()
        + b", "
        + element
        + b", "
        + json.dumps(_task(2)).encode()
        + b"]"
    )
    with pytest.raises(ExportFormatError) as info:
        _count(doc, chunk_size=1 << 20)
    assert info.value.task_index == index


def test_first_element_not_an_object() -> None:
    with pytest.raises(ExportFormatError) as info:
        _count(b"[1, 2, 3]")
    assert info.value.task_index == 0 and info.value.offset == 1


def test_invalid_utf8_names_offset() -> None:
    doc = json.dumps([_task(0), _task(1, "caf\u00e9")], ensure_ascii=False).encode()
    bad = doc.replace("\u00e9".encode(), b"\xff\xfe")
    with pytest.raises(ExportFormatError, match="UTF-8") as info:
        _count(bad, chunk_size=1 << 20)
    assert info.value.offset == bad.index(b"\xff")


def test_wrong_types_name_the_task() -> None:
    tasks = [_task(0), _task(1), _task(2)]
    tasks[2]["annotations"][0]["result"] = "not a list"
    with pytest.raises(ExportFormatError) as info:
        _count(json.dumps(tasks).encode(), chunk_size=1 << 20)
    assert info.value.task_index == 2


def test_syntax_error_inside_a_task_names_offset() -> None:
    doc = json.dumps([_task(0), _task(1)]).encode()
    pos = doc.index(b'"annotations"', 20)
    bad = doc[:pos] + b"@" + doc[pos + 1 :]
    with pytest.raises(ExportFormatError) as info:
        _count(bad, chunk_size=1 << 20)
    assert info.value.offset == pos


def test_missing_comma_between_tasks() -> None:
    doc = b"[" + json.dumps(_task(0)).encode() + json.dumps(_task(1)).encode() + b"]"
    with pytest.raises(ExportFormatError):
        _count(doc, chunk_size=8)


def test_trailing_garbage() -> None:
    with pytest.raises(ExportFormatError, match="after the end"):
        _count(json.dumps([_task(0)]).encode() + b" x")


def test_empty_array_and_whitespace() -> None:
    assert _count(b"[]") == 0
    assert _count(b"\xef\xbb\xbf[" + json.dumps(_task(0)).encode() + b"]") == 1
    assert _count(b"  \n[ \n ]\n") == 0
    assert _count(b"[\n  " + json.dumps(_task(0), indent=4).encode() + b"\n]\n", 3) == 1


def test_path_is_named(tmp_path: Path) -> None:
    p = tmp_path / "broken.json"
    p.write_bytes(b"[{")
    with pytest.raises(ExportFormatError) as info:
        _count(p)
    assert info.value.path == str(p) and "broken.json" in str(info.value)


_tricky_text = st.lists(
    st.sampled_from([*'{}[],"\\ab :\n\u00e9', "}, {", '\\"', "\\\\", '"}, {"id": 1}']),
    max_size=12,
).map("".join)


@settings(max_examples=150, deadline=None)
@given(
    texts=st.lists(_tricky_text, min_size=0, max_size=8),
    chunk=st.integers(min_value=1, max_value=300),
    indent=st.sampled_from([None, 2]),
)
def test_boundaries_respect_strings_and_escapes(
    texts: list[str], chunk: int, indent: int | None
) -> None:
    tasks = [_task(i, t) for i, t in enumerate(texts)]
    doc = json.dumps(tasks, indent=indent, ensure_ascii=False).encode()
    chunks = list(iter_chunks(io.BytesIO(doc), chunk_size=chunk))
    decoded = [t for c in chunks for t in json.loads(b"[" + c.data + b"]")]
    assert decoded == tasks
    assert [c.first_index for c in chunks] == [
        sum(x.count for x in chunks[:i]) for i in range(len(chunks))
    ]
    for c in chunks:
        assert doc[c.offset : c.offset + len(c.data)] == c.data
    reader = ExportReader(doc, chunk_size=chunk)
    texts_seen = [v for b in reader for v in b["tasks"].column("data_json").to_pylist()]
    assert [json.loads(v)["text"] for v in texts_seen] == texts


@pytest.mark.parametrize("chunk", [1, 50, 300, 1 << 20])
def test_server_fast_path_is_checked(chunk: int) -> None:
    """Tasks in server key order (id, annotations, ...) take the fast cut; a look-alike
    nested in data or inside a string must not fool it."""
    tasks = []
    for i in range(12):
        tasks.append(
            {
                "id": i,
                "annotations": [{"id": 100 + i, "result": []}],
                "data": {
                    "prev": [{"id": 1, "annotations": [{}]}, {"id": 2, "annotations": [{}]}],
                    "text": '}, {"id": 3, "annotations": [',
                },
            }
        )
    doc = json.dumps(tasks).encode()
    assert doc.count(b'}, {"id": ') == 2 * len(tasks) - 1  # task starts and look-alikes
    chunks = list(iter_chunks(io.BytesIO(doc), chunk_size=chunk))
    assert [t for c in chunks for t in json.loads(b"[" + c.data + b"]")] == tasks
    assert sum(c.count for c in chunks) == len(tasks)


@pytest.mark.parametrize(
    ("doc", "words"),
    [
        (
            b'{"detail": "Authentication credentials were not provided."}',
            "error answer from a server: 'Authentication credentials were not provided.'",
        ),
        (b'{"detail": "Not found.", "status_code": 404}', "error answer from a server"),
        (b'{"validation_errors": {"title": ["too long"]}}', "error answer from a server"),
        (b'{"text": "an import payload without data"}', 'no integer "id" (found None)'),
        (b'{"id": "7", "data": {"text": "x"}}', "no integer \"id\" (found '7')"),
        (b'{"id": true, "data": {}}', 'no integer "id" (found True)'),
        (b'{"id": 3, "result": [], "task": {"data": []}}', 'no integer "id" (found None)'),
        (b"{}", 'no integer "id"'),
    ],
)
def test_a_single_object_that_is_not_a_task_is_refused(
    doc: bytes, words: str, tmp_path: Path
) -> None:
    path = tmp_path / "export.json"
    path.write_bytes(doc)
    with pytest.raises(ExportFormatError, match="not a Label Studio") as info:
        _count(path)
    assert words in str(info.value) and str(path) in str(info.value)
    assert info.value.offset == 0 and info.value.task_index == 0


def test_single_objects_that_are_tasks_still_read() -> None:
    assert _count(json.dumps(_task(7)).encode()) == 1
    annotation = {**_task(7)["annotations"][0], "task": {"id": 7, "data": {"text": "x"}}}
    assert _count(json.dumps(annotation).encode()) == 1
    assert _count(b'{"data": {"text": "a task as Label Studio imports it"}}') == 1
