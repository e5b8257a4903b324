"""End to end in one call: the functions a notebook, the CLI and the panel call.

:func:`load_project` (a project into :class:`~ls_frames.Frames`), :func:`export_project`
(into a Parquet dataset), :func:`download_project` (a file as the server writes it) and
:func:`snapshot_project` (a completed snapshot). Each holds no export logic of its own:
the one-off snapshot job lives in the exports layer, the flattening in the tables.
"""

from ls_frames.pipeline.project import (
    download_project,
    export_project,
    load_project,
    snapshot_project,
)

__all__ = ["download_project", "export_project", "load_project", "snapshot_project"]
