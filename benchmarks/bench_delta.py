"""A refresh of a Delta dataset (write_delta's merge) against rewriting the whole dataset,
in one run, on a synthetic dataset in the shapes of ls_frames' tables.

1. generate ``--tasks`` tasks (one annotation and one prediction each, ``--regions``
   regions per annotation, a draft for 1 % of the tasks, a relation for 10 %) directly
   with numpy/pyarrow, as a Parquet dataset in ls_frames' format (``base``);
2. change ``--changed`` of the tasks, scattered at random (new ``updated_at``, new text,
   their regions relabelled, one region more), as the ``part`` sync hands over;
3. for each ``--tasks-per-file`` width (``auto``: the default, each table its own width):
   ``write_delta(full=True)`` (the first run: what a full Delta overwrite costs), then
   ``write_delta(full=False)`` with the part (the refresh), each in a fresh subprocess
   (wall and CPU time, peak RSS from ``getrusage``), bytes and files counted;
4. ``upsert_tasks`` of the Parquet dataset (what ``sync_parquet`` does: rewrite it all);
5. read every table (pyarrow.dataset and Polars) at each layout and after
   ``compact_delta`` to one range per table.

The Delta writes run in their own processes; the other phases' peak RSS is sampled
(every 20 ms) in this one, where the generated tables stay in memory (about 2 GB at
1,000,000 tasks).

Usage::

    python benchmarks/bench_delta.py                       # 1,000,000 tasks, 0.1 % changed
    python benchmarks/bench_delta.py --tasks 100000 --tasks-per-file auto,100,1000
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.dataset as pds
import pyarrow.parquet as pq
from _rows import result_row

from ls_frames.reading import SCHEMAS, tasks_schema
from ls_frames.tables.dataset import MANIFEST, METADATA_KEY, manifest, upsert_tasks

LABELS = np.array(["cat", "dog", "bird", "car"])
EPOCH = np.datetime64("2026-01-01T00:00:00", "us")


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


@contextmanager
def phase(results: dict[str, dict[str, Any]], name: str) -> Iterator[dict[str, Any]]:
    """Time a phase; its peak RSS is sampled every 20 ms (the process's high-water mark
    would carry the earlier phases' peaks)."""
    peak = [_rss_mb()]
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.02):
            peak[0] = max(peak[0], _rss_mb())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    entry: dict[str, Any] = {}
    started = time.perf_counter()
    yield entry
    entry["seconds"] = time.perf_counter() - started
    stop.set()
    sampler.join()
    entry["peak_rss_mb"] = max(peak[0], _rss_mb())
    results[name] = entry
    print(
        f"  {name:<34} {entry['seconds']:8.2f} s  peak {entry['peak_rss_mb']:7.0f} MB", flush=True
    )


def _table(name: str, columns: dict[str, Any], schema: pa.Schema) -> pa.Table:
    n = len(next(iter(columns.values())))
    arrays = [
        pa.array(columns[f.name], f.type) if f.name in columns else pa.nulls(n, f.type)
        for f in schema
    ]
    return pa.Table.from_arrays(arrays, schema=schema)


