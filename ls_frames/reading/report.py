"""Malformed result items: found column by column, counted by kind, reported once.

The flattener keeps every result item; what Label Studio never writes is noted here
instead of being changed silently. :class:`Findings` collects, for one chunk, the items
(by their place in the chunk's list of result items) each check flagged; the flattener
turns them into a :class:`MalformedReport` (counts by kind, the first item of each kind),
which crosses process boundaries and merges chunk after chunk. At the end of a read the
report becomes one :class:`~ls_frames.MalformedResultWarning`, or, with ``strict=True``,
its first item an :class:`~ls_frames.ExportFormatError`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
from numpy.typing import NDArray

from ls_frames._warnings import MalformedResultWarning
from ls_frames.errors import ExportFormatError
from ls_frames.reading.values import COORDINATES

__all__ = ["KINDS", "Findings", "MalformedReport", "Where"]

#: The kinds of malformed items, in the order a report lists them, with what they mean.
KINDS: dict[str, str] = {
    "value_not_object": "a value that is not a JSON object",
    "missing_from_name": "no from_name",
    "missing_type": "no type",
    "coordinate_not_number": "a coordinate that is not a number",
    "image_size_not_integer": "an image size that is not an integer",
    "converted": "a value converted or dropped to fit its column",
}

IMAGE_SIZES = frozenset({"original_width", "original_height"})


@dataclass(frozen=True)
class Where:
    """Where a malformed result item is: its task (index in the export's array and id),
    the annotation, prediction or draft holding it, its index in that result list, and
    the column that showed the problem."""

    task_index: int
    task_id: int | None
    source: str
    source_id: int | None
    result_index: int
    column: str
    #: the item's place in its chunk: orders the items of one task (not compared)
    order: int = field(default=0, compare=False, repr=False)

    def describe(self) -> str:
        task = f"task {self.task_id}" if self.task_id is not None else "a task without id"
        return (
            f"{task} (index {self.task_index}), {self.source} {self.source_id}, "
            f"result {self.result_index}, column {self.column!r}"
        )

    def _key(self) -> tuple[int, int]:
        return self.task_index, self.order


@dataclass
class MalformedReport:
    """Malformed result items of a read: ``counts`` by kind, ``first`` item of each kind."""

    counts: dict[str, int] = field(default_factory=dict)
    first: dict[str, Where] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.counts)

    def add(self, kind: str, count: int, item: Where) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + count
        known = self.first.get(kind)
        if known is None or item._key() < known._key():
            self.first[kind] = item

    def merge(self, other: MalformedReport) -> None:
        for kind, count in other.counts.items():
            self.add(kind, count, other.first[kind])

    def shifted(self, tasks: int) -> MalformedReport:
        """The same report with task indexes counted ``tasks`` further (a chunk's first)."""
        first = {k: replace(it, task_index=it.task_index + tasks) for k, it in self.first.items()}
        return MalformedReport(dict(self.counts), first)

    def _kinds(self) -> list[str]:
        return [k for k in KINDS if k in self.counts]

    def warning(self) -> MalformedResultWarning:
        total = sum(self.counts.values())
        parts = [
            f"{self.counts[k]} with {KINDS[k]} (first: {self.first[k].describe()})"
            for k in self._kinds()
        ]
        return MalformedResultWarning(
            f"{total} malformed result item{'s' if total != 1 else ''} kept as read "
            f"(value_json holds the export's text; strict=True raises instead): "
            + "; ".join(parts),
            self.counts,
        )

    def error(self, path: str | None = None) -> ExportFormatError:
        """The first malformed item (in file order) as an :class:`ExportFormatError`."""
        kind = min(self._kinds(), key=lambda k: self.first[k]._key())
        item = self.first[kind]
        return ExportFormatError(
            f"malformed result item with {KINDS[kind]}: {item.describe()}",
            task_index=item.task_index,
            path=path,
        )


class Findings:
    """Items flagged in one chunk: kind -> ``(column, item positions)`` in check order.

    A check that finds nothing adds nothing, so a clean chunk costs one empty dict.
    """

    def __init__(self) -> None:
        self.flags: dict[str, list[tuple[str, NDArray[np.int64]]]] = {}

    def flag(self, kind: str, column: str, positions: NDArray[np.int64] | list[int]) -> None:
        """Note items (places in the chunk's list of result items) found to be ``kind``."""
        at = np.asarray(positions, dtype=np.int64)
        if at.size:
            self.flags.setdefault(kind, []).append((column, at))

    def flag_columns(self, changed: dict[str, list[int]], rows: NDArray[np.int64]) -> None:
        """Note the values converted to fit their column (``changed``: column -> rows of
        the batch; ``rows``: each row's place in the chunk), each under its column's kind."""
        for column, odd in changed.items():
            if column in COORDINATES:
                kind = "coordinate_not_number"
            elif column in IMAGE_SIZES:
                kind = "image_size_not_integer"
            else:
                kind = "converted"
            self.flag(kind, column, rows[np.asarray(odd, dtype=np.int64)])

    def summary(self) -> dict[str, tuple[int, int, str]]:
        """kind -> (number of items, first item's position, the column showing it)."""
        out: dict[str, tuple[int, int, str]] = {}
        for kind, found in self.flags.items():
            every = np.unique(np.concatenate([at for _, at in found]))
            first = int(every[0])
            column = next(c for c, at in found if first in at)
            out[kind] = (len(every), first, column)
        return out
