"""The one-off read of a project, through a snapshot or the paged task list:
:func:`one_off_read`.

``load_project``, ``export_project``, the first run of a sync and the panel call it with
``options.source``:

* ``"snapshot"``: the one-off snapshot job (:func:`~ls_frames.exports.oneshot.
  one_off_snapshot`).
* ``"tasks"``: the paged task list (:mod:`~ls_frames.exports.pages`), written into the
  same JSON file a snapshot would be; no snapshot is made.
* ``"auto"`` (the default): the tasks route at once for a project of more than
  :data:`TASKS_ROUTE_THRESHOLD` tasks; else a snapshot, and the tasks route when the
  server kills its build: the create answers a 5xx (or the connection drops) and the
  snapshot is left ``in_progress``, or a gateway gave up (502/504) and the snapshot did
  not complete within :data:`STALL_LIMIT` seconds. The stuck snapshot is deleted and one
  :class:`~ls_frames.SnapshotFallbackWarning` says what happened. Options only a snapshot
  can apply (:func:`~ls_frames.exports.pages.check_tasks_route`) keep ``"auto"`` on the
  snapshot.

Both jobs answer the same questions: ``download(folder)`` writes the JSON file,
``provenance`` (``route`` says which one was taken), ``label_config``, ``export_id``,
``task_count`` and ``watermark`` (the server's clock when the read began, for a sync).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ls_frames._version import __version__
from ls_frames._warnings import PartialResultWarning, SnapshotFallbackWarning, warn_outside
from ls_frames.errors import ConfigurationError, SnapshotBuildStopped
from ls_frames.exports.client import Client
from ls_frames.exports.oneshot import (
    LabelConfigArg,
    SnapshotJob,
    one_off_snapshot,
    project_label_config,
)
from ls_frames.exports.options import ExportOptions
from ls_frames.exports.pages import TaskPagesResult, check_tasks_route, read_task_pages
from ls_frames.provenance import (
    PROVENANCE_VERSION,
    SNAPSHOT_SOURCE,
    TASKS_ROUTE,
    Provenance,
)

__all__ = ["STALL_LIMIT", "TASKS_ROUTE_THRESHOLD", "TasksJob", "one_off_read"]

logger = logging.getLogger("ls_frames")

#: ``source="auto"`` reads a project of more tasks than this through the task list at once:
#: Community builds a snapshot inside one request at about 1.3 ms a task on SQLite (more
#: on a busy database), so from here its build nears a minute, half of the official
#: image's 120 s worker timeout (``harakiri``).
TASKS_ROUTE_THRESHOLD = 40_000
#: Seconds without a change an ``in_progress`` snapshot found after a gateway gave up on
#: its create (502/504, a dropped connection) is waited for before ``source="auto"`` takes
#: its build as killed and reads the task list (see :func:`~ls_frames.exports.stale.
#: wait_with_stall_limit`; shorter than the snapshot route's limit, since reading the
#: task list instead loses nothing). More than the official image's 120 s ``harakiri``.
STALL_LIMIT = 150.0


class TasksJob:
    """The tasks route's job (yielded by :func:`one_off_read`): the same questions as
    :class:`~ls_frames.exports.oneshot.SnapshotJob`, answered from the task list.

    ``result`` is what :meth:`download` read (``None`` before); ``reason`` why
    ``source="auto"`` took this route (``None`` when it was asked for).
    """

    export = None
    made = False
    kept = False

    def __init__(
        self,
        client: Client,
        project: int,
        options: ExportOptions,
        *,
        label_config: LabelConfigArg,
        source: str,
        reason: str | None = None,
    ) -> None:
        self.client, self.project, self.options = client, project, options
        self.source, self.reason = source, reason
        self.path: Path | None = None
        self.result: TaskPagesResult | None = None
        self._label_config_arg = label_config
        self._label_config: tuple[str | None] | None = None
        self._provenance: Provenance | None = None

    @property
    def label_config(self) -> str | None:
        """The label config for the job (see :func:`~ls_frames.exports.oneshot.
        project_label_config`), fetched once."""
        if self._label_config is None:
            self._label_config = (
                project_label_config(self.client, self.project, self._label_config_arg),
            )
        return self._label_config[0]

    @property
    def export_id(self) -> None:
        """No snapshot on this route."""
        return None

    @property
    def task_count(self) -> int | None:
        return None if self.result is None else self.result.tasks

    @property
    def watermark(self) -> str | None:
        """The server's clock when the read began (a sync's next window starts there)."""
        if self.result is None:
            return None
        moment = self.result.server_time.astimezone(timezone.utc)
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    def download(self, dest: str | os.PathLike[str], export_type: str = "JSON") -> Path:
        """Read the project's tasks into a JSON file: ``dest`` is a folder (the file is
        ``project-<id>-tasks.json`` in it) or a file's path."""
        if export_type.upper() != "JSON":
            raise ConfigurationError(
                f"the tasks route writes JSON only, not {export_type!r}: converted formats "
                "need a snapshot (source='snapshot')"
            )
        target = Path(dest)
        if target.is_dir() or os.fspath(dest).endswith(("/", os.sep)):
            target.mkdir(parents=True, exist_ok=True)
            target = target / f"project-{self.project}-tasks.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        self.result = read_task_pages(
            self.client, self.project, target, self.options, workers=self.options.fetch_workers
        )
        if self.result.total_after != self.result.total:
            warn_outside(
                PartialResultWarning(
                    f"project {self.project} changed while its tasks were read "
                    f"({self.result.total:,} tasks before, {self.result.total_after:,} "
                    "after): tasks added or deleted meanwhile may be missing; read again",
                    failed=abs(self.result.total_after - self.result.total),
                    total=self.result.total,
                    reasons={"project changed during the read": 1},
                )
            )
        self.path = target
        self._provenance = None
        return target

    @property
    def provenance(self) -> Provenance:
        """Where a dataset written from this read came from (complete after
        :meth:`download`)."""
        if self._provenance is None:
            config = self.label_config
            self._provenance = Provenance(
                provenance_version=PROVENANCE_VERSION,
                source=self.source,
                route=TASKS_ROUTE,
                route_reason=self.reason,
                server=str(self.client.base_url).rstrip("/"),
                server_version=self.client.server_version(),
                project=self.project,
                task_count=self.task_count,
                export_created_at=self.watermark,
                requested_options=self.options.requested(),
                snapshot_kept=False,
                label_config_present=config is not None,
                label_config=config,
                ls_frames_version=__version__,
                written_at=datetime.now(timezone.utc).isoformat(),
            )
        return self._provenance


