"""What a :func:`~ls_frames.fetch_media` run reports: its counts (``df.attrs["media"]``),
the one :class:`~ls_frames.PartialResultWarning` when files failed, or the
:class:`~ls_frames.errors.MediaError` of ``strict=True``."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from ls_frames._warnings import PartialResultWarning, warn_outside
from ls_frames.errors import MediaError
from ls_frames.media.fetch import FileOutcome
from ls_frames.media.references import Reference
from ls_frames.transport.secrets import redact

__all__ = ["raise_failures", "run_counts", "warn_partial"]

_STATUSES = ("downloaded", "cached", "not_modified", "unchanged", "failed")


def run_counts(
    outcomes: Iterable[FileOutcome], cache_dir: str | os.PathLike[str]
) -> dict[str, Any]:
    """What a run did, for ``df.attrs["media"]``."""
    outcomes = list(outcomes)
    counts: dict[str, Any] = {name: 0 for name in _STATUSES}
    for outcome in outcomes:
        counts[outcome.status] = int(counts[outcome.status]) + 1
    counts["bytes_downloaded"] = sum(o.downloaded_bytes for o in outcomes)
    reasons = Counter(o.reason() for o in outcomes if o.error is not None)
    counts["reasons"] = dict(reasons.most_common())
    counts["cache_dir"] = str(Path(cache_dir).expanduser().absolute())
    return counts


def warn_partial(table: pd.DataFrame) -> None:
    """Warn once (at the user's line) when the run behind ``table`` failed to fetch any
    file: how many of how many, and why (``attrs["media"]``)."""
    counts = table.attrs.get("media", {})
    failed = int(counts.get("failed", 0))
    if not failed:
        return
    total = sum(int(counts.get(k, 0)) for k in _STATUSES)
    warn_outside(
        PartialResultWarning.of(
            failed,
            total,
            "files",
            counts.get("reasons") or {},
            "could not be fetched",
            then="their rows name the reason in `error`; strict=True raises instead",
        )
    )


def raise_failures(refs: list[Reference], outcomes: list[FileOutcome]) -> None:
    """``fetch_media(strict=True)``: a :class:`~ls_frames.errors.MediaError` listing the
    failed references (redacted), if any."""
    failures = [
        (ref.task_id, ref.field, ref.position, redact(ref.uri), redact(str(outcome.error)))
        for ref, outcome in zip(refs, outcomes, strict=True)
        if outcome.error is not None
    ]
    if failures:
        raise MediaError(failures)
