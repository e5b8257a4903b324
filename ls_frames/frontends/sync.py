"""Keep a Parquet dataset in step with a project: a full export once, then only what changed.

What the server does (verified on Label Studio 1.23.2): creating, editing, skipping or
deleting an annotation, the Data Manager's bulk "delete annotations", creating a
prediction and editing a task's data each set the task's ``updated_at`` to the server's
now. Saving a draft does **not**. So an incremental run:

1. counts the tasks whose ``updated_at`` is after ``watermark - overlap`` (a Data Manager
   filter, one cheap request); when there are any, exports exactly those through a
   temporary view (removed afterwards, also on failure) and deletes the snapshot once it
   is downloaded. The next watermark is that snapshot's ``created_at``, in the server's
   clock; the client's clock is never used. With nothing changed the watermark stays.
2. detects deleted tasks: every task created since the last run is in that export, so
   the server holds ``|known | exported|`` tasks unless some were deleted, which the
   task list's total (counted after the export) tells. Only then are they searched:
   counts of id ranges (one request each, a few at a time) narrow the search down to
   ranges small enough to list. Listing tasks costs the server about 0.5 ms each, so
   listing all 20,000 ids took 12 s; a range count costs 0.1 s, and a range that
   lost nothing is not looked at again.
3. rewrites the dataset with every row of the exported tasks replaced and the deleted
   tasks dropped (:func:`~ls_frames.tables.upsert.upsert_tasks`, streamed), into a new
   folder that replaces the old one only when complete.

The watermark and the run history sit under ``provenance["sync"]`` in every file's
metadata and in ``_SUCCESS``.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Literal

from ls_frames._version import __version__
from ls_frames.errors import ConfigurationError, ExportFormatError, HTTPError
from ls_frames.exports import Client, Export, TaskFilter
from ls_frames.frontends.dataset_media import (
    changed_tasks,
    fetch_dataset_media,
    media_cache_dir,
    task_stamps,
)
from ls_frames.frontends.pipeline import snapshot_project, snapshot_provenance
from ls_frames.tables import to_parquet
from ls_frames.tables.dtypes import Compression
from ls_frames.tables.parquet import recover
from ls_frames.tables.upsert import (
    dataset_task_ids,
    dataset_task_stamps,
    read_manifest,
    upsert_tasks,
)

__all__ = ["SyncResult", "find_deleted_tasks", "sync_parquet"]

logger = logging.getLogger("ls_frames")

_HISTORY = 50
_PAGE = 1000
# below this many known tasks in a range, listing it is cheaper than splitting it further
_LIST_BELOW = 600
_FANOUT = 4
_THREADS = 4
# a changed-task window this small is listed first, to skip re-exporting the overlap
_CHECK_BELOW = 2000


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


def server_time(ts: str) -> datetime:
    """A server timestamp (``...Z`` or with an offset) as an aware datetime."""
    parsed = datetime.fromisoformat(ts.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def filter_time(moment: datetime) -> str:
    """The one form the Data Manager's datetime filter parses (``%Y-%m-%dT%H:%M:%S.%fZ``,
    microseconds always present: without them the server answers 500)."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _changed_filter(since: str) -> dict[str, Any]:
    return {"conjunction": "and", "items": [{
        "filter": "filter:tasks:updated_at", "operator": "greater", "type": "Datetime",
        "value": since,
    }]}


def _id_filter(lo: int, hi: int) -> dict[str, Any]:
    return {"conjunction": "and", "items": [{
        "filter": "filter:tasks:id", "operator": "in", "type": "Number",
        "value": {"min": int(lo), "max": int(hi)},
    }]}


class _Tasks:
    """The Data Manager task list of one project under a filter; requests are counted."""

    def __init__(self, client: Client, project: int) -> None:
        self.client = client
        self.project = int(project)
        self.requests = {"count": 0, "list": 0}
        self._lock = threading.Lock()

    def _counted(self, kind: str) -> None:
        with self._lock:
            self.requests[kind] += 1

    def _get(self, filters: dict[str, Any], include: str, page: int, size: int
             ) -> dict[str, Any]:
        answer = self.client.get_json("api/tasks/", params={
            "project": self.project, "include": include, "page": page, "page_size": size,
            "query": json.dumps({"filters": filters}),
        })
        if (not isinstance(answer, dict) or not isinstance(answer.get("tasks"), list)
                or not isinstance(answer.get("total"), int)):
            # deciding what was deleted from a guess would drop live tasks: refuse
            raise ExportFormatError("unexpected answer from the task list (no 'tasks' and "
                                    "'total')", path=f"/api/tasks/?project={self.project}")
        return answer

    def totals(self, filters: dict[str, Any]) -> dict[str, int]:
        """``total`` (tasks) and, when the server gives them, ``total_predictions`` and
        ``total_annotations`` under the filter."""
        self._counted("count")
        answer = self._get(filters, "id", 1, 1)
        return {k: int(v) for k, v in answer.items() if k.startswith("total")
                and isinstance(v, int)}

    def count(self, filters: dict[str, Any]) -> int:
        return self.totals(filters)["total"]

    def rows(self, filters: dict[str, Any], include: str = "id") -> list[dict[str, Any]]:
        """Every task under the filter, page by page until ``total`` (a server may cap
        the page size below what was asked)."""
        out: list[dict[str, Any]] = []
        page = 1
        while True:
            self._counted("list")
            answer = self._get(filters, include, page, _PAGE)
            out.extend(answer["tasks"])
            if not answer["tasks"] or len(out) >= answer["total"]:
                return out
            page += 1

    def ids(self, filters: dict[str, Any]) -> set[int]:
        return {int(t["id"]) for t in self.rows(filters)}


