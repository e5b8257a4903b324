"""The gate of fetch_media's parallel requests (ls_frames.media.pace): fixed when the
caller gives ``workers``, adaptive by default, driven here by a simulated server and a
simulated clock, and never more requests at once than its level; and the mistakes
fetch_media refuses before any request."""

from __future__ import annotations

import threading
import time
from contextlib import ExitStack
from pathlib import Path

import pytest

import ls_frames
from ls_frames.errors import ConfigurationError
from ls_frames.media.api import _pace, check_fields
from ls_frames.media.pace import DEFAULT_LIMIT, WINDOW_FILES, Pace


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def run(pace: Pace, clock: Clock, capacity: int, *, size: int = 100_000, rounds: int = 400) -> None:
    """A server that serves ``capacity`` requests in parallel, each in 10 ms of its time:
    ``level`` requests started together end after ``10 ms * ceil(level / capacity)``."""
    for _ in range(rounds):
        level = pace.level
        with ExitStack() as stack:
            starts = [stack.enter_context(pace.slot()) for _ in range(level)]
            clock.now += 0.010 * -(-level // capacity)
        for started in starts:
            pace.done(started, size)
        if pace.settled:
            return


@pytest.mark.parametrize(
    ("capacity", "expected"), [(1, 1), (2, 2), (4, 4), (8, 8), (64, DEFAULT_LIMIT)]
)
def test_settles_where_more_requests_stop_paying_off(capacity: int, expected: int) -> None:
    clock = Clock()
    pace = Pace(DEFAULT_LIMIT, adapt=True, clock=clock)
    assert pace.level == 1 and not pace.settled
    run(pace, clock, capacity)
    assert pace.settled
    assert pace.level == expected
    # every level tried was measured, and the one kept is the best of them
    assert pace.rates[pace.level] == max(pace.rates.values())


def test_a_small_gain_is_not_worth_twice_the_requests() -> None:
    """A doubling that gains less than 15 % goes back (noise stays below that)."""
    clock = Clock()
    pace = Pace(DEFAULT_LIMIT, adapt=True, clock=clock)
    # a server 10 % faster with two requests in flight than with one
    for _ in range(400):
        level = pace.level
        with ExitStack() as stack:
            starts = [stack.enter_context(pace.slot()) for _ in range(level)]
            clock.now += 0.010 * level / (1.10 if level > 1 else 1.0)
        for started in starts:
            pace.done(started, 100_000)
        if pace.settled:
            break
    assert pace.settled and pace.level == 2  # 2 measured faster, but not doubled again
    assert set(pace.rates) == {1, 2}


def test_fixed_workers_never_change() -> None:
    clock = Clock()
    pace = Pace(3, adapt=False, clock=clock)
    assert pace.level == 3 and pace.settled
    run(pace, clock, capacity=64)
    assert pace.level == 3 and pace.rates == {}


def test_requests_started_at_the_previous_level_do_not_count() -> None:
    clock = Clock()
    pace = Pace(8, adapt=True, clock=clock)
    with pace.slot() as early:
        pass
    clock.now += 1.0
    # a window: WINDOW_FILES requests of the level, the first completed early one ignored
    pace._begin()
    pace.done(early, 10**9)  # started before the window: would inflate the rate
    assert pace._count == 0
    for _ in range(WINDOW_FILES):
        with pace.slot() as started:
            clock.now += 0.05
        pace.done(started, 1000)
    assert pace.level == 2 and pace.rates[1] < 10**8


def test_never_more_at_once_than_the_level() -> None:
    """Threads wait for a slot: with 16 threads and a level of 3, at most 3 run."""
    pace = Pace(3, adapt=False)
    lock = threading.Lock()
    running = peak = 0

    def work() -> None:
        nonlocal running, peak
        with pace.slot():
            with lock:
                running += 1
                peak = max(peak, running)
            time.sleep(0.005)
            with lock:
                running -= 1

    threads = [threading.Thread(target=work) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert not any(t.is_alive() for t in threads)
    assert peak == 3


@pytest.mark.parametrize("bad", [0, -2, 1.5, "4", True])
def test_workers_must_be_a_whole_number_or_none(bad: object) -> None:
    with pytest.raises(ConfigurationError, match="workers must be a whole number >= 1, or None"):
        _pace(bad)


def test_none_adapts_up_to_eight() -> None:
    pace = _pace(None)
    assert pace.limit == DEFAULT_LIMIT == 8 and pace.level == 1 and not pace.settled
    assert _pace(5).level == 5


# -- mistakes refused before any request ------------------------------------------------

TASKS = [
    {"id": 1, "data": {"image": "/data/upload/1/a.png", "caption": "a"}},
    {"id": 2, "data": {"image": "/data/upload/1/b.png"}},
]


def test_a_misspelt_field_is_refused_with_the_keys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No task holds ``imgae``: a silent empty table would look like a project without
    images. Refused before a client is made (none could be: no server in the environment)."""
    monkeypatch.delenv("LABEL_STUDIO_URL", raising=False)
    with pytest.raises(ConfigurationError, match="no task's data has the key 'imgae'") as err:
        ls_frames.fetch_media(TASKS, tmp_path / "media", fields=["imgae"], progress=False)
    assert "did you mean 'image'?" in str(err.value) and "'caption'" in str(err.value)
    assert not (tmp_path / "media").exists()  # nothing made either


def test_a_field_some_tasks_lack_is_fine() -> None:
    """Only a key no task has is refused (``caption`` is in task 1 only)."""
    check_fields(TASKS, ["caption", "image"])
    check_fields([], ["anything"])  # no tasks: nothing to compare with
    with pytest.raises(ConfigurationError, match="'sound'"):
        check_fields(TASKS, "sound")


def test_a_file_where_the_cache_belongs_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LABEL_STUDIO_URL", raising=False)
    target = tmp_path / "notes.txt"
    target.write_text("mine")
    with pytest.raises(ConfigurationError, match="is a file, not a folder"):
        ls_frames.fetch_media(TASKS, target, progress=False)
    assert target.read_text() == "mine"
