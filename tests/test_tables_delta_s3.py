"""A Delta dataset on S3 (moto's S3 server on 127.0.0.1), with the storage options a user
passes for MinIO or another S3-compatible store: full write, merge, read_delta, and two
writers from one state (the log entry is written with a put-if-absent, ``If-None-Match: *``,
which moto honours as S3 and MinIO do)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

import ls_frames
from ls_frames.errors import ConcurrentWriteError
from ls_frames.testing.media import S3_KEY_ID, S3_REGION, S3_SECRET
from tests.delta_helpers import (
    LABEL_CONFIG,
    assert_same_frames,
    need_deltalake,
    refresh,
    tasks,
    write,
)

need_deltalake()

import pyarrow as pa  # noqa: E402
from deltalake import CommitProperties, DeltaTable, write_deltalake  # noqa: E402
from deltalake.exceptions import CommitFailedError  # noqa: E402

from ls_frames.tables.delta import (  # noqa: E402
    delta_state,
    delta_task_ids,
    read_delta,
    write_delta,
)

BUCKET = "ls-frames-delta"
PROVENANCE = {"label_config": LABEL_CONFIG}


def options(endpoint: str) -> dict[str, str]:
    """What a user passes for MinIO or S3 behind an endpoint of their own."""
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ALLOW_HTTP": "true",  # plain http on loopback; drop it for https
        "AWS_ACCESS_KEY_ID": S3_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": S3_SECRET,
        "AWS_REGION": S3_REGION,
        "AWS_CONDITIONAL_PUT": "etag",  # concurrent writers: conditional requests, no lock table
    }


def test_moto_refuses_a_second_put_if_absent(moto_s3: Any) -> None:
    """What makes two writers safe on S3 without a lock table."""
    from ls_frames.testing.media import _S3_AUTH

    moto_s3.create_bucket(BUCKET)
    key = f"{moto_s3.endpoint}/{BUCKET}/probe-{uuid.uuid4().hex}"
    headers = {**_S3_AUTH, "If-None-Match": "*"}
    assert httpx.put(key, content=b"1", headers=headers).status_code == 200
    assert httpx.put(key, content=b"2", headers=headers).status_code == 412


def test_full_merge_and_read_on_s3(moto_s3: Any, tmp_path: Path) -> None:
    moto_s3.create_bucket(BUCKET)
    uri = f"s3://{BUCKET}/{uuid.uuid4().hex}/labels"
    so = options(moto_s3.endpoint)
    assert delta_state(uri, storage_options=so) is None
    full = write(tmp_path, "full", tasks())
    first = write_delta(
        uri,
        full,
        provenance=PROVENANCE,
        full=True,
        expected=None,
        storage_options=so,
        tasks_per_file=3,
    )
    assert_same_frames(read_delta(uri, storage_options=so), ls_frames.read_parquet(full))
    changes, final = refresh(tasks())
    result = write_delta(
        uri,
        write(tmp_path, "part", changes),
        provenance=PROVENANCE,
        drop_tasks=[20013, 20016],
        full=False,
        expected=first.state,
        storage_options=so,
    )
    want = ls_frames.read_parquet(write(tmp_path, "want", final))
    assert_same_frames(read_delta(uri, storage_options=so), want)
    assert_same_frames(read_delta(uri, version=0, storage_options=so), ls_frames.read_parquet(full))
    assert result.bytes_removed > 0 and result.state == delta_state(uri, storage_options=so)
    assert sorted(delta_task_ids(uri, result.state, storage_options=so).to_pylist()) == sorted(
        t["id"] for t in final
    )


def test_two_writers_on_s3(moto_s3: Any, tmp_path: Path) -> None:
    moto_s3.create_bucket(BUCKET)
    uri = f"s3://{BUCKET}/{uuid.uuid4().hex}/labels"
    so = options(moto_s3.endpoint)
    base = tasks()
    state = write_delta(
        uri,
        write(tmp_path, "full", base),
        provenance=PROVENANCE,
        full=True,
        expected=None,
        storage_options=so,
    ).state
    a = [t for t in base if t["id"] == 20011]
    a[0]["data"]["split"] = "A"
    b = [t for t in base if t["id"] == 20012]
    b[0]["data"]["split"] = "B"
    won = write_delta(
        uri,
        write(tmp_path, "a", a),
        provenance=PROVENANCE,
        full=False,
        expected=state,
        storage_options=so,
    )
    with pytest.raises(ConcurrentWriteError):
        write_delta(
            uri,
            write(tmp_path, "b", b),
            provenance=PROVENANCE,
            full=False,
            expected=state,
            storage_options=so,
        )
    assert delta_state(uri, storage_options=so) == won.state
    splits = read_delta(uri, storage_options=so).tasks.set_index("task_id")["data.split"]
    assert splits[20011] == "A" and splits[20012] != "B"

    # the race inside one table reaches S3 too: the log entry is a put-if-absent there
    one = DeltaTable(f"{uri}/tasks", storage_options=so)
    two = DeltaTable(f"{uri}/tasks", storage_options=so)
    empty = pa.schema(one.schema().to_arrow()).empty_table()
    once = CommitProperties(max_commit_retries=0)
    write_deltalake(one, empty, mode="append", commit_properties=once)
    with pytest.raises(CommitFailedError):
        write_deltalake(two, empty, mode="append", commit_properties=once)
