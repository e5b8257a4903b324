"""Run a real Label Studio as a subprocess for tests, CI and demos.

:class:`LocalLabelStudio` starts ``label-studio start`` on ``127.0.0.1`` and a port it has
checked is free, in a fresh data directory, with an admin user, a legacy token and a
personal access token (PAT) ready to use (set up by :mod:`ls_frames.testing.accounts`)::

    with LocalLabelStudio() as ls:
        httpx.get(f"{ls.url}/api/projects", headers={"Authorization": f"Token {ls.legacy_token}"})

Label Studio itself lives in its own virtual environment (its pins never meet the library's):
``python -m ls_frames.testing install DIR`` creates one, and the environment variable
``LS_FRAMES_LABEL_STUDIO`` points at its ``label-studio`` binary.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import IO

import httpx

from ls_frames.errors import ConfigurationError, LSFramesError
from ls_frames.testing.accounts import set_up_credentials
from ls_frames.testing.wsgi import WSGI_SERVERS, WSGIStartError, wsgi_command
from ls_frames.transport.capabilities import ServerCapabilities, server_capabilities
from ls_frames.transport.secrets import redact, register_secret

__all__ = ["ENV_EXECUTABLE", "LabelStudioStartError", "LocalLabelStudio", "find_executable"]

ENV_EXECUTABLE = "LS_FRAMES_LABEL_STUDIO"
INSTALL_HINT = (
    "install it in its own virtual environment with `python -m ls_frames.testing install DIR` "
    "(or `make install` in the repository) and set LS_FRAMES_LABEL_STUDIO=DIR/bin/label-studio"
)

# Variables the server reads with or without a LABEL_STUDIO_ / HEARTEX_ prefix: taken from
# the caller's shell they would change the port, the user or the database behind our back.
_LEAKY_NAMES = frozenset(
    {
        "HOST",
        "PORT",
        "USERNAME",
        "PASSWORD",
        "USER_TOKEN",
        "DEBUG",
        "LOG_LEVEL",
        "JSON_LOG",
        "DATABASE_NAME",
        "DJANGO_DB",
        "DJANGO_SETTINGS_MODULE",
        "BASE_DATA_DIR",
        "LOCAL_FILES_SERVING_ENABLED",
        "LOCAL_FILES_DOCUMENT_ROOT",
        "SENTRY_DSN",
        "FRONTEND_SENTRY_DSN",
        "COLLECT_ANALYTICS",
        "LATEST_VERSION_CHECK",
        "STORAGE_TYPE",
        "FUTURE_SAVE_TASK_TO_STORAGE",
        "SSRF_PROTECTION_ENABLED",
        "USE_DEFAULT_BANNED_SUBNETS",
        "USER_ADDITIONAL_BANNED_SUBNETS",
    }
)
_LEAKY_PREFIXES = ("LABEL_STUDIO_", "HEARTEX_", "POSTGRE_", "MYSQL_", "REDIS_", "STORAGE_")
_GRACE_SECONDS = 10.0
_LOG_TAIL_LINES = 40


class LabelStudioStartError(LSFramesError):
    """The Label Studio subprocess exited, or did not become ready before the deadline."""


def find_executable(executable: str | os.PathLike[str] | None = None) -> Path:
    """Return the ``label-studio`` binary: the argument, ``$LS_FRAMES_LABEL_STUDIO``, or PATH."""
    if executable is not None:
        source, candidate = "the executable argument", str(executable)
    elif os.environ.get(ENV_EXECUTABLE):
        source, candidate = f"${ENV_EXECUTABLE}", os.environ[ENV_EXECUTABLE]
    else:
        found = shutil.which("label-studio")
        if found is None:
            raise ConfigurationError(f"label-studio was not found on PATH: {INSTALL_HINT}")
        return Path(found)
    path = Path(candidate).expanduser()
    if not (path.is_file() and os.access(path, os.X_OK)):
        raise ConfigurationError(f"{source} ({path}) is not an executable file: {INSTALL_HINT}")
    return path


def _port_is_free(port: int) -> bool:
    """True if nothing listens on ``port`` (localhost, v4 and v6) and a server can bind it.

    The bind is made as Label Studio's server makes its own (Django's ``runserver`` sets
    ``SO_REUSEADDR``): connections of a server stopped a moment ago linger in TIME_WAIT
    on the port for about a minute, which refuses a plain bind but not a server's, so a
    restart on the same port works at once. (On Windows ``SO_REUSEADDR`` would let a bind
    share a port in active use: the plain bind is kept there.)
    """
    for family, host in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
        with contextlib.suppress(OSError), socket.socket(family, socket.SOCK_STREAM) as s:
            s.settimeout(0.5)
            if s.connect_ex((host, port)) == 0:
                return False
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        if os.name != "nt":
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _free_port() -> int:
    """A port the OS hands out and that Label Studio's own busy check will also accept."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if _port_is_free(port):
            return port
    raise LabelStudioStartError("could not find a free TCP port on 127.0.0.1")


