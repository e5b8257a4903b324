"""Typed export options, with the server's meaning and its traps spelled out.

Plain dicts in the server's own vocabulary are accepted wherever these classes are; they
are read into the classes (so a typo is an error here, not a silent no-op on the server).

The defaults are chosen for tables, not for the server's habits:

* :class:`Serialization` asks for **full objects** (predictions, drafts and annotators),
  where the server would send bare ids.
* :class:`AnnotationFilter` keeps **every** annotation (usual, ground truth and skipped),
  and is always sent with explicit flags: the server reads an empty ``{}`` as "usual
  only" and would silently drop skipped and ground-truth annotations.

:class:`ExportOptions` carries them, with the snapshot's lifecycle (a named snapshot, keep
it, how long to wait, progress bars), from the public functions' keyword arguments to the
one-off snapshot job (:mod:`~ls_frames.exports.oneshot`). The parameters those functions
share are documented once, in :data:`PARAMETER_DOCS`, and put into each docstring by
:func:`shared_docs`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal, TypeVar

from ls_frames.errors import ConfigurationError

__all__ = [
    "PARAMETER_DOCS",
    "SOURCES",
    "AnnotationFilter",
    "ExportOptions",
    "OnlyOrExclude",
    "Serialization",
    "Source",
    "TaskFilter",
    "coerce_option",
    "shared_docs",
]

OnlyOrExclude = Literal["only", "exclude"]
_ONLY_OR_EXCLUDE = (None, "only", "exclude")
#: How a project is read: a snapshot, the paged task list, or a snapshot with the task
#: list as the fallback (see :mod:`~ls_frames.exports.route`).
Source = Literal["auto", "snapshot", "tasks"]
SOURCES = ("auto", "snapshot", "tasks")


@dataclass(frozen=True)
class TaskFilter:
    """Which tasks go into a snapshot (``task_filter_options``).

    * ``view``: id of a Data Manager view (tab) whose filters and ordering apply.
    * ``skipped``: ``"only"`` tasks with a skipped annotation, ``"exclude"`` them, or
      ``None`` for no filter.
    * ``finished``: ``"only"`` / ``"exclude"`` finished tasks (``is_labeled``: enough
      annotations by the project's overlap settings).
    * ``annotated``: ``"only"`` / ``"exclude"`` tasks with at least one annotation that was
      not skipped.
    * ``only_with_annotations``: keep only tasks that have any annotation.
    * ``reviewed``: Enterprise only, ``"only"`` / ``"exclude"`` reviewed tasks.
    """

    view: int | None = None
    skipped: OnlyOrExclude | None = None
    finished: OnlyOrExclude | None = None
    annotated: OnlyOrExclude | None = None
    only_with_annotations: bool = False
    reviewed: OnlyOrExclude | None = None

    def __post_init__(self) -> None:
        for name in ("skipped", "finished", "annotated", "reviewed"):
            if getattr(self, name) not in _ONLY_OR_EXCLUDE:
                raise ConfigurationError(
                    f"TaskFilter.{name} must be 'only', 'exclude' or None, "
                    f"not {getattr(self, name)!r}"
                )

    def to_payload(self) -> dict[str, Any]:
        out: dict[str, Any] = {"only_with_annotations": self.only_with_annotations}
        for key in ("view", "skipped", "finished", "annotated", "reviewed"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        return out


@dataclass(frozen=True)
class AnnotationFilter:
    """Which annotations of the chosen tasks go in (``annotation_filter_options``).

    The flags are OR-ed by the server: ``usual`` (not skipped and not ground truth),
    ``ground_truth`` and ``skipped`` (``was_cancelled``). The default keeps all three.
    All three ``False`` also means every annotation (that is the server's rule).
    """

    usual: bool = True
    ground_truth: bool = True
    skipped: bool = True

    def to_payload(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Serialization:
    """How tasks are written (``serialization_options``).

    * ``predictions`` / ``drafts``: ``"full"`` objects (default) or ``"id"`` only.
    * ``annotators``: ``completed_by`` as ``"full"`` ``{id, email, first_name, last_name}``
      (default) or the user ``"id"`` only.
    * ``interpolate_key_frames``: write every frame of video sequences, not only key frames.
    * ``annotation_history``: include each annotation's history (can be large).
    """

    predictions: Literal["full", "id"] = "full"
    drafts: Literal["full", "id"] = "full"
    annotators: Literal["full", "id"] = "full"
    interpolate_key_frames: bool = False
    annotation_history: bool = False

    def __post_init__(self) -> None:
        for name in ("predictions", "drafts", "annotators"):
            if getattr(self, name) not in ("full", "id"):
                raise ConfigurationError(
                    f"Serialization.{name} must be 'full' or 'id', not {getattr(self, name)!r}"
                )

    def to_payload(self) -> dict[str, Any]:
        return {
            "predictions": {"only_id": self.predictions == "id"},
            "drafts": {"only_id": self.drafts == "id"},
            "annotations__completed_by": {"only_id": self.annotators == "id"},
            "interpolate_key_frames": self.interpolate_key_frames,
            "include_annotation_history": self.annotation_history,
        }

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> Serialization:
        """Read the server's vocabulary; fields left out take the server's defaults."""
        known = {
            "predictions",
            "drafts",
            "annotations__completed_by",
            "interpolate_key_frames",
            "include_annotation_history",
        }
        unknown = set(payload) - known
        if unknown:
            raise ConfigurationError(
                f"unknown serialization option(s) {sorted(unknown)}; known: {sorted(known)}"
            )

        def kind(key: str) -> Literal["full", "id"]:
            # The server's default for a missing option is only_id = True for these three.
            value = payload.get(key)
            if value is None:
                return "id"
            if not isinstance(value, Mapping):
                raise ConfigurationError(f"serialization option {key!r} must be a dict")
            return "id" if value.get("only_id", False) else "full"

        return cls(
            predictions=kind("predictions"),
            drafts=kind("drafts"),
            annotators=kind("annotations__completed_by"),
            interpolate_key_frames=bool(payload.get("interpolate_key_frames", False)),
            annotation_history=bool(payload.get("include_annotation_history", False)),
        )


T = TypeVar("T", TaskFilter, AnnotationFilter, Serialization)


def coerce_option(cls: type[T], value: T | Mapping[str, Any] | None) -> T:
    """``None`` -> the defaults; a dict in the server's vocabulary -> the class; else as is.

    For :class:`AnnotationFilter` a dict's missing flags are ``False`` (as on the server), but
    an empty dict means every annotation, not the server's "usual only".
    """
    if value is None:
        return cls()
    if isinstance(value, cls):
        return value
    if not isinstance(value, Mapping):
        raise ConfigurationError(f"expected {cls.__name__} or a dict, got {type(value).__name__}")
    if cls is Serialization:
        return Serialization.from_payload(value)  # type: ignore[return-value]
    names = {f.name for f in fields(cls)}
    unknown = set(value) - names
    if unknown:
        raise ConfigurationError(
            f"unknown {cls.__name__} option(s) {sorted(unknown)}; known: {sorted(names)}"
        )
    if cls is AnnotationFilter:
        flags: dict[str, Any] = {name: bool(value.get(name, False)) for name in names}
        if not any(flags.values()):
            return cls()
        return cls(**flags)
    return cls(**dict(value))


@dataclass(frozen=True, kw_only=True)
class ExportOptions:
    """What one snapshot job is asked for: the snapshot's options (typed), a named snapshot
    to use instead of making one, whether to keep the one made, how long to wait and
    whether to draw progress bars. Build it with :meth:`coerce` from the public functions'
    keyword arguments (dicts in the server's vocabulary accepted there)."""

    task_filter: TaskFilter = field(default_factory=TaskFilter)
    annotation_filter: AnnotationFilter = field(default_factory=AnnotationFilter)
    serialization: Serialization = field(default_factory=Serialization)
    #: use this existing snapshot (never deleted); the three options above are then unused
    export_id: int | None = None
    #: keep the snapshot made for the job on the server (deleted at its end otherwise)
    keep_snapshot: bool = False
    #: seconds to wait for the snapshot; ``None`` waits as long as it takes
    timeout: float | None = None
    #: progress bars: ``None`` follows ``LS_FRAMES_DISABLE_PROGRESS_BARS``
    progress: bool | None = None
    #: the route in: ``"snapshot"``, ``"tasks"`` (the paged task list) or ``"auto"``
    source: Source = "auto"
    #: pages of the task list fetched at a time on the tasks route
    fetch_workers: int = 2

    def __post_init__(self) -> None:
        if self.source not in SOURCES:
            raise ConfigurationError(
                f"source must be 'auto', 'snapshot' or 'tasks', not {self.source!r}"
            )
        fw = self.fetch_workers
        if isinstance(fw, bool) or not isinstance(fw, int) or fw < 1:
            raise ConfigurationError(f"fetch_workers must be a whole number >= 1, not {fw!r}")
        refused = self.tasks_route_refusal() if self.source == "tasks" else None
        if refused:
            raise ConfigurationError(refused)
        # checked here, before any client is made or request sent
        eid = self.export_id
        if eid is not None and (isinstance(eid, bool) or not isinstance(eid, int) or eid < 1):
            raise ConfigurationError(f"export_id must be a snapshot id (an int >= 1), not {eid!r}")
        timeout = self.timeout
        if timeout is not None and (
            isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout < 0
        ):
            raise ConfigurationError(f"timeout must be None or seconds >= 0, not {timeout!r}")

    @classmethod
    def coerce(
        cls,
        *,
        task_filter: TaskFilter | Mapping[str, Any] | None = None,
        annotation_filter: AnnotationFilter | Mapping[str, Any] | None = None,
        serialization: Serialization | Mapping[str, Any] | None = None,
        export_id: int | None = None,
        keep_snapshot: bool = False,
        timeout: float | None = None,
        progress: bool | None = None,
        source: Source = "auto",
        fetch_workers: int = 2,
    ) -> ExportOptions:
        """The options from the keyword arguments of the public functions (``None`` and
        dicts read by :func:`coerce_option`).

        Raises
        ------
        ConfigurationError
            An option is unknown or has a value the server does not take, ``export_id``
            is not a snapshot id, or ``timeout`` is negative.
        """
        return cls(
            task_filter=coerce_option(TaskFilter, task_filter),
            annotation_filter=coerce_option(AnnotationFilter, annotation_filter),
            serialization=coerce_option(Serialization, serialization),
            export_id=export_id,
            keep_snapshot=bool(keep_snapshot),
            timeout=timeout,
            progress=progress,
            source=source,
            fetch_workers=fetch_workers,
        )

    def tasks_route_refusal(self) -> str | None:
        """Why the tasks route cannot serve these options (what only a snapshot applies),
        or ``None`` when it can."""
        tf, ser = self.task_filter, self.serialization
        unsupported = [
            f"task_filter.{name}={getattr(tf, name)!r}"
            for name in ("skipped", "finished", "annotated", "reviewed")
            if getattr(tf, name) is not None
        ]
        if ser.interpolate_key_frames:
            unsupported.append("serialization.interpolate_key_frames")
        if ser.annotation_history:
            unsupported.append("serialization.annotation_history")
        if self.export_id is not None:
            unsupported.append("export_id (a snapshot)")
        if self.keep_snapshot and self.source == "tasks":
            # with "auto" a snapshot is kept when there is one
            unsupported.append("keep_snapshot (no snapshot is made)")
        if not unsupported:
            return None
        return (
            "the tasks route (source='tasks') cannot apply "
            + ", ".join(unsupported)
            + ": only a snapshot can (source='snapshot')"
        )

    @property
    def deletes_snapshot(self) -> bool:
        """Whether the job deletes its snapshot at the end (one it made, not kept)."""
        return self.export_id is None and not self.keep_snapshot

    def requested(self) -> dict[str, Any]:
        """The snapshot options asked for, as a dataset's provenance records them."""
        return {
            "task_filter": asdict(self.task_filter),
            "annotation_filter": asdict(self.annotation_filter),
            "serialization": asdict(self.serialization),
            "source": self.source,
        }


#: The parameters the end-to-end functions share, in numpy style (continuation lines
#: indented for a docstring's body); :func:`shared_docs` fills ``%(name)s`` with them.
PARAMETER_DOCS: dict[str, str] = {
    "project": """project
        The project's id or title.""",
    "client": """client
        The :class:`~ls_frames.Client` to use; by default one is made from
        ``LABEL_STUDIO_URL`` / ``LABEL_STUDIO_API_KEY`` (and closed afterwards).""",
    "snapshot_options": """task_filter, annotation_filter, serialization
        The snapshot's options (:class:`~ls_frames.TaskFilter`,
        :class:`~ls_frames.AnnotationFilter`, :class:`~ls_frames.Serialization`, or dicts
        of their fields); by default every task, every annotation, full objects.""",
    "export_id": """export_id
        Use this existing snapshot instead of creating one (the options are then ignored;
        it is never deleted).""",
    "label_config": """label_config
        ``None`` fetches the project's config so label columns become categoricals in
        config order; a string is used as the config; ``False`` skips it.""",
    "keep_file": """keep_file
        Keep the downloaded JSON snapshot there (a file, or a folder to put it in);
        by default it goes to a temporary folder that is removed.""",
    "keep_snapshot": """keep_snapshot
        Keep the snapshot made for the call on the server (it is deleted once downloaded,
        or once the download failed, otherwise; one named with ``export_id`` is always
        kept).""",
    "tables": """tables
        Only these of ``tasks, annotations, predictions, drafts, regions, relations``;
        all by default.""",
    "workers": """workers
        Processes flattening the downloaded snapshot (1: this one alone): each reads its
        own ranges of tasks from the file (see :func:`~ls_frames.to_parquet`). Scripts
        need the ``if __name__ == "__main__":`` guard.""",
    "strict": """strict
        Refuse malformed result items (a ``value`` that is not an object, a missing
        ``from_name``, a coordinate that is not a number, ...) with
        :class:`~ls_frames.ExportFormatError` naming the task and item; by default they
        are kept as read and counted in one :class:`~ls_frames.MalformedResultWarning`.""",
    "timeout": """timeout
        Seconds to wait for the snapshot to complete; ``None`` waits as long as it takes.""",
    "source": """source
        How the project is read: ``"snapshot"`` (the server writes a snapshot, the
        library downloads it), ``"tasks"`` (the paged task list, fetched
        ``fetch_workers`` pages at a time: no request is long, so no worker timeout can
        kill it) or ``"auto"`` (the default: a snapshot, and the task list when the
        server kills the snapshot's build, or at once for a project of more than
        :data:`~ls_frames.exports.route.TASKS_ROUTE_THRESHOLD` tasks; a
        :class:`~ls_frames.SnapshotFallbackWarning` says so). The provenance's ``route``
        records the one taken.
    fetch_workers
        Pages of the task list fetched at a time on the tasks route.""",
    "progress": """progress
        Show progress bars; ``None`` shows them unless ``LS_FRAMES_DISABLE_PROGRESS_BARS``
        is set.""",
    "raises_request": """ConfigurationError
        No client was given and the environment names no server or key.
    AuthenticationError, PermissionDenied, NotFound
        The key is refused, the user may not export, or the project (or snapshot) does
        not exist.
    HTTPError
        Another request failure after the retries (a :class:`~ls_frames.HTTPError`).
    ExportFailed, ExportTimeout
        The snapshot failed on the server, or did not complete within ``timeout``.""",
    "raises_download": """DownloadError
        The download broke off for good or its MD5 does not match (nothing is left under
        the final name).
    ExportFormatError
        The snapshot is not a Label Studio JSON export.""",
}

F = TypeVar("F", bound=Callable[..., Any])


def shared_docs(func: F) -> F:
    """Fill the ``%(name)s`` fields of ``func``'s docstring from :data:`PARAMETER_DOCS`
    (as pandas' ``Substitution`` does; Sphinx sees the finished text)."""
    if func.__doc__:
        func.__doc__ = func.__doc__ % PARAMETER_DOCS
    return func
