"""Partial media results are loud: fetch_media warns once with the failures counted by
reason, a dataset's media table warns once however many runs fetched it, and the CLI exits
3 when a file is missing (0 with ``--allow-missing``). Label Studio is the fake; the
stopped host is a closed port on 127.0.0.2, the live one a real HTTP server there."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import httpx
import pytest

import ls_frames
from ls_frames.frontends.cli import MISSING_MEDIA, main
from ls_frames.media.dataset import fetch_dataset_media
from tests.fake_label_studio import FakeLabelStudio, client_for
from tests.media_hosts import other_host

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
CONFIG = '<View><Image name="image" value="$image"/></View>'


class StopsMidway(FakeLabelStudio):
    """Label Studio that serves ``serve`` uploads, then refuses every connection."""

    def __init__(self, serve: int) -> None:
        super().__init__()
        self.left = serve

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.startswith("/data/upload/"):
            if self.left <= 0:
                raise httpx.ConnectError("[Errno 111] Connection refused", request=request)
            self.left -= 1
        return super().__call__(request)


def closed_port() -> int:
    """A port on 127.0.0.2 nothing listens on (a host that stopped)."""
    with socket.socket() as s:
        s.bind(("127.0.0.2", 0))
        port: int = s.getsockname()[1]
    return port


def test_label_studio_stopping_midway_is_one_warning_counting_the_reasons(
    tmp_path: Path,
) -> None:
    # the good file and two it has no record of (1.23.2 answers those with a 500), then down
    fake = StopsMidway(serve=3)
    fake.uploads = {"/data/upload/1/0.png": PNG}
    data = [{"id": i + 1, "project": 1, "data": {"image": f"/data/upload/1/{i}.png"}}
            for i in range(8)]  # fmt: skip
    with pytest.warns(ls_frames.PartialResultWarning) as caught:
        df = ls_frames.fetch_media(
            data, tmp_path, client=client_for(fake), workers=1, progress=False
        )
    assert len(caught) == 1 and caught[0].filename == __file__  # the user's line
    warning = caught[0].message
    assert isinstance(warning, ls_frames.PartialResultWarning)
    assert (warning.failed, warning.total) == (7, 8)
    [no_record] = [e for e in df["error"].dropna().unique() if e.startswith("HTTP 500")]
    assert warning.reasons == {"connection failed (https://ls.test:443)": 5, no_record: 2}
    assert str(warning).startswith(
        f"7 of 8 files could not be fetched: 5 connection failed (https://ls.test:443), "
        f"2 {no_record}; "
    )
    # the table is as before: one row per reference, the short reason in error
    assert df["error"].tolist()[3:] == ["connection failed"] * 5
    assert df.attrs["media"]["failed"] == 7 and df.attrs["media"]["reasons"] == warning.reasons


def test_strict_raises_and_does_not_warn(tmp_path: Path) -> None:
    fake = StopsMidway(serve=0)
    data = [{"id": 1, "project": 1, "data": {"image": "/data/upload/1/a.png"}}]
    with pytest.raises(ls_frames.MediaError, match="connection failed"):
        ls_frames.fetch_media(data, tmp_path, client=client_for(fake), strict=True, progress=False)


def test_nothing_failed_is_no_warning(tmp_path: Path) -> None:
    fake = FakeLabelStudio()
    fake.uploads = {"/data/upload/1/a.png": PNG}
    data = [{"id": 1, "project": 1, "data": {"image": "/data/upload/1/a.png"}}]
    df = ls_frames.fetch_media(data, tmp_path, client=client_for(fake), progress=False)
    assert df["error"].isna().all() and df.attrs["media"]["reasons"] == {}


def _dataset(tmp_path: Path, urls: list[str]) -> Path:
    """A Parquet dataset whose tasks point at ``urls``."""
    export = tmp_path / "export.json"
    tasks = [{"id": i + 1, "data": {"image": u}, "annotations": []} for i, u in enumerate(urls)]
    export.write_text(json.dumps(tasks))
    return ls_frames.to_parquet(export, tmp_path / "ds", label_config=CONFIG, progress=False)


def _urls(live: Any, stopped: int) -> list[str]:
    """One file, two the live host lacks, five on the stopped host."""
    return [
        live.url("/a.png"),
        live.url("/gone-1.png"),
        live.url("/gone-2.png"),
        *(f"http://127.0.0.2:{stopped}/{i}.png" for i in range(5)),
    ]


def test_a_dataset_fetched_in_two_runs_warns_once(tmp_path: Path) -> None:
    stopped = closed_port()
    with other_host(files={"/a.png": PNG}) as live:
        ds = _dataset(tmp_path, _urls(live, stopped))
        with pytest.warns(ls_frames.PartialResultWarning) as caught:
            # task 1 changed: revalidated apart from the others, one table all the same
            table = fetch_dataset_media(
                ds, tmp_path / "cache", changed=[1], allow_hosts=["127.0.0.2"], progress=False
            )
    assert len(caught) == 1 and caught[0].filename == __file__
    warning = caught[0].message
    assert isinstance(warning, ls_frames.PartialResultWarning)
    assert (warning.failed, warning.total) == (7, 8)
    assert warning.reasons[f"connection failed (http://127.0.0.2:{stopped})"] == 5
    assert sum(warning.reasons.values()) == 7
    assert ls_frames.read_parquet(ds).media["error"].notna().sum() == 7  # written first
    assert table.attrs["media"]["reasons"] == warning.reasons


def test_cli_media_exits_3_when_files_are_missing_unless_allowed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stopped = closed_port()
    with other_host(files={"/a.png": PNG}) as live:
        ds = _dataset(tmp_path, _urls(live, stopped))
        args = ["media", str(ds), "--out", str(tmp_path / "cache"), "--allow-host", "127.0.0.2"]
        assert main([*args, "-q"]) == MISSING_MEDIA == 3
        captured = capsys.readouterr()
        assert "8 reference(s) (1 downloaded, 7 failed)" in captured.out
        by_reason = f"failed by reason: 5 connection failed (http://127.0.0.2:{stopped}), 2 HTTP"
        assert by_reason in captured.out
        assert "ls-frames: media: 7 of 8 files could not be fetched: 5 connection failed" in (
            captured.err
        )
        assert "exit status 3" in captured.err and "--allow-missing" in captured.err
        assert "Warning" not in captured.err  # reported once, by the CLI, not as a warning

        assert main([*args, "-q", "--allow-missing"]) == 0
        captured = capsys.readouterr()
        assert "(1 cached, 7 failed)" in captured.out
        assert "7 of 8 files could not be fetched" in captured.err
        assert "exit status" not in captured.err

        assert main([*args, "-q", "--strict"]) == 1  # strict: an error, no table
        assert "MediaError" in capsys.readouterr().err


def test_cli_media_with_every_file_exits_0(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with other_host(files={"/a.png": PNG}) as live:
        ds = _dataset(tmp_path, [live.url("/a.png")])
        args = ["media", str(ds), "--out", str(tmp_path / "cache"), "--allow-host", "127.0.0.2"]
        assert main([*args, "-q"]) == 0
    captured = capsys.readouterr()
    assert "1 downloaded" in captured.out and captured.err == ""


def test_the_exit_statuses_are_in_the_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "3 media files missing" in " ".join(capsys.readouterr().out.split())
    for command in (["media", "x", "--out", "y"], ["export", "1", "--out", "y"]):
        with pytest.raises(SystemExit):
            main([command[0], "--help"])
        assert "--allow-missing" in capsys.readouterr().out