def find_deleted_tasks(
    client: Client, project: int, known: Sequence[int], *, missing: int | None = None,
) -> list[int]:
    """Which of the ``known`` task ids no longer exist on the server.

    Splits the sorted ids into ranges and counts each range on the server (one request
    each, ``_THREADS`` at a time); a range that lost none is done, one that lost all is
    all deleted, and a small one is listed. ``missing`` (how many are gone, when known)
    lets a search stop as soon as that many are found.
    """
    return _search(_Tasks(client, project), sorted(set(known)), missing)


def _split(start: int, stop: int, parts: int) -> list[tuple[int, int]]:
    step = max(1, -(-(stop - start) // max(1, parts)))
    return [(s, min(s + step, stop)) for s in range(start, stop, step)]


def _search(tasks: _Tasks, ids: list[int], missing: int | None) -> list[int]:
    """Count ranges of ``ids`` (index ranges, so each holds a known number of tasks);
    a range that lost some is listed when small, else split and counted again."""
    deleted: list[int] = []

    def listed(node: tuple[int, int]) -> list[int]:
        part = ids[node[0]:node[1]]
        there = tasks.ids(_id_filter(part[0], part[-1]))
        return [i for i in part if i not in there]

    def counted(node: tuple[int, int]) -> tuple[tuple[int, int], int]:
        part = ids[node[0]:node[1]]
        return node, tasks.count(_id_filter(part[0], part[-1]))

    if len(ids) <= _LIST_BELOW:
        return listed((0, len(ids))) if ids else []
    # about two ranges per missing task, so that most ranges lost one or none
    parts = max(_FANOUT, min(2 * (missing or 1), -(-len(ids) // max(1, _LIST_BELOW // 2))))
    level = _split(0, len(ids), parts)
    with ThreadPoolExecutor(_THREADS, thread_name_prefix="ls_frames-sync") as pool:
        while level and (missing is None or len(deleted) < missing):
            to_list: list[tuple[int, int]] = []
            deeper: list[tuple[int, int]] = []
            for (start, stop), there in pool.map(counted, level):
                if there >= stop - start:
                    # none lost, or (rarely) as many unknown tasks as lost ones in the
                    # range: the latter shows in the next run's task count
                    continue
                if there == 0:
                    deleted.extend(ids[start:stop])
                elif stop - start <= _LIST_BELOW:
                    to_list.append((start, stop))
                else:
                    deeper.extend(_split(start, stop, _FANOUT))
            for gone in pool.map(listed, to_list):
                deleted.extend(gone)
            level = deeper
    return sorted(deleted)


def _read_state(out: Path) -> dict[str, Any] | None:
    if not (out / "_SUCCESS").is_file():
        return None
    info = read_manifest(out)
    sync = (info.get("provenance") or {}).get("sync")
    return info if isinstance(sync, dict) and sync.get("watermark") else None


def _stamp(run: dict[str, Any], started: float) -> dict[str, Any]:
    return {**run, "finished_at": datetime.now(timezone.utc).isoformat(),
            "seconds": round(time.monotonic() - started, 3)}


def _config(info: dict[str, Any], label_config: str | bool | None) -> str | None:
    if isinstance(label_config, str):
        return label_config
    if label_config is False:
        return None
    return str(info.get("label_config") or "") or None


def _download_and_drop(
    client: Client, export: Export, work: Path, progress: bool | None
) -> Path:
    """Download the snapshot, then delete it on the server (it was only a means; a
    failure to delete is logged, not raised)."""
    path = export.download(work, progress=progress)
    _best_effort(lambda: client.delete_export(export.project, export.id),
                 f"delete snapshot {export.id}")
    return path


def _best_effort(call: Callable[[], Any], what: str) -> None:
    try:
        call()
    except HTTPError as exc:
        logger.warning("sync_parquet could not %s: %s", what, exc)


_COUNTERS = ("total_annotations", "cancelled_annotations", "total_predictions")
_STAMP_FIELDS = ",".join(("id", "updated_at", *_COUNTERS))


def _already_have(out: Path, stamps: list[dict[str, Any]]) -> bool:
    """Whether every task in ``stamps`` (the server's ``id``, ``updated_at`` and counters)
    is in the dataset with the same ``updated_at`` and counters: the overlap's re-read
    then changes nothing. (The counters catch a task whose counts the server committed
    after the timestamp, as its bulk actions do.)"""
    wanted = {int(t["id"]): t for t in stamps}
    if not wanted or any(not isinstance(t.get("updated_at"), str) for t in wanted.values()):
        return False
    ours = dataset_task_stamps(out, list(wanted), _COUNTERS)
    return all(
        ours.get(i) == (server_time(str(t["updated_at"])), *(t.get(c) for c in _COUNTERS))
        for i, t in wanted.items()
    )


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
    MediaError
        With ``media`` and ``strict`` in ``media_options``: a file could not be fetched.
    """
    if client is None:
        with Client() as own:
            return sync_parquet(project, out_dir, client=own, overlap=overlap, full=full,
                                label_config=label_config, compression=compression,
                                timeout=timeout, progress=progress, media=media,
                                media_options=media_options)
    cache = media if media is not None else media_cache_dir(out_dir)
    before = task_stamps(out_dir) if cache is not None else {}
    result = _sync(client, project, out_dir, overlap=overlap, full=full,
                   label_config=label_config, compression=compression, timeout=timeout,
                   progress=progress)  # fmt: skip
    if cache is None:
        return result
    table = fetch_dataset_media(result.path, cache, client=client, progress=progress,
                                changed=changed_tasks(result.path, before),
                                **dict(media_options or {}))  # fmt: skip
    return replace(result, media=dict(table.attrs.get("media", {})))


def _sync(
    client: Client, project: int, out_dir: str | os.PathLike[str], *, overlap: float,
    full: bool, label_config: str | bool | None, compression: Compression, timeout: float | None,
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
        if state is None:
            return _full_run(client, int(project), out, Path(tmp), started, overlap=overlap,
                             label_config=label_config, compression=compression,
                             timeout=timeout, progress=progress)
        return _incremental_run(client, int(project), out, Path(tmp), started, state,
                                overlap=overlap, label_config=label_config,
                                compression=compression, timeout=timeout, progress=progress)


def _incremental_run(
    client: Client, project: int, out: Path, tmp: Path, started: float,
    state: dict[str, Any], *, overlap: float, label_config: str | bool | None,
    compression: Compression, timeout: float | None, progress: bool | None,
) -> SyncResult:
    prov = dict(state["provenance"])
    sync = dict(prov["sync"])
    since = filter_time(server_time(str(sync["watermark"])) - timedelta(seconds=overlap))
    tasks = _Tasks(client, project)
    window = _changed_filter(since)
    with ThreadPoolExecutor(2, thread_name_prefix="ls_frames-sync") as pool:
        project_info = pool.submit(client.get_project, project)  # meanwhile: the label config
        # changed after the watermark itself: certainly something to export. Otherwise
        # the overlap's tasks may still be ones the dataset has with the same updated_at
        changed = tasks.count(_changed_filter(filter_time(server_time(str(sync["watermark"])))))
        if not changed:
            changed = tasks.count(window)
            if 0 < changed <= _CHECK_BELOW and _already_have(
                out, tasks.rows(window, _STAMP_FIELDS)
            ):
                changed = 0
        export: Export | None = None
        if changed:
            view = client.post_json("api/dm/views/", json={"project": project, "data": {
                "title": f"ls_frames sync {uuid.uuid4().hex[:8]}", "filters": window,
            }})
            try:
                export = snapshot_project(project, client=client, timeout=timeout,
                                          progress=progress,
                                          task_filter=TaskFilter(view=int(view["id"])))
            finally:
                _best_effort(lambda: client.request("DELETE", f"api/dm/views/{int(view['id'])}/"),
                             f"delete its temporary view {view['id']}")
        # counted after the export: a task deleted meanwhile is noticed now, not next run
        counted = pool.submit(tasks.totals, {"conjunction": "and", "items": []})
        part = None
        if export is not None:
            path = _download_and_drop(client, export, tmp, progress)
            part = to_parquet(path, tmp / "part", compression=compression, progress=progress)
        server = counted.result()
        server_count = server["total"]
        config = _config(project_info.result(), label_config)
    known = set(dataset_task_ids(out).to_pylist())
    exported = set() if part is None else set(dataset_task_ids(part).to_pylist())
    believed = sorted(known | exported)
    deleted: list[int] = []
    if server_count != len(believed):
        # fewer: that many were deleted. More: tasks created after the export, which the
        # next run brings; deletions hidden behind them are searched for all the same
        gone = len(believed) - server_count
        deleted = _search(tasks, believed, gone if gone > 0 else None)
    watermark = str(export.raw.get("created_at") or sync["watermark"]) if export \
        else str(sync["watermark"])
    requests = dict(tasks.requests)
    # tasks on the server the dataset does not get this run: normally created after the
    # export (the next run brings them). Still there a run later means tasks whose
    # updated_at fell before the window (a transaction longer than the overlap)
    unexplained = max(0, server_count - (len(believed) - len(deleted)))
    earlier = (sync.get("runs") or [{}])[-1].get("unexplained_tasks") or 0
    if unexplained and earlier:
        logger.warning(
            "sync_parquet: the server holds %d task(s) the dataset has not had for two "
            "runs; they changed before the window (overlap %s s): run with full=True",
            unexplained, overlap)

    def predictions_lost(ours: int) -> bool:
        # the Data Manager's bulk "delete predictions" leaves updated_at alone (checked on
        # 1.23.2): the server then holds fewer predictions than the dataset. New ones can
        # only make the server's number larger, so fewer means some went unseen.
        return "total_predictions" in server and server["total_predictions"] < ours

    def redo_full(reason: str) -> SyncResult:
        logger.warning("sync_parquet: %s; exporting the whole project", reason)
        return _full_run(client, project, out, tmp, started, overlap=overlap,
                         label_config=label_config, compression=compression,
                         timeout=timeout, progress=progress,
                         history=list(sync.get("runs") or []), reason=reason)

    if export is None and not deleted:
        ours = int(((state.get("tables") or {}).get("predictions") or {}).get("rows") or 0)
        if predictions_lost(ours):
            return redo_full(f"the server holds {server['total_predictions']} predictions, "
                             f"the dataset {ours}")
        return SyncResult(out, "incremental", 0, 0, len(known), watermark,
                          time.monotonic() - started, None, requests)
    run = {"mode": "incremental", "since": since, "export_id": export.id if export else None,
           "watermark": watermark, "changed_tasks": len(exported),
           "deleted_tasks": len(deleted), "server_task_count": server_count,
           "searched_deletions": server_count != len(believed), "requests": requests,
           "unexplained_tasks": unexplained}
    sync.update(watermark=watermark, overlap=overlap,
                runs=[*(sync.get("runs") or []), _stamp(run, started)][-_HISTORY:])
    prov.update(sync=sync, ls_frames_version=__version__, source="label-studio-sync",
                written_at=datetime.now(timezone.utc).isoformat())
    prov.pop("task_count", None)  # the manifest has the dataset's count
    if export is not None:
        prov.update(export_id=export.id, md5=export.md5,
                    export_created_at=export.raw.get("created_at"))
    if config is not None:
        prov["label_config"] = config
    written = upsert_tasks(out, part, drop_tasks=deleted, provenance=prov,
                           compression=compression)
    ours = int(written["tables"].get("predictions", {}).get("rows") or 0)
    if predictions_lost(ours):
        return redo_full(f"the server holds {server['total_predictions']} predictions, "
                         f"the refreshed dataset {ours}")
    return SyncResult(out, "incremental", len(exported), len(deleted),
                      int(written.get("task_count") or 0), watermark,
                      time.monotonic() - started, export.id if export else None, requests)


def _full_run(
    client: Client, project: int, out: Path, tmp: Path, started: float, *, overlap: float,
    label_config: str | bool | None, compression: Compression, timeout: float | None,
    progress: bool | None, history: list[dict[str, Any]] | None = None,
    reason: str | None = None,
) -> SyncResult:
    export = snapshot_project(project, client=client, timeout=timeout, progress=progress)
    config = _config(client.get_project(project), label_config)
    provenance = snapshot_provenance(client, export, config)
    provenance["source"] = "label-studio-sync"
    watermark = str(export.raw.get("created_at") or "1970-01-01T00:00:00.000000Z")
    run = {"mode": "full", "export_id": export.id, "watermark": watermark,
           "changed_tasks": export.task_count, "deleted_tasks": 0}
    if reason:
        run["reason"] = reason
    provenance["sync"] = {"watermark": watermark, "overlap": overlap,
                          "runs": [*(history or []), _stamp(run, started)][-_HISTORY:]}
    path = _download_and_drop(client, export, tmp, progress)
    to_parquet(path, out, provenance=provenance, label_config=config, overwrite=True,
               compression=compression, progress=progress)
    total = int(read_manifest(out).get("task_count") or 0)
    return SyncResult(out, "full", total, 0, total, watermark, time.monotonic() - started,
                      export.id)
