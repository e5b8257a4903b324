"""A sync run: a full export once, then only what changed, into a :class:`~ls_frames.
frontends.sync.stores.Store` (a Parquet dataset, Delta tables).

What the server does (verified on Label Studio 1.23.2): creating, editing, skipping or
deleting an annotation, the Data Manager's bulk "delete annotations", creating a
prediction and editing a task's data each set the task's ``updated_at`` to the server's
now. Saving a draft does **not**; the bulk "delete predictions" does not either, nor does
it update the tasks' prediction counters the Data Manager sums (the project's live
``total_predictions_number`` gives it away). So an incremental run:

1. counts the tasks whose ``updated_at`` is after ``watermark - overlap`` (a Data Manager
   filter, one cheap request); when there are any, exports exactly those through a
   temporary view (removed afterwards, also on failure) and deletes the snapshot once it
   is downloaded. The next watermark is that snapshot's ``created_at``, in the server's
   clock; the client's clock is never used. With nothing changed the watermark stays.
2. detects deleted tasks from the task total (counted after the export) and searches them
   by counting ranges of ids (:mod:`~ls_frames.sync.search`).
3. has the store replace every row of the exported tasks and drop the deleted tasks
   (:meth:`~ls_frames.sync.stores.Store.write_changes`).

Every decision is a pure function in :mod:`~ls_frames.sync.plan`; this module
asks the server and carries them out. The watermark and the run history are kept under
``provenance["sync"]`` by the store.
"""

from __future__ import annotations

import logging
import tempfile
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ls_frames._version import __version__
from ls_frames.errors import ConfigurationError, HTTPError
from ls_frames.exports import Client, Export, TaskFilter
from ls_frames.exports.tasks import ALL_TASKS, filter_time, updated_after_filter
from ls_frames.pipeline.project import snapshot_project, snapshot_provenance
from ls_frames.sync import plan
from ls_frames.sync.search import TaskQueries, search
from ls_frames.sync.stores import State, Store, Written
from ls_frames.tables import to_parquet
from ls_frames.tables.dataset import dataset_task_ids

__all__ = ["Outcome", "run_sync"]

logger = logging.getLogger("ls_frames")

_HISTORY = 50
_STAMP_FIELDS = ",".join(("id", "updated_at", *plan.COUNTERS))


@dataclass(frozen=True)
class Outcome:
    """What one run did, whatever the store."""

    mode: str  # "full" or "incremental"
    changed_tasks: int
    deleted_tasks: int
    total_tasks: int
    watermark: str | None
    seconds: float
    export_id: int | None = None
    requests: dict[str, int] = field(default_factory=dict)
    written: Written | None = None  # None: nothing was written


@dataclass(frozen=True)
class _Run:
    """What every step of one run needs."""

    client: Client
    project: int
    store: Store
    tmp: Path
    started: float
    overlap: float
    label_config: str | bool | None
    timeout: float | None
    progress: bool | None
    name: str  # the front end's name, for the messages


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
) -> Outcome:
    """One run into ``store``; ``scratch`` is the folder its temporary files go under.

    Raises :class:`~ls_frames.errors.ConfigurationError` for a negative ``overlap`` or a
    store that holds another project; the rest as the front ends document.
    """
    started = time.monotonic()
    if overlap < 0:
        raise ConfigurationError(f"overlap must be >= 0 seconds, not {overlap!r}")
    state = store.open(full=full)
    held = (state.provenance if state else {}).get("project")
    if held not in (None, int(project)):
        raise ConfigurationError(
            f"{store.location} holds project {held}, not {project}; pick another place"
        )
    scratch.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".ls_frames-", dir=scratch) as tmp:
        run = _Run(
            client,
            int(project),
            store,
            Path(tmp),
            started,
            overlap,
            label_config,
            timeout,
            progress,
            name,
        )
        if state is None:
            return _full_run(run)
        return _incremental_run(run, state)


def _stamp(run: dict[str, Any], started: float) -> dict[str, Any]:
    return {
        **run,
        "finished_at": datetime.now(timezone.utc).isoformat(),
        "seconds": round(time.monotonic() - started, 3),
    }


def _config(info: dict[str, Any], label_config: str | bool | None) -> str | None:
    if isinstance(label_config, str):
        return label_config
    if label_config is False:
        return None
    return str(info.get("label_config") or "") or None


def _best_effort(call: Callable[[], Any], what: str, name: str) -> None:
    try:
        call()
    except HTTPError as exc:
        logger.warning("%s could not %s: %s", name, what, exc)


def _download_and_drop(run: _Run, export: Export) -> Path:
    """Download the snapshot, then delete it on the server (it was only a means; a
    failure to delete is logged, not raised)."""
    path = export.download(run.tmp, progress=run.progress)
    _best_effort(
        lambda: run.client.delete_export(export.project, export.id),
        f"delete snapshot {export.id}",
        run.name,
    )
    return path


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


def _export_window(run: _Run, window: dict[str, Any]) -> Export:
    """A snapshot of the window's tasks, through a temporary view deleted afterwards."""
    view = run.client.create_view(run.project, window, f"ls_frames sync {uuid.uuid4().hex[:8]}")
    try:
        return snapshot_project(
            run.project,
            client=run.client,
            timeout=run.timeout,
            progress=run.progress,
            task_filter=TaskFilter(view=view),
        )
    finally:
        _best_effort(
            lambda: run.client.delete_view(view), f"delete its temporary view {view}", run.name
        )


