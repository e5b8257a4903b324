"""End to end in one call: the functions a notebook, the CLI and the panel call.

:func:`load_project` (a project into :class:`~ls_frames.Frames`), :func:`export_project`
(into a Parquet dataset), :func:`download_project` (a file as the server writes it) and
:func:`snapshot_project` (a completed snapshot). Each holds no export logic of its own:
the one-off snapshot job lives in the exports layer (:mod:`~ls_frames.exports.oneshot`),
the flattening in the tables.

Modules: :mod:`~ls_frames.pipeline.project` (snapshot, load, export) and
:mod:`~ls_frames.pipeline.download` (a file as the server writes it).
"""

from ls_frames.pipeline.download import SINGLE_FILE_FORMATS, download_project
from ls_frames.pipeline.project import (
    export_project,
    load_project,
    snapshot_project,
)

__all__ = [
    "SINGLE_FILE_FORMATS",
    "download_project",
    "export_project",
    "load_project",
    "snapshot_project",
]
