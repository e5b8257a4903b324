"""Generated tests that check they really ran, each on its own.

``run_counted(test, counter, family, max_examples)`` calls a ``@given`` test (Hypothesis runs
all its examples in that call) and fails unless the test counted at least 90% of
``examples(max_examples)`` cases of ``family`` in ``counter`` during the call, so the check
holds whatever else runs, in any order, under any ``-k`` selection.

``examples(n)`` is ``n``, or a fifth of it under ``LS_FRAMES_QUICK_FUZZ=1`` (``make check``
sets it; ``make test`` runs every case).
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable
from typing import Any


def examples(n: int) -> int:
    """How many cases a generated test with ``max_examples=n`` runs in this session."""
    return max(20, n // 5) if os.environ.get("LS_FRAMES_QUICK_FUZZ") else n


def run_counted(
    test: Callable[..., None],
    counter: Counter[str],
    family: str,
    max_examples: int,
    **fixtures: Any,
) -> int:
    """Runs ``test(**fixtures)``; returns how many ``family`` cases it counted."""
    minimum = examples(max_examples) * 9 // 10
    before = counter[family]
    test(**fixtures)
    ran = counter[family] - before
    assert ran >= minimum, f"{family}: {ran} generated cases ran, at least {minimum} expected"
    return ran
