"""workers=N: worker processes flatten byte ranges of the file and write their own parts.

Each test compares against ``workers=1`` on the same file: the same rows in the same order,
the same errors (type, byte offset, task index), no dataset left after a failure.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from ls_frames.errors import ConfigurationError, ExportFormatError
from ls_frames.tables import read_export, read_parquet, to_parquet
from ls_frames.tables.parallel import Job, _plan, _ranges, _Slice, run_ranges, spawn_context

TABLES = ["tasks", "annotations", "predictions", "drafts", "regions", "relations"]


def _task(i: int, data: dict[str, Any] | None = None) -> dict[str, Any]:
    """A task in the server's key order (``id`` then ``annotations``)."""
    box = {
        "id": f"r{i}",
        "type": "rectanglelabels",
        "from_name": "label",
        "to_name": "image",
        "original_width": 640,
        "original_height": 480,
        "value": {"x": i % 90, "y": 5.5, "width": 3, "height": 4, "rectanglelabels": ["a"]},
    }
    relation = {"from_id": f"r{i}", "to_id": f"r{i}", "type": "relation", "direction": "right"}
    return {
        "id": i,
        "annotations": [{"id": 10_000 + i, "completed_by": 1, "result": [box, relation]}],
        "drafts": [],
        "predictions": [{"id": 20_000 + i, "model_version": "m", "result": [box]}],
        "data": data or {"image": f"/data/{i}.png", **({"late": i} if i > 150 else {})},
        "meta": {},
        "created_at": "2026-01-02T03:04:05.000000Z",
        "updated_at": "2026-01-02T03:04:05.000000Z",
        "inner_id": i,
        "project": 1,
    }


def _write(tmp_path: Path, tasks: list[dict[str, Any]], **dumps: Any) -> Path:
    src = tmp_path / "export.json"
    src.write_text(json.dumps(tasks, **dumps))
    return src


def _same_datasets(src: Path, tmp_path: Path, chunk_size: int = 2000) -> dict[str, Any]:
    one = to_parquet(src, tmp_path / "one", chunk_size=chunk_size, progress=False)
    two = to_parquet(src, tmp_path / "two", chunk_size=chunk_size, workers=2, progress=False)
    a, b = read_parquet(one).arrow, read_parquet(two).arrow
    for name in TABLES:
        assert a[name].equals(b[name]), name
    manifest: dict[str, Any] = json.loads((two / "_SUCCESS").read_text())
    return manifest


def test_server_layout_gives_the_same_dataset_in_several_parts(tmp_path: Path) -> None:
    src = _write(tmp_path, [_task(i) for i in range(300)])
    manifest = _same_datasets(src, tmp_path)
    files = manifest["tables"]["regions"]["files"]
    assert len(files) > 2 and files == sorted(files)
    assert manifest["data_keys"] == ["image", "late"]
    assert manifest["task_count"] == 300
    for name in TABLES:
        info = manifest["tables"][name]
        assert (
            sum(pq.ParquetFile(tmp_path / "two" / f).metadata.num_rows for f in info["files"])
            == (info["rows"])
        )
    assert not list((tmp_path / "two").glob("_tasks_spool*"))


def test_other_layouts_are_cut_by_the_chunker(tmp_path: Path) -> None:
    src = _write(tmp_path, [_task(i) for i in range(200)], indent=1)
    manifest = _same_datasets(src, tmp_path)
    assert len(manifest["tables"]["tasks"]["files"]) > 2


def test_a_look_alike_inside_the_data_is_not_a_cut(tmp_path: Path) -> None:
    # a task's data holding a list of task-like objects: the server's separator appears
    # inside a task; the worker whose range starts there fails and one process decides
    nested = [{"id": 7, "annotations": [{"x": "y" * 40}]} for _ in range(400)]
    tasks = [_task(i) for i in range(60)]
    tasks[30] = _task(30, {"image": "/data/x.png", "nested": nested})
    src = _write(tmp_path, tasks)
    _same_datasets(src, tmp_path, chunk_size=500)


