"""The export panel's widgets and how they are laid out (:class:`PanelLayout`); what they
do is :class:`~ls_frames.frontends.widgets.panel.ExportPanel`'s."""

from __future__ import annotations

import ipywidgets as W

from ls_frames.frontends.widgets.controls import FormatPicker, OptionsBox, SnapshotPicker
from ls_frames.frontends.widgets.preview import Preview

__all__ = ["ALL_TASKS", "STEPS", "PanelLayout"]

#: the view picker's value for "every task" (no view)
ALL_TASKS = 0
#: the export's steps on the progress bar: snapshot, download, read, done
STEPS = 4

_WIDE = {"description_width": "90px"}
_SAVE_HELP = (
    "<small>The tables as a Parquet dataset, one folder per table; with <i>fetch media</i> "
    "also the files the tasks point to, listed in its <code>media</code> table.</small>"
)
_FORMATS_HELP = (
    "<small>The formats ticked under <i>Converted formats</i>, as the server writes them.</small>"
)


def _section(title: str, body: W.Widget, open_: bool = False) -> W.Accordion:
    acc = W.Accordion(children=[body], selected_index=0 if open_ else None)
    acc.set_title(0, title)
    return acc


def _path_box(placeholder: str = "") -> W.Text:
    return W.Text(
        value=placeholder, description="to folder", style=_WIDE, layout=W.Layout(width="480px")
    )


class PanelLayout(W.VBox):
    """The panel's widgets, made and arranged by :meth:`_build` (called once by the
    subclass, which wires them)."""

    def _build(self) -> None:
        self._build_pickers()
        self._build_export_row()
        self._build_save()
        super().__init__(
            [
                W.HTML("<h3 style='margin:4px 0'>Label Studio export</h3>"),
                self.project_picker,
                self.view_picker,
                _section("Filters and serialization", self.options),
                _section("Existing snapshots", self.snapshots),
                _section("Converted formats", self.formats),
                W.HBox(
                    [self.export_button, self.progress, self.status],
                    layout=W.Layout(align_items="center"),
                ),
                self.error_box,
                self.preview,
                _section(
                    "Save",
                    W.VBox(
                        [
                            W.HBox([self.parquet_path, self.save_button]),
                            self.overwrite,
                            W.HBox([self.fetch_media, self.media_path]),
                            W.HTML(_SAVE_HELP),
                            W.HBox([self.format_path, self.download_button]),
                            W.HTML(_FORMATS_HELP),
                        ]
                    ),
                    open_=True,
                ),
            ]
        )
        self.add_class("lsf-panel")

    def _build_pickers(self) -> None:
        self.project_picker = W.Dropdown(
            options=[],
            value=None,
            description="project",
            style=_WIDE,
            layout=W.Layout(width="480px"),
        )
        self.project_picker.add_class("lsf-project")
        self.view_picker = W.Dropdown(
            options=[("all tasks", ALL_TASKS)],
            value=ALL_TASKS,
            description="view",
            style=_WIDE,
            layout=W.Layout(width="480px"),
        )
        self.view_picker.add_class("lsf-view")
        self.options = OptionsBox()
        self.formats = FormatPicker()
        self.snapshots = SnapshotPicker()

    def _build_export_row(self) -> None:
        self.export_button = W.Button(
            description="Export", icon="download", button_style="primary", disabled=True
        )
        self.export_button.add_class("lsf-export")
        self.status = W.HTML("")
        self.status.add_class("lsf-status")
        self.progress = W.IntProgress(
            value=0, min=0, max=STEPS, layout=W.Layout(width="300px", visibility="hidden")
        )
        self.error_box = W.HTML("")
        self.error_box.add_class("lsf-error")
        self.preview = Preview()

    def _build_save(self) -> None:
        self.parquet_path = _path_box()
        self.overwrite = W.Checkbox(
            value=False, description="replace an existing dataset", indent=False
        )
        self.save_button = W.Button(description="Save Parquet", icon="save", disabled=True)
        self.fetch_media = W.Checkbox(
            value=False, indent=False, description="fetch media: the tasks' files, into"
        )
        self.fetch_media.add_class("lsf-fetch-media")
        self.media_path = W.Text(value="", layout=W.Layout(width="300px"))
        self.format_path = _path_box()
        self.download_button = W.Button(
            description="Download formats", icon="download", disabled=True
        )
