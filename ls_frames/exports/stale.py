"""Snapshots a killed build left behind: find them, delete them, and say what happened.

Label Studio Community builds a snapshot inside the create request. A production server
kills a request that runs too long (uwsgi's ``harakiri``, 120 s in the official image;
gunicorn's ``--timeout``): the build dies with it, the client gets a 500 (or a proxy's
502/504) and the snapshot stays ``in_progress`` for ever. Each try leaves one more.

* :func:`stopped_build` runs after a create failed: it looks for the snapshot by its title
  (:func:`~ls_frames.exports.names.snapshot_title`), deletes it when it is still in progress
  and returns the :class:`~ls_frames.errors.SnapshotBuildStopped` to raise.
* :func:`wait_with_stall_limit` waits for a snapshot found after a proxy gave up on the
  create; no change in the snapshot for ``stall_limit`` seconds counts as a killed build.
* :func:`stale_snapshots` and :func:`delete_stale_snapshots` list and remove snapshots left
  ``in_progress`` for longer than a limit (``ls-frames snapshots --stale``).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from typing import Any

from ls_frames.errors import (
    ConfigurationError,
    ExportTimeout,
    HTTPError,
    NotFound,
    SnapshotBuildStopped,
)
from ls_frames.exports.client import Client, _server_time
from ls_frames.exports.snapshot import Export, ExportStatus

__all__ = [
    "DEFAULT_STALE_AGE",
    "DEFAULT_STALL_LIMIT",
    "delete_stale_snapshots",
    "stale_snapshots",
    "stopped_build",
    "wait_with_stall_limit",
]

logger = logging.getLogger("ls_frames")

#: Seconds a snapshot found after a proxy gave up on its create may stay unchanged (in
#: progress) before its build counts as killed: past uwsgi's usual harakiri (120 s) twice.
DEFAULT_STALL_LIMIT = 300.0
#: Age past which an ``in_progress`` snapshot counts as stale (an hour).
DEFAULT_STALE_AGE = 3600.0
_UNFINISHED = (ExportStatus.CREATED, ExportStatus.IN_PROGRESS)
_EPOCH = datetime.min.replace(tzinfo=timezone.utc)
_FIX = (
    'read the project through the paged tasks API instead (source="tasks"; '
    "`--source tasks` on the command line), or raise the server's worker timeout"
)


def _message(project: int, seconds: float, export_id: int | None, deleted: bool) -> str:
    left = ""
    if export_id is not None:
        left = (
            f"; snapshot {export_id}, left in progress, was deleted"
            if deleted
            else f"; snapshot {export_id} is left in progress (`ls-frames snapshots --stale "
            "--delete` removes it)"
        )
    return (
        f"the server stopped the snapshot build of project {project} after {seconds:.0f} s, "
        "probably a worker timeout such as uwsgi's harakiri (120 s in the official image) "
        f"or gunicorn's --timeout{left}: {_FIX}"
    )


def _delete(client: Client, export: Export) -> bool:
    try:
        client.delete_export(export.project, export.id)
    except NotFound:
        return True
    except HTTPError as exc:
        logger.warning(
            "could not delete snapshot %d of project %d: %s", export.id, export.project, exc
        )
        return False
    return True


def _error(
    export: Export, seconds: float, deleted: bool, cause: HTTPError | None
) -> SnapshotBuildStopped:
    where: dict[str, Any] = {}
    if cause is not None:
        where = {
            "method": cause.method,
            "path": cause.path,
            "status": cause.status,
            "request": cause.request,
            "response": cause.response,
        }
    return SnapshotBuildStopped(
        _message(export.project, seconds, export.id, deleted),
        project=export.project,
        seconds=seconds,
        export_id=export.id,
        deleted=deleted,
        **where,
    )


def stopped_build(
    client: Client, project: int, title: str, error: HTTPError, seconds: float
) -> SnapshotBuildStopped | None:
    """After the create of snapshot ``title`` failed with ``error``: when the server answered
    5xx and the snapshot is there, still in progress, its build was killed. Delete it and
    return the error to raise (chain ``error`` to it); ``None`` when that is not what
    happened (raise ``error`` itself then).

    Parameters
    ----------
    client
        The server.
    project
        The project's id.
    title
        The title the create sent.
    error
        The create's error.
    seconds
        How long the create request ran.

    Returns
    -------
    SnapshotBuildStopped or None
        The error naming the cause and the fix, with the snapshot's id and whether it was
        deleted.
    """
    if error.status is None or error.status < 500:
        return None
    try:
        found = [e for e in client.list_exports(project) if e.title == title]
    except HTTPError:
        return None
    if not found or found[0].status not in _UNFINISHED:
        return None
    export = found[0]
    return _error(export, seconds, _delete(client, export), error)


def _fingerprint(export: Export) -> tuple[Any, ...]:
    raw = export.raw
    formats = [(f.get("id"), f.get("status")) for f in raw.get("converted_formats") or []]
    return (raw.get("status"), raw.get("md5"), repr(raw.get("counters")), repr(formats))


def wait_with_stall_limit(
    export: Export,
    *,
    started: float,
    stall_limit: float | None = DEFAULT_STALL_LIMIT,
    timeout: float | None = None,
    progress: bool | None = None,
    client: Client | None = None,
) -> Export:
    """Wait for a snapshot whose create request failed on the way back (a proxy's 502/504):
    the server may still be building it, or a worker timeout may have killed the build.

    Community shows no progress while it builds: the snapshot's status, MD5 and counters
    change only when it is done. When none of them changed for ``stall_limit`` seconds,
    counted from ``started`` (the create's start, ``time.monotonic()``), the build counts
    as killed: the snapshot is deleted (with ``client``) and
    :class:`~ls_frames.errors.SnapshotBuildStopped` raised.

    Parameters
    ----------
    export
        The snapshot found by its title.
    started
        When the create request went out (``time.monotonic()``).
    stall_limit
        Seconds without a change before giving up; ``None`` waits as long as it takes.
    timeout
        Seconds to wait in all (from now); ``None``: no deadline but the stall limit.
    progress
        Show a spinner; ``None`` follows ``LS_FRAMES_DISABLE_PROGRESS_BARS``.
    client
        Deletes the stalled snapshot; without one it is left (the error says so).

    Returns
    -------
    Export
        The snapshot, completed.

    Raises
    ------
    SnapshotBuildStopped
        No change for ``stall_limit`` seconds.
    ExportTimeout, ExportFailed
        As :meth:`Export.wait <ls_frames.Export.wait>`.
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    last_change, seen = started, _fingerprint(export)
    while True:
        now = time.monotonic()
        limits = [
            t
            for t in (deadline, None if stall_limit is None else last_change + stall_limit)
            if t is not None
        ]
        budget = None if not limits else max(0.0, min(limits) - now)
        try:
            return export.wait(timeout=budget, progress=progress)
        except ExportTimeout:
            now = time.monotonic()
            if _fingerprint(export) != seen:
                last_change, seen = now, _fingerprint(export)
            elif deadline is not None and now >= deadline:
                raise
            elif stall_limit is not None and now >= last_change + stall_limit:
                deleted = client is not None and _delete(client, export)
                cause = export.recovered_from
                raise _error(
                    export,
                    now - started,
                    deleted,
                    cause if isinstance(cause, HTTPError) else None,
                ) from cause


@contextmanager
def _using(client: Client | None) -> Iterator[Client]:
    if client is not None:
        yield client
        return
    with Client() as own:
        yield own


def stale_snapshots(
    project: int | str | None = None,
    *,
    older_than: float = DEFAULT_STALE_AGE,
    client: Client | None = None,
) -> list[Export]:
    """Snapshots left ``created`` or ``in_progress`` for more than ``older_than`` seconds.

    A snapshot still unfinished an hour after it was made was, on Community, almost surely
    killed with its create request (see :mod:`ls_frames.exports.stale`); on Enterprise a
    big one may still be building, so choose the age with care there. Ages are measured on
    the server's own clock (its ``Date`` header).

    Parameters
    ----------
    project
        The project's id or title; ``None``: every project the key sees.
    older_than
        Minimum age in seconds (an hour by default; 0 lists every unfinished one).
    client
        The :class:`~ls_frames.Client` to use; by default one is made from
        ``LABEL_STUDIO_URL`` / ``LABEL_STUDIO_API_KEY`` (and closed afterwards).

    Returns
    -------
    list of Export
        The stale snapshots, oldest first (``Export.project`` says whose).

    Raises
    ------
    ConfigurationError
        ``older_than`` is negative, or no client was given and the environment names no
        server or key.
    AuthenticationError, PermissionDenied, NotFound
        The key is refused, the user may not list snapshots, or no such project.
    HTTPError
        Another request failure after the retries.
    """
    if isinstance(older_than, bool) or not isinstance(older_than, int | float) or older_than < 0:
        raise ConfigurationError(f"older_than must be seconds >= 0, not {older_than!r}")
    with _using(client) as own:
        return _stale(own, project, older_than)


def _stale(client: Client, project: int | str | None, older_than: float) -> list[Export]:
    if project is None:
        projects = sorted(int(p["id"]) for p in client.list_projects())
    else:
        projects = [client.resolve_project(project)]
    out: list[Export] = []
    for pid in projects:
        response = client.request("GET", f"api/projects/{pid}/exports/")
        cutoff = _server_time(response) - timedelta(seconds=older_than)
        for raw in response.json():
            export = Export(client, pid, raw)
            created = export.created_at or _EPOCH
            if export.status in _UNFINISHED and created <= cutoff:
                out.append(export)
    out.sort(key=lambda e: (e.created_at or _EPOCH, e.id))
    return out


def delete_stale_snapshots(
    project: int | str | None = None,
    *,
    older_than: float = DEFAULT_STALE_AGE,
    client: Client | None = None,
) -> list[Export]:
    """Delete the snapshots :func:`stale_snapshots` lists.

    Parameters
    ----------
    project
        The project's id or title; ``None``: every project the key sees.
    older_than
        Minimum age in seconds (an hour by default; 0 deletes every unfinished one).
    client
        The :class:`~ls_frames.Client` to use; by default one is made from
        ``LABEL_STUDIO_URL`` / ``LABEL_STUDIO_API_KEY`` (and closed afterwards).

    Returns
    -------
    list of Export
        Those deleted (one that vanished meanwhile counts as deleted).

    Raises
    ------
    ConfigurationError, HTTPError
        As :func:`stale_snapshots`; or a delete failed (those deleted before it stay
        deleted).
    """
    with _using(client) as own:
        deleted = []
        for export in stale_snapshots(project, older_than=older_than, client=own):
            with contextlib.suppress(NotFound):
                own.delete_export(export.project, export.id)
            deleted.append(export)
        return deleted
