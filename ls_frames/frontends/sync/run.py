"""Keep a Parquet dataset in step with a project: a full export once, then only what changed.

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
   by counting ranges of ids (:mod:`~ls_frames.frontends.sync.search`).
3. rewrites the dataset with every row of the exported tasks replaced and the deleted
   tasks dropped (:func:`~ls_frames.tables.dataset.upsert_tasks`, streamed), into a new
   folder that replaces the old one only when complete.

Every decision is a pure function in :mod:`~ls_frames.frontends.sync.plan`; this module
asks the server and carries them out. The watermark and the run history sit under
``provenance["sync"]`` in every file's metadata and in ``_SUCCESS``.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from ls_frames._version import __version__
from ls_frames.errors import ConfigurationError, HTTPError
from ls_frames.exports import Client, Export, TaskFilter
from ls_frames.exports.tasks import ALL_TASKS, filter_time, updated_after_filter
from ls_frames.frontends.dataset_media import (
    changed_tasks,
    fetch_dataset_media,
    media_cache_dir,
    task_stamps,
)
from ls_frames.frontends.pipeline import snapshot_project, snapshot_provenance
from ls_frames.frontends.sync import plan
from ls_frames.frontends.sync.search import TaskQueries, search
from ls_frames.tables import to_parquet
from ls_frames.tables.dataset import (
    dataset_task_ids,
    dataset_task_stamps,
    read_manifest,
    recover,
    upsert_tasks,
)
from ls_frames.tables.dtypes import Compression

__all__ = ["SyncResult", "sync_parquet"]

logger = logging.getLogger("ls_frames")

_HISTORY = 50
_STAMP_FIELDS = ",".join(("id", "updated_at", *plan.COUNTERS))


@dataclass(frozen=True)
class SyncResult:
    """What one :func:`sync_parquet` run did."""

    path: Path
    mode: str  # "full" or "incremental"
    changed_tasks: int
    deleted_tasks: int
    total_tasks: int
    watermark: str | None
    seconds: float
    export_id: int | None = None
    requests: dict[str, int] = field(default_factory=dict)
    media: dict[str, Any] | None = None  # what fetching the media did (run with media=DIR)


def sync_parquet(
    project: int,
    out_dir: str | os.PathLike[str],
    *,
    client: Client | None = None,
    overlap: float = 60.0,
    full: bool = False,
    label_config: str | Literal[False] | None = None,
    compression: Compression = "zstd",
    timeout: float | None = None,
    progress: bool | None = None,
    media: str | os.PathLike[str] | None = None,
    media_options: Mapping[str, Any] | None = None,
) -> SyncResult:
    """Bring the Parquet dataset at ``out_dir`` up to date with ``project``.

    The first run (or ``full=True``) writes the whole project like
    :func:`~ls_frames.export_project`. Later runs export only the tasks whose server-side
    ``updated_at`` is after the last watermark minus ``overlap`` seconds, replace all
    their rows in every table, and drop the tasks deleted on the server. With nothing
    changed no snapshot is made and the files are left as they are (such runs are not
    added to the history). A failed run leaves the previous dataset as it was.

    Snapshots made for a run are deleted from the server once downloaded. Saving a draft
    does not change a task's ``updated_at`` on the server, so a draft-only change arrives
    with the task's next change or a full run. ``overlap`` covers changes still being
    committed when the previous snapshot was taken; keep it above the server's longest
    request. Rows of replaced tasks move to the end of each table: sort by the keys.

    ``media``: a cache folder; the dataset keeps a ``media`` table of the files its tasks
    point to (see :func:`~ls_frames.export_project`). Each run fetches the references of new
    tasks, revalidates those of the tasks that changed (conditional requests), and uses the
    cache for the rest without a request. Once a dataset has a media table, later runs keep
    it up to date with the same cache unless another one is given. ``media_options`` go to
    :func:`~ls_frames.fetch_media`; ``SyncResult.media`` counts what was downloaded.

    Parameters
    ----------
    project
        The project's id.
    out_dir
        The dataset's folder: created by the first run, refreshed by the next ones (read
        it with :func:`~ls_frames.read_parquet`).
    client
        The :class:`~ls_frames.Client` to use; by default one is made from
        ``LABEL_STUDIO_URL`` / ``LABEL_STUDIO_API_KEY`` (and closed afterwards).
    overlap
        Seconds before the last watermark that are looked at again.
    full
        Write the whole project again (also replaces a folder sync_parquet did not write).
    label_config
        ``None`` fetches the project's config so label columns become categoricals in
        config order; a string is used as the config; ``False`` skips it.
    compression
        The Parquet codec of the files written (``"zstd"``, ``"snappy"``, ...).
    timeout
        Seconds to wait for the snapshot to complete; ``None`` waits as long as it takes.
    progress
        Show progress bars; ``None`` shows them unless ``LS_FRAMES_DISABLE_PROGRESS_BARS``
        is set.
    media
        A cache folder for the tasks' files (kept as the ``media`` table).
    media_options
        Keyword arguments for :func:`~ls_frames.fetch_media`.

    Returns
    -------
    SyncResult
        What the run did: ``mode`` (``"full"`` or ``"incremental"``), ``changed_tasks``,
        ``deleted_tasks``, ``total_tasks``, the new ``watermark``, ``seconds``, the
        ``export_id`` of its snapshot, the ``requests`` it made and the ``media`` counts.

    Raises
    ------
    ConfigurationError
        ``overlap`` is negative, ``out_dir`` holds something sync_parquet did not write
        (without ``full``) or another project's dataset, or no client was given and the
        environment names no server or key.
    AuthenticationError, PermissionDenied, NotFound
        The key is refused, the user may not export, or the project (or snapshot) does
        not exist.
    HTTPError
        Another request failure after the retries (a :class:`~ls_frames.HTTPError`).
    ExportFailed, ExportTimeout
        The snapshot failed on the server, or did not complete within ``timeout``.
    DownloadError
        The download broke off for good or its MD5 does not match (nothing is left under
        the final name).
    ExportFormatError
        The snapshot is not a Label Studio JSON export.
    DatasetVersionError
        The dataset at ``out_dir`` was written by a newer ls_frames.
    MediaError
        With ``media`` and ``strict`` in ``media_options``: a file could not be fetched.
    """
    if client is None:
        with Client() as own:
            return sync_parquet(
                project,
                out_dir,
                client=own,
                overlap=overlap,
                full=full,
                label_config=label_config,
                compression=compression,
                timeout=timeout,
                progress=progress,
                media=media,
                media_options=media_options,
            )
    cache = media if media is not None else media_cache_dir(out_dir)
    before = task_stamps(out_dir) if cache is not None else {}
    result = _sync(
        client,
        project,
        out_dir,
        overlap=overlap,
        full=full,
        label_config=label_config,
        compression=compression,
        timeout=timeout,
        progress=progress,
    )
    if cache is None:
        return result
    table = fetch_dataset_media(
        result.path,
        cache,
        client=client,
        progress=progress,
        changed=changed_tasks(result.path, before),
        **dict(media_options or {}),
    )
    return replace(result, media=dict(table.attrs.get("media", {})))


@dataclass(frozen=True)
class _Run:
    """What every step of one run needs."""

    client: Client
    project: int
    out: Path
    tmp: Path
    started: float
    overlap: float
    label_config: str | bool | None
    compression: Compression
    timeout: float | None
    progress: bool | None


def _read_state(out: Path) -> dict[str, Any] | None:
    if not (out / "_SUCCESS").is_file():
        return None
    info = read_manifest(out)
    sync = (info.get("provenance") or {}).get("sync")
    return info if isinstance(sync, dict) and sync.get("watermark") else None


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


def _best_effort(call: Callable[[], Any], what: str) -> None:
    try:
        call()
    except HTTPError as exc:
        logger.warning("sync_parquet could not %s: %s", what, exc)


def _download_and_drop(run: _Run, export: Export) -> Path:
    """Download the snapshot, then delete it on the server (it was only a means; a
    failure to delete is logged, not raised)."""
    path = export.download(run.tmp, progress=run.progress)
    _best_effort(
        lambda: run.client.delete_export(export.project, export.id), f"delete snapshot {export.id}"
    )
    return path


def _sync(
    client: Client,
    project: int,
    out_dir: str | os.PathLike[str],
    *,
    overlap: float,
    full: bool,
    label_config: str | bool | None,
    compression: Compression,
    timeout: float | None,
    progress: bool | None,
) -> SyncResult:
    """One run of :func:`sync_parquet` on the tables."""
    started = time.monotonic()
    if overlap < 0:
        raise ConfigurationError(f"overlap must be >= 0 seconds, not {overlap!r}")
    out = Path(out_dir)
    recover(out)  # a run killed between the two renames of its swap
    state = None if full else _read_state(out)
    if out.exists() and state is None and not full:
        raise ConfigurationError(
            f"{out} exists but is not a dataset written by sync_parquet; pass full=True "
            "to replace it"
        )
    held = (state or {}).get("provenance", {}).get("project")
    if held not in (None, int(project)):
        raise ConfigurationError(f"{out} holds project {held}, not {project}; pick another folder")
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".ls_frames-", dir=out.parent) as tmp:
        run = _Run(
            client,
            int(project),
            out,
            Path(tmp),
            started,
            overlap,
            label_config,
            compression,
            timeout,
            progress,
        )
        if state is None:
            return _full_run(run)
        return _incremental_run(run, state)


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
            ours = dataset_task_stamps(run.out, [int(t["id"]) for t in stamps], plan.COUNTERS)
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
        _best_effort(lambda: run.client.delete_view(view), f"delete its temporary view {view}")


def _incremental_run(run: _Run, state: dict[str, Any]) -> SyncResult:
    prov = dict(state["provenance"])
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
                compression=run.compression,
                progress=run.progress,
            )
        server = counted.result()
        info = project_info.result()
        config = _config(info, run.label_config)
    predictions = plan.server_predictions(info, server)
    known = dataset_task_ids(run.out).to_pylist()
    exported = [] if part is None else dataset_task_ids(part).to_pylist()
    check = plan.plan_deletions(known, exported, server["total"])
    deleted = search(tasks, check.believed, check.missing) if check.search else []
    if export is not None:
        watermark = str(export.raw.get("created_at") or watermark)
    unexplained = plan.unexplained_tasks(server["total"], len(check.believed), len(deleted))
    if unexplained and ((sync.get("runs") or [{}])[-1].get("unexplained_tasks") or 0):
        logger.warning(
            "sync_parquet: the server holds %d task(s) the dataset has not had for two "
            "runs; they changed before the window (overlap %s s): run with full=True",
            unexplained,
            run.overlap,
        )
    ours = int(((state.get("tables") or {}).get("predictions") or {}).get("rows") or 0)
    outcome = plan.plan_outcome(export is not None, len(deleted), predictions, ours)
    if outcome.action == "nothing":
        return SyncResult(
            run.out,
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
    prov.pop("task_count", None)  # the manifest has the dataset's count
    if export is not None:
        prov.update(
            export_id=export.id, md5=export.md5, export_created_at=export.raw.get("created_at")
        )
    if config is not None:
        prov["label_config"] = config
    written = upsert_tasks(
        run.out, part, drop_tasks=deleted, provenance=prov, compression=run.compression
    )
    lost = plan.predictions_lost(
        predictions, int(written["tables"].get("predictions", {}).get("rows") or 0)
    )
    if lost:
        return _redo_full(run, sync, lost.replace("the dataset", "the refreshed dataset"))
    return SyncResult(
        run.out,
        "incremental",
        len(set(exported)),
        len(deleted),
        int(written.get("task_count") or 0),
        watermark,
        time.monotonic() - run.started,
        export.id if export else None,
        dict(tasks.requests),
    )


def _redo_full(run: _Run, sync: dict[str, Any], reason: str) -> SyncResult:
    logger.warning("sync_parquet: %s; exporting the whole project", reason)
    return _full_run(run, history=list(sync.get("runs") or []), reason=reason)


def _full_run(
    run: _Run, history: list[dict[str, Any]] | None = None, reason: str | None = None
) -> SyncResult:
    client, project = run.client, run.project
    export = snapshot_project(project, client=client, timeout=run.timeout, progress=run.progress)
    config = _config(client.get_project(project), run.label_config)
    provenance = snapshot_provenance(client, export, config)
    provenance["source"] = "label-studio-sync"
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
    to_parquet(
        path,
        run.out,
        provenance=provenance,
        label_config=config,
        overwrite=True,
        compression=run.compression,
        progress=run.progress,
    )
    total = int(read_manifest(run.out).get("task_count") or 0)
    return SyncResult(
        run.out, "full", total, 0, total, watermark, time.monotonic() - run.started, export.id
    )
