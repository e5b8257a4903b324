"""Figures the fault suites measure, printed at the end of the run (see conftest)."""

from __future__ import annotations

from collections import Counter

FIGURES: dict[str, Counter[str]] = {}


def count(suite: str, what: str, n: int = 1) -> None:
    FIGURES.setdefault(suite, Counter())[what] += n
