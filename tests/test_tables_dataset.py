"""The dataset format's version: written in every manifest, checked by every reader."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import ls_frames
from ls_frames.errors import DatasetVersionError, ExportFormatError
from ls_frames.tables.dataset import FORMAT, FORMAT_VERSION, read_manifest, upsert_tasks

CORPUS = Path(__file__).parent / "corpus" / "label-studio-1.23.2" / "snapshot_full_objects.json"


def dataset(tmp: Path) -> Path:
    return ls_frames.to_parquet(CORPUS, tmp / "ds", progress=False)


def edit_manifest(root: Path, **changes: object) -> None:
    info = json.loads((root / "_SUCCESS").read_text())
    for key, value in changes.items():
        if value is None:
            info.pop(key, None)
        else:
            info[key] = value
    (root / "_SUCCESS").write_text(json.dumps(info))


def test_the_manifest_names_the_format_and_version(tmp_path: Path) -> None:
    info = read_manifest(dataset(tmp_path))
    assert (info["format"], info["version"]) == (FORMAT, FORMAT_VERSION) == ("ls_frames-parquet", 1)


def test_a_newer_version_is_refused_by_every_reader(tmp_path: Path) -> None:
    root = dataset(tmp_path)
    edit_manifest(root, version=FORMAT_VERSION + 1)
    with pytest.raises(DatasetVersionError, match=r"format version 2.*upgrade ls_frames"):
        ls_frames.read_parquet(root)
    with pytest.raises(DatasetVersionError):
        upsert_tasks(root, None, drop_tasks=[1], provenance={})
    assert issubclass(DatasetVersionError, ls_frames.LSFramesError)
    assert ls_frames.DatasetVersionError is DatasetVersionError


def test_a_manifest_without_a_version_is_read_as_version_1(tmp_path: Path) -> None:
    root = dataset(tmp_path)
    expected = ls_frames.read_parquet(root).tasks
    edit_manifest(root, version=None, format=None)
    assert ls_frames.read_parquet(root).tasks.equals(expected)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"format": "something-else"}, "not an ls_frames dataset"),
        ({"version": "1"}, "unreadable dataset format version"),
        ({"version": 0}, "unreadable dataset format version"),
    ],
)
def test_other_formats_are_refused(
    tmp_path: Path, changes: dict[str, object], message: str
) -> None:
    root = dataset(tmp_path)
    edit_manifest(root, **changes)
    with pytest.raises(ExportFormatError, match=message):
        ls_frames.read_parquet(root)


def test_an_incomplete_dataset_is_refused(tmp_path: Path) -> None:
    root = dataset(tmp_path)
    (root / "_SUCCESS").unlink()
    with pytest.raises(ExportFormatError, match="no _SUCCESS"):
        ls_frames.read_parquet(root)
