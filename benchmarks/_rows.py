"""The machine-readable result line every benchmark prints for ``make bench``'s table."""

from __future__ import annotations

import json
from typing import Any


def result_row(name: str, ratio: float, goal: float | None = None, **more: Any) -> None:
    """Print ``RESULT-ROW {json}``: ``name`` says what is compared with what, ``ratio`` how
    many times faster ls_frames was (the user's time over ours), ``goal`` the ratio asked
    for (None: none), ``more`` the figures behind it (seconds, MB, ...)."""
    row = {"name": name, "ratio": round(ratio, 2), "goal": goal, **more}
    print("RESULT-ROW " + json.dumps(row), flush=True)
