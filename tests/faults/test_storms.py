"""Polling, creation and conversion under 5xx/429 storms: each call completes or raises a typed
error after a bounded number of requests, and the server never holds two snapshots for one
create.
"""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import pytest

import ls_frames
from ls_frames.errors import RateLimited, ServerError
from tests.faults.conftest import Seeded, Sleeps, make_client
from tests.faults.figures import count
from tests.faults.proxy import (
    PASS,
    Fault,
    FaultProxy,
    ProxyRequest,
    html_page,
    reset,
    rewrite_json,
    stall,
    status,
)

pytestmark = pytest.mark.server

ATTEMPTS = 5


def _in_progress(raw: Any) -> Any:
    return {**raw, "status": "in_progress", "md5": None}


def test_polling_rides_out_bursts_shorter_than_the_retries(
    label_studio: Any, api_key: str, seeded: Seeded, proxy: FaultProxy, sleeps: Sleeps
) -> None:
    """wait() keeps polling through bursts of 502/503/504, HTML gateway pages and 429 with
    Retry-After; every burst is shorter than the retry budget, so the wait completes."""
    pending = rewrite_json(_in_progress)
    script = [
        status(503),
        status(502),
        pending,
        status(504),
        status(429, retry_after=3),
        status(429, retry_after=1),
        pending,
        html_page(502, "502 Bad Gateway"),
        status(503),
        status(503),
        status(503),
        pending,
        status(429, retry_after="0"),
        pending,
    ]
    proxy.script(rf"/exports/{seeded.export_id}$", *script)
    with make_client(proxy.url, api_key, sleeps, attempts=ATTEMPTS) as client:
        export = client.get_export(seeded.project, seeded.export_id)  # answered "in progress"
        assert export.status is ls_frames.ExportStatus.IN_PROGRESS
        done = export.wait(timeout=60, poll_interval=0.01)
    assert done is export
    assert done.status is ls_frames.ExportStatus.COMPLETED and done.md5 == seeded.md5
    polls = proxy.requests(rf"/exports/{seeded.export_id}$")
    assert len(polls) == len(script) + 1
    assert [s for s in sleeps.calls if s in (3.0, 1.0, 0.0)] == [3.0, 1.0, 0.0]
    count(
        "storms",
        "poll-retries",
        sum(e.fault != "pass" and e.fault != "rewrite-json" for e in polls),
    )


@pytest.mark.parametrize(
    "fault",
    [status(503), status(429, retry_after=2), html_page(504, "Gateway Time-out")],
    ids=lambda f: f.name,
)
def test_a_storm_longer_than_the_retries_ends_the_wait_with_a_typed_error(
    label_studio: Any, seeded: Seeded, proxy: FaultProxy, sleeps: Sleeps, fault: Fault
) -> None:
    with make_client(proxy.url, label_studio.admin_key, sleeps, attempts=ATTEMPTS) as client:
        export = client.get_export(seeded.project, seeded.export_id)
        export.raw = _in_progress(export.raw)
        proxy.script(rf"/exports/{seeded.export_id}$", *[fault] * 50)
        before = len(proxy.requests(rf"/exports/{seeded.export_id}$"))
        with pytest.raises((ServerError, RateLimited)) as info:
            export.wait(timeout=60, poll_interval=0.01)
    err = info.value
    assert err.status == fault.status and err.path.endswith(f"/exports/{seeded.export_id}")
    polls = len(proxy.requests(rf"/exports/{seeded.export_id}$")) - before
    assert polls == ATTEMPTS, "bounded retries"
    if fault.status == 429:
        assert sleeps.calls == [2.0] * (ATTEMPTS - 1)
    if "html" in fault.name:
        assert "Gateway Time-out" in str(err)
    count("storms", "storms-outlasting-retries")


# -- creation under random storms ------------------------------------------------------------------
#: What the storm throws at a request (chosen at random, in bursts).
STORM: list[Fault] = [
    status(502),
    status(503),
    status(504),
    html_page(502, "502 Bad Gateway"),
    status(429, retry_after=1),
    status(429, retry_after=0),
    status(502, forward=True),
    status(504, forward=True),  # the gateway gave up, the server went on
    reset(),
    reset(forward=True),
    stall(3.0, forward=False),
    stall(3.0, forward=True),
]
CREATES = 8


