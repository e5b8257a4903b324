"""The chunker's unverified fast cut: decoding a chunk in process is what proves its cut.

With one worker the server fast path skips its own check parse; a cut that is not at the
top level (a look-alike of a task start nested in ``data``) fails the decode and the same
bytes are cut again by the exact scan. The rows and the errors must be those of the
verified path (``workers=2`` keeps the check parse in the chunker).
"""

from __future__ import annotations

import io
import json
from typing import Any

import pyarrow as pa
import pytest

from ls_frames.errors import ExportFormatError
from ls_frames.reading import ExportReader, iter_chunks


def _task(i: int) -> dict[str, Any]:
    """A task in server key order whose data holds look-alikes of a task start."""
    return {
        "id": i,
        "annotations": [
            {
                "id": 100 + i,
                "result": [
                    {
                        "id": f"r{i}",
                        "type": "choices",
                        "from_name": "c",
                        "to_name": "t",
                        "value": {"choices": [f"c{i}"]},
                    }
                ],
            }
        ],
        "data": {
            "prev": [{"id": 1, "annotations": [{}]}, {"id": 2, "annotations": [{}]}],
            "text": '}, {"id": 3, "annotations": [',
        },
    }


def _tables(doc: bytes, chunk_size: int, workers: int) -> tuple[dict[str, pa.Table], int]:
    reader = ExportReader(doc, chunk_size=chunk_size, workers=workers)
    batches = list(reader)
    tables = {
        name: pa.Table.from_batches([b[name] for b in batches], schema=batches[0][name].schema)
        for name in reader.tables
    }
    return tables, reader.task_count


@pytest.mark.parametrize("chunk", [1, 64, 300, 1000, 1 << 20])
def test_unverified_cuts_give_the_verified_rows(chunk: int) -> None:
    tasks = [_task(i) for i in range(15)]
    doc = json.dumps(tasks).encode()
    assert doc.count(b'}, {"id": ') > len(tasks)  # look-alikes the fast path will try
    here, n_here = _tables(doc, chunk, workers=1)
    pool, n_pool = _tables(doc, chunk, workers=2)
    assert n_here == n_pool == len(tasks)
    for name, table in here.items():
        assert table.equals(pool[name]), name
    assert here["tasks"].column("task_id").to_pylist() == list(range(15))
    assert here["regions"].column("choice").to_pylist() == [f"c{i}" for i in range(15)]
    assert [json.loads(d) for d in here["tasks"].column("data_json").to_pylist()] == [
        t["data"] for t in tasks
    ]


@pytest.mark.parametrize("chunk", [1, 64, 700, 1 << 20])
@pytest.mark.parametrize("bad", [3, 11])
def test_an_error_in_an_unverified_chunk_names_the_same_place(chunk: int, bad: int) -> None:
    tasks = [json.dumps(_task(i)) for i in range(14)]
    tasks[bad] = tasks[bad].replace('"choices": [', '"choices": [tru', 1)
    doc = ("[" + ", ".join(tasks) + "]").encode()
    errors = []
    for workers in (1, 2):
        with pytest.raises(ExportFormatError) as info:
            _tables(doc, chunk, workers)
        errors.append((str(info.value), info.value.offset, info.value.task_index))
    assert errors[0] == errors[1]
    at = doc.index(b"tru")
    assert errors[0][1] is not None and at <= errors[0][1] <= at + len(b"tru")


def test_the_generator_recuts_when_told_the_decode_failed() -> None:
    doc = json.dumps([_task(i) for i in range(6)]).encode()
    chunks = iter_chunks(io.BytesIO(doc), chunk_size=len(doc) + 10, verify=False)
    first = next(chunks)
    assert not first.verified and first.count == 0
    with pytest.raises(json.JSONDecodeError):  # cut at the look-alike in the last data
        json.loads(first.doc)
    again = chunks.send(None)  # the decode failed: the same bytes, cut by the exact scan
    assert again.verified and again.offset == first.offset and again.count == 6
    assert json.loads(again.doc) == [_task(i) for i in range(6)]
    with pytest.raises(StopIteration):
        chunks.send(None)


def test_the_generator_goes_on_from_a_cut_the_caller_decoded() -> None:
    tasks = [{"id": i, "annotations": [], "data": {"i": i}} for i in range(6)]
    doc = json.dumps(tasks).encode()
    chunks = iter_chunks(io.BytesIO(doc), chunk_size=len(doc) + 10, verify=False)
    first = next(chunks)
    assert not first.verified and json.loads(first.doc) == tasks[:5]
    rest = chunks.send(5)  # five tasks decoded: the next chunk follows the cut
    assert rest.verified and rest.first_index == 5 and rest.count == 1
    assert rest.offset == first.offset + len(first.doc) - 2 + len(", ")
    assert json.loads(rest.doc) == tasks[5:]
    with pytest.raises(StopIteration):
        chunks.send(None)
