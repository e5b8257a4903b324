"""The panel's option controls. Each reads back into the library's own option classes, and
starts from their defaults (full objects, every annotation)."""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any, Literal, cast

import ipywidgets as W

from ls_frames.exports import AnnotationFilter, Export, ExportFormat, Serialization, TaskFilter
from ls_frames.exports.options import OnlyOrExclude

__all__ = ["FormatPicker", "OptionsBox", "SnapshotPicker", "age", "small"]

_ANY = "any"
_TRISTATE = ("any", "only", "exclude")
_FULL_OR_ID = (("full objects", "full"), ("ids only", "id"))
_SOURCES = (("auto", "auto"), ("snapshot", "snapshot"), ("task list", "tasks"))


def small(text: str) -> W.HTML:
    """A short explanation beside a control."""
    return W.HTML(f"<small style='color:#555'>{html.escape(text)}</small>")


def _explained(widget: W.Widget, text: str) -> W.HBox:
    return W.HBox([widget, small(text)], layout=W.Layout(align_items="center"))


def _tristate(name: str, value: OnlyOrExclude | None) -> W.ToggleButtons:
    return W.ToggleButtons(
        options=_TRISTATE,
        value=value or _ANY,
        description=name,
        style={"button_width": "70px", "description_width": "90px"},
    )


def _read_tristate(widget: W.ToggleButtons) -> OnlyOrExclude | None:
    value = widget.value
    return None if value == _ANY else cast(OnlyOrExclude, value)


class OptionsBox(W.VBox):
    """Task filter, annotation filter and serialization, with what each one does."""

    def __init__(self) -> None:
        tf, af, ser = TaskFilter(), AnnotationFilter(), Serialization()
        self.source = W.ToggleButtons(
            options=_SOURCES, value="auto", description="read", style={"button_width": "80px"}
        )
        self.finished = _tristate("finished", tf.finished)
        self.annotated = _tristate("annotated", tf.annotated)
        self.skipped_tasks = _tristate("skipped", tf.skipped)
        self.only_with_annotations = W.Checkbox(
            value=tf.only_with_annotations,
            description="only tasks with annotations",
            indent=False,
        )
        self.usual = W.Checkbox(value=af.usual, description="usual", indent=False)
        self.ground_truth = W.Checkbox(
            value=af.ground_truth, description="ground truth", indent=False
        )
        self.skipped = W.Checkbox(value=af.skipped, description="skipped", indent=False)
        width = {"description_width": "90px"}
        self.predictions = W.Dropdown(
            options=_FULL_OR_ID, value=ser.predictions, description="predictions", style=width
        )
        self.drafts = W.Dropdown(
            options=_FULL_OR_ID, value=ser.drafts, description="drafts", style=width
        )
        self.annotators = W.Dropdown(
            options=_FULL_OR_ID, value=ser.annotators, description="annotators", style=width
        )
        self.interpolate_key_frames = W.Checkbox(
            value=ser.interpolate_key_frames,
            description="interpolate video key frames",
            indent=False,
        )
        self.annotation_history = W.Checkbox(
            value=ser.annotation_history,
            description="annotation history",
            indent=False,
        )
        super().__init__(
            [
                W.HTML("<b>Route</b>"),
                _explained(
                    self.source,
                    "snapshot: the server writes one; task list: read page by page (no long "
                    "request for a worker timeout to kill); auto: a snapshot, the task list "
                    "if the server kills its build or the project is large",
                ),
                W.HTML("<b>Tasks</b>"),
                _explained(self.finished, "finished: enough annotations by the overlap setting"),
                _explained(
                    self.annotated, "annotated: at least one annotation that was not skipped"
                ),
                _explained(self.skipped_tasks, "skipped: has a skipped annotation"),
                _explained(
                    self.only_with_annotations,
                    "drop tasks nobody annotated (skipped counts as annotated)",
                ),
                W.HTML("<b>Annotations</b>"),
                small(
                    "Kept if any ticked kind applies. All three keep everything; the server "
                    "would otherwise drop skipped and ground-truth annotations."
                ),
                W.HBox([self.usual, self.ground_truth, self.skipped]),
                W.HTML("<b>Serialization</b>"),
                _explained(self.predictions, "whole predictions (result, score, model) or ids"),
                _explained(self.drafts, "whole drafts or ids"),
                _explained(self.annotators, "completed_by as {id, email, names} or the user id"),
                _explained(
                    self.interpolate_key_frames,
                    "write every video frame of a sequence, not only key frames",
                ),
                _explained(self.annotation_history, "each annotation's history (can be large)"),
            ]
        )

    def task_filter(self, view: int | None) -> TaskFilter:
        return TaskFilter(
            view=view,
            finished=_read_tristate(self.finished),
            annotated=_read_tristate(self.annotated),
            skipped=_read_tristate(self.skipped_tasks),
            only_with_annotations=bool(self.only_with_annotations.value),
        )

    def annotation_filter(self) -> AnnotationFilter:
        return AnnotationFilter(
            usual=bool(self.usual.value),
            ground_truth=bool(self.ground_truth.value),
            skipped=bool(self.skipped.value),
        )

    def serialization(self) -> Serialization:
        def kind(widget: W.Dropdown) -> Literal["full", "id"]:
            return "id" if widget.value == "id" else "full"

        return Serialization(
            predictions=kind(self.predictions),
            drafts=kind(self.drafts),
            annotators=kind(self.annotators),
            interpolate_key_frames=bool(self.interpolate_key_frames.value),
            annotation_history=bool(self.annotation_history.value),
        )


