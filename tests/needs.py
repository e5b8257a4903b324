"""A test whose tool is missing: skipped when a developer runs a selection by hand,
failed under ``make test`` (which installs everything and sets LS_FRAMES_REQUIRE_ALL) or
in CI, so a broken install step can never pass as a skip."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def missing(what: str) -> NoReturn:
    message = f"{what} is missing (`make test` installs it)"
    if os.environ.get("LS_FRAMES_REQUIRE_ALL") or os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)
