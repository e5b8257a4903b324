"""Keep tables in step with a project: :func:`sync_parquet` (a Parquet dataset).

Modules: :mod:`~ls_frames.frontends.sync.plan` (the decisions, pure),
:mod:`~ls_frames.frontends.sync.search` (the server's task list, the deleted-task search),
:mod:`~ls_frames.frontends.sync.run` (a run: asks, decides, has the store write),
:mod:`~ls_frames.frontends.sync.stores` (where the tables are kept),
:mod:`~ls_frames.frontends.sync.parquet` (:func:`sync_parquet`).
"""

from ls_frames.frontends.sync.parquet import SyncResult, sync_parquet
from ls_frames.frontends.sync.search import find_deleted_tasks

__all__ = ["SyncResult", "find_deleted_tasks", "sync_parquet"]