def _clean_environ(base: dict[str, str]) -> dict[str, str]:
    env = {}
    for key, value in base.items():
        bare = key
        for prefix in ("LABEL_STUDIO_", "HEARTEX_"):
            if key.startswith(prefix):
                bare = key[len(prefix) :]
        if bare in _LEAKY_NAMES or key.startswith(_LEAKY_PREFIXES):
            continue
        env[key] = value
    return env


class LocalLabelStudio:
    """A Label Studio server in a subprocess, bound to ``127.0.0.1`` on a checked free port.

    Use it as a context manager, or call :meth:`start` and :meth:`stop`. After start:

    ``url``
        ``http://127.0.0.1:PORT``, no trailing slash.
    ``legacy_token``
        the admin's legacy token (``Authorization: Token ...``), enabled for the organization
        where the release lets a server turn it on (on 1.17 it stays off, as for any new
        organization there, and is refused).
    ``access_token``
        a personal access token (a JWT refresh token; exchange it at ``/api/token/refresh/``
        for a ``Bearer`` access token), created through a login session; None on a release
        without them (1.13).
    ``admin_key``
        a key this release accepts: the legacy token, else (1.17) the personal access token.
    ``version``, ``capabilities``
        the release the server reports and its
        :class:`~ls_frames.transport.capabilities.ServerCapabilities`. A credential kind
        the release does not have is checked to be refused at start (a legacy token on
        1.17 answers 401; 1.13 issues no personal access token), so a table that says
        otherwise fails the start instead of hiding a kind from the tests.
    ``local_files_root``
        the ``LOCAL_FILES_DOCUMENT_ROOT`` of the server (local-files serving is on); storages
        must use a strict subdirectory of it.
    ``data_dir``, ``log_path``
        the server's data directory and the file holding its stdout and stderr.
    ``wsgi``, ``workers``, ``worker_timeout``
        ``wsgi="gunicorn"`` serves Label Studio as production does, under a WSGI server with
        ``workers`` processes, each killed when a request runs past ``worker_timeout``
        seconds (uwsgi's ``harakiri`` in the official image; see
        :mod:`ls_frames.testing.wsgi`); ``None`` (the default) runs ``label-studio start``.

    The server runs with ``USE_DEFAULT_BANNED_SUBNETS=false`` so that cloud storages may
    point at an S3 server on loopback (:class:`ls_frames.testing.media.MotoS3`): a test
    server only, never a setting for a real deployment.

    A temporary data directory is created when ``data_dir`` is None and removed by
    :meth:`stop`. A reused data directory keeps its users: pass the same credentials.
    ``password`` and ``legacy_token`` default to random values. Neither they nor the PAT
    appear in ``repr`` or in error messages.
    """

    def __init__(
        self,
        *,
        executable: str | os.PathLike[str] | None = None,
        data_dir: str | os.PathLike[str] | None = None,
        port: int | None = None,
        username: str = "admin@example.com",
        password: str | None = None,
        legacy_token: str | None = None,
        local_files_root: str | os.PathLike[str] | None = None,
        startup_timeout: float = 180.0,
        log_path: str | os.PathLike[str] | None = None,
        wsgi: str | None = None,
        workers: int = 1,
        worker_timeout: float | None = None,
    ) -> None:
        if legacy_token is not None and len(legacy_token) <= 5:
            raise ConfigurationError("legacy_token must be longer than 5 characters")
        if wsgi is not None and wsgi not in WSGI_SERVERS:
            raise ConfigurationError(f"wsgi must be one of {WSGI_SERVERS} or None, not {wsgi!r}")
        if wsgi is None and (workers != 1 or worker_timeout is not None):
            raise ConfigurationError(
                "workers and worker_timeout need a WSGI server (wsgi='gunicorn'): "
                "label-studio start runs one process without a timeout"
            )
        if workers < 1 or (worker_timeout is not None and worker_timeout <= 0):
            raise ConfigurationError("workers must be >= 1 and worker_timeout > 0")
        self.wsgi, self.workers, self.worker_timeout = wsgi, workers, worker_timeout
        self._executable_arg = executable
        self._data_dir_arg = Path(data_dir) if data_dir is not None else None
        self._port_arg = port
        self.username = username
        self._password = password or secrets.token_urlsafe(18)
        self.legacy_token: str = legacy_token or secrets.token_hex(20)
        self.access_token: str | None = None
        self._local_files_arg = Path(local_files_root) if local_files_root is not None else None
        self.startup_timeout = startup_timeout
        self._log_path_arg = Path(log_path) if log_path is not None else None

        self.port: int | None = None
        self.data_dir: Path | None = None
        self.local_files_root: Path | None = None
        self.log_path: Path | None = None
        self.startup_seconds: float | None = None
        self.version: str | None = None
        self.capabilities: ServerCapabilities = server_capabilities(None)
        self._process: subprocess.Popen[bytes] | None = None
        self._log_file: IO[bytes] | None = None
        self._owns_data_dir = False
        register_secret(self._password)
        register_secret(self.legacy_token)

    # -- public -------------------------------------------------------------------------

    @property
    def url(self) -> str:
        if self.port is None:
            raise LabelStudioStartError("the server is not started")
        return f"http://127.0.0.1:{self.port}"

    @property
    def password(self) -> str:
        return self._password

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def admin_key(self) -> str:
        """A key this release accepts: the legacy token where it works (it never expires,
        so a plain ``httpx`` client can keep its header), else the personal access token."""
        if self.capabilities.legacy_tokens or self.access_token is None:
            return self.legacy_token
        return self.access_token

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def env_exports(self) -> dict[str, str]:
        """Variables that let other tools (and the test suite) reuse this server.

        A server under a WSGI server names itself ``LS_FRAMES_TEST_PRODUCTION_*`` (with
        ``..._WSGI``, ``..._WORKERS`` and ``..._WORKER_TIMEOUT``), which the suite's
        ``production_label_studio`` fixture reuses; the ordinary server's variables and
        these can be exported side by side.
        """
        test = "LS_FRAMES_TEST_PRODUCTION_" if self.wsgi else "LS_FRAMES_TEST_"
        out = {
            "LABEL_STUDIO_URL": self.url,
            "LABEL_STUDIO_API_KEY": self.access_token or self.legacy_token,
            f"{test}URL": self.url,
            f"{test}LS_VERSION": self.version or "",
            f"{test}LEGACY_TOKEN": self.legacy_token,
            f"{test}ACCESS_TOKEN": self.access_token or "",
            f"{test}LOCAL_FILES_ROOT": str(self.local_files_root or ""),
        }
        if self.wsgi:
            out[f"{test}WSGI"] = self.wsgi
            out[f"{test}WORKERS"] = str(self.workers)
            out[f"{test}WORKER_TIMEOUT"] = f"{self.worker_timeout or ''}"
        return out

    def start(self) -> LocalLabelStudio:
        """Start the server and wait until it answers and both credentials work."""
        if self._process is not None:
            raise LabelStudioStartError("this LocalLabelStudio is already started")
        executable = find_executable(self._executable_arg)
        port = self._choose_port()
        self._prepare_dirs()
        assert self.data_dir is not None and self.log_path is not None
        assert self.local_files_root is not None
        env = _clean_environ(dict(os.environ))
        env.update(
            {
                "LABEL_STUDIO_BASE_DATA_DIR": str(self.data_dir),
                "LABEL_STUDIO_USERNAME": self.username,
                "LABEL_STUDIO_PASSWORD": self._password,
                "LABEL_STUDIO_USER_TOKEN": self.legacy_token,
                "LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN": "true",
                "LOCAL_FILES_SERVING_ENABLED": "true",
                "LOCAL_FILES_DOCUMENT_ROOT": str(self.local_files_root),
                "COLLECT_ANALYTICS": "false",
                "LATEST_VERSION_CHECK": "false",
                "SENTRY_DSN": "",
                "FRONTEND_SENTRY_DSN": "",
                "PYTHONUNBUFFERED": "1",
                # A test server: storages may point at S3 on loopback (moto). Label
                # Studio's default refuses private and loopback endpoints.
                "USE_DEFAULT_BANNED_SUBNETS": "false",
            }
        )
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log_file = open(self.log_path, "wb")  # noqa: SIM115 (closed in stop)
        started = time.monotonic()
        try:
            command = self._command(executable, port, env)
        except BaseException as exc:
            self._owns_data_dir = self._owns_data_dir and not isinstance(exc, LSFramesError)
            self.stop()
            raise
        self._process = subprocess.Popen(
            command,
            env=env,
            cwd=self.data_dir,
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.port = port
        try:
            self._wait_healthy(started + self.startup_timeout)
            self.version = self._release()
            self.capabilities = server_capabilities(self.version)
            self._set_up_credentials()
        except BaseException as exc:
            # Keep a temporary data dir (and the log in it) of a failed start for debugging.
            self._owns_data_dir = self._owns_data_dir and not isinstance(exc, LSFramesError)
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - started
        return self

    def stop(self) -> None:
        """Stop the process group (SIGTERM, then SIGKILL after a grace period); clean up."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            self._signal(process, signal.SIGTERM)
            try:
                process.wait(_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                self._signal(process, getattr(signal, "SIGKILL", signal.SIGTERM))
                process.wait(_GRACE_SECONDS)
        if process is not None and hasattr(os, "killpg"):
            # Children left in the group (none expected from runserver --noreload).
            with contextlib.suppress(OSError):
                os.killpg(process.pid, getattr(signal, "SIGKILL", signal.SIGTERM))
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        if self._owns_data_dir and self.data_dir is not None:
            shutil.rmtree(self.data_dir, ignore_errors=True)
            self._owns_data_dir = False

    def __enter__(self) -> LocalLabelStudio:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = self.url if self.port is not None else "not started"
        state = "running" if self.running else "stopped"
        return f"<LocalLabelStudio {where} {state} user={self.username!r}>"

    def log_tail(self, lines: int = _LOG_TAIL_LINES) -> str:
        """The last lines of the server log, with credentials masked."""
        if self.log_path is None or not self.log_path.exists():
            return ""
        text = self.log_path.read_bytes()[-200_000:].decode("utf-8", "replace")
        tail = "\n".join(text.splitlines()[-lines:])
        return redact(tail, [self._password, self.legacy_token, self.access_token or ""])

    # -- internals ----------------------------------------------------------------------

    def _command(self, executable: Path, port: int, env: dict[str, str]) -> list[str]:
        if self.wsgi is None:
            # Legacy tokens through LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN, not the command
            # line's --enable-legacy-api-token: releases before 1.20 do not know that flag.
            start = [str(executable), "start", "--no-browser", "--internal-host", "127.0.0.1"]
            return [*start, "--port", str(port)]
        assert self.data_dir is not None and self._log_file is not None
        try:
            return wsgi_command(
                executable,
                self.data_dir,
                env,
                self._log_file,
                port=port,
                workers=self.workers,
                worker_timeout=self.worker_timeout,
                init_timeout=self.startup_timeout,
            )
        except WSGIStartError as exc:
            raise self._fail(str(exc)) from None

    def _prepare_dirs(self) -> None:
        if self._data_dir_arg is None:
            self.data_dir = Path(tempfile.mkdtemp(prefix="ls-frames-label-studio-"))
            self._owns_data_dir = True
        else:
            self.data_dir = self._data_dir_arg.resolve()
            self.data_dir.mkdir(parents=True, exist_ok=True)
        root = self._local_files_arg or self.data_dir / "local-files"
        self.local_files_root = root.resolve()
        self.local_files_root.mkdir(parents=True, exist_ok=True)
        self.log_path = (self._log_path_arg or self.data_dir / "label-studio.log").resolve()

    def _choose_port(self) -> int:
        if self._port_arg is None:
            return _free_port()
        if not _port_is_free(self._port_arg):
            # Label Studio would silently move to the next port: refuse instead.
            raise ConfigurationError(f"port {self._port_arg} on 127.0.0.1 is busy")
        return self._port_arg

    def _signal(self, process: subprocess.Popen[bytes], sig: int) -> None:
        with contextlib.suppress(OSError):
            if hasattr(os, "killpg"):
                os.killpg(process.pid, sig)
            else:  # pragma: no cover - Windows
                process.send_signal(sig)

    def _fail(self, why: str) -> LabelStudioStartError:
        return LabelStudioStartError(
            f"Label Studio {why}; log {self.log_path}, last lines:\n{self.log_tail()}"
        )

    def _wait_healthy(self, deadline: float) -> None:
        assert self._process is not None
        with httpx.Client(base_url=self.url, timeout=5.0) as http:
            while True:
                code = self._process.poll()
                if code is not None:
                    raise self._fail(f"exited with code {code} during startup")
                with contextlib.suppress(httpx.HTTPError, ValueError):
                    answer = http.get("/health")
                    if answer.status_code == 200 and answer.json() == {"status": "UP"}:
                        return
                if time.monotonic() > deadline:
                    raise self._fail(f"did not answer /health within {self.startup_timeout:.0f} s")
                time.sleep(0.5)

    def _set_up_credentials(self) -> None:
        """Both credentials, through the login session (:mod:`ls_frames.testing.accounts`)."""
        made = set_up_credentials(
            self.url,
            username=self.username,
            password=self._password,
            legacy_token=self.legacy_token,
            version=self.version,
            capabilities=self.capabilities,
            fail=self._fail,
        )
        self.legacy_token, self.access_token = made.legacy_token, made.access_token

    def _release(self) -> str | None:
        """The release ``/api/version`` reports (it needs no credential)."""
        with contextlib.suppress(httpx.HTTPError, ValueError, AttributeError):
            info = httpx.get(f"{self.url}/api/version", timeout=30.0).json()
            release = info.get("release") or (info.get("label-studio-os-package") or {}).get(
                "version"
            )
            return str(release) if release else None
        return None
