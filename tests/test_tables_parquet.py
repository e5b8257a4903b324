"""to_parquet: round trip of data and metadata, DuckDB, atomicity, bounded batches."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from ls_frames._version import __version__
from ls_frames.errors import ExportFormatError
from ls_frames.tables import read_export, read_parquet, to_parquet

LS = Path(__file__).resolve().parent / "corpus" / "label-studio-1.23.2"
FULL = LS / "snapshot_full_objects.json"
TABLES = ["tasks", "annotations", "predictions", "drafts", "regions", "relations"]


def _tasks(n: int) -> list[dict[str, object]]:
    """n tasks, new data keys appearing mid-stream."""
    out = []
    for i in range(n):
        data: dict[str, object] = {"text": f"t{i}"}
        if i >= n // 2:
            data["late"] = {"nested": i}
        out.append(
            {
                "id": i,
                "data": data,
                "annotations": [
                    {
                        "id": 1000 + i,
                        "was_cancelled": i % 7 == 0,
                        "result": [
                            {
                                "id": f"r{i}",
                                "type": "choices",
                                "from_name": "c",
                                "to_name": "t",
                                "value": {"choices": ["a" if i % 2 else "b"]},
                            }
                        ],
                    }
                ],
            }
        )
    return out


def test_round_trip_data_and_metadata(tmp_path: Path) -> None:
    out = to_parquet(
        FULL,
        tmp_path / "ds",
        provenance={"project": 3, "export_id": 7},
        label_config=(LS / "label_config.xml").read_text(),
        progress=False,
    )
    assert out == tmp_path / "ds"
    manifest = json.loads((out / "_SUCCESS").read_text())
    frames = read_export(FULL, progress=False)
    for name in TABLES:
        files = sorted((out / name).glob("*.parquet"))
        assert [f.name for f in files] == ["part-0000.parquet"]
        table = pq.read_table(files[0])
        assert table.drop_columns([]).equals(
            frames.arrow[name].replace_schema_metadata(table.schema.metadata)
        ), name
        meta = json.loads(table.schema.metadata[b"ls_frames"])
        assert meta["project"] == 3 and meta["export_id"] == 7
        assert meta["ls_frames_version"] == __version__
        assert manifest["tables"][name]["rows"] == table.num_rows
    back = read_parquet(out)
    assert back.provenance is not None and back.provenance["export_id"] == 7
    assert isinstance(back.regions["label"].dtype, pd.CategoricalDtype)  # config kept
    for name in TABLES:
        pd.testing.assert_frame_equal(
            back[name], read_export(FULL, progress=False, label_config=back.label_config)[name]
        )


def test_duckdb_and_pyarrow_dataset_read_it(tmp_path: Path) -> None:
    out = to_parquet(FULL, tmp_path / "ds", progress=False)
    frames = read_export(FULL, progress=False)
    for name in TABLES:
        rows = duckdb.sql(f"select count(*) from read_parquet('{out}/{name}/*.parquet')")
        assert rows is not None and rows.fetchall() == [(len(frames[name]),)]
        assert ds.dataset(out / name, format="parquet").count_rows() == len(frames[name])


def test_streams_in_row_groups_and_late_data_keys(tmp_path: Path) -> None:
    src = tmp_path / "in.json"
    tasks = _tasks(500)
    src.write_text(json.dumps(tasks))
    out = to_parquet(src, tmp_path / "ds", row_group_size=64, chunk_size=2048, progress=False)
    meta = pq.ParquetFile(out / "regions" / "part-0000.parquet").metadata
    assert meta.num_row_groups > 1
    assert max(meta.row_group(i).num_rows for i in range(meta.num_row_groups)) <= 128
    back = read_parquet(out)
    assert back.tasks["data.late"].isna().sum() == 250
    assert back.tasks["data.late"].dropna().iloc[0] == '{"nested": 250}'
    assert back.tasks["data.text"].tolist() == [f"t{i}" for i in range(500)]
    assert back.annotations["was_cancelled"].sum() == sum(i % 7 == 0 for i in range(500))


def test_malformed_input_leaves_no_dataset(tmp_path: Path) -> None:
    src = tmp_path / "bad.json"
    good = json.dumps(_tasks(200)).encode()
    src.write_bytes(good[: len(good) // 2])
    with pytest.raises(ExportFormatError):
        to_parquet(src, tmp_path / "ds", chunk_size=1024, row_group_size=16, progress=False)
    assert not (tmp_path / "ds").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["bad.json"]  # temp dir removed


def test_overwrite_and_existing(tmp_path: Path) -> None:
    out = to_parquet(FULL, tmp_path / "ds", progress=False)
    with pytest.raises(FileExistsError):
        to_parquet(FULL, out, progress=False)
    src = tmp_path / "small.json"
    src.write_text(json.dumps(_tasks(3)))
    to_parquet(src, out, overwrite=True, progress=False)
    assert len(read_parquet(out).tasks) == 3
    # a failed overwrite keeps the old dataset
    (tmp_path / "bad.json").write_bytes(b"[{")
    with pytest.raises(ExportFormatError):
        to_parquet(tmp_path / "bad.json", out, overwrite=True, progress=False)
    assert len(read_parquet(out).tasks) == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.json", "ds", "small.json"]


def test_incomplete_dataset_is_refused(tmp_path: Path) -> None:
    out = to_parquet(FULL, tmp_path / "ds", progress=False)
    (out / "_SUCCESS").unlink()
    with pytest.raises(ExportFormatError, match="_SUCCESS"):
        read_parquet(out)


def test_empty_export_writes_typed_files(tmp_path: Path) -> None:
    src = tmp_path / "empty.json"
    src.write_text("[]")
    out = to_parquet(src, tmp_path / "ds", progress=False)
    for name in TABLES:
        table = pq.read_table(out / name / "part-0000.parquet")
        assert table.num_rows == 0 and table.num_columns > 3
    back = read_parquet(out)
    assert str(back.annotations["annotation_id"].dtype) == "Int64"


@pytest.mark.filterwarnings("ignore:.*fork.*:DeprecationWarning")  # Python >= 3.12
def test_workers_give_the_same_tables(tmp_path: Path) -> None:
    src = tmp_path / "in.json"
    src.write_text(json.dumps(_tasks(300)))
    one = read_export(src, chunk_size=1500, progress=False)
    two = read_export(src, chunk_size=1500, workers=2, progress=False)
    for name in TABLES:
        assert one.arrow[name].equals(two.arrow[name]), name
