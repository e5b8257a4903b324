"""A sync run: a full export once, then only what changed, into a :class:`~ls_frames.
sync.stores.Store` (a Parquet dataset, Delta tables).

What the server does (verified on Label Studio 1.23.2): creating, editing, skipping or
deleting an annotation, the Data Manager's bulk "delete annotations", creating a
prediction and editing a task's data each set the task's ``updated_at`` to the server's
now. Saving a draft does **not**; the bulk "delete predictions" does not either, nor does
it update the tasks' prediction counters the Data Manager sums (the project's live
``total_predictions_number`` gives it away). So an incremental run:

1. counts the tasks whose ``updated_at`` is after ``watermark - overlap`` (a Data Manager
   filter, one cheap request); when there are any, exports exactly those through a
   temporary view (removed afterwards, also on failure) with the one-off snapshot job
   (:func:`~ls_frames.exports.oneshot.one_off_snapshot`: the snapshot is deleted once
   downloaded, or once the download failed). The next watermark is that snapshot's
   ``created_at``, in the server's clock; the client's clock is never used. With nothing
   changed the watermark stays.
2. detects deleted tasks from the task total (counted after the export) and searches them
   by counting ranges of ids (:mod:`~ls_frames.sync.search`).
3. has the store replace every row of the exported tasks and drop the deleted tasks
   (:meth:`~ls_frames.sync.stores.Store.write_changes`).

Every decision is a pure function in :mod:`~ls_frames.sync.plan`; this module
asks the server and carries them out. The watermark and the run history are the
provenance's :class:`~ls_frames.provenance.SyncState`, kept by the store.
"""

from __future__ import annotations

import dataclasses
import logging
import tempfile
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar

from ls_frames._version import __version__
from ls_frames.errors import ConfigurationError, HTTPError
from ls_frames.exports import (
    Client,
    Export,
    ExportOptions,
    SnapshotJob,
    TaskFilter,
    one_off_read,
    one_off_snapshot,
    project_label_config,
)
from ls_frames.exports.options import Source
from ls_frames.exports.tasks import ALL_TASKS, filter_time, updated_after_filter
from ls_frames.pipeline.checks import check_project
from ls_frames.provenance import (
    PROVENANCE_VERSION,
    SNAPSHOT_ROUTE,
    SYNC_SOURCE,
    Provenance,
    SyncRunRecord,
    SyncState,
)
from ls_frames.sync import plan
from ls_frames.sync.search import TaskQueries, search
from ls_frames.sync.stores import State, Store, Written
from ls_frames.tables import to_parquet
from ls_frames.tables.dataset import dataset_task_ids

__all__ = ["RunReport", "RunSummary", "check_run", "run_sync"]

logger = logging.getLogger("ls_frames")

_HISTORY = 50
_STAMP_FIELDS = ",".join(("id", "updated_at", *plan.COUNTERS))

S = TypeVar("S", bound="RunSummary")


@dataclass(frozen=True, kw_only=True)
class RunSummary:
    """What one sync run did, whatever the store: the fields every front end's result
    (:class:`~ls_frames.SyncResult`, :class:`~ls_frames.DeltaSyncResult`) shares."""

    mode: str  # "full" or "incremental"
    changed_tasks: int
    deleted_tasks: int
    total_tasks: int
    watermark: str | None
    seconds: float
    export_id: int | None = None
    requests: dict[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls: type[S], summary: RunSummary, **more: Any) -> S:
        """A result of class ``cls`` holding ``summary``'s fields and ``more``."""
        shared = {f.name: getattr(summary, f.name) for f in dataclasses.fields(RunSummary)}
        return cls(**shared, **more)


@dataclass(frozen=True, kw_only=True)
class RunReport:
    """What :func:`run_sync` returns: the summary and what the store wrote (``None``:
    nothing was written)."""

    summary: RunSummary
    written: Written | None = None


@dataclass(frozen=True, kw_only=True)
class _Run:
    """What every step of one run needs."""

    client: Client
    project: int
    store: Store
    tmp: Path
    started: float
    overlap: float
    label_config: str | bool | None
    options: ExportOptions  # the snapshot's wait and progress bars
    name: str  # the front end's name, for the messages


@dataclass(frozen=True, kw_only=True)
class _Fetched:
    """What an incremental run learnt from the server: its snapshot of the changed tasks
    (as a Parquet dataset), the task totals and the project."""

    export: Export | None
    part: Path | None
    server: dict[str, int]
    info: dict[str, Any]


def check_run(project: Any, overlap: Any, timeout: Any) -> None:
    """What every sync front end checks first, before a client is made: the project (an
    id or a title), the overlap and the snapshot's timeout."""
    check_project(project)
    if isinstance(overlap, bool) or not isinstance(overlap, int | float) or overlap < 0:
        raise ConfigurationError(f"overlap must be >= 0 seconds, not {overlap!r}")
    ExportOptions(timeout=timeout)  # checks it


