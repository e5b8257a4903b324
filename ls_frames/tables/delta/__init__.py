"""Label Studio tables as versioned Delta Lake tables (``pip install 'ls_frames[delta]'``).

:func:`write_delta` writes or refreshes a dataset (one Delta table per table, clustered
by task id), :func:`read_delta` reads a dataset version into :class:`~ls_frames.Frames`,
:func:`compact_delta` widens the task ranges and vacuums old files; :func:`delta_state`,
:func:`delta_task_ids` and :func:`delta_task_stamps` tell an incremental run where the
dataset stands.

Modules: ``state`` (what a dataset version is, read from the ``tasks`` table's log),
``commit`` (one run's commits), ``files`` (range files written with pyarrow and committed
as one transaction), ``layout`` (schemas, conforming rows, commit order: shared by
writing and compacting), ``stream`` (a table's rows a chunk of ranges at a time, in
bounded memory, and the default range width), ``write``
(:func:`write_delta`), ``read`` (:func:`read_delta`) and ``compact`` (:func:`compact_delta`).
"""

from ls_frames.tables.delta.compact import compact_delta
from ls_frames.tables.delta.read import read_delta
from ls_frames.tables.delta.state import (
    DeltaState,
    delta_state,
    delta_task_ids,
    delta_task_stamps,
)
from ls_frames.tables.delta.write import DEFAULT_TASKS_PER_FILE, DeltaWrite, write_delta

__all__ = [
    "DEFAULT_TASKS_PER_FILE",
    "DeltaState",
    "DeltaWrite",
    "compact_delta",
    "delta_state",
    "delta_task_ids",
    "delta_task_stamps",
    "read_delta",
    "write_delta",
]
