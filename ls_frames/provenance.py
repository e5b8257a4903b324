"""The state that crosses layers, typed and versioned: where a dataset came from
(:class:`Provenance`) and the sync state kept in it (:class:`SyncState`, one
:class:`SyncRunRecord` per run).

Written by the exports layer (the one-off snapshot job) and the sync runs, stored by the
tables layer (a Parquet dataset's file metadata and manifest, a Delta commit), read back
by both stacks: so it lives on the ground floor and imports nothing of the library.

Stored as JSON, read and written in one place each: :meth:`Provenance.to_dict` and
:meth:`Provenance.from_dict`.

* **Old shapes.** ``from_dict`` reads every dict an ls_frames release wrote (those have no
  ``provenance_version``): the keys it knows become typed fields, a value of the wrong
  type and every key it does not know are kept as they are (``extra``), so nothing is lost
  when a dataset is rewritten.
* **None is absent.** A field that is ``None`` is not written, and a key stored as
  ``null`` is read as not there.
* **Mapping reads.** Each class is a read-only mapping over its stored shape, so
  ``frames.provenance["export_id"]``, ``.get("sync")``, ``["sync"]["runs"][-1]["mode"]``,
  ``dict(p)`` and ``p == {...}`` work as they did when provenance was a dict; the
  attributes give the typed values (``p.sync.runs[-1].mode``).
"""

from __future__ import annotations

import dataclasses
import functools
import typing
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

import msgspec

__all__ = [
    "PROVENANCE_VERSION",
    "SNAPSHOT_ROUTE",
    "SNAPSHOT_SOURCE",
    "SYNC_SOURCE",
    "TASKS_ROUTE",
    "Provenance",
    "SyncRunRecord",
    "SyncState",
    "stored_provenance",
]

#: The version of the stored shape written by this ls_frames (absent in older datasets).
PROVENANCE_VERSION = 2
#: ``Provenance.source`` of a dataset written from one snapshot.
SNAPSHOT_SOURCE = "label-studio-snapshot"
#: ``Provenance.source`` of a dataset a sync run wrote.
SYNC_SOURCE = "label-studio-sync"
#: ``Provenance.route`` of what was read through a snapshot.
SNAPSHOT_ROUTE = "snapshot"
#: ``Provenance.route`` of what was read through the paged task list.
TASKS_ROUTE = "tasks"

R = TypeVar("R", bound="_Record")


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _plain(value: Any) -> Any:
    if isinstance(value, _Record):
        return value.to_dict()
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


