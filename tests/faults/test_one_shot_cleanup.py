"""A snapshot made for one call is deleted even when its download fails (a broken answer
the real server cannot be made to give: the fault proxy gives it), and the folder made
for it is not left behind empty."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import ls_frames
from ls_frames.errors import ServerError
from tests.faults.conftest import Seeded, Sleeps, make_client
from tests.faults.proxy import FaultProxy, status

pytestmark = pytest.mark.server


@pytest.mark.parametrize("call", ["load_project", "export_project", "download_project"])
def test_a_failed_download_does_not_leave_the_snapshot(
    label_studio: Any,
    seeded: Seeded,
    proxy: FaultProxy,
    sleeps: Sleeps,
    tmp_path: Path,
    call: str,
) -> None:
    proxy.rule(lambda req: status(500, "broken"), path=r"/download$")
    with make_client(proxy.url, label_studio.legacy_token, sleeps) as client:
        before = {e.id for e in client.list_exports(seeded.project)}
        with pytest.raises(ServerError):
            if call == "load_project":
                ls_frames.load_project(seeded.project, client=client, progress=False)
            elif call == "export_project":
                ls_frames.export_project(
                    seeded.project, tmp_path / "ds", client=client, progress=False
                )
            else:
                ls_frames.download_project(
                    seeded.project, f"{tmp_path}/new/", client=client, progress=False
                )
        assert {e.id for e in client.list_exports(seeded.project)} == before
        made = [ex for ex in proxy.requests(method="POST") if ex.path.endswith("/exports/")]
        assert len(made) == 1, "a snapshot was made, and deleted"
    assert list(tmp_path.iterdir()) == []
