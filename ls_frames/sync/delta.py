"""Keep Delta Lake tables in step with a project: :func:`sync_delta`.

The run is :mod:`~ls_frames.sync.run`'s, the same as :func:`~ls_frames.
sync_parquet`'s; the tables are written by :mod:`~ls_frames.tables.delta`: one Delta table
per ls_frames table under ``table_uri``, each run one commit per table that changed (all
rows of the changed tasks replaced, deleted tasks' rows removed), the tasks table last,
its commit holding the run's provenance and the versions of the others.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ls_frames.errors import ConfigurationError
from ls_frames.exports import Client
from ls_frames.exports.options import ExportOptions, Source, shared_docs
from ls_frames.provenance import Provenance
from ls_frames.sync.run import RunReport, RunSummary, check_run, run_sync
from ls_frames.sync.stores import State, Written, sync_state
from ls_frames.tables import to_parquet
from ls_frames.tables.delta import (
    DEFAULT_TASKS_PER_FILE,
    DeltaState,
    DeltaWrite,
    delta_state,
    delta_task_ids,
    delta_task_stamps,
    write_delta,
)
from ls_frames.tables.delta.storage import check_storage_options, storage_scheme
from ls_frames.tables.folders import check_writable_dir

__all__ = ["DeltaStore", "DeltaSyncResult", "sync_delta"]


@dataclass(frozen=True, kw_only=True)
class DeltaSyncResult(RunSummary):
    """What one :func:`sync_delta` run did: the fields every sync result has (``mode``,
    ``changed_tasks``, ``deleted_tasks``, ``total_tasks``, ``watermark``, ``seconds``,
    ``export_id``, ``requests``) and the tables'.

    ``version`` is the dataset's version afterwards (``read_delta(uri, version=...)``
    reads it back; unchanged when nothing was written). ``commits``, ``bytes_written``,
    ``bytes_removed``, ``files_written`` and ``files_removed`` say what the run wrote:
    the files it replaced and the ones that replaced them, over all tables.
    """

    table_uri: str
    version: int | None
    commits: int = 0
    bytes_written: int = 0
    bytes_removed: int = 0
    files_written: int = 0
    files_removed: int = 0


class DeltaStore:
    """The ls_frames Delta tables under a URI (a local folder or ``s3://...``)."""

    def __init__(
        self,
        table_uri: str | os.PathLike[str],
        *,
        storage_options: Mapping[str, str] | None,
        progress: bool | None,
        tasks_per_file: int | None = DEFAULT_TASKS_PER_FILE,
    ) -> None:
        self.location = os.fspath(table_uri)
        self.tasks_per_file = tasks_per_file
        self.storage_options = dict(storage_options) if storage_options else None
        self.progress = progress
        self._state: DeltaState | None = None

    @property
    def version(self) -> int | None:
        """The dataset version the store holds now (after its last write, if any)."""
        return None if self._state is None else self._state.version

    def open(self, *, full: bool) -> State | None:
        state = delta_state(self.location, storage_options=self.storage_options)
        self._state = state
        if state is None:
            return None
        if sync_state(state.provenance) is None and not full:
            raise ConfigurationError(
                f"{self.location} holds ls_frames Delta tables that sync_delta did not "
                "write; pass full=True to replace them"
            )
        return None if full else State.read(state.provenance, dict(state.rows))

    def task_ids(self) -> list[int]:
        if self._state is None:
            return []
        ids = delta_task_ids(self.location, self._state, storage_options=self.storage_options)
        return [int(i) for i in ids.to_pylist()]

    def task_stamps(self, ids: Iterable[int], columns: Sequence[str]) -> dict[int, tuple[Any, ...]]:
        if self._state is None:
            return {}
        return delta_task_stamps(
            self.location, self._state, ids, columns, storage_options=self.storage_options
        )

    def _written(self, write: DeltaWrite) -> Written:
        self._state = write.state
        rows = dict(write.state.rows)
        return Written(
            task_count=int(rows.get("tasks") or 0),
            rows=rows,
            commits=write.commits,
            bytes_written=write.bytes_written,
            bytes_removed=write.bytes_removed,
            files_written=write.files_written,
            files_removed=write.files_removed,
        )

    def write_full(
        self, export: Path, *, provenance: Provenance, label_config: str | None, scratch: Path
    ) -> Written:
        stored = provenance.to_dict()
        part = to_parquet(
            export,
            scratch / "full",
            provenance=stored,
            label_config=label_config,
            progress=self.progress,
        )
        write = write_delta(
            self.location,
            part,
            provenance=stored,
            full=True,
            expected=self._state,
            storage_options=self.storage_options,
            tasks_per_file=self.tasks_per_file,
        )
        return self._written(write)

    def write_changes(
        self,
        part: Path | None,
        *,
        drop_tasks: Sequence[int],
        provenance: Provenance,
        scratch: Path,
    ) -> Written:
        write = write_delta(
            self.location,
            part,
            provenance=provenance.to_dict(),
            drop_tasks=drop_tasks,
            full=False,
            expected=self._state,
            storage_options=self.storage_options,
        )
        return self._written(write)


def _result(store: DeltaStore, done: RunReport) -> DeltaSyncResult:
    written = done.written or Written(task_count=done.summary.total_tasks, rows={})
    return DeltaSyncResult.of(
        done.summary,
        table_uri=store.location,
        version=store.version,
        commits=written.commits,
        bytes_written=written.bytes_written,
        bytes_removed=written.bytes_removed,
        files_written=written.files_written,
        files_removed=written.files_removed,
    )


@shared_docs
def sync_delta(
    project: int | str,
    table_uri: str | os.PathLike[str],
    *,
    client: Client | None = None,
    storage_options: Mapping[str, str] | None = None,
    overlap: float = 60.0,
    full: bool = False,
    label_config: str | Literal[False] | None = None,
    timeout: float | None = None,
    progress: bool | None = None,
    scratch_dir: str | os.PathLike[str] | None = None,
    tasks_per_file: int | None = DEFAULT_TASKS_PER_FILE,
    source: Source = "auto",
    fetch_workers: int = 2,
) -> DeltaSyncResult:
    """Bring the Delta tables under ``table_uri`` up to date with ``project``.

    One Delta table per ls_frames table (``tasks``, ``annotations``, ``regions``,
    ``relations``, ``predictions``, ``drafts``) under ``table_uri``: a local folder or an
    object-store URI (``s3://bucket/prefix``) that the ``deltalake`` package reaches with
    ``storage_options``. The first run (or ``full=True``) writes the whole project, the same
    rows and types as :func:`~ls_frames.export_project`. Later runs export only the tasks
    changed since the last watermark (as :func:`~ls_frames.sync_parquet` does) and merge
    them by task: every row of a changed task replaced, the rows of deleted tasks removed,
    one commit per table that changed. A run with nothing changed writes no commit.

    Every run is a version: :func:`~ls_frames.read_delta` with ``version=`` or
    ``timestamp=`` gives the tables as an earlier run left them, and the watermark and run
    history live in the tables' commits (no side file). Two runs into the same tables at
    once: one commits, the other raises :class:`~ls_frames.errors.ConcurrentWriteError`.
    A run killed midway leaves the last complete version what :func:`~ls_frames.read_delta`
    reads; the next run brings the tables up to date. :func:`~ls_frames.compact_delta`
    compacts the files and removes old versions with a retention you set.

    Saving a draft does not change a task's ``updated_at`` on the server, so a draft-only
    change arrives with the task's next change or a full run.

    Parameters
    ----------
    %(project)s
    table_uri
        Where the tables live: a local folder or ``s3://bucket/prefix`` (one table per
        sub-path: ``<table_uri>/tasks``, ``<table_uri>/regions``, ...).
    %(client)s
    storage_options
        Options for the object store, as ``deltalake`` takes them (for S3 or MinIO:
        ``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``,
        ``AWS_REGION``, ``AWS_ALLOW_HTTP`` for a plain-http endpoint, and
        ``AWS_CONDITIONAL_PUT="etag"`` so concurrent writers are detected).
    overlap
        Seconds before the last watermark that are looked at again.
    full
        Write the whole project again, as a new version.
    label_config
        ``None`` fetches the project's config (stored with the tables; label columns read
        back as categoricals in config order); a string is used as the config; ``False``
        skips it.
    %(timeout)s
    %(progress)s
    %(source)s
        Incremental runs read the changed tasks through a snapshot in any case.
    scratch_dir
        A local folder for the run's temporary files (the downloaded snapshot and its
        tables); the system's temporary folder by default. Removed afterwards.
    tasks_per_file
        The width of the task-id ranges a full run lays the tables out in (one file per
        range; later runs keep the tables' widths). ``None`` (the default) gives each
        table the width that puts about 65,536 of its rows in a file: a refresh rewrites
        the files that hold a changed task, and a file costs as much to rewrite as ~1,700
        of its rows, so a few large files make refreshes and readers fast. Narrow ranges
        (e.g. 100) rewrite fewer bytes when a handful of tasks of a very large project
        change, at the price of many small files; :func:`~ls_frames.compact_delta`
        changes the width later.

    Returns
    -------
    DeltaSyncResult
        What the run did: ``mode``, ``changed_tasks``, ``deleted_tasks``, ``total_tasks``,
        the new ``watermark``, ``seconds``, the ``version`` the tables are at, the number
        of ``commits`` and the bytes and files it wrote and replaced.

    Raises
    ------
    ConfigurationError
        An argument is out of its range, checked before a client is made: ``overlap``
        negative, ``tasks_per_file`` below 1, a ``storage_options`` key the URI's object
        store does not take (named with the closest known key; nothing is sent), a local
        ``table_uri`` or ``scratch_dir`` that cannot be written. Also: ``table_uri`` holds tables
        sync_delta did not write (without ``full``) or another project's, the object
        store cannot be reached with ``storage_options``, the ``deltalake`` package is
        missing, or no client was given and the environment
        names no server or key.
    ConcurrentWriteError
        Another run committed to the tables since this one read them; nothing of this run
        is committed.
    AuthenticationError, PermissionDenied, NotFound
        The key is refused, the user may not export, or the project does not exist.
    HTTPError
        Another request failure after the retries.
    ExportFailed, ExportTimeout
        The snapshot failed on the server, or did not complete within ``timeout``.
    DownloadError
        The download broke off for good or its MD5 does not match.
    ExportFormatError
        The snapshot is not a Label Studio JSON export.
    """
    ExportOptions(source=source, fetch_workers=fetch_workers)  # checked before a client
    if client is None:
        _check(project, table_uri, storage_options, overlap, timeout, scratch_dir, tasks_per_file)
        with Client() as own:
            return sync_delta(
                project,
                table_uri,
                client=own,
                storage_options=storage_options,
                overlap=overlap,
                full=full,
                label_config=label_config,
                timeout=timeout,
                progress=progress,
                scratch_dir=scratch_dir,
                tasks_per_file=tasks_per_file,
                source=source,
                fetch_workers=fetch_workers,
            )
    _check(project, table_uri, storage_options, overlap, timeout, scratch_dir, tasks_per_file)
    project = client.resolve_project(project)
    store = DeltaStore(
        table_uri,
        storage_options=storage_options,
        progress=progress,
        tasks_per_file=tasks_per_file,
    )
    done = run_sync(
        client,
        project,
        store,
        overlap=overlap,
        full=full,
        label_config=label_config,
        timeout=timeout,
        progress=progress,
        scratch=Path(scratch_dir) if scratch_dir is not None else Path(tempfile.gettempdir()),
        name="sync_delta",
        source=source,
        fetch_workers=fetch_workers,
    )
    return _result(store, done)


def _check(
    project: int | str,
    table_uri: str | os.PathLike[str],
    storage_options: Mapping[str, str] | None,
    overlap: float,
    timeout: float | None,
    scratch_dir: str | os.PathLike[str] | None,
    tasks_per_file: int | None,
) -> None:
    """Every argument, before a client is made or anything is asked, sent or written."""
    check_run(project, overlap, timeout)
    if tasks_per_file is None:
        pass
    elif isinstance(tasks_per_file, bool) or not isinstance(tasks_per_file, int):
        raise ConfigurationError(f"tasks_per_file must be a whole number, not {tasks_per_file!r}")
    elif tasks_per_file < 1:
        raise ConfigurationError(f"tasks_per_file must be >= 1, not {tasks_per_file!r}")
    check_storage_options(table_uri, storage_options)
    if storage_scheme(table_uri) == "local" and "://" not in os.fspath(table_uri):
        check_writable_dir(table_uri, "table_uri")
    if scratch_dir is not None:
        check_writable_dir(scratch_dir, "scratch_dir")
