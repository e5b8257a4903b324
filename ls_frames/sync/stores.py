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
from ls_frames.provenance import Provenance, SyncState
from ls_frames.tables import to_parquet
from ls_frames.tables.dataset import (
    dataset_task_ids,
    dataset_task_stamps,
    read_manifest,
    recover,
    upsert_tasks,
)
from ls_frames.tables.dtypes import Compression

__all__ = ["ParquetStore", "State", "Store", "Written", "sync_state"]


@dataclass(frozen=True, kw_only=True)
class State:
    """What a store holds before a run: the provenance the last run left, its sync state
    (the watermark and the run history) and rows per table."""

    provenance: Provenance
    sync: SyncState
    rows: dict[str, int] = field(default_factory=dict)

    @classmethod
    def read(cls, provenance: Mapping[str, Any] | None, rows: dict[str, int]) -> State | None:
        """The state of a dataset whose stored provenance is ``provenance`` (any shape an
        ls_frames release wrote), or ``None`` when no sync run wrote it."""
        if not isinstance(provenance, Mapping):
            return None
        typed = Provenance.from_dict(provenance)
        sync = sync_state(typed)
        return None if sync is None else cls(provenance=typed, sync=sync, rows=rows)


@dataclass(frozen=True, kw_only=True)
class Written:
    """What a store wrote: the dataset's task count and rows per table afterwards; a store
    that counts them adds its commits and the bytes and files it wrote and replaced."""

    task_count: int
    rows: dict[str, int]
    commits: int = 0
    bytes_written: int = 0
    bytes_removed: int = 0
    files_written: int = 0
    files_removed: int = 0


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
        self, export: Path, *, provenance: Provenance, label_config: str | None, scratch: Path
    ) -> Written:
        """Replace the dataset with the tables of the export file ``export``."""
        ...

    def write_changes(
        self,
        part: Path | None,
        *,
        drop_tasks: Sequence[int],
        provenance: Provenance,
        scratch: Path,
    ) -> Written:
        """Replace every row of the tasks in the Parquet dataset ``part`` and drop the rows
        of ``drop_tasks``."""
        ...


def sync_state(provenance: Provenance | None) -> SyncState | None:
    """The sync state in ``provenance`` when a sync run left it (with a watermark), else
    ``None``."""
    sync = None if provenance is None else provenance.sync
    return sync if sync is not None and sync.watermark else None


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
        state = None if info is None else State.read(info.get("provenance"), _rows(info))
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
        self, export: Path, *, provenance: Provenance, label_config: str | None, scratch: Path
    ) -> Written:
        to_parquet(
            export,
            self.path,
            provenance=provenance.to_dict(),
            label_config=label_config,
            overwrite=True,
            compression=self.compression,
            progress=self.progress,
        )
        info = read_manifest(self.path)
        return Written(task_count=int(info.get("task_count") or 0), rows=_rows(info))

    def write_changes(
        self,
        part: Path | None,
        *,
        drop_tasks: Sequence[int],
        provenance: Provenance,
        scratch: Path,
    ) -> Written:
        info = upsert_tasks(
            self.path,
            part,
            drop_tasks=drop_tasks,
            provenance=provenance,
            compression=self.compression,
        )
        return Written(task_count=int(info.get("task_count") or 0), rows=_rows(info))
