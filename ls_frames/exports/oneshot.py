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

A create killed by the server's worker timeout leaves no snapshot behind either
(:mod:`~ls_frames.exports.stale`): after a 5xx the snapshot is found by its title and
deleted when still in progress, and one found after a proxy's 502/504 is given up (and
deleted) once it made no progress for ``stall_limit`` seconds. Both raise
:class:`~ls_frames.errors.SnapshotBuildStopped`, which names the cause and the fix.

:func:`project_label_config` is the one reading of the ``label_config`` argument the
public functions share: ``None`` fetches the project's config, a string is used as it is,
``False`` means none.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ls_frames._version import __version__
from ls_frames.errors import HTTPError
from ls_frames.exports.client import Client
from ls_frames.exports.names import snapshot_title
from ls_frames.exports.options import ExportOptions
from ls_frames.exports.snapshot import Export
from ls_frames.exports.stale import DEFAULT_STALL_LIMIT, stopped_build, wait_with_stall_limit
from ls_frames.provenance import PROVENANCE_VERSION, SNAPSHOT_ROUTE, SNAPSHOT_SOURCE, Provenance

__all__ = ["SnapshotJob", "one_off_snapshot", "project_label_config"]

logger = logging.getLogger("ls_frames")

LabelConfigArg = str | bool | None
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
    stall_limit: float | None = DEFAULT_STALL_LIMIT,
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
        Seconds a snapshot found after a proxy gave up on its create may stay unchanged
        before its build counts as killed (:func:`~ls_frames.exports.stale.
        wait_with_stall_limit`); ``None`` waits as long as it takes.

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
    SnapshotBuildStopped
        The server stopped the build (a worker timeout); the snapshot it left is deleted.
    HTTPError
        Another request failure after the retries.
    """
    started = time.monotonic()
    if options.export_id is not None:
        export = client.get_export(project, options.export_id)
    else:
        title = snapshot_title()
        try:
            export = client.create_export(
                project,
                title=title,
                task_filter=options.task_filter,
                annotation_filter=options.annotation_filter,
                serialization=options.serialization,
            )
        except HTTPError as exc:
            stopped = stopped_build(client, project, title, exc, time.monotonic() - started)
            if stopped is None:
                raise
            raise stopped from exc
    made = options.export_id is None
    try:
        if export.recovered_from is not None:
            export = wait_with_stall_limit(
                export,
                started=started,
                stall_limit=stall_limit,
                timeout=options.timeout,
                progress=options.progress,
                client=client,
            )
        export = export.wait(timeout=options.timeout, progress=options.progress)
        yield SnapshotJob(
            client, export, options, made=made, label_config=label_config, source=source
        )
    finally:
        if made and options.deletes_snapshot:
            try:
                client.delete_export(export.project, export.id)
            except HTTPError as exc:
                logger.warning(
                    "could not delete snapshot %d of project %d: %s", export.id, export.project, exc
                )
