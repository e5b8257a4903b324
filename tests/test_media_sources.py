"""The media fixtures against the real server: every kind of reference answers the way the
media code relies on (bytes equal to the original, the documented status for a failure)."""

from __future__ import annotations

import hashlib
import zlib
from typing import Any

import httpx
import numpy as np
import pytest

from conftest import session_capabilities
from ls_frames.testing.images import demo_image, noise_png, png_bytes
from ls_frames.testing.media import MediaProject, resolve_path
from ls_frames.testing.seed import auth_headers

pytestmark = pytest.mark.server

CAPS = session_capabilities()
# Before 1.20 a storage with presign off has no proxy: /presign/ tries to redirect to the
# data: URI the task API inlines, which Django refuses (500).
NO_PROXY = "Unsafe redirect to URL with protocol 'data'"


@pytest.fixture(scope="module")
def http(label_studio: Any) -> Any:
    headers = auth_headers(label_studio.url, label_studio.admin_key)
    with httpx.Client(base_url=label_studio.url, headers=headers, timeout=60) as client:
        yield client


def _get(http: httpx.Client, ref_uri: str, task_id: int) -> httpx.Response:
    path = (
        resolve_path(task_id, ref_uri, CAPS.resolve_endpoint)
        if ref_uri.startswith("s3://")
        else ref_uri
    )
    return http.get(path)


def test_project_holds_every_kind(media_project: MediaProject) -> None:
    kinds = {r.kind for r in media_project.refs}
    assert kinds == {
        "upload",
        "local-files",
        "s3-presign",
        "s3-proxy",
        "url",
        "missing-upload",
        "missing-s3-presign",
        "missing-s3-proxy",
        "unresolvable-s3",
    }
    assert len({r.task_id for r in media_project.refs}) == len(media_project.refs)


@pytest.mark.parametrize("kind", ["upload", "local-files", "s3-proxy"])
def test_server_serves_the_original_bytes(
    media_project: MediaProject, http: httpx.Client, kind: str
) -> None:
    refs = media_project.by_kind(kind)
    assert refs
    for ref in refs:
        answer = _get(http, ref.uri, ref.task_id)
        if kind == "s3-proxy" and not CAPS.storage_proxy:
            assert answer.status_code == 500 and NO_PROXY in answer.text, answer.text
            continue
        assert answer.status_code == 200, (ref, answer.status_code)
        assert answer.content == ref.data
        assert answer.headers["content-type"] == "image/png"


def test_presigned_storage_redirects_to_moto(
    media_project: MediaProject, http: httpx.Client, moto_s3: Any
) -> None:
    for ref in media_project.by_kind("s3-presign"):
        answer = _get(http, ref.uri, ref.task_id)
        assert answer.status_code == 303
        location = answer.headers["location"]
        assert location.startswith(moto_s3.endpoint + "/") and "X-Amz-Signature=" in location
        target = httpx.get(location)
        assert target.content == ref.data
        assert target.headers["etag"].strip('"') == hashlib.md5(ref.data or b"").hexdigest()


def test_proxied_storage_supports_range_and_etag(
    media_project: MediaProject, http: httpx.Client
) -> None:
    ref = media_project.by_kind("s3-proxy")[0]
    assert ref.data is not None
    path = resolve_path(ref.task_id, ref.uri, CAPS.resolve_endpoint)
    full = http.get(path)
    if not CAPS.storage_proxy:
        assert full.status_code == 500 and NO_PROXY in full.text, full.text
        return
    part = http.get(path, headers={"Range": "bytes=100-"})
    assert part.status_code == 206
    assert part.content == ref.data[100:]
    assert part.headers["content-range"] == f"bytes 100-{len(ref.data) - 1}/{len(ref.data)}"
    # The proxy's ETag is the user's id and access flag glued to the S3 ETag (not an MD5).
    assert full.headers["etag"].endswith(hashlib.md5(ref.data).hexdigest() + '"')
    again = http.get(path, headers={"If-None-Match": full.headers["etag"]})
    assert again.status_code == 304 and again.content == b""


def test_plain_urls_are_served_off_the_label_studio_host(
    media_project: MediaProject, plain_server: Any
) -> None:
    for ref in media_project.by_kind("url"):
        assert ref.uri.startswith("http://127.0.0.2:")
        answer = httpx.get(ref.uri)
        assert answer.content == ref.data
    assert plain_server.requests[-1][1] is None  # no key sent by this test


def test_unresolvable_references_fail_as_documented(
    media_project: MediaProject, http: httpx.Client
) -> None:
    [upload] = media_project.by_kind("missing-upload")
    # An upload path with no FileUpload record is an unhandled error on the server (1.23.2).
    answer = _get(http, upload.uri, upload.task_id)
    assert answer.status_code == 500 and "has_permission" in answer.json()["detail"]
    [proxied] = media_project.by_kind("missing-s3-proxy")
    answer = _get(http, proxied.uri, proxied.task_id)
    if CAPS.storage_proxy:
        assert answer.status_code == 424 and "Storage stream failed" in answer.text
    else:  # no proxy: reading the object to inline it fails quietly, as if no storage matched
        assert answer.status_code == 404 and answer.content == b""
    [presigned] = media_project.by_kind("missing-s3-presign")
    answer = _get(http, presigned.uri, presigned.task_id)
    assert answer.status_code == 303  # the server does not check the object exists
    assert httpx.get(answer.headers["location"]).status_code in (403, 404)
    [nobody] = media_project.by_kind("unresolvable-s3")
    answer = _get(http, nobody.uri, nobody.task_id)
    if CAPS.storage_matches_bucket:
        assert answer.status_code == 404 and answer.content == b""
    else:  # the project's first S3 storage (the presigning one) presigns any bucket
        assert answer.status_code == 303
        assert httpx.get(answer.headers["location"]).status_code in (403, 404)


def test_resolve_needs_the_key(media_project: MediaProject, label_studio: Any) -> None:
    ref = media_project.by_kind("s3-proxy")[0]
    answer = httpx.get(label_studio.url + resolve_path(ref.task_id, ref.uri, CAPS.resolve_endpoint))
    assert answer.status_code == 401


def _decode_png(data: bytes) -> np.ndarray:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", b""
    while pos < len(data):
        length = int.from_bytes(data[pos : pos + 4], "big")
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        crc = int.from_bytes(data[pos + 8 + length : pos + 12 + length], "big")
        assert zlib.crc32(kind + body) == crc
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height = int.from_bytes(header[:4], "big"), int.from_bytes(header[4:8], "big")
    channels = {0: 1, 2: 3, 6: 4}[header[9]]
    rows = np.frombuffer(zlib.decompress(idat), np.uint8).reshape(height, 1 + width * channels)
    assert not rows[:, 0].any()
    return rows[:, 1:].reshape(height, width, channels)


def test_png_round_trips() -> None:
    pixels = np.random.default_rng(0).integers(0, 256, size=(7, 5, 3), dtype=np.uint8)
    assert np.array_equal(_decode_png(png_bytes(pixels)), pixels)
    grey = np.arange(12, dtype=np.uint8).reshape(3, 4)
    assert np.array_equal(_decode_png(png_bytes(grey))[:, :, 0], grey)
    assert _decode_png(demo_image(1)).shape == (120, 160, 3)
    assert 90_000 < len(noise_png(0)) < 110_000
    with pytest.raises(ValueError):
        png_bytes(pixels.astype(np.int16))
