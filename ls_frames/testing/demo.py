"""``ls-frames demo`` / ``make demo``: the main job on a project, end to end.

With no server given (no ``--url`` and no ``LABEL_STUDIO_URL``), a local Label Studio is
started on loopback, a demo project is seeded (annotations, a skipped one, a ground truth,
relations, predictions, a draft) and exported through a personal access token; the server
is stopped afterwards. With a server, its project ``--project`` (default: the newest) is
exported instead.

Seeding and starting servers belong to :mod:`ls_frames.testing`; the CLI's ``demo``
command is the one front-end path that reaches this module (imported when the command
runs), and it prints the summary of what :func:`run_demo` wrote.
"""

from __future__ import annotations

import os
from pathlib import Path

from ls_frames.errors import NoProjectError
from ls_frames.exports import Client
from ls_frames.pipeline import export_project

__all__ = ["run_demo"]


def _export(client: Client, project: int, out: Path) -> Path:
    print(f"Exporting project {project} from {client.base_url} ({client.auth.kind} key)")
    return export_project(project, out, client=client, overwrite=True)


def run_demo(
    out: str | os.PathLike[str],
    *,
    project: int | None = None,
    url: str | None = None,
    api_key: str | None = None,
) -> Path:
    """Export a project (the newest of the server given, or a seeded demo project of a
    local Label Studio started for the run) into a Parquet dataset at ``out``.

    Parameters
    ----------
    out
        The dataset folder (replaced when it exists).
    project
        The project's id on the server given (default: the newest).
    url, api_key
        The server (default ``LABEL_STUDIO_URL`` / ``LABEL_STUDIO_API_KEY``; with no URL a
        local server is started).

    Returns
    -------
    pathlib.Path
        ``out``.

    Raises
    ------
    NoProjectError
        The server given has no project (a ``ConfigurationError``).
    """
    target = Path(out)
    if url or os.environ.get("LABEL_STUDIO_URL"):
        with Client(url, api_key) as client:
            if project is None:
                projects = client.list_projects()
                if not projects:
                    raise NoProjectError(f"{client.base_url} has no project to export")
                project = max(int(p["id"]) for p in projects)
            return _export(client, project, target)

    from ls_frames.testing import LocalLabelStudio
    from ls_frames.testing.seed import seed_demo_project

    print("No LABEL_STUDIO_URL given: starting a local Label Studio (about a minute)...")
    with LocalLabelStudio() as server:
        seeded = seed_demo_project(server.url, server.admin_key)
        with Client(server.url, server.access_token or server.admin_key) as client:
            return _export(client, int(seeded["project_id"]), target)