def _incremental_run(run: _Run, state: State) -> Outcome:
    prov = dict(state.provenance)
    sync = dict(prov["sync"])
    watermark = str(sync["watermark"])
    since = filter_time(plan.window_start(watermark, run.overlap))
    tasks = TaskQueries(run.client, run.project)
    window = updated_after_filter(since)
    decided = _plan_export(run, tasks, watermark, window)
    export = _export_window(run, window) if decided.export else None
    with ThreadPoolExecutor(2, thread_name_prefix="ls_frames-sync") as pool:
        # counted after the export: a task or prediction deleted meanwhile is noticed now,
        # not next run (a prediction created meanwhile can only make the counts larger)
        counted = pool.submit(tasks.totals, ALL_TASKS)
        project_info = pool.submit(run.client.get_project, run.project)
        part = None
        if export is not None:
            part = to_parquet(
                _download_and_drop(run, export),
                run.tmp / "part",
                progress=run.progress,
            )
        server = counted.result()
        info = project_info.result()
        config = _config(info, run.label_config)
    predictions = plan.server_predictions(info, server)
    known = run.store.task_ids()
    exported = [] if part is None else [int(i) for i in dataset_task_ids(part).to_pylist()]
    check = plan.plan_deletions(known, exported, server["total"])
    deleted = search(tasks, check.believed, check.missing) if check.search else []
    if export is not None:
        watermark = str(export.raw.get("created_at") or watermark)
    unexplained = plan.unexplained_tasks(server["total"], len(check.believed), len(deleted))
    if unexplained and ((sync.get("runs") or [{}])[-1].get("unexplained_tasks") or 0):
        logger.warning(
            "%s: the server holds %d task(s) the dataset has not had for two "
            "runs; they changed before the window (overlap %s s): run with full=True",
            run.name,
            unexplained,
            run.overlap,
        )
    ours = int(state.rows.get("predictions") or 0)
    outcome = plan.plan_write(export is not None, len(deleted), predictions, ours)
    if outcome.action == "nothing":
        return Outcome(
            "incremental",
            0,
            0,
            len(set(known)),
            watermark,
            time.monotonic() - run.started,
            None,
            dict(tasks.requests),
        )
    if outcome.action == "full":
        return _redo_full(run, sync, str(outcome.reason))
    entry = {
        "mode": "incremental",
        "since": since,
        "export_id": export.id if export else None,
        "watermark": watermark,
        "changed_tasks": len(set(exported)),
        "deleted_tasks": len(deleted),
        "server_task_count": server["total"],
        "searched_deletions": check.search,
        "requests": dict(tasks.requests),
        "unexplained_tasks": unexplained,
    }
    sync.update(
        watermark=watermark,
        overlap=run.overlap,
        runs=[*(sync.get("runs") or []), _stamp(entry, run.started)][-_HISTORY:],
    )
    prov.update(
        sync=sync,
        ls_frames_version=__version__,
        source="label-studio-sync",
        written_at=datetime.now(timezone.utc).isoformat(),
    )
    prov.pop("task_count", None)  # the store has the dataset's count
    if export is not None:
        prov.update(
            export_id=export.id, md5=export.md5, export_created_at=export.raw.get("created_at")
        )
    if config is not None:
        prov["label_config"] = config
    written = run.store.write_changes(part, drop_tasks=deleted, provenance=prov, scratch=run.tmp)
    lost = plan.predictions_lost(predictions, int(written.rows.get("predictions") or 0))
    if lost:
        return _redo_full(run, sync, lost.replace("the dataset", "the refreshed dataset"))
    return Outcome(
        "incremental",
        len(set(exported)),
        len(deleted),
        written.task_count,
        watermark,
        time.monotonic() - run.started,
        export.id if export else None,
        dict(tasks.requests),
        written,
    )


def _redo_full(run: _Run, sync: dict[str, Any], reason: str) -> Outcome:
    logger.warning("%s: %s; exporting the whole project", run.name, reason)
    return _full_run(run, history=list(sync.get("runs") or []), reason=reason)


def _full_run(
    run: _Run, history: list[dict[str, Any]] | None = None, reason: str | None = None
) -> Outcome:
    client, project = run.client, run.project
    export = snapshot_project(project, client=client, timeout=run.timeout, progress=run.progress)
    config = _config(client.get_project(project), run.label_config)
    provenance = snapshot_provenance(client, export, config)
    provenance["source"] = "label-studio-sync"
    if config is not None:  # as incremental runs keep it (a Delta reader restores categories)
        provenance["label_config"] = config
    watermark = str(export.raw.get("created_at") or "1970-01-01T00:00:00.000000Z")
    entry = {
        "mode": "full",
        "export_id": export.id,
        "watermark": watermark,
        "changed_tasks": export.task_count,
        "deleted_tasks": 0,
    }
    if reason:
        entry["reason"] = reason
    provenance["sync"] = {
        "watermark": watermark,
        "overlap": run.overlap,
        "runs": [*(history or []), _stamp(entry, run.started)][-_HISTORY:],
    }
    path = _download_and_drop(run, export)
    written = run.store.write_full(
        path, provenance=provenance, label_config=config, scratch=run.tmp
    )
    total = written.task_count
    return Outcome(
        "full",
        total,
        0,
        total,
        watermark,
        time.monotonic() - run.started,
        export.id,
        {},
        written,
    )