def _task_number(client: Client, project: int) -> int | None:
    value = client.get_project(project).get("task_number")
    return int(value) if isinstance(value, int) else None


@contextmanager
def one_off_read(
    client: Client,
    project: int,
    options: ExportOptions,
    *,
    label_config: LabelConfigArg = None,
    source: str = SNAPSHOT_SOURCE,
) -> Iterator[SnapshotJob | TasksJob]:
    """The project read once, by ``options.source`` (see the module's docstring).

    Yields
    ------
    SnapshotJob or TasksJob
        ``download(folder)`` writes the JSON file the tables are read from.

    Raises
    ------
    ConfigurationError
        ``source="tasks"`` with options only a snapshot can apply.
    ExportFailed, ExportTimeout, HTTPError
        As :func:`~ls_frames.exports.oneshot.one_off_snapshot`; on ``"auto"`` a killed
        build is not raised but read through the task list.
    """
    route = options.source
    if route == "tasks":
        refused = check_tasks_route(options)
        if refused:
            raise ConfigurationError(refused)
    kw: dict[str, Any] = {"label_config": label_config, "source": source}
    if route == "tasks":
        yield TasksJob(client, project, options, **kw)
        return
    if route == "auto" and check_tasks_route(options) is None:
        count = _task_number(client, project)
        if count is not None and count > TASKS_ROUTE_THRESHOLD:
            reason = (
                f"the project has {count:,} tasks, more than {TASKS_ROUTE_THRESHOLD:,}: read "
                "through the task list"
            )
            logger.info("project %d: %s", project, reason)
            yield TasksJob(client, project, options, reason=reason, **kw)
            return
        stall: dict[str, Any] = {"stall_limit": STALL_LIMIT}
    else:
        route, stall = "snapshot", {}
    with ExitStack() as stack:
        try:
            job: SnapshotJob | TasksJob = stack.enter_context(
                one_off_snapshot(client, project, options, **stall, **kw)
            )
        except SnapshotBuildStopped as stopped:
            if route != "auto":
                raise
            reason = _reason(stopped)
            warn_outside(
                SnapshotFallbackWarning(
                    f"{reason}; read project {project} through the paged task list instead "
                    "(the same tables; pass source='tasks' to skip the snapshot on this "
                    "server)",
                    project=project,
                    reason=reason,
                    snapshot_id=stopped.export_id,
                )
            )
            job = TasksJob(client, project, options, reason=reason, **kw)
        yield job


def _reason(stopped: SnapshotBuildStopped) -> str:
    """What happened, without the fix the error proposes (the fallback is the fix)."""
    head = f"the server stopped the snapshot build after {stopped.seconds:.0f} s"
    if stopped.status is not None:
        head += f" ({stopped.status} answer)"
    if stopped.export_id is not None:
        done = "deleted" if stopped.deleted else "left in progress (could not delete it)"
        head += f"; snapshot {stopped.export_id} {done}"
    return head + ", probably a worker timeout such as uwsgi's harakiri"