class FormatPicker(W.VBox):
    """One check box per format the server offers; those the label config cannot produce
    are shown disabled."""

    def __init__(self) -> None:
        self.boxes: dict[str, W.Checkbox] = {}
        super().__init__([])

    def set_formats(self, formats: Sequence[ExportFormat]) -> None:
        rows = []
        self.boxes = {}
        for fmt in formats:
            box = W.Checkbox(
                value=False,
                description=fmt.title,
                disabled=fmt.disabled,
                indent=False,
                layout=W.Layout(width="220px"),
            )
            box.add_class(f"lsf-format-{fmt.name}")
            note = "not possible with this label config" if fmt.disabled else fmt.description
            self.boxes[fmt.name] = box
            rows.append(_explained(box, note[:140]))
        self.children = rows

    @property
    def chosen(self) -> list[str]:
        return [name for name, box in self.boxes.items() if box.value and not box.disabled]


def age(when: datetime | None, now: datetime | None = None) -> str:
    """'3 min ago', '2 h ago', '5 d ago'."""
    if when is None:
        return "age unknown"
    now = now or datetime.now(timezone.utc)
    seconds = max(0.0, (now - when).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{int(seconds // size)} {unit} ago"
    return f"{int(seconds)} s ago"


class SnapshotPicker(W.VBox):
    """The project's snapshots: pick one to reuse (value 0: a new one) or delete it."""

    NEW = 0

    def __init__(self) -> None:
        self.select = W.Select(
            options=[("new snapshot with the options above", self.NEW)],
            value=self.NEW,
            rows=5,
            layout=W.Layout(width="95%"),
        )
        self.select.add_class("lsf-snapshots")
        self.delete_button = W.Button(
            description="Delete snapshot", icon="trash", button_style="warning", disabled=True
        )
        self.refresh_button = W.Button(description="Refresh list", icon="refresh")
        self.select.observe(self._on_pick, names="value")
        super().__init__(
            [
                self.select,
                small(
                    "A snapshot picked here is reused as it is: the options above do not "
                    "apply to it. Deleting one removes its files on the server."
                ),
                W.HBox([self.refresh_button, self.delete_button]),
            ]
        )

    def _on_pick(self, change: dict[str, Any]) -> None:
        self.delete_button.disabled = not change["new"]
        self.delete_button.description = "Delete snapshot"

    def set_exports(self, exports: Sequence[Export], keep: int | None = None) -> None:
        options: list[tuple[str, int]] = [("new snapshot with the options above", self.NEW)]
        now = datetime.now(timezone.utc)
        for exp in exports:
            count = "?" if exp.task_count is None else f"{exp.task_count}"
            label = (
                f"#{exp.id} · {exp.status.value} · {count} tasks · "
                f"{age(exp.created_at, now)} · {exp.title}"
            )
            options.append((label, exp.id))
        self.select.options = options
        ids = {value for _, value in options}
        self.select.value = keep if keep in ids else self.NEW

    @property
    def value(self) -> int | None:
        return int(self.select.value) or None
