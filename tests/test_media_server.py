"""fetch_media against the real Label Studio: uploads, local-files, S3 storages (presigned
and proxied, at moto on loopback), plain URLs on another host, and what cannot resolve."""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

import ls_frames
from conftest import session_capabilities
from ls_frames.testing.images import demo_image
from ls_frames.testing.media import MediaProject, MediaRef, upload_files
from ls_frames.testing.seed import auth_headers

pytestmark = pytest.mark.server

CAPS = session_capabilities()

EXPECTED_ERRORS: dict[str, str | tuple[str, ...]] = {
    "missing-upload": "HTTP 500",  # Label Studio 1.23.2 answers 500 for an unknown upload
    # behind the presigned URL: S3 says 404 NoSuchKey (403 without ListBucket); moto 403
    "missing-s3-presign": ("HTTP 404", "HTTP 403"),
    "missing-s3-proxy": "HTTP 424",  # the proxy: "Storage stream failed while proxying data"
    "unresolvable-s3": "no storage on the server resolves this URI",
}
# Before 1.20 a storage with presign off has no proxy: its objects fail so.
NO_PROXY = "HTTP 500: this Label Studio release cannot serve objects of a storage"
if not CAPS.storage_proxy:
    EXPECTED_ERRORS["s3-proxy"] = NO_PROXY
    # the task's own storage fails to read the object to inline it: an empty 404
    EXPECTED_ERRORS["missing-s3-proxy"] = EXPECTED_ERRORS["unresolvable-s3"]
if not CAPS.storage_matches_bucket:
    # a URI of no task storage goes to the first S3 storage (the presigning one), which
    # presigns any bucket: S3 says 404/403
    EXPECTED_ERRORS["unresolvable-s3"] = EXPECTED_ERRORS["missing-s3-presign"]


def fetchable(ref: MediaRef) -> bytes | None:
    """The bytes fetch_media can bring for ``ref`` on this release (None: it fails)."""
    return None if ref.kind in EXPECTED_ERRORS else ref.data


@pytest.fixture
def client(label_studio: Any, api_key: str) -> Any:
    with ls_frames.Client(label_studio.url, api_key) as c:
        yield c


@pytest.fixture(scope="module")
def frames(label_studio: Any, media_project: MediaProject) -> ls_frames.Frames:
    with ls_frames.Client(label_studio.url, label_studio.admin_key) as c:
        return ls_frames.load_project(media_project.project_id, client=c, progress=False)


def fetch_with_failures(*args: Any, **kwargs: Any) -> pd.DataFrame:
    """``fetch_media`` on the mixed project, which holds files no one can fetch: one
    :class:`~ls_frames.PartialResultWarning` counting them as the table does."""
    with pytest.warns(ls_frames.PartialResultWarning) as caught:
        df = ls_frames.fetch_media(*args, **kwargs)
    assert len(caught) == 1
    warning = caught[0].message
    assert isinstance(warning, ls_frames.PartialResultWarning)
    assert warning.failed == df.attrs["media"]["failed"] == sum(warning.reasons.values())
    return df


def check_against_originals(df: pd.DataFrame, project: MediaProject) -> None:
    by_task = {r.task_id: r for r in project.refs}
    assert sorted(df["task_id"].tolist()) == sorted(by_task)
    row: Any  # a row's fields are scalars of any type
    for row in df.itertuples():
        ref = by_task[row.task_id]
        assert row.field == "image" and row.position == 0
        data = fetchable(ref)
        if data is None:
            assert pd.isna(row.path), ref
            expected = EXPECTED_ERRORS[ref.kind]
            assert str(row.error).startswith(expected), (ref.kind, row.error)
        else:
            assert pd.isna(row.error), (ref.kind, row.error)
            assert Path(row.path).read_bytes() == data, ref.kind
            assert row.sha256 == hashlib.sha256(data).hexdigest()
            assert row.bytes == len(data)
            assert row.content_type == "image/png", ref.kind


