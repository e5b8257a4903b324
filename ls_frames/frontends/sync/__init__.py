"""Keep tables in step with a project: :func:`sync_parquet` (a Parquet dataset) and
:func:`sync_delta` (Delta Lake tables).

Modules: :mod:`~ls_frames.frontends.sync.plan` (the decisions, pure),
:mod:`~ls_frames.frontends.sync.search` (the server's task list, the deleted-task search),
:mod:`~ls_frames.frontends.sync.run` (a run: asks, decides, has the store write),
:mod:`~ls_frames.frontends.sync.stores` (where the tables are kept),
:mod:`~ls_frames.frontends.sync.parquet` (:func:`sync_parquet`),
:mod:`~ls_frames.frontends.sync.delta` (:func:`sync_delta`).
"""

from ls_frames.frontends.sync.delta import DeltaSyncResult, sync_delta
from ls_frames.frontends.sync.parquet import SyncResult, sync_parquet
from ls_frames.frontends.sync.search import find_deleted_tasks

__all__ = [
    "DeltaSyncResult",
    "SyncResult",
    "find_deleted_tasks",
    "sync_delta",
    "sync_parquet",
]
