"""Fixtures of the fault suites: one seeded project, a fresh proxy per test, fast retries.

Needs the session fixtures ``label_studio`` and ``api_key`` of ``tests/conftest.py``.
"""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

import ls_frames
from tests.faults.proxy import FaultProxy

#: Timeouts of the clients under test: a stall longer than ``READ_TIMEOUT`` is a fault.
READ_TIMEOUT = 1.5
N_TASKS = 160

CONFIG = """<View>
  <Text name="text" value="$text"/>
  <Choices name="sentiment" toName="text"><Choice value="pos"/><Choice value="neg"/></Choices>
  <Labels name="ner" toName="text"><Label value="PER"/><Label value="ORG"/></Labels>
</View>"""


def _task(i: int, rng: random.Random) -> dict[str, Any]:
    words = " ".join(
        rng.choice(["alpha", "beta", "gamma", "delta", "épsilon", "ζήτα"]) for _ in range(120)
    )
    result = [
        {
            "id": f"s{i}",
            "from_name": "sentiment",
            "to_name": "text",
            "type": "choices",
            "value": {"choices": [rng.choice(["pos", "neg"])]},
        },
        {
            "id": f"n{i}",
            "from_name": "ner",
            "to_name": "text",
            "type": "labels",
            "value": {"start": 0, "end": 5, "text": words[:5], "labels": ["PER"]},
        },
    ]
    return {
        "data": {"text": words, "n": i},
        "annotations": [{"result": result, "was_cancelled": False, "ground_truth": False}],
    }


@dataclass
class Seeded:
    """The project the fault suites share, and a reference copy of its snapshot."""

    project: int
    export_id: int
    md5: str
    body: bytes
    csv: bytes = field(repr=False, default=b"")

    @property
    def download_path(self) -> str:
        return f"api/projects/{self.project}/exports/{self.export_id}/download"


class Sleeps:
    """A ``RetryPolicy.sleep`` that records each wait and sleeps at most ``cap`` seconds."""

    def __init__(self, cap: float = 0.02) -> None:
        self.cap = cap
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)
        time.sleep(min(seconds, self.cap))


@pytest.fixture(scope="session")
def seeded(label_studio: Any) -> Iterator[Seeded]:
    """A project of a few hundred KB with one completed snapshot (made without the proxy)."""
    rng = random.Random(5)
    with ls_frames.Client(label_studio.url, label_studio.admin_key) as admin:
        pid = admin.post_json("api/projects", {"title": "fault suites", "label_config": CONFIG})[
            "id"
        ]
        admin.post_json(f"api/projects/{pid}/import", [_task(i, rng) for i in range(N_TASKS)])
        export = admin.create_export(pid, title="reference").wait(timeout=120, poll_interval=0.2)
        body = admin.request(
            "GET", f"api/projects/{pid}/exports/{export.id}/download", params={"exportType": "JSON"}
        ).content
        assert hashlib.md5(body).hexdigest() == export.md5
        csv = admin.request(
            "GET", f"api/projects/{pid}/exports/{export.id}/download", params={"exportType": "CSV"}
        ).content
        assert export.md5 is not None
        yield Seeded(pid, export.id, export.md5, body, csv)
        admin.request("DELETE", f"api/projects/{pid}/")


@pytest.fixture
def proxy(label_studio: Any) -> Iterator[FaultProxy]:
    with FaultProxy(label_studio.url, lifetime=150, max_requests=3000) as p:
        yield p


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


def make_client(
    url: str, key: str, sleeps: Sleeps, *, attempts: int = 5, read_timeout: float = READ_TIMEOUT
) -> ls_frames.Client:
    """A client with short timeouts and retries whose waits are recorded, not slept."""
    policy = ls_frames.RetryPolicy(attempts=attempts, sleep=sleeps)
    return ls_frames.Client(
        url, key, http_timeout=httpx.Timeout(read_timeout, connect=2.0), retry=policy
    )


def files_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


def pytest_terminal_summary(terminalreporter: Any) -> None:
    from tests.faults.figures import FIGURES

    if not FIGURES:
        return
    terminalreporter.section("fault-suite figures")
    for suite, counter in sorted(FIGURES.items()):
        terminalreporter.line(
            f"{suite}: " + ", ".join(f"{k}={v}" for k, v in sorted(counter.items()))
        )