def test_every_kind_from_a_snapshot_with_both_keys(
    frames: ls_frames.Frames,
    media_project: MediaProject,
    client: ls_frames.Client,
    plain_server: Any,
    tmp_path: Path,
) -> None:
    before = len(plain_server.requests)
    # 127.0.0.2 is a private address of another host: refused unless allowed
    refused = fetch_with_failures(frames, tmp_path / "strictly", client=client, progress=False)
    urls = refused[refused["uri"].str.startswith("http://127.0.0.2")]
    assert len(urls) == len(media_project.by_kind("url"))
    assert urls["error"].str.contains("private address").all()
    assert len(plain_server.requests) == before
    reasons = refused.attrs["media"]["reasons"]
    assert any(r.startswith("refused: 127.0.0.2 is a private address") for r in reasons)

    df = fetch_with_failures(
        frames, tmp_path, client=client, progress=False, allow_hosts=["127.0.0.2"]
    )
    assert list(df.columns) == [
        "task_id",
        "field",
        "position",
        "uri",
        "path",
        "bytes",
        "sha256",
        "content_type",
        "error",
    ]
    assert [str(t) for t in df.dtypes] == [
        "Int64",
        "string",
        "Int64",
        "string",
        "string",
        "Int64",
        "string",
        "string",
        "string",
    ]
    check_against_originals(df, media_project)
    assert df["uri"].tolist() == [
        r.uri for r in sorted(media_project.refs, key=lambda r: r.task_id)
    ]
    # the plain host was asked for its files, and never saw the key
    seen = plain_server.requests[before:]
    assert len(seen) == len(media_project.by_kind("url"))
    assert all(auth is None for _, auth in seen)

    again = fetch_with_failures(
        frames, tmp_path, client=client, progress=False, allow_hosts=["127.0.0.2"]
    )
    stats = again.attrs["media"]
    assert stats["downloaded"] == 0 and stats["bytes_downloaded"] == 0
    assert stats["cached"] == sum(fetchable(r) is not None for r in media_project.refs)
    assert len(plain_server.requests) == before + len(seen)
    pd.testing.assert_frame_equal(again, df)


def test_task_api_links_and_a_parquet_dataset_resolve_the_same(
    label_studio: Any,
    media_project: MediaProject,
    frames: ls_frames.Frames,
    tmp_path: Path,
) -> None:
    """The task API rewrites storage URIs into /tasks/{id}/resolve/ links (/presign/ before
    1.20, where a storage without presigning is inlined as data: URIs instead): both shapes
    and a Parquet dataset written by export_project reach the same bytes."""
    with ls_frames.Client(label_studio.url, label_studio.admin_key) as c:
        answer = c.get_json(
            "api/tasks", params={"project": media_project.project_id, "page_size": 1000}
        )
        tasks = answer["tasks"]
        route = f"/{CAPS.resolve_endpoint}/?fileuri="
        linked = [t for t in tasks if route in str(t["data"]["image"])]
        assert len(linked) >= (4 if CAPS.storage_proxy else 2)  # the S3 ones
        if not CAPS.storage_proxy:
            inlined = [t for t in tasks if str(t["data"]["image"]).startswith("data:image/")]
            assert len(inlined) == len(media_project.by_kind("s3-proxy"))
        df = fetch_with_failures(
            tasks, tmp_path / "api", client=c, progress=False, allow_hosts=["127.0.0.2"]
        )
        data_by_task = {r.task_id: fetchable(r) for r in media_project.refs}
        row: Any  # a row's fields are scalars of any type
        for row in df.itertuples():
            expected = data_by_task[row.task_id]
            if expected is not None:
                assert Path(row.path).read_bytes() == expected
        # the snapshot's raw s3:// URIs name the same cache entries as the API's links
        raw = fetch_with_failures(
            frames, tmp_path / "api", client=c, progress=False, allow_hosts=["127.0.0.2"]
        )
        assert raw.attrs["media"]["downloaded"] == 0
        assert raw.attrs["media"]["cached"] == df.attrs["media"]["downloaded"]

        out = ls_frames.export_project(
            media_project.project_id, tmp_path / "ds", client=c, progress=False
        )
        from_dataset = fetch_with_failures(
            out, tmp_path / "cache", client=c, allow_hosts=["127.0.0.2"], progress=False
        )
    check_against_originals(from_dataset, media_project)


