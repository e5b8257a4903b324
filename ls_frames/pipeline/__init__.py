"""End to end in one call: the functions a notebook, the CLI and the panel call.

:func:`load_project` (a project into :class:`~ls_frames.Frames`), :func:`export_project`
(into a Parquet dataset), :func:`download_project` (a file as the server writes it) and
:func:`snapshot_project` (a completed snapshot). Each holds no export logic of its own:
the one-off snapshot job lives in the exports layer (:mod:`~ls_frames.exports.oneshot`),
the flattening in the tables.

Writing back: :func:`import_predictions` (predictions in bulk), :func:`import_tasks`
(tasks from a DataFrame, files uploaded) and :func:`review_tab` /
:func:`review_tabs` (Data Manager tabs holding chosen tasks).

Modules: :mod:`~ls_frames.pipeline.project` (snapshot, load, export),
:mod:`~ls_frames.pipeline.download` (a file as the server writes it),
:mod:`~ls_frames.pipeline.predictions`, :mod:`~ls_frames.pipeline.tasks` and
:mod:`~ls_frames.pipeline.review`.
"""

from ls_frames.pipeline.download import SINGLE_FILE_FORMATS, download_project
from ls_frames.pipeline.predictions import ImportResult, import_predictions
from ls_frames.pipeline.project import (
    export_project,
    load_project,
    snapshot_project,
)
from ls_frames.pipeline.review import review_tab, review_tabs
from ls_frames.pipeline.tasks import import_tasks

__all__ = [
    "SINGLE_FILE_FORMATS",
    "ImportResult",
    "download_project",
    "export_project",
    "import_predictions",
    "import_tasks",
    "load_project",
    "review_tab",
    "review_tabs",
    "snapshot_project",
]
