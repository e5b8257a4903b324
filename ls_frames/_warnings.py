"""Warnings issued by ls_frames (the public names are re-exported from ``ls_frames``).

Every warning the library issues on purpose derives from :class:`LSFramesWarning`::

    UserWarning
    └── LSFramesWarning               a warning of ls_frames (filter them all with it)
        ├── MalformedResultWarning    an export held malformed result items: kept, counted
        │                             and reported once at the end of the read
        ├── PartialResultWarning      a result is missing some of what was asked: files
        │                             fetch_media could not fetch, tasks a dataset left out
        ├── SnapshotFallbackWarning   source="auto" read the project through the paged
        │                             task list: the server killed the snapshot's build
        └── SplitShareWarning         ``split`` gave a split a share of the tasks far from
                                      its fraction (few or uneven groups)

Filter them as any warning: ``warnings.simplefilter("error", ls_frames.LSFramesWarning)``
turns them into exceptions, ``"ignore"`` silences them.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Mapping

__all__ = [
    "LSFramesWarning",
    "MalformedResultWarning",
    "PartialResultWarning",
    "SnapshotFallbackWarning",
    "SplitShareWarning",
    "count_reasons",
    "warn_outside",
]

_PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep


class LSFramesWarning(UserWarning):
    """Base class of the warnings ls_frames issues."""


class MalformedResultWarning(LSFramesWarning):
    """An export held result items Label Studio does not write: a ``value`` that is not a
    JSON object, no ``from_name`` or ``type``, a coordinate that is not a number, an image
    size that is not an integer, or a value that had to be converted (or dropped) to fit
    its typed column.

    The rows were kept (``value_json`` holds the export's exact text). ``counts`` maps each
    kind to its number of items; the message names the first task and item of each kind.
    ``strict=True`` raises :class:`~ls_frames.ExportFormatError` instead.
    """

    def __init__(self, message: str, counts: Mapping[str, int] | None = None) -> None:
        super().__init__(message)
        self.counts: dict[str, int] = dict(counts or {})


class PartialResultWarning(LSFramesWarning):
    """A call returned normally but without some of what it was asked for: files
    :func:`~ls_frames.fetch_media` could not fetch (their rows carry an ``error``), tasks
    :func:`~ls_frames.to_hf_dataset` left out with ``on_error="skip"``.

    ``failed`` of ``total`` items (``what``: ``"files"``, ``"tasks"``) are missing;
    ``reasons`` maps each reason to its number of items, most common first. Issued once per
    call; ``strict=True`` (``fetch_media``) or ``on_error="raise"`` (``to_hf_dataset``)
    raise instead.
    """

    def __init__(
        self,
        message: str,
        *,
        failed: int = 0,
        total: int = 0,
        reasons: Mapping[str, int] | None = None,
    ) -> None:
        super().__init__(message)
        self.failed, self.total = failed, total
        self.reasons: dict[str, int] = dict(reasons or {})

    @classmethod
    def of(
        cls,
        failed: int,
        total: int,
        what: str,
        reasons: Mapping[str, int],
        done: str,
        then: str = "",
    ) -> PartialResultWarning:
        """``"7 of 8 files could not be fetched: 5 connection failed (...), 2 HTTP 404"``:
        the reasons most common first (``done`` says what happened to the items, ``then``
        what to do, after a semicolon)."""
        return cls(
            f"{failed:,} of {total:,} {what} {done}: {count_reasons(reasons)}"
            + (f"; {then}" if then else ""),
            failed=failed,
            total=total,
            reasons=dict(sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))),
        )


class SnapshotFallbackWarning(LSFramesWarning):
    """``source="auto"`` read a project through the paged task list instead of a
    snapshot: the server stopped the snapshot's build (a 5xx answer with the snapshot left
    ``in_progress``, or a gateway's 502/504 whose snapshot did not complete within the
    stall limit: typically a worker timeout such as uwsgi's ``harakiri``). The stuck
    snapshot was deleted. The tables are the same; the provenance's ``route`` is
    ``"tasks"`` and ``route_reason`` says why.

    ``project`` is the project's id, ``snapshot_id`` the deleted snapshot's (``None`` when
    none was left), ``reason`` what happened. Issued once per call; pass
    ``source="tasks"`` to skip the snapshot on such a server.
    """

    def __init__(
        self, message: str, *, project: int, reason: str, snapshot_id: int | None = None
    ) -> None:
        super().__init__(message)
        self.project, self.reason, self.snapshot_id = project, reason, snapshot_id


def count_reasons(reasons: Mapping[str, int], shown: int = 5) -> str:
    """``"5 connection failed (http://ls:8080), 2 HTTP 404, 1 other"``: the ``shown`` most
    common reasons with their numbers, the rest counted together."""
    ranked = sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))
    parts = [f"{n:,} {why}" for why, n in ranked[:shown]]
    rest = sum(n for _, n in ranked[shown:])
    if rest:
        parts.append(f"{rest:,} for {len(ranked) - shown} other reason(s)")
    return ", ".join(parts)


def warn_outside(warning: Warning) -> None:
    """Issue ``warning`` at the first frame outside the ls_frames package (the user's
    line), however deep in the library (generators included) it was found."""
    frame = sys._getframe(1)
    level = 2
    while frame.f_back is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        frame = frame.f_back
        level += 1
    warnings.warn(warning, stacklevel=level)


class SplitShareWarning(LSFramesWarning):
    """:func:`~ls_frames.split` gave a split a share of the tasks far from its fraction:
    off by more than 2 percentage points and by more than hashing the same tasks one by
    one would be (3 standard deviations of that draw). It comes from splitting few groups,
    or a few large ones, by hash; the assignment is kept as it is (it stays stable when
    the project grows, which re-balancing would break).

    ``shares`` and ``fractions`` map each split to its realised share of the tasks and to
    the fraction asked; ``groups`` and ``tasks`` count what was split.
    """

    def __init__(
        self,
        message: str,
        *,
        shares: Mapping[str, float],
        fractions: Mapping[str, float],
        groups: int,
        tasks: int,
    ) -> None:
        super().__init__(message)
        self.shares: dict[str, float] = dict(shares)
        self.fractions: dict[str, float] = dict(fractions)
        self.groups = groups
        self.tasks = tasks
