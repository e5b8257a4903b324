"""The command line's own manners, against the fake server: ``-q`` before or after the
command, no bars when stderr is not a terminal, messages that name flags (not Python
arguments), every folder checked before the snapshot."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

import ls_frames
from ls_frames.frontends import cli
from ls_frames.frontends.cli import commands
from ls_frames.frontends.cli.output import cli_words
from ls_frames.frontends.cli.parser import build_parser
from tests.fake_label_studio import LEGACY, FakeLabelStudio


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeLabelStudio:
    """The fake server behind every client the CLI makes."""
    server = FakeLabelStudio()
    server.put_task(1, annotations=1)

    class Faked(ls_frames.Client):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__("https://ls.test", LEGACY, transport=httpx.MockTransport(server))

    monkeypatch.setattr(commands, "Client", Faked)
    return server


@pytest.mark.parametrize(
    "argv",
    [
        ["-q", "export", "12", "--out", "ds"],
        ["export", "12", "--out", "ds", "-q"],
        ["--quiet", "read", "e.json", "--out", "ds"],
        ["read", "e.json", "--out", "ds", "--quiet"],
    ],
)
def test_quiet_before_or_after_the_command(argv: list[str]) -> None:
    args = build_parser("x").parse_args(argv)
    assert args.quiet is True


def test_not_quiet_by_default() -> None:
    args = build_parser("x").parse_args(["export", "12", "--out", "ds"])
    assert args.quiet is False


def test_no_bars_when_stderr_is_not_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    quiet = argparse.Namespace(quiet=False)

    class Terminal:
        def isatty(self) -> bool:
            return True

    assert commands._progress(quiet) is False  # pytest's captured stderr is no terminal
    monkeypatch.setattr(sys, "stderr", Terminal())
    assert commands._progress(quiet) is None  # the environment decides, as in the library
    assert commands._progress(argparse.Namespace(quiet=True)) is False


def test_the_library_keeps_its_default_bars() -> None:
    from ls_frames._progress import progress_enabled

    assert progress_enabled(None) in (True, False)  # follows the environment, not the TTY


def test_messages_name_flags_not_arguments() -> None:
    assert cli_words("x exists; pass overwrite=True to replace it") == (
        "x exists; add --overwrite to replace it"
    )
    assert cli_words("not written by sync_delta; pass full=True to replace them") == (
        "not written by sync_delta; add --full to replace them"
    )
    assert cli_words("a private address (allow it with allow_hosts=)") == (
        "a private address (allow it with --allow-host)"
    )
    assert "--url" in cli_words("no Label Studio URL: pass url=... or set LABEL_STUDIO_URL")


def test_a_sync_into_foreign_tables_names_the_full_flag(
    fake: FakeLabelStudio, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "ds"
    ls_frames.to_parquet(b"[]", out, progress=False)  # a dataset sync_parquet did not write
    assert cli.main(["sync", "12", "--out", str(out), "-q"]) == 1
    err = capsys.readouterr().err
    assert "--full" in err and "full=True" not in err


def test_a_library_warning_names_the_flag(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("ls_frames")
    words = cli._CliWords()
    logger.addFilter(words)
    try:
        with caplog.at_level(logging.WARNING, logger="ls_frames"):
            logger.warning("%s: tasks changed before the window: run with full=True", "sync")
    finally:
        logger.removeFilter(words)
    assert "--full" in caplog.text and "full=True" not in caplog.text


@pytest.mark.parametrize(
    "argv, flag",
    [
        (["media", "12", "--out", "/proc/nope"], "--out"),
        (["media", "12", "--out", "{tmp}/m", "--table", "/proc/nope/t.parquet"], "--table"),
        (["export", "12", "--out", "/proc/nope/ds"], "out_dir"),
        (["export", "12", "--out", "{tmp}/ds", "--media", "/proc/nope"], "--media"),
        (["export", "12", "--out", "{tmp}/ds", "--keep-json", "/proc/nope/"], "--keep-json"),
        (["download", "12", "--out", "/proc/nope/"], "--out"),
        (["sync", "12", "--out", "/proc/nope/ds"], "--out"),
        (["sync", "12", "--delta", "{tmp}/d", "--storage-option", "AWS_REGION=x"], "AWS_REGION"),
        (["export", "12", "--out", "{tmp}/ds", "--export-id", "0"], "--export-id must"),
        (["download", "12", "--timeout", "-1"], "--timeout must"),
    ],
)
def test_every_folder_is_checked_before_the_snapshot(
    argv: list[str],
    flag: str,
    fake: FakeLabelStudio,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    assert cli.main([*argv, "-q"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "ConfigurationError" in err and flag in err, err
    assert fake.requests == [] and fake.exports == {}


def test_a_title_resolves_after_the_checks(
    fake: FakeLabelStudio, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["export", "Street detection", "--out", "/proc/nope/ds"]) == 1
    assert fake.requests == []  # not even the project list
    assert cli.main(["-q", "export", "Street detection", "--out", str(tmp_path / "ds")]) == 0
    assert "Parquet dataset" in capsys.readouterr().out