def generate(ids: np.ndarray, regions: int, seed: int, stamp: int = 0) -> dict[str, pa.Table]:
    """The six tables for the tasks ``ids`` (``stamp`` shifts updated_at and the text)."""
    rng = np.random.default_rng(seed)
    n = len(ids)
    created = EPOCH + (ids * 1000).astype("timedelta64[us]")
    updated = created + np.timedelta64(stamp * 3_600_000_000 + 1, "us")
    words = np.array([f"w{i}" for i in range(1000)])
    text = [" ".join(words[rng.integers(0, 1000, 8)]) for _ in range(n)]
    tasks = _table(
        "tasks",
        {
            "task_id": ids,
            "inner_id": ids,
            "project_id": np.full(n, 1),
            "created_at": created,
            "updated_at": updated,
            "data_json": [
                json.dumps({"text": t, "image": f"s3://b/{i}.jpg"})
                for t, i in zip(text, ids, strict=True)
            ],
            "meta_json": ["{}"] * n,
            "total_annotations": np.ones(n, np.int64),
            "total_predictions": np.ones(n, np.int64),
            "annotation_count": np.ones(n, np.int64),
            "prediction_count": np.ones(n, np.int64),
            "draft_count": np.zeros(n, np.int64),
            "data.text": text,
            "data.image": [f"s3://b/{i}.jpg" for i in ids],
        },
        tasks_schema(["text", "image"]),
    )
    annotations = _table(
        "annotations",
        {
            "annotation_id": ids * 10 + stamp,
            "task_id": ids,
            "project_id": np.full(n, 1),
            "completed_by_id": rng.integers(1, 20, n),
            "was_cancelled": np.zeros(n, bool),
            "ground_truth": np.zeros(n, bool),
            "lead_time": rng.random(n) * 60,
            "created_at": updated,
            "updated_at": updated,
            "result_count": np.full(n, regions),
            "n_results": np.full(n, regions),
        },
        SCHEMAS["annotations"],
    )
    predictions = _table(
        "predictions",
        {
            "prediction_id": ids * 10 + 1,
            "task_id": ids,
            "project_id": np.full(n, 1),
            "model_version": ["v1"] * n,
            "score": rng.random(n),
            "created_at": created,
            "updated_at": created,
            "n_results": np.full(n, regions),
        },
        SCHEMAS["predictions"],
    )
    r = n * regions
    rid = np.repeat(ids, regions)
    label = LABELS[rng.integers(0, 4, r)]
    x, y = rng.random(r) * 90, rng.random(r) * 90
    region_ids = [f"r{i:x}" for i in rng.integers(0, 2**40, r)]
    regions_table = _table(
        "regions",
        {
            "task_id": rid,
            "source": ["annotation"] * r,
            "source_id": rid * 10 + stamp,
            "result_index": np.tile(np.arange(regions), n),
            "region_id": region_ids,
            "from_name": ["label"] * r,
            "to_name": ["image"] * r,
            "type": ["rectanglelabels"] * r,
            "value_json": [
                f'{{"x":{a:.3f},"y":{b:.3f},"width":10,"height":10,"rectanglelabels":["{c}"]}}'
                for a, b, c in zip(x, y, label, strict=True)
            ],
            "labels": [[c] for c in label],
            "label": label,
            "x": x,
            "y": y,
            "width": np.full(r, 10.0),
            "height": np.full(r, 10.0),
            "rotation": np.zeros(r),
            "original_width": np.full(r, 640),
            "original_height": np.full(r, 480),
            "origin": ["manual"] * r,
            "item_index": np.zeros(r, np.int64),
        },
        SCHEMAS["regions"],
    )
    some = ids[ids % 100 == 7]
    drafts = _table(
        "drafts",
        {
            "draft_id": some,
            "task_id": some,
            "user": ["a@b.c"] * len(some),
            "created_at": EPOCH + (some * 1000).astype("timedelta64[us]"),
            "n_results": np.ones(len(some), np.int64),
        },
        SCHEMAS["drafts"],
    )
    tenth = ids[ids % 10 == 3]
    relations = _table(
        "relations",
        {
            "task_id": tenth,
            "source": ["annotation"] * len(tenth),
            "source_id": tenth * 10 + stamp,
            "result_index": np.zeros(len(tenth), np.int64),
            "from_id": ["a"] * len(tenth),
            "to_id": ["b"] * len(tenth),
            "direction": ["right"] * len(tenth),
        },
        SCHEMAS["relations"],
    )
    return {
        "tasks": tasks,
        "annotations": annotations,
        "predictions": predictions,
        "drafts": drafts,
        "regions": regions_table,
        "relations": relations,
    }


def save(tables: dict[str, pa.Table], out: Path) -> Path:
    """``tables`` as an ls_frames Parquet dataset (as to_parquet writes it)."""
    info = {"source": "bench_delta"}
    meta = {METADATA_KEY: json.dumps(info).encode()}
    for name, table in tables.items():
        (out / name).mkdir(parents=True)
        pq.write_table(
            table.replace_schema_metadata(meta),
            out / name / "part-0000.parquet",
            compression="zstd",
            row_group_size=131_072,
        )
    doc = manifest(
        {n: t.num_rows for n, t in tables.items()},
        tables["tasks"].num_rows,
        ["text", "image"],
        info,
    )
    (out / MANIFEST).write_text(json.dumps(doc))
    return out


def size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*.parquet"))


def files(path: Path) -> int:
    return sum(1 for _ in path.rglob("*.parquet"))


def read_all(uri: Path, reader: str) -> int:
    from deltalake import DeltaTable

    total = 0
    for name in ("tasks", "annotations", "predictions", "drafts", "regions", "relations"):
        if reader == "pyarrow":  # the files of the latest version, as one pyarrow dataset
            paths = DeltaTable(uri / name).file_uris()
            total += pds.dataset(paths, format="parquet").to_table().num_rows
        else:
            import polars as pl

            total += pl.read_delta(str(uri / name)).height
    return total


