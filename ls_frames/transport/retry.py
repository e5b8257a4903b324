"""When to repeat a request, and how long to wait first.

Repeated: connect errors that may pass on a retry (resets, timeouts; not a refused
connection, a name that does not resolve or a failed TLS handshake: those end at once),
read timeouts, 408, 429 (``Retry-After`` honoured) and 502/503/504, for requests that are
safe to repeat (GET, HEAD, OPTIONS, PUT, DELETE, and any request the caller marks as such).
A request that creates something (POST, PATCH) is never repeated blindly: only when the
failure proves the server did not act on it (no connection, a 429 refusal, a failed token
refresh in front of it). Otherwise the layer above decides how to recover (for a snapshot,
by listing the snapshots to find the one the server finished).
"""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

__all__ = ["RETRY_STATUSES", "SAFE_METHODS", "RetryPolicy"]

RETRY_STATUSES = frozenset({408, 429, 502, 503, 504})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})


@dataclass
class RetryPolicy:
    """Capped exponential backoff with full jitter.

    ``attempts`` counts every try, the first included. The wait before try ``n`` (1-based
    retries) is a random value in ``[0, min(cap, base * 2**(n-1))]``, or the server's
    ``Retry-After`` when it sends one (capped at ``max_retry_after``). ``sleep`` is
    injectable so tests never wait.
    """

    attempts: int = 5
    base: float = 0.5
    cap: float = 20.0
    max_retry_after: float = 120.0
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)
    rng: Callable[[], float] = field(default=random.random, repr=False)

    def retryable_status(self, status: int) -> bool:
        return status in RETRY_STATUSES

    def delay(self, retry: int, response: httpx.Response | None = None) -> float:
        """Seconds to wait before retry number ``retry`` (1 for the first retry)."""
        if response is not None:
            after = parse_retry_after(response.headers.get("Retry-After"))
            if after is not None:
                return min(after, self.max_retry_after)
        return float(self.rng() * min(self.cap, self.base * 2 ** (retry - 1)))


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
