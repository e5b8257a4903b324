"""``python -m ls_frames.testing serve|install``: a Label Studio for a shell session or CI."""

from __future__ import annotations

import argparse
import os
import shlex
import signal
import sys
import time
from pathlib import Path

from ls_frames.errors import ConfigurationError
from ls_frames.testing.install import DEFAULT_VERSION, install_label_studio
from ls_frames.testing.server import LocalLabelStudio
from ls_frames.testing.wsgi import WSGI_SERVERS


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _serve(args: argparse.Namespace) -> int:
    server = LocalLabelStudio(
        executable=args.executable,
        data_dir=args.data_dir,
        port=args.port,
        log_path=args.log,
        startup_timeout=args.timeout,
        wsgi=args.wsgi,
        workers=args.workers if args.workers is not None else 1,
        worker_timeout=args.worker_timeout,
    )
    print("starting Label Studio (about a minute on a cold start)...", flush=True)
    # Ctrl-C, SIGTERM and a closed terminal all stop the server (SIGINT explicitly: a
    # background job starts with it ignored).
    for sig in (signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGHUP", None)):
        if sig is not None:
            signal.signal(sig, _interrupt)
    with server:
        if args.seed:
            from ls_frames.testing.seed import seed_demo_project

            seeded = seed_demo_project(server.url, server.admin_key)
            print(f"seeded demo project {seeded['project_id']}", flush=True)
        env_file = Path(args.env_file)
        env_file.parent.mkdir(parents=True, exist_ok=True)
        lines = [f"export {k}={shlex.quote(v)}" for k, v in server.env_exports().items()]
        fd = os.open(env_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write("\n".join(lines) + "\n")
        print(f"Label Studio is up at {server.url} after {server.startup_seconds:.0f} s")
        print(f"log: {server.log_path}")
        print(f"credentials: `source {env_file}` (exports LABEL_STUDIO_URL and the tokens)")
        print("Ctrl-C stops it.", flush=True)
        try:
            while server.running:
                time.sleep(1)
            print("Label Studio exited on its own; see the log", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            print("\nstopping...", flush=True)
        finally:
            env_file.unlink(missing_ok=True)
    return 0


def _install(args: argparse.Namespace) -> int:
    binary = install_label_studio(args.dir, args.version, quiet=not args.verbose)
    print(binary)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ls_frames.testing", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="start a local Label Studio until Ctrl-C")
    serve.add_argument(
        "--executable", help="label-studio binary (default: $LS_FRAMES_LABEL_STUDIO, then PATH)"
    )
    serve.add_argument("--data-dir", help="data directory (default: a temporary one)")
    serve.add_argument("--port", type=int, help="port (default: a free one)")
    serve.add_argument("--log", help="server log file (default: in the data directory)")
    serve.add_argument("--timeout", type=float, default=180.0, help="startup timeout, s")
    serve.add_argument(
        "--env-file",
        default=".ls-frames/server.env",
        help="where to write the shell exports (mode 600)",
    )
    serve.add_argument("--seed", action="store_true", help="also create the demo project")
    serve.add_argument(
        "--wsgi",
        choices=WSGI_SERVERS,
        help="serve under this WSGI server, as production does (default: label-studio start);"
        " the env file then names the server LS_FRAMES_TEST_PRODUCTION_*",
    )
    serve.add_argument("--workers", type=int, help="worker processes (with --wsgi; default 1)")
    serve.add_argument(
        "--worker-timeout",
        type=float,
        help="seconds after which a worker's request is killed (with --wsgi; default none),"
        " like uwsgi's harakiri (120 s in the official image)",
    )
    serve.set_defaults(func=_serve)

    install = commands.add_parser("install", help="install Label Studio into its own venv")
    install.add_argument("dir", help="virtual environment directory")
    install.add_argument("--version", default=DEFAULT_VERSION)
    install.add_argument("--verbose", action="store_true", help="show pip's output")
    install.set_defaults(func=_install)

    args = parser.parse_args(argv)
    try:
        result: int = args.func(args)
    except ConfigurationError as exc:
        parser.error(str(exc))
    return result


if __name__ == "__main__":
    sys.exit(main())