def alternatives(work: Path, base: Path, part: Path, changed: np.ndarray) -> None:
    """delta-rs's own ways on one unpartitioned ``tasks`` table (files cut by size, rows in
    task order): ``overwrite`` with ``predicate="task_id IN (...)"`` (delete + insert in
    one commit) and ``DeltaTable.merge`` (update matched rows, insert the others; only
    fits a table with one row per task)."""
    from deltalake import DeltaTable, write_deltalake

    tasks = pq.read_table(base / "tasks")
    new = pq.read_table(part / "tasks")
    ids = ", ".join(map(str, changed.tolist()))

    def sizes(table: Any) -> dict[str, int]:
        actions = pa.table(table.get_add_actions(flatten=True))
        paths = actions.column("path").to_pylist()
        return dict(zip(paths, actions.column("size_bytes").to_pylist(), strict=True))

    print(f"\ndelta-rs alone, tasks table only ({tasks.num_rows:,} rows, {len(changed):,} changed)")
    for how in ("overwrite predicate task_id IN", "DeltaTable.merge"):
        uri = str(work / f"alt-{how.split()[0]}")
        write_deltalake(uri, tasks, target_file_size=8 << 20)
        table = DeltaTable(uri)
        before = sizes(table)
        started = time.perf_counter()
        if how.startswith("overwrite"):
            write_deltalake(table, new, mode="overwrite", predicate=f"task_id IN ({ids})")
        else:
            (
                table.merge(new, "t.task_id = s.task_id", source_alias="s", target_alias="t")
                .when_matched_update_all()
                .when_not_matched_insert_all()
                .execute()
            )
        seconds = time.perf_counter() - started
        after = sizes(DeltaTable(uri))
        written = sum(v for k, v in after.items() if k not in before)
        removed = sum(v for k, v in before.items() if k not in after)
        print(
            f"  {how:<34}{seconds:8.2f} s  wrote {written / 2**20:7.1f} MiB, replaced "
            f"{removed / 2**20:7.1f} MiB of {sum(before.values()) / 2**20:.1f} MiB "
            f"({len(before)} files)"
        )


def step(kind: str, uri: Path, source: Path, width: str) -> dict[str, Any]:
    """One Delta write in a fresh process: wall and CPU seconds, peak RSS, what it wrote."""
    cmd = [sys.executable, __file__, "--step", kind, "--uri", str(uri), "--source", str(source)]
    done = subprocess.run([*cmd, "--tasks-per-file", width], check=True, capture_output=True)
    entry: dict[str, Any] = json.loads(done.stdout.decode().strip().splitlines()[-1])
    print(
        f"  delta {kind:<5} ({width}/file){'':<14} {entry['seconds']:8.2f} s  cpu "
        f"{entry['cpu']:6.2f} s  peak {entry['peak_rss_mb']:7.0f} MB",
        flush=True,
    )
    return entry


