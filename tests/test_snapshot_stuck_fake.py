"""Snapshots a killed build leaves behind, where the real server cannot show it on demand:
a proxy's 504 in front of a build that stalls or goes on, a delete that fails, a 500 that
left no snapshot, snapshots of a known age. The killed build itself (a 500 from gunicorn's
worker timeout) is tested against the real server in ``test_production_server.py``."""

from __future__ import annotations

import argparse
import time
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

import ls_frames
from ls_frames.errors import ConfigurationError, ServerError, SnapshotBuildStopped
from ls_frames.exports import ExportOptions, one_off_snapshot
from ls_frames.exports.names import SNAPSHOT_TITLE_PREFIX
from ls_frames.exports.stale import delete_stale_snapshots, stale_snapshots
from ls_frames.frontends.cli import main
from ls_frames.frontends.cli.parser import parse_age
from tests.fake_label_studio import LEGACY, FakeLabelStudio, client_for


@pytest.fixture
def fake() -> FakeLabelStudio:
    return FakeLabelStudio()


def sleeping_client(fake: FakeLabelStudio) -> Any:
    """A client whose waits really sleep (the stall limit is measured on the clock)."""
    retry = ls_frames.RetryPolicy(sleep=time.sleep)
    return ls_frames.Client(
        "https://ls.test", LEGACY, transport=httpx.MockTransport(fake), retry=retry
    )


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


@pytest.mark.parametrize(("fault", "status"), [("504", 504), ("timeout", None)])
def test_a_lost_create_whose_snapshot_stalls_gives_up_and_deletes_it(
    fake: FakeLabelStudio, fault: str, status: int | None
) -> None:
    """A proxy's 504, or no answer at all (a killed worker's connection closed)."""
    fake.create_delay_fault = fault
    fake.created_statuses = ["in_progress"]  # the build was killed behind the proxy
    client = sleeping_client(fake)
    started = time.monotonic()
    with (
        pytest.raises(SnapshotBuildStopped) as info,
        one_off_snapshot(client, 1, ExportOptions(), stall_limit=0.5),
    ):
        pass
    assert time.monotonic() - started < 10
    error = info.value
    assert isinstance(error, ServerError) and error.status == status
    assert error.deleted and error.export_id == 1 and fake.exports == {}
    text = str(error)
    assert "worker timeout" in text and "harakiri" in text and 'source="tasks"' in text
    assert "was deleted" in text


def test_a_504_whose_snapshot_goes_on_is_awaited_past_the_stall_limit(
    fake: FakeLabelStudio,
) -> None:
    fake.create_delay_fault = "504"
    fake.created_statuses = ["in_progress", "in_progress", "completed"]
    client = client_for(fake)  # no sleeping: the build ends before the stall limit
    with one_off_snapshot(client, 1, ExportOptions()) as job:
        assert job.export.status.value == "completed"
    assert fake.exports == {}  # the job's own snapshot, deleted at its end as usual


def test_no_stall_limit_waits_until_the_deadline(fake: FakeLabelStudio) -> None:
    fake.create_delay_fault = "504"
    fake.created_statuses = ["in_progress"]
    client = sleeping_client(fake)
    with (
        pytest.raises(ls_frames.ExportTimeout),
        one_off_snapshot(client, 1, ExportOptions(timeout=0.5), stall_limit=None),
    ):
        pass


def test_a_killed_build_whose_delete_fails_says_how_to_remove_it(
    fake: FakeLabelStudio, caplog: pytest.LogCaptureFixture
) -> None:
    fake.create_delay_fault = "500"
    fake.created_statuses = ["in_progress"]
    fake.delete_fails = True
    client = client_for(fake)
    with pytest.raises(SnapshotBuildStopped) as info, one_off_snapshot(client, 1, ExportOptions()):
        pass
    assert info.value.status == 500 and not info.value.deleted
    assert "ls-frames snapshots --stale --delete" in str(info.value)
    assert list(fake.exports) == [info.value.export_id]
    assert "could not delete snapshot" in caplog.text