@pytest.mark.parametrize("cut", [0.5, 0.93])
def test_errors_name_the_same_place_as_one_worker(tmp_path: Path, cut: float) -> None:
    text = json.dumps([_task(i) for i in range(300)])
    at = text.index('"data"', int(len(text) * cut))
    src = tmp_path / "bad.json"
    src.write_text(text[:at] + '"data": {"image": tru}' + text[at + 6 :])
    errors = []
    for workers in (1, 2):
        with pytest.raises(ExportFormatError) as info:
            to_parquet(src, tmp_path / "ds", chunk_size=2000, workers=workers, progress=False)
        errors.append((str(info.value), info.value.offset, info.value.task_index))
    assert errors[0] == errors[1]
    assert errors[0][1] is not None and at < errors[0][1] < at + 30  # the bad byte
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.json"]  # no dataset, no temp


def test_truncated_file_is_refused_like_one_worker(tmp_path: Path) -> None:
    text = json.dumps([_task(i) for i in range(200)])
    src = tmp_path / "cut.json"
    src.write_text(text[: len(text) - 300])
    messages = []
    for workers in (1, 2):
        with pytest.raises(ExportFormatError, match="truncated") as info:
            read_export(src, chunk_size=2000, workers=workers, progress=False)
        messages.append(str(info.value))
    assert messages[0] == messages[1]


def test_read_export_with_workers_gives_the_same_tables(tmp_path: Path) -> None:
    src = _write(tmp_path, [_task(i) for i in range(300)])
    one = read_export(src, chunk_size=2000, progress=False).arrow
    two = read_export(src, chunk_size=2000, workers=2, progress=False).arrow
    for name in TABLES:
        assert one[name].equals(two[name]), name


@pytest.mark.parametrize("source", [b"[]", io.BytesIO(b"[]")], ids=["bytes", "stream"])
def test_workers_need_a_file(tmp_path: Path, source: Any) -> None:
    with pytest.raises(ConfigurationError, match=r"workers=2\) needs a file path"):
        to_parquet(source, tmp_path / "ds", workers=2, progress=False)
    with pytest.raises(ConfigurationError, match=r"read_export\(workers=2\) needs a file"):
        read_export(source, workers=2, progress=False)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("workers", [0, -1, 1.5, True, "2"])
def test_workers_must_be_a_whole_number(tmp_path: Path, workers: Any) -> None:
    with pytest.raises(ConfigurationError, match="workers must be a whole number"):
        to_parquet(tmp_path / "x.json", tmp_path / "ds", workers=workers, progress=False)


def test_small_files_and_single_objects(tmp_path: Path) -> None:
    empty = tmp_path / "empty.json"
    empty.write_text("[]")
    assert read_parquet(to_parquet(empty, tmp_path / "e", workers=2, progress=False)).tasks.empty
    one = tmp_path / "one.json"
    one.write_text(json.dumps(_task(1)))
    back = read_parquet(to_parquet(one, tmp_path / "o", workers=2, progress=False))
    assert back.tasks["task_id"].tolist() == [1] and len(back.regions) == 2


def test_ranges_cover_the_file_exactly(tmp_path: Path) -> None:
    src = _write(tmp_path, [_task(i) for i in range(300)])
    ranges = _ranges(str(src), 2, 1000)
    assert len(ranges) == len(_plan(src.stat().st_size, 2, 1000)) + 1
    tasks = []
    with open(src, "rb") as fh:
        for start, end in ranges:
            piece = _Slice(fh, start, end)
            text = b"".join(iter(lambda p=piece: p.read(777), b""))  # type: ignore[misc]
            tasks += json.loads(text)
    assert [t["id"] for t in tasks] == list(range(300))


def test_workers_are_spawned_not_forked() -> None:
    assert spawn_context().get_start_method() == "spawn"


def test_a_failed_range_stops_every_process(tmp_path: Path) -> None:
    text = json.dumps([_task(i) for i in range(300)])
    at = text.index('"data"')
    src = tmp_path / "bad.json"
    src.write_text(text[:at] + '"data": [}' + text[at + 6 :])  # broken in the first range
    ranges = _ranges(str(src), 2, 2000)
    jobs = [
        Job(
            str(src),
            i,
            start,
            end,
            str(tmp_path / "out"),
            ("tasks",),
            b"{}",
            1000,
            "zstd",
            2000,
            False,
        )
        for i, (start, end) in enumerate(ranges)
    ]
    counter = spawn_context().Value("q", 0)
    done = run_ranges(jobs, counter)
    assert len(jobs) > 3 and len(done) == 1 and done[0].error is not None
    assert counter.value == len(jobs)  # no process takes another range
