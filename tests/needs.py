"""A test whose tool is missing fails, saying what to install: a skip would check nothing,
and a broken install step must never pass as one (``make test`` and ``make check``
install everything the suite uses)."""

from __future__ import annotations

from typing import NoReturn

import pytest


def missing(what: str) -> NoReturn:
    pytest.fail(f"{what} is missing (`make test` installs it)")
