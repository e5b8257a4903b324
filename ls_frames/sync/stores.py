"""Where a sync run keeps the tables: the :class:`Store` a run reads its state from and
writes to.

A run (:mod:`~ls_frames.sync.run`) asks the server and decides; a store answers
what the dataset holds (its provenance with the watermark and run history, its task ids,
their stamps) and writes what the run decided: the whole project (:meth:`Store.write_full`)
or some tasks' rows replaced and others dropped (:meth:`Store.write_changes`). Both take
Parquet datasets written by :func:`~ls_frames.tables.to_parquet` in the run's scratch
folder, so every store gets the same rows and types.

:class:`ParquetStore` is the ls_frames Parquet dataset (:mod:`~ls_frames.tables.dataset`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ls_frames.errors import ConfigurationError
from ls_frames.tables import to_parquet
from ls_frames.tables.dataset import (
    dataset_task_ids,
    dataset_task_stamps,
    read_manifest,
    recover,
    upsert_tasks,
)
from ls_frames.tables.dtypes import Compression

__all__ = ["ParquetStore", "State", "Store", "Written"]


@dataclass(frozen=True)
class State:
    """What a store holds before a run: the provenance the last run left (its
    ``provenance["sync"]`` has the watermark and the run history) and rows per table."""

    provenance: dict[str, Any]
    rows: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Written:
    """What a store wrote: the dataset's task count and rows per table afterwards, plus
    anything the store measures of its own (bytes written, a version, ...)."""

    task_count: int
    rows: dict[str, int]
    details: dict[str, Any] = field(default_factory=dict)


class Store(Protocol):
    """A place a sync run keeps the tables (see the module's docstring)."""

    #: what the messages call it (a folder, a URI)
    location: str

    def open(self, *, full: bool) -> State | None:
        """The dataset's state (``None`` when a full run is to write it). Raises
        :class:`~ls_frames.errors.ConfigurationError` when the place holds something a
        sync did not write and ``full`` is false."""
        ...

    def task_ids(self) -> list[int]:
        """The task ids the dataset holds."""
        ...

    def task_stamps(self, ids: Iterable[int], columns: Sequence[str]) -> dict[int, tuple[Any, ...]]:
        """``{task_id: (updated_at, *columns)}`` for those of ``ids`` the dataset holds."""
        ...

    def write_full(
        self, export: Path, *, provenance: dict[str, Any], label_config: str | None, scratch: Path
    ) -> Written:
        """Replace the dataset with the tables of the export file ``export``."""
        ...

    def write_changes(
        self,
        part: Path | None,
        *,
        drop_tasks: Sequence[int],
        provenance: dict[str, Any],
        scratch: Path,
    ) -> Written:
        """Replace every row of the tasks in the Parquet dataset ``part`` and drop the rows
        of ``drop_tasks``."""
        ...


def sync_state(provenance: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """``provenance["sync"]`` when it is a sync run's (has a watermark), else ``None``."""
    sync = (provenance or {}).get("sync")
    return sync if isinstance(sync, dict) and sync.get("watermark") else None


def _rows(info: dict[str, Any]) -> dict[str, int]:
    return {
        name: int((table or {}).get("rows") or 0)
        for name, table in (info.get("tables") or {}).items()
    }


class ParquetStore:
    """The ls_frames Parquet dataset in a local folder."""

    def __init__(
        self, out_dir: str | os.PathLike[str], *, compression: Compression, progress: bool | None
    ) -> None:
        self.path = Path(out_dir)
        self.location = str(self.path)
        self.compression: Compression = compression
        self.progress = progress

    def open(self, *, full: bool) -> State | None:
        out = self.path
        recover(out)  # a run killed between the two renames of its swap
        info = read_manifest(out) if (out / "_SUCCESS").is_file() else None
        state = None
        if info is not None and sync_state(info.get("provenance")) is not None:
            state = State(dict(info["provenance"]), _rows(info))
        if out.exists() and state is None and not full:
            raise ConfigurationError(
                f"{out} exists but is not a dataset written by sync_parquet; pass full=True "
                "to replace it"
            )
        out.parent.mkdir(parents=True, exist_ok=True)
        return None if full else state

    def task_ids(self) -> list[int]:
        return [int(i) for i in dataset_task_ids(self.path).to_pylist()]

    def task_stamps(self, ids: Iterable[int], columns: Sequence[str]) -> dict[int, tuple[Any, ...]]:
        return dataset_task_stamps(self.path, ids, columns)

    def write_full(
        self, export: Path, *, provenance: dict[str, Any], label_config: str | None, scratch: Path
    ) -> Written:
        to_parquet(
            export,
            self.path,
            provenance=provenance,
            label_config=label_config,
            overwrite=True,
            compression=self.compression,
            progress=self.progress,
        )
        info = read_manifest(self.path)
        return Written(int(info.get("task_count") or 0), _rows(info))

    def write_changes(
        self,
        part: Path | None,
        *,
        drop_tasks: Sequence[int],
        provenance: dict[str, Any],
        scratch: Path,
    ) -> Written:
        info = upsert_tasks(
            self.path,
            part,
            drop_tasks=drop_tasks,
            provenance=provenance,
            compression=self.compression,
        )
        return Written(int(info.get("task_count") or 0), _rows(info))
