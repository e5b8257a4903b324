"""Media where users look for it, against the real server: export_project(media=),
sync_parquet(media=), read_parquet(...).media, and ``ls-frames media``."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

import ls_frames
from conftest import session_capabilities
from ls_frames.frontends.cli import main
from ls_frames.testing.images import demo_image
from ls_frames.testing.media import MediaProject, upload_files
from ls_frames.testing.seed import auth_headers, seed_demo_project

pytestmark = pytest.mark.server

CAPS = session_capabilities()


@pytest.fixture
def client(label_studio: Any) -> Any:
    with ls_frames.Client(
        label_studio.url, label_studio.access_token or label_studio.admin_key
    ) as c:
        yield c


def _manifest(dataset: Path) -> dict[str, Any]:
    info: dict[str, Any] = json.loads((dataset / "_SUCCESS").read_text())
    return info


def _check_demo_media(media: pd.DataFrame, demo: dict[str, Any]) -> None:
    expected = {m["task_id"]: m for m in demo["media"]}
    assert sorted(media["task_id"].tolist()) == sorted(expected)
    row: Any  # a row's fields are scalars of any type
    for row in media.itertuples():
        sent = expected[row.task_id]
        assert pd.isna(row.error), row
        assert row.uri == sent["uri"] and row.field == "image" and row.position == 0
        data = Path(row.path).read_bytes()
        assert hashlib.sha256(data).hexdigest() == sent["sha256"] == row.sha256
        assert row.bytes == sent["bytes"]


def test_export_project_keeps_a_media_table(
    client: ls_frames.Client, demo_project: dict[str, Any], tmp_path: Path
) -> None:
    out, cache = tmp_path / "ds", tmp_path / "cache"
    ls_frames.export_project(
        demo_project["project_id"], out, client=client, media=cache, progress=False
    )
    frames = ls_frames.read_parquet(out)
    _check_demo_media(frames.media, demo_project)
    assert str(frames.media["task_id"].dtype) == "Int64"
    assert all(Path(p).is_relative_to(cache.absolute()) for p in frames.media["path"])
    info = _manifest(out)
    assert info["tables"]["media"]["rows"] == len(demo_project["media"])
    assert info["media"]["cache_dir"] == str(cache.absolute())
    assert info["media"]["last_run"]["downloaded"] == len(demo_project["media"])
    # The media table carries the dataset's provenance like the other tables.
    assert (
        frames.provenance is not None and frames.provenance["project"] == demo_project["project_id"]
    )
    assert ls_frames.read_parquet(out, tables=["tasks"]).arrow.keys() == {"tasks"}

    # Again into the same cache: nothing is downloaded.
    ls_frames.export_project(
        demo_project["project_id"], out, client=client, media=cache, overwrite=True, progress=False
    )
    again = _manifest(out)["media"]["last_run"]
    assert again.get("downloaded", 0) == 0 and again["cached"] == len(demo_project["media"])
    _check_demo_media(ls_frames.read_parquet(out).media, demo_project)


def test_without_media_there_is_no_media_table(
    client: ls_frames.Client, demo_project: dict[str, Any], tmp_path: Path
) -> None:
    out = ls_frames.export_project(
        demo_project["project_id"], tmp_path / "ds", client=client, progress=False
    )
    frames = ls_frames.read_parquet(out)
    assert "media" not in frames.arrow and "media" not in _manifest(out)["tables"]
    with pytest.raises(KeyError, match="media=DIR"):
        _ = frames.media


def unfetchable(ref: Any) -> bool:
    """No file to expect: missing, or (before 1.20, no storage proxy) in a storage with
    presigned URLs off."""
    return ref.data is None or (ref.kind == "s3-proxy" and not CAPS.storage_proxy)


def test_export_of_a_mixed_project_reports_failures_and_keeps_the_key_home(
    client: ls_frames.Client, media_project: MediaProject, plain_server: Any, tmp_path: Path
) -> None:
    # 127.0.0.2 is private and not the Label Studio host: fetched only when allowed.
    with pytest.warns(ls_frames.PartialResultWarning) as caught:
        out = ls_frames.export_project(
            media_project.project_id,
            tmp_path / "ds",
            client=client,
            media=tmp_path / "cache",
            progress=False,
            media_options={"allow_hosts": ["127.0.0.2"]},
        )
    assert len(caught) == 1 and caught[0].filename == __file__  # the user's line
    warning = caught[0].message
    assert isinstance(warning, ls_frames.PartialResultWarning)
    assert warning.failed == sum(map(unfetchable, media_project.refs))
    assert warning.total == len(media_project.refs)
    media = ls_frames.read_parquet(out).media
    by_task = {r.task_id: r for r in media_project.refs}
    assert sorted(media["task_id"].tolist()) == sorted(by_task)
    row: Any  # a row's fields are scalars of any type
    for row in media.itertuples():
        ref = by_task[row.task_id]
        if unfetchable(ref):
            assert pd.notna(row.error) and pd.isna(row.path), ref.kind
        else:
            assert pd.isna(row.error), (ref.kind, row.error)
            assert Path(row.path).read_bytes() == ref.data, ref.kind
    assert _manifest(out)["media"]["failed"] == sum(map(unfetchable, media_project.refs))
    seen = [
        auth
        for path, auth in plain_server.requests
        if path.startswith(f"/p{media_project.project_id}/")
    ]
    assert seen and all(auth is None for auth in seen)


def test_sync_parquet_fetches_only_what_is_new_or_changed(
    client: ls_frames.Client, label_studio: Any, tmp_path: Path
) -> None:
    demo = seed_demo_project(
        label_studio.url, label_studio.admin_key, n_tasks=5, title="ls_frames media sync"
    )
    pid, out, cache = demo["project_id"], tmp_path / "ds", tmp_path / "cache"
    first = ls_frames.sync_parquet(pid, out, client=client, media=cache, overlap=0, progress=False)
    assert first.media is not None and first.media["downloaded"] == 5
    _check_demo_media(ls_frames.read_parquet(out).media, demo)

    # Nothing changed: nothing downloaded, the table is still there.
    second = ls_frames.sync_parquet(pid, out, client=client, media=cache, overlap=0, progress=False)
    assert second.media is not None and second.media.get("downloaded", 0) == 0
    assert len(ls_frames.read_parquet(out).media) == 5

    # One task points at a new file, one new task: two downloads, and the dataset keeps
    # its media table although media= is not given this time.
    headers = auth_headers(label_studio.url, label_studio.admin_key)
    new_image, extra_image = demo_image(900), demo_image(901)
    with httpx.Client(base_url=label_studio.url, headers=headers, timeout=60) as http:
        refs = upload_files(http, pid, {"changed.png": new_image, "extra.png": extra_image})
        edited = demo["task_ids"][1]
        answer = http.patch(f"/api/tasks/{edited}/", json={"data": {"image": refs["changed.png"]}})
        assert answer.status_code == 200, answer.text
        answer = http.post(
            f"/api/projects/{pid}/import", json=[{"data": {"image": refs["extra.png"]}}]
        )
        assert answer.status_code == 201, answer.text
    third = ls_frames.sync_parquet(pid, out, client=client, overlap=0, progress=False)
    assert third.mode == "incremental" and third.media is not None
    assert third.media["downloaded"] == 2
    media = ls_frames.read_parquet(out).media
    assert len(media) == 6 and media["error"].isna().all()
    row = media[media["task_id"] == edited].iloc[0]
    assert row["uri"] == refs["changed.png"]
    assert Path(row["path"]).read_bytes() == new_image


def test_cli_media_for_a_project_and_a_dataset(
    client: ls_frames.Client,
    demo_project: dict[str, Any],
    label_studio: Any,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    key = [
        "--url",
        label_studio.url,
        "--api-key",
        label_studio.access_token or label_studio.admin_key,
        "-q",
    ]
    cache, table = tmp_path / "cache", tmp_path / "media.parquet"
    pid = str(demo_project["project_id"])
    assert main(["media", pid, "--out", str(cache), "--table", str(table), *key]) == 0
    printed = capsys.readouterr().out
    n = len(demo_project["media"])
    assert f"media: {n} reference(s) ({n} downloaded)" in printed
    _check_demo_media(pd.read_parquet(table, dtype_backend="numpy_nullable"), demo_project)

    out = ls_frames.export_project(
        demo_project["project_id"], tmp_path / "ds", client=client, progress=False
    )
    assert main(["media", str(out), "--out", str(cache), *key]) == 0
    assert f"({n} cached)" in capsys.readouterr().out
    _check_demo_media(ls_frames.read_parquet(out).media, demo_project)

    assert main(["media", str(tmp_path / "nothing"), "--out", str(cache), *key]) == 1
    assert "neither a project id nor a dataset" in capsys.readouterr().err


def test_cli_export_with_media_and_strict_failures(
    media_project: MediaProject,
    label_studio: Any,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    key = ["--url", label_studio.url, "--api-key", label_studio.admin_key, "-q"]
    out, cache = tmp_path / "ds", tmp_path / "cache"
    pid = str(media_project.project_id)
    # files are missing (some cannot be fetched at all): exit 3, the reasons counted
    assert main(["export", pid, "--out", str(out), "--media", str(cache), *key]) == 3
    err = capsys.readouterr().err
    media = ls_frames.read_parquet(out).media
    urls = media[media["uri"].str.startswith("http://127.0.0.2:")]
    assert len(urls) and urls["error"].str.contains("private address").all()
    failed = int(media["error"].notna().sum())
    assert f"ls-frames: media: {failed} of {len(media)} files could not be fetched: " in err
    assert f"{len(urls)} refused: 127.0.0.2 is a private address" in err
    assert "exit status 3" in err
    allowed = ["--allow-host", "127.0.0.2", "--allow-missing"]
    assert main(["media", str(out), "--out", str(cache), *allowed, *key]) == 0
    captured = capsys.readouterr()
    printed = captured.out
    assert f"{len(urls)} downloaded" in printed and "failed by reason: " in printed
    assert "exit status" not in captured.err
    media = ls_frames.read_parquet(out).media
    assert media[media["uri"].str.startswith("http://127.0.0.2:")]["error"].isna().all()
    code = main(["media", str(out), "--out", str(cache), "--strict", *key])
    assert code == 1
    assert "MediaError" in capsys.readouterr().err


def test_cli_sync_with_media(
    label_studio: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    demo = seed_demo_project(
        label_studio.url, label_studio.admin_key, n_tasks=5, title="ls_frames media cli sync"
    )
    key = ["--url", label_studio.url, "--api-key", label_studio.admin_key, "-q"]
    out, cache = tmp_path / "ds", tmp_path / "cache"
    args = ["sync", str(demo["project_id"]), "--out", str(out), "--overlap", "0"]
    assert main([*args, "--media", str(cache), *key]) == 0
    assert "media" in capsys.readouterr().out  # the summary lists the media table
    _check_demo_media(ls_frames.read_parquet(out).media, demo)
    assert main([*args, *key]) == 0  # the dataset's own cache is used again
    assert _manifest(out)["media"]["last_run"].get("downloaded", 0) == 0
    assert _manifest(out)["media"]["cache_dir"] == str(cache.absolute())
