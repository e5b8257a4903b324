"""Keep tables in step with a project: :func:`sync_parquet` (a Parquet dataset) and
:func:`sync_delta` (Delta Lake tables).

Modules: :mod:`~ls_frames.sync.plan` (the decisions, pure),
:mod:`~ls_frames.sync.search` (the server's task list, the deleted-task search),
:mod:`~ls_frames.sync.run` (a run: asks, decides, has the store write),
:mod:`~ls_frames.sync.stores` (where the tables are kept),
:mod:`~ls_frames.sync.parquet` (:func:`sync_parquet`),
:mod:`~ls_frames.sync.delta` (:func:`sync_delta`).
"""

from ls_frames.sync.delta import DeltaSyncResult, sync_delta
from ls_frames.sync.parquet import SyncResult, sync_parquet
from ls_frames.sync.search import find_deleted_tasks

__all__ = [
    "DeltaSyncResult",
    "SyncResult",
    "find_deleted_tasks",
    "sync_delta",
    "sync_parquet",
]
