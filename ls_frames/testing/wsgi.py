"""Label Studio served the way production serves it: a WSGI server with several worker
processes and a worker timeout.

``label-studio start`` runs Django's development server: one process, threads, no limit on
how long a request may take. The official image serves the same Django application
(``core.wsgi:application``, settings ``core.settings.label_studio``) with uwsgi and
``harakiri = 120``: a request still running after 120 s has its worker killed. Anything
Label Studio does inside one request (Community builds a whole snapshot inside the create
request) behaves differently there, so the tests need that shape too.

:class:`~ls_frames.testing.LocalLabelStudio` with ``wsgi="gunicorn"`` starts it in two
steps, each a command built here:

1. ``label-studio init --quiet``: the migrations and the admin user (what ``label-studio
   start`` does before it serves), with the same environment;
2. gunicorn, from the same virtual environment (``python -m ls_frames.testing install``
   puts :data:`GUNICORN_VERSION` there), in Label Studio's package folder, with
   ``--workers`` sync workers and ``--timeout`` (gunicorn kills a worker whose request runs
   longer, as uwsgi's harakiri does; the client gets a 500 page). The application is loaded
   once in the master (``--preload``) so that a worker starts at once: loading Django takes
   longer than a short worker timeout, and a worker still loading would be killed too.
"""

from __future__ import annotations

import math
import subprocess
import time
from pathlib import Path
from typing import IO

__all__ = [
    "GUNICORN_VERSION",
    "WSGI_SERVERS",
    "WSGIStartError",
    "gunicorn_command",
    "gunicorn_config",
    "init_command",
    "label_studio_package_dir",
    "wsgi_command",
]

#: The WSGI servers :class:`~ls_frames.testing.LocalLabelStudio` can run Label Studio under.
WSGI_SERVERS = ("gunicorn",)
#: The gunicorn release the installer puts next to Label Studio.
GUNICORN_VERSION = "23.0.0"
#: Django's settings module for a served Label Studio (the official image's).
SETTINGS_MODULE = "core.settings.label_studio"

# The master loads the application (--preload) and, here, its URL routes and the views they
# import, which Django would otherwise load on a worker's first request: a worker started
# after a kill must answer its first request as fast as the others, well within a short
# timeout. The master's database connections are closed before any worker is forked, so
# that no SQLite handle crosses a fork.
_CONFIG = '''\
"""gunicorn settings written by ls_frames.testing (the command line holds the rest)."""


def when_ready(server):
    from django.db import connections
    from django.urls import get_resolver

    get_resolver().resolve("/api/projects/")
    connections.close_all()
'''


class WSGIStartError(RuntimeError):
    """A step before serving failed (the server adds its log's last lines)."""


def wsgi_command(
    executable: Path,
    data_dir: Path,
    env: dict[str, str],
    log: IO[bytes],
    *,
    port: int,
    workers: int,
    worker_timeout: float | None,
    init_timeout: float,
) -> list[str]:
    """Run ``label-studio init`` (output to ``log``), set Django's settings module in
    ``env`` and return the gunicorn command to start.

    Raises
    ------
    WSGIStartError
        The init failed or ran past ``init_timeout`` seconds, or gunicorn or the
        ``label_studio`` package is missing.
    """
    try:
        package = label_studio_package_dir(executable)
        started = time.monotonic()
        init = subprocess.run(
            init_command(executable),
            env=env,
            cwd=data_dir,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            timeout=init_timeout,
            check=False,
        )
        if init.returncode != 0:
            raise WSGIStartError(f"init exited with code {init.returncode}")
        env["DJANGO_SETTINGS_MODULE"] = SETTINGS_MODULE
        return gunicorn_command(
            executable,
            package,
            gunicorn_config(data_dir),
            port=port,
            workers=workers,
            worker_timeout=worker_timeout,
        )
    except subprocess.TimeoutExpired:
        spent = time.monotonic() - started
        raise WSGIStartError(f"init did not finish within {spent:.0f} s") from None
    except FileNotFoundError as exc:
        raise WSGIStartError(str(exc)) from None


def label_studio_package_dir(executable: Path) -> Path:
    """The folder of the ``label_studio`` package installed next to ``executable``
    (where ``core.wsgi`` lives)."""
    python = executable.parent / "python"
    probe = subprocess.run(
        [
            str(python),
            "-c",
            "import importlib.util, os; "
            "print(os.path.dirname(importlib.util.find_spec('label_studio').origin))",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    folder = Path(probe.stdout.strip())
    if probe.returncode != 0 or not (folder / "core" / "wsgi.py").is_file():
        raise FileNotFoundError(
            f"no label_studio package with core/wsgi.py next to {executable}: "
            f"{probe.stderr.strip()[-300:]}"
        )
    return folder


def init_command(executable: Path) -> list[str]:
    """Migrate the database and create the admin (from ``LABEL_STUDIO_USERNAME``, ...)."""
    return [str(executable), "init", "--quiet", "--no-browser"]


def gunicorn_config(data_dir: Path) -> Path:
    """Write the gunicorn settings file into ``data_dir`` and return its path."""
    path = data_dir / "gunicorn.conf.py"
    path.write_text(_CONFIG)
    return path


def gunicorn_command(
    executable: Path,
    package_dir: Path,
    config: Path,
    *,
    port: int,
    workers: int,
    worker_timeout: float | None,
) -> list[str]:
    """gunicorn serving ``core.wsgi:application`` on 127.0.0.1 (loopback only).

    ``worker_timeout`` is rounded up to whole seconds (gunicorn's unit); ``None`` means a
    day, as good as none.
    """
    gunicorn = executable.parent / "gunicorn"
    if not gunicorn.is_file():
        raise FileNotFoundError(
            f"{gunicorn} is missing: `python -m ls_frames.testing install DIR` installs "
            f"gunicorn=={GUNICORN_VERSION} next to Label Studio"
        )
    timeout = 86_400 if worker_timeout is None else max(1, math.ceil(worker_timeout))
    return [
        str(gunicorn),
        "--config",
        str(config),
        "--chdir",
        str(package_dir),
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--worker-class",
        "sync",
        "--timeout",
        str(timeout),
        "--graceful-timeout",
        "5",
        "--preload",
        "--access-logfile",
        "-",
        "core.wsgi:application",
    ]