class _Record(Mapping[str, Any]):
    """A frozen dataclass read and written as a JSON object (see the module's docstring).

    Subclasses are ``@dataclass(frozen=True, kw_only=True, eq=False)`` with an ``extra``
    field; ``_nested`` names the fields read by a function of their own."""

    _nested: ClassVar[dict[str, Callable[[Any], Any]]] = {}
    extra: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """The stored shape: plain JSON values, ``None`` fields left out, ``extra`` kept."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if f.name != "extra" and value is not None:
                out[f.name] = _plain(value)
        out.update((k, v) for k, v in self.extra.items() if k not in out)
        return out

    @classmethod
    def from_dict(cls: type[R], data: Mapping[str, Any]) -> R:
        """Read a stored shape, this release's or an older one's."""
        if isinstance(data, cls):
            return data
        hints = _hints(cls)
        known = {f.name for f in dataclasses.fields(cls)} - {"extra"}  # type: ignore[arg-type]
        typed: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        for key, value in data.items():
            if key not in known:
                extra[key] = value
            elif value is not None:
                try:
                    read = cls._nested.get(key)
                    typed[key] = (
                        read(value) if read else msgspec.convert(value, hints[key], strict=False)
                    )
                except (msgspec.ValidationError, TypeError, ValueError):
                    extra[key] = value  # kept as stored, not typed
        return cls(**typed, extra=extra)  # type: ignore[call-arg]

    def replace(self: R, **changes: Any) -> R:
        """A copy with ``changes`` (``None`` removes a field from the stored shape)."""
        return dataclasses.replace(self, **changes)  # type: ignore[type-var]

    # the read-only mapping over the stored shape
    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Mapping):
            return NotImplemented
        return self.to_dict() == dict(other.items())

    __hash__ = None  # type: ignore[assignment]  # like a dict

    def __getitem__(self, key: str) -> Any:
        return self.to_dict()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.to_dict())

    def __len__(self) -> int:
        return len(self.to_dict())


def _runs(value: Any) -> tuple[SyncRunRecord, ...]:
    if not isinstance(value, list | tuple):
        raise TypeError("runs must be a list")
    return tuple(SyncRunRecord.from_dict(r) for r in value if isinstance(r, Mapping))


def _sync(value: Any) -> SyncState:
    if not isinstance(value, Mapping):
        raise TypeError("sync must be an object")
    return SyncState.from_dict(value)


@dataclass(frozen=True, kw_only=True, eq=False)
class SyncRunRecord(_Record):
    """One entry of a sync run history (``provenance["sync"]["runs"]``).

    ``mode`` is ``"full"`` or ``"incremental"``; ``watermark`` the server time the next run
    starts from; ``export_id`` the run's snapshot (none when it only dropped deleted
    tasks); ``changed_tasks`` and ``deleted_tasks`` what it wrote; ``reason`` why a run
    exported the whole project again. An incremental run adds ``since`` (where its window
    started), ``server_task_count``, ``searched_deletions``, ``requests`` (task queries
    by kind) and ``unexplained_tasks``. ``finished_at`` and ``seconds`` time the run.
    """

    mode: str | None = None
    since: str | None = None
    export_id: int | None = None
    watermark: str | None = None
    changed_tasks: int | None = None
    deleted_tasks: int | None = None
    server_task_count: int | None = None
    searched_deletions: bool | None = None
    requests: dict[str, int] | None = None
    unexplained_tasks: int | None = None
    reason: str | None = None
    finished_at: str | None = None
    seconds: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True, eq=False)
class SyncState(_Record):
    """What a sync run leaves for the next one (``provenance["sync"]``): the
    ``watermark`` (a server timestamp), the ``overlap`` it ran with and the last runs,
    oldest first."""

    _nested: ClassVar[dict[str, Callable[[Any], Any]]] = {"runs": _runs}

    watermark: str | None = None
    overlap: float | None = None
    runs: tuple[SyncRunRecord, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def last_run(self) -> SyncRunRecord | None:
        """The newest entry of the history, if any."""
        return self.runs[-1] if self.runs else None


@dataclass(frozen=True, kw_only=True, eq=False)
class Provenance(_Record):
    """Where a dataset (or a :class:`~ls_frames.Frames`) came from.

    Attributes
    ----------
    provenance_version
        The stored shape's version (:data:`PROVENANCE_VERSION`; ``None`` for datasets
        written before it was recorded).
    source
        ``"label-studio-snapshot"`` (one read of the project) or ``"label-studio-sync"``.
    route, route_reason
        How the project was read (version 2 on): ``"snapshot"`` or ``"tasks"`` (the paged
        task list; then there is no ``export_id`` nor ``md5``), and why the automatic
        choice took the task list (a killed snapshot build, a large project). Absent in
        datasets written before: those were read through a snapshot.
    server, server_version
        The server's URL and its Label Studio release, when it says.
    project, export_id, export_title, md5, task_count, export_created_at
        The project and the snapshot read: its id, title, MD5, task count and creation
        time (server clock).
    options
        The snapshot's options as the server reports them (``task_filter_options``, ...).
    requested_options
        The options asked for (``task_filter``, ``annotation_filter``,
        ``serialization``: the fields of :class:`~ls_frames.TaskFilter`, ...).
    snapshot_kept
        Whether the snapshot stayed on the server after the download.
    label_config_present, label_config
        Whether a label config was used, and the config (XML).
    ls_frames_version, written_at, source_file
        The ls_frames release, when (UTC) and from which file it was written.
    sync
        The sync state (:class:`SyncState`), in datasets a sync run wrote.
    extra
        Keys this release does not know (older or newer shapes, a user's own).
    """

    _nested: ClassVar[dict[str, Callable[[Any], Any]]] = {"sync": _sync}

    provenance_version: int | None = None
    source: str | None = None
    route: str | None = None
    route_reason: str | None = None
    server: str | None = None
    server_version: str | None = None
    project: int | None = None
    export_id: int | None = None
    export_title: str | None = None
    md5: str | None = None
    task_count: int | None = None
    export_created_at: str | None = None
    options: dict[str, Any] | None = None
    requested_options: dict[str, Any] | None = None
    snapshot_kept: bool | None = None
    label_config_present: bool | None = None
    label_config: str | None = None
    ls_frames_version: str | None = None
    written_at: str | None = None
    source_file: str | None = None
    sync: SyncState | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def stored_provenance(provenance: Mapping[str, Any] | None) -> dict[str, Any]:
    """The JSON object to store for ``provenance`` (a :class:`Provenance` or a plain dict,
    kept as given)."""
    if provenance is None:
        return {}
    if isinstance(provenance, _Record):
        return provenance.to_dict()
    return dict(provenance)
