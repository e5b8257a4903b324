"""Every option is checked before any request: a wrong value is a ConfigurationError (or an
OutputExistsError) while the fake server has seen nothing, no snapshot exists and no file
was written; without a client, before one is made from the environment."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import ls_frames
from ls_frames.tables.delta.storage import (
    STORAGE_OPTION_KEYS,
    check_storage_options,
    storage_scheme,
)
from tests.fake_label_studio import FakeLabelStudio, client_for

Call = Callable[[Any, Path], Any]

#: (a call with one wrong argument, what the message says)
WRONG: dict[str, tuple[Call, str]] = {
    "export compression": (
        lambda c, t: ls_frames.export_project(12, t / "ds", client=c, compression="zstandard"),  # type: ignore[arg-type]
        "did you mean 'zstd'",
    ),
    "export tables": (
        lambda c, t: ls_frames.export_project(12, t / "ds", client=c, tables=["region"]),
        "unknown tables",
    ),
    "export media option": (
        lambda c, t: ls_frames.export_project(
            12, t / "ds", client=c, media=t / "m", media_options={"allow_host": ["x"]}
        ),
        "did you mean 'allow_hosts'",
    ),
    "export out_dir is a file": (
        lambda c, t: ls_frames.export_project(12, t / "file.txt", client=c, overwrite=True),
        "is a file",
    ),
    "export out_dir unwritable": (
        lambda c, t: ls_frames.export_project(12, "/proc/nope/ds", client=c),
        "cannot write out_dir",
    ),
    "export keep_file unwritable": (
        lambda c, t: ls_frames.export_project(12, t / "ds", client=c, keep_file="/proc/x/"),
        "cannot write keep_file",
    ),
    "load dtype_backend": (
        lambda c, t: ls_frames.load_project(12, client=c, dtype_backend="pyarow"),  # type: ignore[arg-type]
        "did you mean 'pyarrow'",
    ),
    "load tables as a string": (
        lambda c, t: ls_frames.load_project(12, client=c, tables="regions"),
        "not the string",
    ),
    "load workers": (
        lambda c, t: ls_frames.load_project(12, client=c, workers=0),
        "workers must be",
    ),
    "load timeout": (
        lambda c, t: ls_frames.load_project(12, client=c, timeout=-1),
        "timeout must be",
    ),
    "snapshot export_id": (
        lambda c, t: ls_frames.snapshot_project(12, client=c, export_id="latest"),  # type: ignore[arg-type]
        "export_id must be",
    ),
    "snapshot task filter": (
        lambda c, t: ls_frames.snapshot_project(12, client=c, task_filter={"skiped": "only"}),
        "unknown TaskFilter option",
    ),
    "download export_type": (
        lambda c, t: ls_frames.download_project(12, t, "", client=c),
        "export_type must be",
    ),
    "download dest unwritable": (
        lambda c, t: ls_frames.download_project(12, "/proc/nope/", client=c),
        "cannot write dest",
    ),
    "sync_parquet compression": (
        lambda c, t: ls_frames.sync_parquet(12, t / "ds", client=c, compression="zstandard"),  # type: ignore[arg-type]
        "did you mean 'zstd'",
    ),
    "sync_parquet overlap": (
        lambda c, t: ls_frames.sync_parquet(12, t / "ds", client=c, overlap=-5),
        "overlap must be",
    ),
    "sync_parquet out_dir is a file": (
        lambda c, t: ls_frames.sync_parquet(12, t / "file.txt", client=c),
        "is a file",
    ),
    "sync_delta misspelt key": (
        lambda c, t: ls_frames.sync_delta(
            12, "s3://labels/p12", client=c, storage_options={"AWS_ENDPOIN_URL": "http://x"}
        ),
        "'AWS_ENDPOIN_URL' for s3 (s3://labels/p12); did you mean AWS_ENDPOINT_URL?",
    ),
    "sync_delta s3 key on gcs": (
        lambda c, t: ls_frames.sync_delta(
            12, "gs://labels/p12", client=c, storage_options={"AWS_REGION": "eu-west-1"}
        ),
        "unknown storage option 'AWS_REGION' for gcs",
    ),
    "sync_delta tasks_per_file": (
        lambda c, t: ls_frames.sync_delta(12, t / "d", client=c, tasks_per_file=0),
        "tasks_per_file must be >= 1",
    ),
    "sync_delta scratch_dir": (
        lambda c, t: ls_frames.sync_delta(12, t / "d", client=c, scratch_dir=t / "file.txt"),
        "scratch_dir",
    ),
}


@pytest.mark.parametrize("case", sorted(WRONG))
def test_a_wrong_option_fails_before_any_request(case: str, tmp_path: Path) -> None:
    call, expected = WRONG[case]
    (tmp_path / "file.txt").write_text("x")
    fake = FakeLabelStudio()
    before = sorted(p.name for p in tmp_path.iterdir())
    with client_for(fake) as client, pytest.raises(ls_frames.ConfigurationError) as err:
        call(client, tmp_path)
    assert expected in str(err.value)
    assert fake.requests == [] and fake.exports == {}
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing written


@pytest.mark.parametrize("case", sorted(WRONG))
def test_a_wrong_option_fails_before_a_client_is_made(
    case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # no server and no key: making a client would fail with another message
    monkeypatch.delenv("LABEL_STUDIO_URL", raising=False)
    monkeypatch.delenv("LABEL_STUDIO_API_KEY", raising=False)
    (tmp_path / "file.txt").write_text("x")
    call, expected = WRONG[case]
    with pytest.raises(ls_frames.ConfigurationError) as err:
        call(None, tmp_path)
    assert expected in str(err.value)


def test_an_existing_output_fails_before_any_request(tmp_path: Path) -> None:
    fake = FakeLabelStudio()
    with client_for(fake) as client, pytest.raises(ls_frames.OutputExistsError):
        ls_frames.export_project(12, tmp_path, client=client)
    assert fake.requests == []


def test_to_parquet_checks_before_writing(tmp_path: Path) -> None:
    with pytest.raises(ls_frames.ConfigurationError, match="did you mean 'zstd'"):
        ls_frames.to_parquet(b"[]", tmp_path / "ds", compression="zstandard")  # type: ignore[arg-type]
    with pytest.raises(ls_frames.ConfigurationError, match="unknown tables"):
        ls_frames.to_parquet(b"[]", tmp_path / "ds", tables=["nope"])
    assert list(tmp_path.iterdir()) == []


def test_read_parquet_refuses_an_unknown_table_but_takes_media(tmp_path: Path) -> None:
    out = ls_frames.to_parquet(b"[]", tmp_path / "ds", progress=False)
    assert len(ls_frames.read_parquet(out, tables=(t for t in ["tasks", "media"])).tasks) == 0
    with pytest.raises(ls_frames.ConfigurationError, match="unknown tables"):
        ls_frames.read_parquet(out, tables=["task"])


def test_the_delta_readers_check_the_storage_options(tmp_path: Path) -> None:
    bad = {"AWS_ENDPOIN_URL": "http://127.0.0.1:9"}
    for call in (
        lambda: ls_frames.read_delta("s3://b/p", storage_options=bad),
        lambda: ls_frames.compact_delta("s3://b/p", storage_options=bad),
    ):
        with pytest.raises(ls_frames.ConfigurationError, match="did you mean AWS_ENDPOINT_URL"):
            call()


@pytest.mark.parametrize(
    "uri, options",
    [
        (
            "s3://b/p",
            {"AWS_ENDPOINT_URL": "x", "aws_allow_http": "true", "AWS_CONDITIONAL_PUT": "etag"},
        ),
        ("s3a://b/p", {"AWS_S3_LOCKING_PROVIDER": "dynamodb", "DELTA_DYNAMO_TABLE_NAME": "t"}),
        ("s3://b/p", {"endpoint": "x", "region": "r", "max_retries": "3", "timeout": "60s"}),
        ("gs://b/p", {"GOOGLE_SERVICE_ACCOUNT": "k.json", "google_allow_http": "true"}),
        (
            "abfss://c@a.dfs.core.windows.net/p",
            {"AZURE_STORAGE_ACCOUNT_NAME": "a", "sas_token": "t"},
        ),
        ("az://c/p", {"azure_storage_use_emulator": "true", "azure_allow_http": "true"}),
        ("/tmp/x", {"OBJECT_STORE_CONCURRENCY_LIMIT": "4"}),
        ("hdfs://n/p", {"anything": "goes"}),  # a store not checked here
    ],
)
def test_the_keys_delta_rs_takes_pass(uri: str, options: dict[str, str]) -> None:
    check_storage_options(uri, options)


def test_the_key_list_lives_in_one_place() -> None:
    assert set(STORAGE_OPTION_KEYS) == {"s3", "gcs", "azure", "local"}
    assert storage_scheme("s3a://b") == "s3" and storage_scheme("data/delta") == "local"
    assert "aws_endpoint_url" in STORAGE_OPTION_KEYS["s3"]
    assert "aws_endpoint_url" not in STORAGE_OPTION_KEYS["local"]
    with pytest.raises(ls_frames.ConfigurationError, match="for a local path"):
        check_storage_options("data/delta", {"AWS_REGION": "x"})
    with pytest.raises(ls_frames.ConfigurationError, match="take strings"):
        check_storage_options("s3://b", {"AWS_ALLOW_HTTP": True})  # type: ignore[dict-item]
