"""Downloads cut at random offsets: every file ends complete and verified, or the call raises a
typed error and leaves nothing behind.

Sixty seeded trials through the fault proxy over three kinds of download: the snapshot JSON
(MD5 known), its CSV conversion (no MD5: the length has to prove it) and the deprecated easy
export (ignores ``Range``: a resume has to start over). Each trial breaks the connection a few
times (FIN or RST at a random body offset, a stall past the read timeout in the middle of the
body, a 5xx on the way); one in eight breaks it more often than the resume budget allows.
"""

from __future__ import annotations

import hashlib
import random
import time
from pathlib import Path
from typing import Any

import pytest

import ls_frames
from ls_frames.exports.download import MAX_RESUMES
from tests.faults.conftest import Seeded, Sleeps, files_in, make_client
from tests.faults.figures import count
from tests.faults.proxy import Fault, FaultProxy, cut, stall, status

pytestmark = pytest.mark.server

TRIALS = int(__import__("os").environ.get("FAULT_TRIALS", "60"))
SEED = 20260523
STALL = 60.0  # far longer than the read timeout: only the client's timeout ends it


def _plan(rng: random.Random, trial: int, size: int) -> tuple[list[Fault], bool]:
    """The faults for one trial's download requests, and whether it must fail."""
    if trial % 8 == 7:  # more breaks than the resume budget
        return [
            cut(rng.randrange(0, 2000), hard=rng.random() < 0.5) for _ in range(MAX_RESUMES + 3)
        ], True
    edges = {0: 0, 1: 1, 2: size - 1}
    faults: list[Fault] = []
    for k in range(rng.choice([1, 1, 2, 2, 3, 4])):
        offset = edges.get(trial, rng.randrange(0, size)) if k == 0 else rng.randrange(0, size)
        r = rng.random()
        if r < 0.45:
            faults.append(cut(offset))
        elif r < 0.8:
            faults.append(cut(offset, hard=True))
        elif r < 0.92:
            faults.append(status(rng.choice([502, 503, 504]), "gateway trouble"))
        else:
            faults.append(stall(STALL, at=offset))
    return faults, False


def test_downloads_cut_at_random_offsets(
    label_studio: Any, seeded: Seeded, proxy: FaultProxy, sleeps: Sleeps, tmp_path: Path
) -> None:
    rng = random.Random(SEED)
    with ls_frames.Client(label_studio.url, label_studio.admin_key) as direct:
        easy_ref = direct.request(
            "GET",
            f"api/projects/{seeded.project}/export",
            params={"exportType": "JSON", "download_all_tasks": "true"},
        ).content
    refs = {"json": seeded.body, "csv": seeded.csv, "easy": easy_ref}
    problems: list[str] = []
    outcomes: dict[str, int] = {}
    with make_client(proxy.url, label_studio.admin_key, sleeps) as client:
        export = client.get_export(seeded.project, seeded.export_id)
        for trial in range(TRIALS):
            kind = ("json", "csv", "json", "easy", "json", "csv", "json", "json")[trial % 8]
            faults, must_fail = _plan(rng, trial, len(refs[kind]))
            proxy.clear()
            proxy.script(r"/download$|/export$", *faults)
            target = tmp_path / f"t{trial:02d}"
            target.mkdir()
            first = len(proxy.log)
            started = time.monotonic()
            what = f"trial {trial} ({kind}): {[f.name for f in faults]}"
            try:
                if kind == "easy":
                    path = client.easy_export(
                        seeded.project, target, download_all_tasks=True, progress=False
                    )
                else:
                    path = export.download(
                        target, "JSON" if kind == "json" else "CSV", progress=False
                    )
            except ls_frames.LSFramesError as exc:
                outcome = "failed-typed"
                if not must_fail:
                    problems.append(f"{what}: unexpected {exc!r}")
                if files_in(target):
                    problems.append(f"{what}: failed but left {files_in(target)}")
            else:
                ranged = [
                    e
                    for e in proxy.log[first:]
                    if e.sent_status == 206
                    and (e.request.header("Range") or "bytes=0-") != "bytes=0-"
                ]
                broken = len(proxy.log) - first > 1
                outcome = "resumed" if ranged else "restarted" if broken else "untouched"
                if must_fail:
                    problems.append(f"{what}: should have run out of resumes")
                if path.parent != target or files_in(target) != [path]:
                    problems.append(f"{what}: files {files_in(target)}, returned {path}")
                data = path.read_bytes()
                if data != refs[kind]:
                    problems.append(
                        f"{what}: {len(data)} bytes under the final name, "
                        f"expected {len(refs[kind])}"
                    )
                if kind == "json" and hashlib.md5(data).hexdigest() != seeded.md5:
                    problems.append(f"{what}: md5 differs")
            # A trial that lasted a whole stall waited it out instead of timing out. Not a
            # speed check: how long the server takes to build a download varies with load.
            elapsed = time.monotonic() - started
            if elapsed >= STALL:
                problems.append(f"{what}: took {elapsed:.1f} s (a stall outlived the read timeout)")
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
            count("download cuts", outcome)
            count("download cuts", "trials")
    assert files_in(tmp_path) == sorted(
        p for p in files_in(tmp_path) if p.parent.parent == tmp_path
    )
    assert not problems, "\n".join(problems)
    assert sum(outcomes.values()) == TRIALS >= 50
    assert outcomes.get("failed-typed", 0) == TRIALS // 8
    assert outcomes.get("resumed", 0) >= TRIALS // 3, outcomes


def test_a_416_to_the_first_range_means_an_empty_file(
    label_studio: Any, seeded: Seeded, proxy: FaultProxy, sleeps: Sleeps, tmp_path: Path
) -> None:
    """Every download starts with ``Range: bytes=0-``; a strict server answers 416 for an
    empty file. That is a complete (empty) file, not an error."""
    proxy.script(r"/download$", status(416, headers={"Content-Range": "bytes */0"}))
    with make_client(proxy.url, label_studio.admin_key, sleeps) as client:
        export = client.get_export(seeded.project, seeded.export_id)
        path = export.download(tmp_path, "CSV", progress=False)
    assert path.read_bytes() == b"" and files_in(tmp_path) == [path]


def test_a_416_that_lies_about_the_end_is_caught_by_the_md5(
    label_studio: Any, seeded: Seeded, proxy: FaultProxy, sleeps: Sleeps, tmp_path: Path
) -> None:
    proxy.script(r"/download$", cut(5000), status(416, headers={"Content-Range": "bytes */5000"}))
    with make_client(proxy.url, label_studio.admin_key, sleeps) as client:
        export = client.get_export(seeded.project, seeded.export_id)
        with pytest.raises(ls_frames.ChecksumMismatch):
            export.download(tmp_path, progress=False)
    assert files_in(tmp_path) == []
