"""Generated tests that check they really ran, each on its own.

``run_counted(test, counter, family, minimum)`` calls a ``@given`` test (Hypothesis runs all
its examples in that call) and fails unless the test counted at least ``minimum`` cases of
``family`` in ``counter`` during the call, so the check holds whatever else runs, in any
order, under any ``-k`` selection.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any


def run_counted(test: Callable[..., None], counter: Counter[str], family: str, minimum: int,
                **fixtures: Any) -> int:
    """Runs ``test(**fixtures)``; returns how many ``family`` cases it counted."""
    before = counter[family]
    test(**fixtures)
    ran = counter[family] - before
    assert ran >= minimum, f"{family}: {ran} generated cases ran, at least {minimum} expected"
    return ran
