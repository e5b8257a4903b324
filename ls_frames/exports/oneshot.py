"""The one-off snapshot job: make a snapshot (or use a named one), wait for it, download
it, delete it.

Every end-to-end path goes through :func:`one_off_snapshot`: ``load_project``,
``export_project``, ``download_project``, ``snapshot_project``, both sync runs and the
panel::

    options = ExportOptions.coerce(task_filter={"view": 3}, timeout=600)
    with one_off_snapshot(client, project, options) as job:
        path = job.download(folder)        # JSON; job.download(folder, "COCO") converts
    job.provenance                         # typed: server, snapshot, md5, options, ...

A snapshot the job made is deleted when the ``with`` block ends, however it ends (the
download done or failed, an exception, ``KeyboardInterrupt``), unless
``options.keep_snapshot``; one named with ``options.export_id`` is the user's and is never
deleted. A failed delete is logged, not raised: the job's own outcome is what matters.

:func:`project_label_config` is the one reading of the ``label_config`` argument the
public functions share: ``None`` fetches the project's config, a string is used as it is,
``False`` means none.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ls_frames._version import __version__
from ls_frames.errors import ExportError, ExportTimeout, HTTPError, TransportError
from ls_frames.exports.client import Client
from ls_frames.exports.options import ExportOptions
from ls_frames.exports.snapshot import Export, ExportStatus
from ls_frames.provenance import PROVENANCE_VERSION, SNAPSHOT_ROUTE, SNAPSHOT_SOURCE, Provenance

__all__ = ["SnapshotJob", "SnapshotKilled", "one_off_snapshot", "project_label_config"]

logger = logging.getLogger("ls_frames")

LabelConfigArg = str | bool | None
#: A create that took this long (seconds) and answered a snapshot still in progress was
#: given up on by a gateway (see :func:`one_off_snapshot`'s ``stall_limit``).
GATEWAY_SECONDS = 2.0
_SERVER_OPTIONS = ("task_filter_options", "annotation_filter_options", "serialization_options")


def project_label_config(
    client: Client,
    project: int,
    label_config: str | bool | None,
    *,
    project_info: Mapping[str, Any] | None = None,
) -> str | None:
    """The label config a job uses.

    Parameters
    ----------
    client
        The server.
    project
        The project's id.
    label_config
        ``None`` (or ``True``): the project's own config, fetched (``None`` when the
        project has none); a string: that config; ``False``: none.
    project_info
        The project as :meth:`Client.get_project <ls_frames.Client.get_project>` gave it,
        when the caller has it already (no request is made then).

    Returns
    -------
    str or None
        The config (XML), or ``None``.
    """
    if label_config is False:
        return None
    if isinstance(label_config, str):
        return label_config
    info = project_info if project_info is not None else client.get_project(project)
    config = info.get("label_config")
    return str(config) if config else None


class SnapshotKilled(ExportError):
    """The server stopped a snapshot's build (raised by :func:`one_off_snapshot` when it
    is given a ``stall_limit``; ``source="auto"`` then reads the task list). ``reason``
    says what happened, ``snapshot_id`` names the stuck snapshot, deleted already."""

    def __init__(self, reason: str, *, snapshot_id: int | None = None) -> None:
        super().__init__(reason)
        self.reason, self.snapshot_id = reason, snapshot_id


class SnapshotJob:
    """A completed snapshot serving one job (yielded by :func:`one_off_snapshot`).

    ``export`` is the snapshot, ``made`` whether the job created it, ``path`` the last file
    :meth:`download` wrote (``None`` before), ``provenance`` what a dataset written from it
    records (built on first use), ``label_config`` the config resolved for it.
    """

    def __init__(
        self,
        client: Client,
        export: Export,
        options: ExportOptions,
        *,
        made: bool,
        label_config: LabelConfigArg,
        source: str,
    ) -> None:
        self.client = client
        self.export = export
        self.options = options
        self.made = made
        self.source = source
        self.path: Path | None = None
        self._label_config_arg = label_config
        self._label_config: tuple[str | None] | None = None
        self._provenance: Provenance | None = None

    @property
    def kept(self) -> bool:
        """Whether the snapshot stays on the server after the job."""
        return not (self.made and self.options.deletes_snapshot)

    @property
    def export_id(self) -> int:
        return self.export.id

    @property
    def task_count(self) -> int | None:
        return self.export.task_count

    @property
    def watermark(self) -> str | None:
        """The snapshot's ``created_at`` (server clock): a sync's next window starts
        there."""
        created = self.export.raw.get("created_at")
        return str(created) if created else None

    @property
    def label_config(self) -> str | None:
        """The label config for the job (see :func:`project_label_config`), fetched once."""
        if self._label_config is None:
            self._label_config = (
                project_label_config(self.client, self.export.project, self._label_config_arg),
            )
        return self._label_config[0]

    def download(self, dest: str | os.PathLike[str], export_type: str = "JSON") -> Path:
        """Download the snapshot (or a converted format of it) to ``dest`` (a file or a
        folder, as :meth:`Export.download <ls_frames.Export.download>` takes it)."""
        self.path = self.export.download(dest, export_type, progress=self.options.progress)
        return self.path

    @property
    def provenance(self) -> Provenance:
        """Where a dataset written from this snapshot came from (built once)."""
        if self._provenance is None:
            export, config = self.export, self.label_config
            self._provenance = Provenance(
                provenance_version=PROVENANCE_VERSION,
                source=self.source,
                route=SNAPSHOT_ROUTE,
                server=str(self.client.base_url).rstrip("/"),
                server_version=self.client.server_version(),
                project=export.project,
                export_id=export.id,
                export_title=export.title,
                md5=export.md5,
                task_count=export.task_count,
                export_created_at=export.raw.get("created_at"),
                options={k: export.raw.get(k) for k in _SERVER_OPTIONS if k in export.raw},
                requested_options=self.options.requested(),
                snapshot_kept=self.kept,
                label_config_present=config is not None,
                label_config=config,
                ls_frames_version=__version__,
                written_at=datetime.now(timezone.utc).isoformat(),
            )
        return self._provenance


@contextmanager
def one_off_snapshot(
    client: Client,
    project: int,
    options: ExportOptions,
    *,
    label_config: LabelConfigArg = None,
    source: str = SNAPSHOT_SOURCE,
    stall_limit: float | None = None,
) -> Iterator[SnapshotJob]:
    """A completed snapshot of ``project`` for the ``with`` block, deleted at its end when
    the job made it (see the module's docstring).

    Parameters
    ----------
    client
        The server.
    project
        The project's id.
    options
        The snapshot's options and lifecycle (:class:`~ls_frames.exports.options.
        ExportOptions`).
    label_config
        What :attr:`SnapshotJob.label_config` resolves (:func:`project_label_config`).
    source
        ``Provenance.source`` of what is written from the snapshot.
    stall_limit
        Seconds after which a snapshot a failed create left ``in_progress`` counts as
        killed; with it, a killed build (see :func:`_create`) raises
        :class:`SnapshotKilled` once the stuck snapshot is deleted. ``None``: the create's
        own error is raised (the stuck snapshot deleted too).

    Yields
    ------
    SnapshotJob
        The snapshot, completed; download it with :meth:`SnapshotJob.download`.

    Raises
    ------
    NotFound
        The project, or the snapshot named by ``export_id``, does not exist.
    ExportFailed, ExportTimeout
        The snapshot failed on the server, or did not complete within ``options.timeout``
        (a snapshot the job made is deleted then too).
    SnapshotKilled
        With ``stall_limit``: the server stopped the build.
    HTTPError
        Another request failure after the retries.
    """
    if options.export_id is not None:
        export = client.get_export(project, options.export_id)
        started = time.monotonic()
    else:
        export, started = _create(client, project, options, stall_limit)
    made = options.export_id is None
    # Community builds inside the create and answers it completed; one answered in
    # progress after a long create is what a gateway's give-up left (an Enterprise server
    # answers at once and builds in the background: no stall limit for it)
    slow = time.monotonic() - started >= GATEWAY_SECONDS
    killed = False
    try:
        try:
            export = _wait(export, options, stall_limit if made and slow else None, started)
        except SnapshotKilled:
            killed = True  # deleted below, kept or not: it will never complete
            raise
        yield SnapshotJob(
            client, export, options, made=made, label_config=label_config, source=source
        )
    finally:
        if made and (options.deletes_snapshot or killed):
            try:
                client.delete_export(export.project, export.id)
            except HTTPError as exc:
                logger.warning(
                    "could not delete snapshot %d of project %d: %s", export.id, export.project, exc
                )


def _delete_quietly(client: Client, project: int, export_id: int) -> None:
    try:
        client.delete_export(project, export_id)
    except HTTPError as exc:
        logger.warning("could not delete snapshot %d of project %d: %s", export_id, project, exc)


def _create(
    client: Client, project: int, options: ExportOptions, stall_limit: float | None
) -> tuple[Export, float]:
    """Create the job's snapshot. A create the server killed (a 5xx answer, or the
    connection dropped, with the snapshot left ``in_progress``) has its stuck snapshot
    deleted, then raises :class:`SnapshotKilled` (with ``stall_limit``) or its error."""
    now = datetime.now(timezone.utc)
    title = f"ls_frames {now:%Y-%m-%d %H:%M:%S} {uuid.uuid4().hex[:8]}"
    started = time.monotonic()
    try:
        export = client.create_export(
            project,
            title=title,
            task_filter=options.task_filter,
            annotation_filter=options.annotation_filter,
            serialization=options.serialization,
        )
    except HTTPError as exc:
        status = exc.status
        if not (isinstance(exc, TransportError) or (status is not None and status >= 500)):
            raise
        stuck = [e for e in client.list_exports(project) if e.title == title]
        for export in stuck:
            _delete_quietly(client, project, export.id)
        if stall_limit is None:
            raise
        seconds = time.monotonic() - started
        what = f"{status} answer" if status is not None else "dropped connection"
        raise SnapshotKilled(
            f"the server stopped building the snapshot of project {project} after "
            f"{seconds:.0f} s ({what}"
            + (f", snapshot {stuck[0].id} left in progress and deleted" if stuck else "")
            + "), probably a worker timeout such as uwsgi's harakiri",
            snapshot_id=stuck[0].id if stuck else None,
        ) from exc
    return export, started


def _wait(
    export: Export,
    options: ExportOptions,
    stall_limit: float | None,
    started: float,
) -> Export:
    """Wait for the snapshot; with ``stall_limit``, one still ``in_progress`` that long
    after the create began raises :class:`SnapshotKilled`."""
    if stall_limit is None or export.status is not ExportStatus.IN_PROGRESS:
        return export.wait(timeout=options.timeout, progress=options.progress)
    left = stall_limit - (time.monotonic() - started)
    limit = left if options.timeout is None else min(left, options.timeout)
    try:
        return export.wait(timeout=max(0.0, limit), progress=options.progress)
    except ExportTimeout:
        if options.timeout is not None and options.timeout <= left:
            raise
        # deleted by one_off_snapshot's cleanup, as any snapshot the job made
        raise SnapshotKilled(
            f"snapshot {export.id} of project {export.project} was still in progress "
            f"{stall_limit:.0f} s after its create, whose answer a gateway gave up on "
            "(probably a worker timeout such as uwsgi's harakiri stopped the build); it "
            "was deleted",
            snapshot_id=export.id,
        ) from None