def test_refresh_revalidates_and_fetches_only_what_changed(
    label_studio: Any,
    tmp_path: Path,
    moto_s3: Any,
) -> None:
    root = label_studio.local_files_root
    assert root is not None, "the shared server has no LS_FRAMES_TEST_LOCAL_FILES_ROOT"
    headers = auth_headers(label_studio.url, label_studio.admin_key)
    with httpx.Client(base_url=label_studio.url, headers=headers, timeout=60) as http:
        pid = http.post(
            "/api/projects",
            json={
                "title": "ls_frames media refresh",
                "label_config": '<View><Image name="i" value="$image"/></View>',
            },
        ).json()["id"]
        folder = Path(root) / f"ls-frames-refresh-{pid}"
        folder.mkdir()
        (folder / "a.png").write_bytes(demo_image(1))
        (folder / "b.png").write_bytes(demo_image(2))
        storage = http.post(
            "/api/storages/localfiles",
            json={"project": pid, "path": str(folder), "use_blob_urls": True},
        ).json()
        assert http.post(f"/api/storages/localfiles/{storage['id']}/sync").is_success
        upload = upload_files(http, pid, {"u.png": demo_image(3)})["u.png"]
        from ls_frames.testing.media import add_s3_storage

        s3_uri = moto_s3.put(f"lsf-refresh-{pid}", "img/s.png", demo_image(4))
        # proxied where the release can (1.20 on), else presigned
        add_s3_storage(
            http, pid, moto_s3, f"lsf-refresh-{pid}", presign=not CAPS.storage_proxy, prefix="img/"
        )
        task_ids = http.post(
            f"/api/projects/{pid}/import?return_task_ids=true", json=[{"data": {"image": upload}}]
        ).json()["task_ids"]
    with ls_frames.Client(label_studio.url, label_studio.admin_key) as c:
        frames = ls_frames.load_project(pid, client=c, progress=False)
        df = ls_frames.fetch_media(frames, tmp_path, client=c, progress=False)
        by_uri = dict(zip(df["uri"], df["path"], strict=True))
        assert set(by_uri) == {
            f"/data/local-files/?d={folder.name}/a.png",
            f"/data/local-files/?d={folder.name}/b.png",
            upload,
            s3_uri,
        }
        assert df["error"].isna().all(), df["error"].tolist()
        assert task_ids[0] in df["task_id"].tolist()
        mtimes = {u: os.stat(p).st_mtime_ns for u, p in by_uri.items()}

        (folder / "b.png").write_bytes(demo_image(22))
        moto_s3.put(f"lsf-refresh-{pid}", "img/s.png", demo_image(44))
        refreshed = ls_frames.fetch_media(frames, tmp_path, client=c, refresh=True, progress=False)
    stats = refreshed.attrs["media"]
    # a.png answers 304 to its ETag (1.23 on; before, local files have no validator and
    # a.png is fetched again and found the same); b.png and the S3 object changed; the
    # upload has no validators, so it is fetched again and found the same
    expected = (1, 2, 1) if CAPS.local_files_etag else (0, 2, 2)
    assert (stats["not_modified"], stats["downloaded"], stats["unchanged"]) == expected
    paths = dict(zip(refreshed["uri"], refreshed["path"], strict=True))
    assert Path(paths[f"/data/local-files/?d={folder.name}/b.png"]).read_bytes() == demo_image(22)
    assert Path(paths[s3_uri]).read_bytes() == demo_image(44)
    assert (
        os.stat(paths[f"/data/local-files/?d={folder.name}/a.png"]).st_mtime_ns
        == mtimes[f"/data/local-files/?d={folder.name}/a.png"]
    )
    assert os.stat(paths[upload]).st_mtime_ns == mtimes[upload]


def test_the_presign_route_answers_for_a_storage_without_presigning(
    label_studio: Any,
    media_project: MediaProject,
) -> None:
    """The fallback route the fetcher switches to (tested with the fake) proxies there from
    1.20 on; before, it tries to redirect to an inlined data: URI and fails."""
    ref = media_project.by_kind("s3-proxy")[0]
    encoded = base64.urlsafe_b64encode(ref.uri.encode()).decode()
    headers = auth_headers(label_studio.url, label_studio.admin_key)
    answer = httpx.get(
        f"{label_studio.url}/tasks/{ref.task_id}/presign/",
        params={"fileuri": encoded},
        headers=headers,
    )
    if CAPS.storage_proxy:
        assert answer.status_code == 200 and answer.content == ref.data
    else:
        assert answer.status_code == 500
        assert "Unsafe redirect to URL with protocol 'data'" in answer.text


def test_storage_uris_without_a_task_resolve_at_the_project(
    label_studio: Any,
    media_project: MediaProject,
    tmp_path: Path,
) -> None:
    refs = media_project.by_kind("s3-presign") + media_project.by_kind("s3-proxy")
    data = [{"project": media_project.project_id, "data": {"image": r.uri}} for r in refs]
    with ls_frames.Client(label_studio.url, label_studio.admin_key) as c:
        df = ls_frames.fetch_media(data, tmp_path, client=c, progress=False)
    assert df["task_id"].isna().all()
    assert [Path(p).read_bytes() for p in df["path"]] == [r.data for r in refs]


class _Recording(httpx.BaseTransport):
    """Sends through ``httpx.HTTPTransport`` and keeps each request's headers and the
    answer's status and headers."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.seen: list[tuple[httpx.Request, int, httpx.Headers]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        self.seen.append((request, response.status_code, response.headers))
        return response

    def close(self) -> None:
        self.inner.close()


def test_uploads_come_in_one_plain_get_each(
    label_studio: Any, api_key: str, media_project: MediaProject, tmp_path: Path
) -> None:
    """No ``Range`` on a first request: Label Studio answers a ranged GET of an upload
    several times slower. Each upload is one request, answered 200, the bytes whole."""
    uploads = media_project.by_kind("upload")
    tasks = [
        {"id": r.task_id, "project": media_project.project_id, "data": {"image": r.uri}}
        for r in uploads
    ]
    recording = _Recording()
    with ls_frames.Client(label_studio.url, api_key, transport=recording) as c:
        df = ls_frames.fetch_media(tasks, tmp_path, client=c, progress=False, workers=2)
    assert df["error"].isna().all(), df["error"].tolist()
    for ref, row in zip(uploads, df.itertuples(), strict=True):
        assert Path(str(row.path)).read_bytes() == ref.data
    media = [(q, status) for q, status, _ in recording.seen if "/data/upload/" in q.url.path]
    assert len(media) == len(uploads)
    assert all("Range" not in q.headers and status == 200 for q, status in media)
