"""One switch for every progress bar ls_frames draws.

Bars are on by default. Turn them off for one call with ``progress=False``, or everywhere with
the environment variable ``LS_FRAMES_DISABLE_PROGRESS_BARS=1`` (or tqdm's own ``TQDM_DISABLE``).
"""

from __future__ import annotations

import os
from typing import Any

from tqdm.auto import tqdm

_TRUE = {"1", "true", "yes", "on"}


def progress_enabled(progress: bool | None = None) -> bool:
    """Resolve a ``progress=`` argument against the environment switch."""
    if progress is not None:
        return progress
    return os.environ.get("LS_FRAMES_DISABLE_PROGRESS_BARS", "").strip().lower() not in _TRUE


def progress_bar(progress: bool | None = None, **kwargs: Any) -> tqdm:
    """A ``tqdm.auto`` bar that honours the switch (disabled bars cost nothing)."""
    kwargs.setdefault("leave", False)
    return tqdm(disable=not progress_enabled(progress), **kwargs)