def test_a_500_that_left_no_snapshot_is_the_plain_server_error(fake: FakeLabelStudio) -> None:
    fake.fail_next = [httpx.Response(500, text="a bug")]
    client = client_for(fake)
    with pytest.raises(ServerError) as info, one_off_snapshot(client, 1, ExportOptions()):
        pass
    assert type(info.value) is ServerError


def test_a_500_whose_snapshot_completed_is_not_called_a_timeout(fake: FakeLabelStudio) -> None:
    fake.create_delay_fault = "500"  # created and completed, then an error on the way out
    client = client_for(fake)
    with pytest.raises(ServerError) as info, one_off_snapshot(client, 1, ExportOptions()):
        pass
    assert type(info.value) is ServerError
    assert [e.status.value for e in client.list_exports(1)] == ["completed"]


def test_the_library_titles_its_snapshots_so_it_can_find_them(fake: FakeLabelStudio) -> None:
    client = client_for(fake)
    with one_off_snapshot(client, 1, ExportOptions(keep_snapshot=True)) as job:
        title = job.export.title
    assert title.startswith(f"{SNAPSHOT_TITLE_PREFIX} ")
    with one_off_snapshot(client, 1, ExportOptions(keep_snapshot=True)) as job:
        assert job.export.title != title


def _aged(fake: FakeLabelStudio, hours: float, status: str) -> int:
    export = fake.add_export(statuses=[status], title=f"{hours} h {status}")
    export.created_at = _iso(datetime.now(timezone.utc) - timedelta(hours=hours))
    return export.id


def test_stale_snapshots_are_the_unfinished_ones_past_the_age(fake: FakeLabelStudio) -> None:
    old_stuck = _aged(fake, 3, "in_progress")
    _aged(fake, 3, "completed")
    _aged(fake, 3, "failed")
    young_stuck = _aged(fake, 0.1, "in_progress")
    older_created = _aged(fake, 5, "created")
    client = client_for(fake)
    assert [e.id for e in stale_snapshots(12, client=client)] == [older_created, old_stuck]
    every = stale_snapshots(12, older_than=0, client=client)
    assert [e.id for e in every] == [older_created, old_stuck, young_stuck]
    assert {e.project for e in stale_snapshots(client=client)} == {12}  # every project
    with pytest.raises(ConfigurationError, match="older_than"):
        stale_snapshots(12, older_than=-1, client=client)
    deleted = delete_stale_snapshots(12, older_than=7200, client=client)
    assert [e.id for e in deleted] == [older_created, old_stuck]
    assert young_stuck in fake.exports and old_stuck not in fake.exports


def test_the_snapshots_command_lists_and_deletes_stale_ones(
    fake: FakeLabelStudio, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    stuck = _aged(fake, 2, "in_progress")
    young = _aged(fake, 0.2, "in_progress")
    monkeypatch.setattr("ls_frames.frontends.cli.commands._client", lambda args: client_for(fake))
    assert main(["snapshots", "--stale"]) == 0
    out, err = capsys.readouterr()
    assert [int(line.split()[0]) for line in out.splitlines()] == [stuck]
    assert "1 snapshot(s) stale" in err
    assert main(["snapshots", "12", "--stale", "--older-than", "5m", "--delete"]) == 0
    out, err = capsys.readouterr()
    assert "deleted" in out and "2 snapshot(s) deleted" in err
    assert stuck not in fake.exports and young not in fake.exports
    assert main(["snapshots", "--delete", "12"]) == 1
    assert "--stale" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "seconds"), [("90", 90), ("90s", 90), ("30m", 1800), ("1h", 3600), ("2d", 172800)]
)
def test_ages_read_with_units(text: str, seconds: float) -> None:
    assert parse_age(text) == seconds


@pytest.mark.parametrize("text", ["soon", "-1h", "1w"])
def test_bad_ages_are_refused(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        parse_age(text)
