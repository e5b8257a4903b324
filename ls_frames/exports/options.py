"""Typed export options, with the server's meaning and its traps spelled out.

Plain dicts in the server's own vocabulary are accepted wherever these classes are; they
are read into the classes (so a typo is an error here, not a silent no-op on the server).

The defaults are chosen for tables, not for the server's habits:

* :class:`Serialization` asks for **full objects** (predictions, drafts and annotators),
  where the server would send bare ids.
* :class:`AnnotationFilter` keeps **every** annotation (usual, ground truth and skipped),
  and is always sent with explicit flags: the server reads an empty ``{}`` as "usual
  only" and would silently drop skipped and ground-truth annotations.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any, Literal, TypeVar

from ls_frames.errors import ConfigurationError

__all__ = [
    "AnnotationFilter",
    "OnlyOrExclude",
    "Serialization",
    "TaskFilter",
    "coerce_option",
]

OnlyOrExclude = Literal["only", "exclude"]
_ONLY_OR_EXCLUDE = (None, "only", "exclude")


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