class Storm:
    """A seeded rule: with probability ``p`` a request starts a burst of 1-4 faults."""

    def __init__(self, seed: int, p: float = 0.45) -> None:
        self.rng = random.Random(seed)
        self.p = p
        self.burst: list[Fault] = []
        self.thrown: Counter[str] = Counter()

    def __call__(self, req: ProxyRequest) -> Fault | None:
        if not self.burst and self.rng.random() < self.p:
            self.burst = [self.rng.choice(STORM)] * self.rng.randint(1, 4)
        if not self.burst:
            return PASS
        fault = self.burst.pop()
        self.thrown[fault.name] += 1
        return fault


def test_create_wait_download_under_random_storms(
    label_studio: Any,
    api_key: str,
    seeded: Seeded,
    proxy: FaultProxy,
    sleeps: Sleeps,
    tmp_path: Any,
) -> None:
    """Eight create/wait/download cycles with every request of them (token refreshes
    included) in a seeded storm. Each cycle ends complete or with a typed error; afterwards
    the server holds at most one snapshot per title, and exactly the one returned."""
    kind = ls_frames.transport.token_kind(api_key)
    storm = Storm(seed={"legacy": 11}.get(kind, 23))
    proxy.rule(storm)
    returned: dict[str, int] = {}
    outcomes: Counter[str] = Counter()
    with make_client(proxy.url, api_key, sleeps, attempts=ATTEMPTS) as client:
        for i in range(CREATES):
            title = f"storm {kind} {i}"
            posts_before = len(proxy.requests(r"/exports/$", method="POST"))
            try:
                export = client.create_export(seeded.project, title=title, http_timeout=2.0)
                returned[title] = export.id
                export.wait(timeout=60, poll_interval=0.05)
                path = export.download(tmp_path / f"{i}.json", progress=False)
                assert path.stat().st_size > 0
                outcomes["completed"] += 1
            except ls_frames.LSFramesError as exc:
                where = getattr(exc, "method", "") or "download"
                outcomes[f"typed:{type(exc).__name__}:{where}"] += 1
            posts = len(proxy.requests(r"/exports/$", method="POST")) - posts_before
            assert posts <= ATTEMPTS, f"{title}: {posts} POSTs"
    # Count on the server itself, without the proxy.
    with ls_frames.Client(label_studio.url, label_studio.admin_key) as direct:
        titles = Counter(e.title for e in direct.list_exports(seeded.project))
        ids = {e.title: e.id for e in direct.list_exports(seeded.project)}
    duplicates = sum(n - 1 for t, n in titles.items() if t.startswith(f"storm {kind}") and n > 1)
    assert duplicates == 0, titles
    for title, export_id in returned.items():
        assert ids[title] == export_id
    assert outcomes["completed"] >= 1, outcomes
    count(f"storms ({kind})", "cycles", CREATES)
    count(f"storms ({kind})", "duplicates", duplicates)
    count(f"storms ({kind})", "faults-thrown", sum(storm.thrown.values()))
    count(f"storms ({kind})", "retry-sleeps", len(sleeps.calls))
    for name, n in outcomes.items():
        count(f"storms ({kind})", name, n)
    count(f"storms ({kind})", "snapshots-made", sum(t.startswith(f"storm {kind}") for t in titles))


def test_convert_after_the_gateway_gave_up_reuses_the_conversion(
    label_studio: Any, seeded: Seeded, proxy: FaultProxy, sleeps: Sleeps
) -> None:
    """The gateway answers 502 after the server started the conversion: the call still
    returns that conversion, and the server lists one conversion of that type."""
    with ls_frames.Client(label_studio.url, label_studio.admin_key) as direct:
        export = direct.create_export(seeded.project, title="convert storm")
    proxy.script(r"/convert$", status(502, forward=True), status(503))
    with make_client(proxy.url, label_studio.admin_key, sleeps) as client:
        conversion = client.get_export(seeded.project, export.id).convert("TSV")
        conversion.wait(timeout=60, poll_interval=0.05)
    assert conversion.status is ls_frames.ExportStatus.COMPLETED
    with ls_frames.Client(label_studio.url, label_studio.admin_key) as direct:
        formats = direct.get_export(seeded.project, export.id).converted_formats
    assert [f.export_type for f in formats].count("TSV") == 1