def _step(args: argparse.Namespace) -> None:
    from ls_frames.tables.delta import delta_state, write_delta

    width = None if args.tasks_per_file == "auto" else int(args.tasks_per_file)
    started, cpu = time.perf_counter(), time.process_time()
    if args.step == "full":
        done = write_delta(
            args.uri,
            args.source,
            provenance={"run": 1},
            full=True,
            expected=None,
            tasks_per_file=width,
        )
    else:
        done = write_delta(
            args.uri,
            args.source,
            provenance={"run": 2},
            full=False,
            expected=delta_state(args.uri),
        )
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(
        json.dumps(
            {
                "seconds": time.perf_counter() - started,
                "cpu": time.process_time() - cpu,
                "peak_rss_mb": usage.ru_maxrss / 1024,
                "bytes": done.bytes_written,
                "files": done.files_written,
                "removed": done.bytes_removed,
                "files_removed": done.files_removed,
            }
        )
    )


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    out = fn()
    return time.perf_counter() - started, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", type=int, default=1_000_000)
    parser.add_argument("--changed", type=float, default=0.001)
    parser.add_argument("--regions", type=int, default=2)
    parser.add_argument(
        "--tasks-per-file", default="auto", help="comma-separated widths (auto: the default)"
    )
    parser.add_argument(
        "--alternatives", action="store_true", help="also delta-rs's own predicate and merge"
    )
    parser.add_argument("--dir", default=None, help="work folder (a temporary one by default)")
    parser.add_argument("--step", choices=["full", "merge"], help=argparse.SUPPRESS)
    parser.add_argument("--uri", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--source", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step:
        return _step(args)
    from ls_frames.tables.delta import compact_delta

    work = Path(args.dir or tempfile.mkdtemp(prefix="bench_delta-"))
    results: dict[str, dict[str, Any]] = {}
    rng = np.random.default_rng(13)
    ids = np.arange(1, args.tasks + 1, dtype=np.int64)
    changed = np.sort(rng.choice(ids, max(1, int(args.tasks * args.changed)), replace=False))
    print(f"{args.tasks:,} tasks, {len(changed):,} changed ({args.changed:.2%}), in {work}")
    with phase(results, "generate"):
        base = save(generate(ids, args.regions, 1), work / "base")
        part_tables = generate(changed, args.regions + 1, 2, stamp=1)
        part = save(part_tables, work / "part")
    base_bytes = size(base)
    print(f"  base dataset: {base_bytes / 2**20:,.0f} MiB, part {size(part) / 2**20:,.1f} MiB")
    widths = [w for w in args.tasks_per_file.split(",") if w]
    if not widths:
        alternatives(work, base, part, changed)
        if not args.dir:
            shutil.rmtree(work, ignore_errors=True)
        return
    for width in widths:
        uri = work / f"delta-{width}"
        results[f"delta full write ({width}/file)"] = step("full", uri, base, width)
        results[f"delta merge ({width}/file)"] = step("merge", uri, part, width)
        for reader in ("pyarrow", "polars"):
            with phase(results, f"read all, {reader} ({width}/file)") as entry:
                entry["rows"] = read_all(uri, reader)
    with phase(results, "parquet upsert_tasks (rewrite)") as entry:
        copy = work / "parquet"
        shutil.copytree(base, copy)
        started = time.perf_counter()
        upsert_tasks(copy, part, provenance={"run": 2})
        entry["upsert_seconds"] = time.perf_counter() - started
        entry["bytes"] = size(copy)
        entry["files"] = files(copy)
    uri = work / f"delta-{widths[0]}"
    with phase(results, "compact_delta to one range") as entry:
        entry.update(
            compact_delta(uri, tasks_per_file=10**12, retention_hours=0)["tables"]["regions"]
        )
    for reader in ("pyarrow", "polars"):
        with phase(results, f"read all, {reader} (compacted)") as entry:
            entry["rows"] = read_all(uri, reader)

    print("\nresults")
    upsert = results["parquet upsert_tasks (rewrite)"]
    rows = [
        (
            "parquet upsert_tasks (sync_parquet)",
            upsert["upsert_seconds"],
            upsert["bytes"],
            upsert["files"],
            upsert["peak_rss_mb"],
        )
    ]
    for width in widths:
        f, m = results[f"delta full write ({width}/file)"], results[f"delta merge ({width}/file)"]
        rows.append(
            (
                f"delta full overwrite ({width}/file)",
                f["seconds"],
                f["bytes"],
                f["files"],
                f["peak_rss_mb"],
            )
        )
        rows.append(
            (f"delta merge ({width}/file)", m["seconds"], m["bytes"], m["files"], m["peak_rss_mb"])
        )
    print(f"{'side':<40}{'seconds':>10}{'MiB written':>14}{'files':>9}{'peak MB':>10}")
    for label, sec, written, nfiles, peak in rows:
        print(f"{label:<40}{sec:>10.2f}{written / 2**20:>14.1f}{nfiles:>9,}{peak:>10.0f}")
    for width in widths:
        f, m = results[f"delta full write ({width}/file)"], results[f"delta merge ({width}/file)"]
        print(
            f"merge ({width}/file): vs parquet rewrite {upsert['upsert_seconds'] / m['seconds']:.1f}x "
            f"less time, {upsert['bytes'] / max(1, m['bytes']):.1f}x fewer bytes; vs delta full "
            f"overwrite {f['seconds'] / m['seconds']:.1f}x less time "
            f"({f['cpu'] / m['cpu']:.1f}x less CPU), "
            f"{f['bytes'] / max(1, m['bytes']):.1f}x fewer bytes; rewrote "
            f"{m['removed'] / 2**20:.1f} MiB in {m['files_removed']:,} files"
        )
        result_row(
            f"Delta merge of {args.changed:.1%} of {args.tasks:,} tasks vs a full overwrite "
            f"({width}/file)",
            f["seconds"] / m["seconds"],
            10.0 if args.tasks >= 1_000_000 else None,
            rss_mb=round(max(f["peak_rss_mb"], m["peak_rss_mb"])),
            merge_s=round(m["seconds"], 2),
            full_s=round(f["seconds"], 2),
        )
    print(f"{'read all tables':<40}{'pyarrow s':>10}{'polars s':>10}")
    for layout in [f"{w}/file" for w in widths] + ["compacted"]:
        pa_s = results[f"read all, pyarrow ({layout})"]["seconds"]
        pl_s = results[f"read all, polars ({layout})"]["seconds"]
        print(f"{layout:<40}{pa_s:>10.2f}{pl_s:>10.2f}")
    if args.alternatives:
        alternatives(work, base, part, changed)
    if not args.dir:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
