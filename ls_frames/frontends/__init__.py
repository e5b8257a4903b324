"""Front ends: the end-to-end functions a notebook calls, the command line and the panel.

Each front end calls the same functions; none holds export logic of its own.
"""

from ls_frames.frontends.pipeline import (
    download_project,
    export_project,
    load_project,
    snapshot_project,
)

__all__ = ["download_project", "export_project", "load_project", "snapshot_project"]