def run_sync(
    client: Client,
    project: int,
    store: Store,
    *,
    overlap: float,
    full: bool,
    label_config: str | bool | None,
    timeout: float | None,
    progress: bool | None,
    scratch: Path,
    name: str = "sync",
    source: Source = "auto",
    fetch_workers: int = 2,
) -> RunReport:
    """One run into ``store``; ``scratch`` is the folder its temporary files go under.
    ``source`` is how a full run reads the project (see :func:`~ls_frames.exports.route.
    one_off_read`); an incremental run always reads the changed tasks through a snapshot.

    Raises
    ------
    ConfigurationError
        ``overlap`` is negative, or the store holds another project; the rest as the
        front ends document.
    """
    started = time.monotonic()
    if overlap < 0:
        raise ConfigurationError(f"overlap must be >= 0 seconds, not {overlap!r}")
    state = store.open(full=full)
    held = state.provenance.project if state else None
    if held not in (None, int(project)):
        raise ConfigurationError(
            f"{store.location} holds project {held}, not {project}; pick another place"
        )
    scratch.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".ls_frames-", dir=scratch) as tmp:
        run = _Run(
            client=client,
            project=int(project),
            store=store,
            tmp=Path(tmp),
            started=started,
            overlap=overlap,
            label_config=label_config,
            options=ExportOptions(
                timeout=timeout, progress=progress, source=source, fetch_workers=fetch_workers
            ),
            name=name,
        )
        if state is None:
            return _full_run(run)
        return _incremental_run(run, state)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


def _record(run: _Run, **entry: Any) -> SyncRunRecord:
    """The run's entry in the history, timed now."""
    return SyncRunRecord(
        **entry, finished_at=_now(), seconds=round(time.monotonic() - run.started, 3)
    )


def _best_effort(call: Callable[[], Any], what: str, name: str) -> None:
    try:
        call()
    except HTTPError as exc:
        logger.warning("%s could not %s: %s", name, what, exc)


def _plan_export(
    run: _Run, tasks: TaskQueries, watermark: str, window: dict[str, Any]
) -> plan.ExportPlan:
    """Step 1: ask the counts (and, for a small overlap, the stamps) the plan needs."""
    # changed after the watermark itself: certainly something to export. Otherwise the
    # overlap's tasks may still be ones the dataset has with the same updated_at
    after = tasks.count(updated_after_filter(plan.server_time(watermark)))
    in_window = held = None
    if not after:
        in_window = tasks.count(window)
        if plan.window_to_check(after, in_window):
            stamps = tasks.rows(window, _STAMP_FIELDS)
            ours = run.store.task_stamps([int(t["id"]) for t in stamps], plan.COUNTERS)
            held = plan.overlap_already_held(stamps, ours)
    return plan.plan_export(after, in_window, held)


def _window_snapshot(run: _Run, window: dict[str, Any], stack: ExitStack) -> SnapshotJob:
    """A snapshot of the window's tasks, through a temporary view deleted once the
    snapshot is made; the snapshot is deleted when ``stack`` closes."""
    view = run.client.create_view(run.project, window, f"ls_frames sync {uuid.uuid4().hex[:8]}")
    try:
        options = dataclasses.replace(run.options, task_filter=TaskFilter(view=view))
        return stack.enter_context(
            one_off_snapshot(run.client, run.project, options, source=SYNC_SOURCE)
        )
    finally:
        _best_effort(
            lambda: run.client.delete_view(view), f"delete its temporary view {view}", run.name
        )


def _fetch_changes(run: _Run, tasks: TaskQueries, window: dict[str, Any], export: bool) -> _Fetched:
    """Step 1 carried out: the window's snapshot (when ``export``), downloaded and
    deleted, and the task totals and the project, asked meanwhile."""
    with ThreadPoolExecutor(2, thread_name_prefix="ls_frames-sync") as pool:
        with ExitStack() as stack:
            job = _window_snapshot(run, window, stack) if export else None
            # counted after the export: a task or prediction deleted meanwhile is noticed
            # now, not next run (a prediction created meanwhile can only make the counts
            # larger)
            counted = pool.submit(tasks.totals, ALL_TASKS)
            project_info = pool.submit(run.client.get_project, run.project)
            path = None if job is None else job.download(run.tmp)
        # the snapshot is deleted now: downloaded (or failed), it has served
        part = None
        if path is not None:
            part = to_parquet(path, run.tmp / "part", progress=run.options.progress)
        return _Fetched(
            export=None if job is None else job.export,
            part=part,
            server=counted.result(),
            info=project_info.result(),
        )


