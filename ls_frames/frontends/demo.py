"""``ls-frames demo`` / ``make demo``: the main job on a project, end to end.

With no server given (no ``--url`` and no ``LABEL_STUDIO_URL``), a local Label Studio is
started on loopback, a demo project is seeded (annotations, a skipped one, a ground truth,
relations, predictions, a draft) and exported through a personal access token; the server
is stopped afterwards. With a server, its project ``--project`` (default: the newest) is
exported instead.
"""

from __future__ import annotations

import os
from pathlib import Path

from ls_frames.errors import NoProjectError
from ls_frames.exports import Client
from ls_frames.frontends.pipeline import export_project

__all__ = ["run_demo"]


def _export_and_report(client: Client, project: int, out: Path) -> Path:
    from ls_frames.frontends.cli import summarize

    print(f"Exporting project {project} from {client.base_url} ({client.auth.kind} key)")
    path = export_project(project, out, client=client, overwrite=True)
    print(summarize(path))
    return path


def run_demo(
    out: str | os.PathLike[str],
    *,
    project: int | None = None,
    url: str | None = None,
    api_key: str | None = None,
) -> Path:
    out = Path(out)
    if url or os.environ.get("LABEL_STUDIO_URL"):
        with Client(url, api_key) as client:
            if project is None:
                projects = client.list_projects()
                if not projects:
                    raise NoProjectError(f"{client.base_url} has no project to export")
                project = max(int(p["id"]) for p in projects)
            return _export_and_report(client, project, out)

    from ls_frames.testing import LocalLabelStudio
    from ls_frames.testing.seed import seed_demo_project

    print("No LABEL_STUDIO_URL given: starting a local Label Studio (about a minute)...")
    with LocalLabelStudio() as server:
        seeded = seed_demo_project(server.url, server.legacy_token)
        with Client(server.url, server.access_token) as client:
            return _export_and_report(client, int(seeded["project_id"]), out)
