"""load_project and export_project end to end against the real server, with both kinds
of key; the written dataset read back by ls_frames, DuckDB and pyarrow.dataset."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

import ls_frames
from ls_frames.reading import TABLES
from ls_frames.reading.schemas import SCHEMAS

pytestmark = [pytest.mark.server, pytest.mark.compat]


def _expected_counts(demo: dict[str, Any], *, full: bool = True) -> dict[str, int]:
    counts = demo["counts"]
    relations = counts["relations"]
    regions = counts["result_items"] - relations
    if full:
        regions += counts["prediction_result_items"] + counts["draft_result_items"]
    return {
        "tasks": counts["tasks"],
        "annotations": counts["annotations"],
        "predictions": counts["predictions"],
        "drafts": counts["drafts"],
        "regions": regions,
        "relations": relations,
    }


def dataset_counts(out: Path) -> dict[str, dict[str, int]]:
    """Row counts per table as DuckDB and pyarrow.dataset see the folders."""
    counts: dict[str, dict[str, int]] = {"duckdb": {}, "pyarrow": {}}
    with duckdb.connect() as con:
        for name in TABLES:
            files = sorted((out / name).glob("*.parquet"))
            if not files:
                counts["duckdb"][name] = 0
                continue
            row = con.execute(
                f"SELECT count(*) FROM read_parquet('{out / name}/*.parquet')"
            ).fetchone()
            assert row is not None
            counts["duckdb"][name] = int(row[0])
    for name in TABLES:
        counts["pyarrow"][name] = ds.dataset(out / name, format="parquet").count_rows()
    return counts


def test_load_project_with_both_keys(
    api_key: str, label_studio: Any, demo_project: dict[str, Any]
) -> None:
    with ls_frames.Client(label_studio.url, api_key) as client:
        frames = ls_frames.load_project(demo_project["project_id"], client=client, progress=False)
    got = {name: len(frames[name]) for name in TABLES}
    assert got == _expected_counts(demo_project)
    ann = frames.annotations
    counts = demo_project["counts"]
    assert int(ann["was_cancelled"].sum()) == counts["skipped_annotations"]
    assert int(ann["ground_truth"].sum()) == counts["ground_truth_annotations"]
    # the project's config was fetched: label columns are categoricals in config order
    config = ls_frames.reading.parse_label_config(demo_project["label_config"])
    declared = list(config.values_of("labels"))
    assert list(frames.regions["label"].cat.categories[: len(declared)]) == declared


def test_load_project_ids_only(label_studio: Any, demo_project: dict[str, Any]) -> None:
    ids = ls_frames.Serialization(predictions="id", drafts="id", annotators="id")
    key = label_studio.access_token or label_studio.admin_key  # the PAT where there is one
    with ls_frames.Client(label_studio.url, key) as client:
        frames = ls_frames.load_project(
            demo_project["project_id"], client=client, serialization=ids, progress=False
        )
    got = {name: len(frames[name]) for name in TABLES}
    assert got == _expected_counts(demo_project, full=False)
    assert frames.annotations["completed_by_email"].isna().all()
    assert frames.predictions["model_version"].isna().all()


def test_load_project_filters_skipped_and_ground_truth(
    label_studio: Any, demo_project: dict[str, Any]
) -> None:
    usual = ls_frames.AnnotationFilter(usual=True, ground_truth=False, skipped=False)
    with ls_frames.Client(label_studio.url, label_studio.admin_key) as client:
        frames = ls_frames.load_project(
            demo_project["project_id"], client=client, annotation_filter=usual, progress=False
        )
    counts = demo_project["counts"]
    ann = frames.annotations
    assert not ann["was_cancelled"].any() and not ann["ground_truth"].any()
    assert len(ann) == (
        counts["annotations"] - counts["skipped_annotations"] - counts["ground_truth_annotations"]
    )


def test_export_project_dataset_reads_the_same_everywhere(
    api_key: str, label_studio: Any, demo_project: dict[str, Any], tmp_path: Path
) -> None:
    out = tmp_path / "dataset"
    (tmp_path / "json").mkdir()
    with ls_frames.Client(label_studio.url, api_key) as client:
        written = ls_frames.export_project(
            demo_project["project_id"],
            out,
            client=client,
            keep_file=tmp_path / "json",
            progress=False,
        )
    assert written == out and (out / "_SUCCESS").is_file()
    expected = _expected_counts(demo_project)
    back = ls_frames.read_parquet(out)
    assert {name: len(back[name]) for name in TABLES} == expected
    counts = dataset_counts(out)
    assert counts["duckdb"] == expected and counts["pyarrow"] == expected
    assert back.provenance is not None
    assert back.provenance["project"] == demo_project["project_id"]
    kept = list((tmp_path / "json").iterdir())
    assert len(kept) == 1
    direct = ls_frames.read_export(kept[0], progress=False)
    for name in ("regions", "relations", "annotations"):
        pd.testing.assert_series_equal(
            direct[name]["value_json" if name == "regions" else "task_id"].reset_index(drop=True),
            back[name]["value_json" if name == "regions" else "task_id"].reset_index(drop=True),
            check_names=False,
        )


def test_without_a_client_the_environment_is_used_and_the_client_closed(
    label_studio: Any,
    demo_project: dict[str, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LABEL_STUDIO_URL", label_studio.url)
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", label_studio.admin_key)
    closed: list[int] = []
    real_close = ls_frames.Client.close

    def spy(self: ls_frames.Client) -> None:
        closed.append(id(self))
        real_close(self)

    monkeypatch.setattr(ls_frames.Client, "close", spy)
    frames = ls_frames.load_project(demo_project["project_id"], progress=False)
    assert len(frames.tasks) == demo_project["counts"]["tasks"] and len(closed) == 1
    out = ls_frames.export_project(demo_project["project_id"], tmp_path / "ds", progress=False)
    assert (out / "_SUCCESS").is_file() and len(closed) == 2


def test_every_release_gives_the_same_columns_and_nulls_what_it_does_not_export(
    label_studio: Any, demo_project: dict[str, Any], tmp_path: Path
) -> None:
    """Releases export different fields (``allow_skip`` only from 1.23 among the tested
    ones, ``bulk_created`` not on 1.13): the dataset has the same typed columns on each,
    and a field the snapshot lacks is a null column, one it holds is filled."""
    out = tmp_path / "dataset"
    (tmp_path / "json").mkdir()
    with ls_frames.Client(label_studio.url, label_studio.admin_key) as client:
        ls_frames.export_project(
            demo_project["project_id"],
            out,
            client=client,
            keep_file=tmp_path / "json",
            progress=False,
        )
    raw = json.loads(next((tmp_path / "json").iterdir()).read_text())
    for name, schema in SCHEMAS.items():
        files = sorted((out / name).glob("*.parquet"))
        got = pq.read_schema(files[0]) if files else None
        assert got is not None, f"no {name} file"
        fields = [f for f in got if not f.name.startswith("data.")]
        assert [(f.name, f.type) for f in fields] == [(f.name, f.type) for f in schema], name
    back = ls_frames.read_parquet(out)
    for table, key, rows in (
        ("tasks", "allow_skip", raw),
        ("annotations", "bulk_created", [a for t in raw for a in t["annotations"]]),
    ):
        exported = [row[key] for row in rows if key in row]
        column = back[table][key]
        if exported:
            assert column.notna().sum() == len(exported), (table, key)
        else:
            assert column.isna().all(), (table, key)