def _incremental_run(run: _Run, state: State) -> RunReport:
    sync = state.sync
    watermark = str(sync.watermark)
    since = filter_time(plan.window_start(watermark, run.overlap))
    tasks = TaskQueries(run.client, run.project)
    window = updated_after_filter(since)
    fetched = _fetch_changes(run, tasks, window, _plan_export(run, tasks, watermark, window).export)
    export, server = fetched.export, fetched.server
    predictions = plan.server_predictions(fetched.info, server)
    known = run.store.task_ids()
    exported = (
        [] if fetched.part is None else [int(i) for i in dataset_task_ids(fetched.part).to_pylist()]
    )
    check = plan.plan_deletions(known, exported, server["total"])
    deleted = search(tasks, check.believed, check.missing) if check.search else []
    if export is not None:
        watermark = str(export.raw.get("created_at") or watermark)
    unexplained = plan.unexplained_tasks(server["total"], len(check.believed), len(deleted))
    last = sync.last_run
    if unexplained and last is not None and (last.unexplained_tasks or 0):
        logger.warning(
            "%s: the server holds %d task(s) the dataset has not had for two "
            "runs; they changed before the window (overlap %s s): run with full=True",
            run.name,
            unexplained,
            run.overlap,
        )
    ours = int(state.rows.get("predictions") or 0)
    decided = plan.plan_write(export is not None, len(deleted), predictions, ours)
    if decided.action == "nothing":
        summary = RunSummary(
            mode="incremental",
            changed_tasks=0,
            deleted_tasks=0,
            total_tasks=len(set(known)),
            watermark=watermark,
            seconds=time.monotonic() - run.started,
            requests=dict(tasks.requests),
        )
        return RunReport(summary=summary)
    if decided.action == "full":
        return _redo_full(run, sync, str(decided.reason))
    record = _record(
        run,
        mode="incremental",
        since=since,
        export_id=export.id if export is not None else None,
        watermark=watermark,
        changed_tasks=len(set(exported)),
        deleted_tasks=len(deleted),
        server_task_count=server["total"],
        searched_deletions=check.search,
        requests=dict(tasks.requests),
        unexplained_tasks=unexplained,
    )
    return _write_changes(run, state, fetched, record, deleted, predictions)


def _write_changes(
    run: _Run,
    state: State,
    fetched: _Fetched,
    record: SyncRunRecord,
    deleted: list[int],
    predictions: int | None,
) -> RunReport:
    """Step 3: the store replaces the exported tasks' rows and drops the deleted ones,
    with the provenance carried over and the run added to the history."""
    export = fetched.export
    sync = state.sync.replace(
        watermark=record.watermark,
        overlap=run.overlap,
        runs=(*state.sync.runs, record)[-_HISTORY:],
    )
    provenance = state.provenance.replace(
        provenance_version=PROVENANCE_VERSION,
        sync=sync,
        ls_frames_version=__version__,
        source=SYNC_SOURCE,
        written_at=_now(),
        task_count=None,  # the store has the dataset's count
    )
    if export is not None:
        provenance = provenance.replace(
            export_id=export.id,
            md5=export.md5,
            export_created_at=export.raw.get("created_at"),
            route=SNAPSHOT_ROUTE,
            route_reason=None,
        )
    config = project_label_config(
        run.client, run.project, run.label_config, project_info=fetched.info
    )
    if config is not None:
        provenance = provenance.replace(label_config=config)
    written = run.store.write_changes(
        fetched.part, drop_tasks=deleted, provenance=provenance, scratch=run.tmp
    )
    lost = plan.predictions_lost(predictions, int(written.rows.get("predictions") or 0))
    if lost:
        return _redo_full(run, sync, lost.replace("the dataset", "the refreshed dataset"))
    summary = RunSummary(
        mode="incremental",
        changed_tasks=int(record.changed_tasks or 0),
        deleted_tasks=len(deleted),
        total_tasks=written.task_count,
        watermark=record.watermark,
        seconds=time.monotonic() - run.started,
        export_id=export.id if export is not None else None,
        requests=dict(record.requests or {}),
    )
    return RunReport(summary=summary, written=written)


def _redo_full(run: _Run, sync: SyncState, reason: str) -> RunReport:
    logger.warning("%s: %s; exporting the whole project", run.name, reason)
    return _full_run(run, history=sync.runs, reason=reason)


def _full_run(
    run: _Run, history: tuple[SyncRunRecord, ...] = (), reason: str | None = None
) -> RunReport:
    options = run.options
    with one_off_read(
        run.client, run.project, options, label_config=run.label_config, source=SYNC_SOURCE
    ) as job:
        path = job.download(run.tmp)
        provenance: Provenance = job.provenance
    watermark = job.watermark or "1970-01-01T00:00:00.000000Z"
    record = _record(
        run,
        mode="full",
        export_id=job.export_id,
        watermark=watermark,
        changed_tasks=job.task_count,
        deleted_tasks=0,
        reason=reason,
    )
    sync = SyncState(watermark=watermark, overlap=run.overlap, runs=(*history, record)[-_HISTORY:])
    written = run.store.write_full(
        path,
        provenance=provenance.replace(sync=sync),
        label_config=job.label_config,
        scratch=run.tmp,
    )
    total = written.task_count
    summary = RunSummary(
        mode="full",
        changed_tasks=total,
        deleted_tasks=0,
        total_tasks=total,
        watermark=watermark,
        seconds=time.monotonic() - run.started,
        export_id=job.export_id,
    )
    return RunReport(summary=summary, written=written)
