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


def test_a_missing_folder_is_named_as_such(tmp_path: Path) -> None:
    with pytest.raises(ExportFormatError, match="no such dataset folder"):
        ls_frames.read_parquet(tmp_path / "nope")


def test_an_incomplete_dataset_is_refused(tmp_path: Path) -> None:
    root = dataset(tmp_path)
    (root / "_SUCCESS").unlink()
    with pytest.raises(ExportFormatError, match="no _SUCCESS"):
        ls_frames.read_parquet(root)


# The provenance exactly as ls_frames 0.1 wrote it for a sync_parquet dataset: a plain dict,
# no provenance_version, null values, a key this release does not know.
OLD_PROVENANCE = {
    "source": "label-studio-sync",
    "server": "https://ls.example",
    "server_version": "1.23.2",
    "project": 7,
    "export_id": 41,
    "export_title": "ls_frames 1a2b",
    "md5": "0" * 32,
    "export_created_at": None,
    "options": {"annotation_filter_options": {"usual": True}},
    "label_config_present": False,
    "ls_frames_version": "0.1.0",
    "written_at": "2026-01-01T00:00:00+00:00",
    "someone_elses": {"kept": True},
    "sync": {
        "watermark": "2026-01-01T00:00:00.000000Z",
        "overlap": 60,
        "runs": [
            {"mode": "full", "export_id": 41, "watermark": "2026-01-01T00:00:00.000000Z"},
            {"mode": "incremental", "export_id": None, "deleted_tasks": 1, "seconds": 0.5},
        ],
    },
}


def test_provenance_in_the_old_dict_shape_is_read_typed_and_kept(tmp_path: Path) -> None:
    from ls_frames.provenance import Provenance
    from ls_frames.sync.stores import ParquetStore

    out = ls_frames.to_parquet(b"[]", tmp_path / "old", provenance=OLD_PROVENANCE, progress=False)
    got = ls_frames.read_parquet(out).provenance
    assert isinstance(got, Provenance) and got.provenance_version is None
    # typed attributes, and the reads of the dict days
    assert (got.project, got.export_id, got.label_config_present) == (7, 41, False)
    assert got["export_id"] == 41 and got.get("export_created_at") is None
    assert got.sync is not None and got.sync.overlap == 60.0
    assert [r.mode for r in got.sync.runs] == ["full", "incremental"]
    assert got["sync"]["runs"][-1]["deleted_tasks"] == 1
    assert got.extra["someone_elses"] == {"kept": True}
    # what is stored again is what was read (a null is the key left out)
    assert got.to_dict()["someone_elses"] == {"kept": True}
    assert got == {k: v for k, v in OLD_PROVENANCE.items() if v is not None} | {
        "sync": {
            **OLD_PROVENANCE["sync"],  # type: ignore[dict-item]
            "runs": [
                OLD_PROVENANCE["sync"]["runs"][0],  # type: ignore[index]
                {"mode": "incremental", "deleted_tasks": 1, "seconds": 0.5},
            ],
        }
    }
    # the sync store finds the watermark in it
    state = ParquetStore(out, compression="zstd", progress=False).open(full=False)
    assert state is not None and state.sync.watermark == "2026-01-01T00:00:00.000000Z"
    assert state.provenance.project == 7


def test_a_mistyped_value_is_kept_as_it_is() -> None:
    from ls_frames.provenance import Provenance

    got = Provenance.from_dict({"project": "seven", "sync": "no", "md5": None})
    assert got.project is None and got.sync is None
    assert got.to_dict() == {"project": "seven", "sync": "no"}
