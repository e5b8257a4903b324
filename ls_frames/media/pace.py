"""How many files are fetched at once: fixed when the caller says, else as many as pay off.

Parallel requests help a server that answers in parallel (several worker processes, object
storage, a CDN) and cost something against one that does not: Label Studio's development
server answers from one process under one interpreter lock, and eight requests at once
there took 1.12x the time of one at a time (``benchmarks/bench_media.py``). So with
``workers=None`` the number adapts (:class:`Pace`): it starts at one and doubles while
doubling raises the download rate by :data:`GAIN` or more, up to its limit; when a
doubling gains less, it goes back to the better of the two levels and stays there.

The rate is measured over windows of at least :data:`WINDOW_FILES` requests and
:data:`WINDOW_SECONDS`, counting only requests started inside the window (those started
at the level before would flatter it), as bytes received plus :data:`REQUEST_WEIGHT` per
request, so that a mix of small and large files compares fairly. Files served from the
cache (no request) are not counted.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = ["DEFAULT_LIMIT", "GAIN", "Pace"]

#: The most requests at once when the caller does not say.
DEFAULT_LIMIT = 8
#: A doubling is kept when the rate rises at least this much (noise stays below it).
GAIN = 1.15
WINDOW_FILES = 24
WINDOW_SECONDS = 0.5
#: What one request weighs besides its bytes (a server's per-request cost, in bytes).
REQUEST_WEIGHT = 64 * 1024


class Pace:
    """A gate of ``level`` slots; ``adapt=False`` keeps ``level == limit``.

    A thread takes a slot around each request (:meth:`slot`, which yields the request's
    start time) and reports the request with :meth:`done`.
    """

    def __init__(
        self, limit: int, *, adapt: bool, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = max(1, int(limit))
        self.level = 1 if adapt else self.limit
        self.settled = not adapt or self.limit == 1
        #: the rate measured at each level tried (work units per second)
        self.rates: dict[int, float] = {}
        self._clock = clock
        self._cond = threading.Condition()
        self._active = 0
        self._begin()

    def _begin(self) -> None:
        self._start = self._clock()
        self._work = 0.0
        self._count = 0

    @contextmanager
    def slot(self) -> Iterator[float]:
        """Wait for a free slot; yields the time the request starts."""
        with self._cond:
            while self._active >= self.level:
                self._cond.wait()
            self._active += 1
            started = self._clock()
        try:
            yield started
        finally:
            with self._cond:
                self._active -= 1
                self._cond.notify()

    def done(self, started: float, received: int) -> None:
        """A request that started at ``started`` (from :meth:`slot`) ended, ``received``
        bytes read; may change the level."""
        with self._cond:
            if self.settled or started < self._start:
                return
            self._work += received + REQUEST_WEIGHT
            self._count += 1
            elapsed = self._clock() - self._start
            if self._count < WINDOW_FILES or elapsed < WINDOW_SECONDS:
                return
            rate = self._work / elapsed
            self.rates[self.level] = rate
            lower = self.rates.get(self.level // 2) if self.level > 1 else None
            if lower is not None and rate < lower * GAIN:
                if lower >= rate:
                    self.level //= 2
                self.settled = True
            elif self.level >= self.limit:
                self.settled = True
            else:
                self.level = min(self.level * 2, self.limit)
                self._cond.notify_all()
            self._begin()
