"""What a media file costs beyond its bytes: the first request is a plain GET (a range
only to resume), the MD5 is computed only when the source vouches for one, and the media
cache does not flush each file to disk (an export download still does).

Against the fake Label Studio (``httpx.MockTransport``: a cut at a chosen byte) and
``stream_into`` on its own (a body whose length nobody announces, which the fake's routes
never send)."""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest

import ls_frames
from ls_frames.errors import ChecksumMismatch
from ls_frames.exports.download import stream_into
from ls_frames.transport import RetryPolicy
from tests.fake_label_studio import FakeLabelStudio, client_for


class _Bar:
    def __init__(self) -> None:
        self.n, self.total = 0, None

    def update(self, n: int) -> None:
        self.n += n

    def refresh(self) -> None:
        pass


def _opener(answers: list[httpx.Response], sent: list[dict[str, str]]) -> Any:
    """An opener that records the headers of each request and hands out ``answers``."""

    @contextlib.contextmanager
    def open_get(headers: Mapping[str, str]) -> Iterator[httpx.Response]:
        sent.append(dict(headers))
        yield answers.pop(0)

    return open_get


def _answer(status: int, data: bytes, **headers: str) -> httpx.Response:
    """An unread answer with a length (the body is streamed as from a socket)."""
    headers = {k.replace("_", "-"): v for k, v in headers.items()}
    headers["Content-Length"] = str(len(data))
    return httpx.Response(status, headers=headers, stream=httpx.ByteStream(data))


def _stream(tmp_path: Path, answers: list[httpx.Response], **kwargs: Any) -> Any:
    sent: list[dict[str, str]] = []
    received = stream_into(
        _opener(answers, sent),
        tmp_path / "x.part",
        description="file",
        where="GET /x",
        retry=RetryPolicy(sleep=lambda s: None),
        bar=_Bar(),
        **kwargs,
    )
    return received, sent


def _uploads(n: int) -> tuple[FakeLabelStudio, list[dict[str, Any]], dict[str, bytes]]:
    fake = FakeLabelStudio()
    files = {f"/data/upload/1/f{k}.png": hashlib.sha256(b"%d" % k).digest() * 900 for k in range(n)}
    fake.uploads = dict(files)
    tasks = [{"id": k + 1, "project": 1, "data": {"image": p}} for k, p in enumerate(files)]
    return fake, tasks, files


def test_uploads_start_with_a_plain_get_and_a_cut_resumes_with_a_range(tmp_path: Path) -> None:
    fake, tasks, files = _uploads(3)
    fake.cuts = [10_000]  # the first answer breaks after 10,000 bytes
    df = ls_frames.fetch_media(tasks, tmp_path, client=client_for(fake), workers=1, progress=False)
    assert df["error"].isna().all(), df["error"].tolist()
    for row in df.itertuples():
        assert Path(str(row.path)).read_bytes() == files[str(row.uri)]
    sent = [r.headers.get("Range") for r in fake.requests if r.url.path.startswith("/data/")]
    assert sent == [None, "bytes=10000-", None, None]


def test_a_body_without_a_length_is_whole_when_it_ends(tmp_path: Path) -> None:
    data = b"x" * 70_000
    answer = httpx.Response(200, stream=httpx.ByteStream(data))  # no Content-Length
    assert "Content-Length" not in answer.headers
    received, sent = _stream(tmp_path, [answer], ranged=False, md5_from=lambda h: None)
    assert "Range" not in sent[0]
    assert received.size == len(data) and (tmp_path / "x.part").read_bytes() == data
    assert received.sha256 == hashlib.sha256(data).hexdigest()


def test_an_export_still_asks_for_a_range_first(tmp_path: Path) -> None:
    data = b"y" * 5000
    answer = _answer(206, data, Content_Range=f"bytes 0-{len(data) - 1}/{len(data)}")
    received, sent = _stream(tmp_path, [answer])
    assert sent[0]["Range"] == "bytes=0-"
    assert received.md5 == hashlib.md5(data).hexdigest()  # computed: the caller may check it


def test_the_md5_is_computed_only_when_the_source_vouches_for_one(tmp_path: Path) -> None:
    data = b"z" * 9000
    md5 = hashlib.md5(data).hexdigest()

    def answer() -> httpx.Response:
        return _answer(200, data)

    plain, _ = _stream(tmp_path, [answer()], ranged=False, md5_from=lambda h: None)
    assert plain.md5 == "" and plain.size == len(data)
    vouched, _ = _stream(tmp_path, [answer()], ranged=False, md5_from=lambda h: md5)
    assert vouched.md5 == md5
    with pytest.raises(ChecksumMismatch):
        _stream(tmp_path, [answer()], ranged=False, md5_from=lambda h: "0" * 32)


def test_a_resumed_partial_is_hashed_from_its_first_byte(tmp_path: Path) -> None:
    data = bytes(range(256)) * 40
    (tmp_path / "x.part").write_bytes(data[:1000])
    span = f"bytes 1000-{len(data) - 1}/{len(data)}"
    rest = _answer(206, data[1000:], Content_Range=span, ETag='"v1"')
    md5 = hashlib.md5(data).hexdigest()
    received, sent = _stream(
        tmp_path, [rest], ranged=False, resume_with='"v1"', md5_from=lambda h: md5
    )
    assert sent[0]["Range"] == "bytes=1000-" and sent[0]["If-Range"] == '"v1"'
    assert received.md5 == md5 and received.sha256 == hashlib.sha256(data).hexdigest()


def test_media_files_are_not_flushed_one_by_one_but_an_export_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    flushed: list[int] = []
    monkeypatch.setattr(os, "fsync", lambda fd: flushed.append(fd))
    fake, tasks, _ = _uploads(4)
    df = ls_frames.fetch_media(tasks, tmp_path / "cache", client=client_for(fake), progress=False)
    assert df["error"].isna().all() and flushed == []
    _stream(tmp_path, [_answer(200, b"data")])
    assert len(flushed) == 1
