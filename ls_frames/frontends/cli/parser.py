"""The argument parser: the commands, their options and their help, one function a command.

Options several commands share live in parent parsers: ``-q`` (every command, and before
the command too), the server
(``--url``, ``--api-key``: every command but ``read``) and the snapshot options (``export``,
``download``).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TypeAlias

from ls_frames._version import __version__
from ls_frames.exports.stale import DEFAULT_STALE_AGE
from ls_frames.frontends.cli.commands import (
    cmd_demo,
    cmd_download,
    cmd_export,
    cmd_formats,
    cmd_import_predictions,
    cmd_media,
    cmd_read,
    cmd_snapshots,
    cmd_sync,
)
from ls_frames.frontends.cli.dataset import add_dataset, add_source_arguments
from ls_frames.frontends.cli.scores import add_agreement, add_evaluate
from ls_frames.pipeline import SINGLE_FILE_FORMATS

__all__ = ["build_parser", "parse_age"]

_PROJECT_HELP = "project id, or title (a number is taken as an id)"

_Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


_QUIET_HELP = "no progress bars (there are none either when stderr is not a terminal)"


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_age(text: str) -> float:
    """``90``, ``90s``, ``30m``, ``1h`` or ``2d``, in seconds."""
    raw = text.strip().lower()
    scale = _UNITS.get(raw[-1:])
    number = raw[:-1] if scale is not None else raw
    try:
        value = float(number) * (scale or 1)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an age (seconds, or a number with s, m, h or d)"
        ) from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r}: an age cannot be negative")
    return value


def _local() -> argparse.ArgumentParser:
    """Options of every command, those that need no server included. ``-q`` is also the
    main parser's: given before the command it must not be reset by the command's default
    (hence ``SUPPRESS`` here)."""
    local = argparse.ArgumentParser(add_help=False)
    local.add_argument(
        "-q", "--quiet", action="store_true", default=argparse.SUPPRESS, help=_QUIET_HELP
    )
    return local


def _server(local: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The server and its key, for the commands that talk to Label Studio."""
    common = argparse.ArgumentParser(add_help=False, parents=[local])
    common.add_argument("--url", help="Label Studio URL (default: $LABEL_STUDIO_URL)")
    common.add_argument(
        "--api-key", help="legacy token or personal access token (default: $LABEL_STUDIO_API_KEY)"
    )
    return common


def _snapshot_options() -> argparse.ArgumentParser:
    """How ``export`` and ``download`` make (or reuse) their snapshot."""
    opts = argparse.ArgumentParser(add_help=False)
    group = opts.add_argument_group("snapshot options")
    group.add_argument(
        "--export-id", type=int, help="reuse this completed snapshot (it is never deleted)"
    )
    group.add_argument(
        "--keep-snapshot",
        action="store_true",
        help="keep the snapshot made for this command on the server (by "
        "default it is deleted once downloaded)",
    )
    group.add_argument("--view", type=int, help="Data Manager view (tab) id to filter tasks")
    for name in ("skipped", "finished", "annotated"):
        group.add_argument(f"--{name}", choices=["only", "exclude"], help=f"tasks: {name} filter")
    group.add_argument("--only-with-annotations", action="store_true")
    group.add_argument(
        "--annotations",
        nargs="+",
        choices=["usual", "ground_truth", "skipped"],
        help="annotation kinds to keep (default: all three)",
    )
    group.add_argument(
        "--ids-only",
        action="store_true",
        help="predictions, drafts and annotators as ids (default: full objects)",
    )
    group.add_argument("--interpolate-key-frames", action="store_true")
    group.add_argument("--annotation-history", action="store_true")
    group.add_argument("--timeout", type=float, help="seconds to wait for the snapshot")
    return opts


def _add_export(sub: _Subparsers, parents: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("export", parents=parents, help="snapshot a project into Parquet")
    p.add_argument("project", help=_PROJECT_HELP)
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--keep-json", type=Path, help="also keep the JSON snapshot here")
    add_source_arguments(p)
    p.add_argument("--overwrite", action="store_true")
    p.add_argument(
        "--media",
        type=Path,
        metavar="DIR",
        help="also fetch the tasks' files into DIR and keep a media table",
    )
    p.add_argument(
        "--allow-missing",
        action="store_true",
        help="exit 0 even when some media files could not be fetched (default: exit 3)",
    )
    p.set_defaults(func=cmd_export)


def _add_sync(sub: _Subparsers, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "sync",
        parents=[common],
        help="refresh a Parquet dataset (--out) or Delta Lake tables (--delta) incrementally",
    )
    p.add_argument("project", help=_PROJECT_HELP)
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--out", type=Path, help="the Parquet dataset's folder")
    where.add_argument(
        "--delta",
        metavar="URI",
        help="where the Delta tables live: a folder or s3://bucket/prefix",
    )
    p.add_argument(
        "--storage-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an object-store option for --delta (repeat it: AWS_ENDPOINT_URL=..., "
        "AWS_REGION=..., ...; credentials are best left in the environment)",
    )
    p.add_argument(
        "--overlap",
        type=float,
        default=60.0,
        help="seconds re-read before the last watermark (default 60)",
    )
    p.add_argument("--full", action="store_true", help="rewrite the whole dataset")
    add_source_arguments(p)  # the first (full) run's
    p.add_argument("--timeout", type=float, help="seconds to wait for the snapshot")
    p.add_argument(
        "--media",
        type=Path,
        metavar="DIR",
        help="keep the media table up to date with files in DIR (default: the "
        "cache the dataset already uses, if any)",
    )
    p.add_argument(
        "--allow-missing",
        action="store_true",
        help="exit 0 even when some media files could not be fetched (default: exit 3)",
    )
    p.set_defaults(func=cmd_sync)


def _add_media(sub: _Subparsers, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "media",
        parents=[common],
        help="fetch the files a project's tasks (or a dataset's) point to",
    )
    p.add_argument(
        "source",
        help="a project id or title, or a dataset folder (its media table is written into it)",
    )
    p.add_argument("--out", required=True, type=Path, help="the media cache folder")
    add_source_arguments(p)
    p.add_argument(
        "--field",
        action="append",
        help="data key to read (repeatable; default: those the label config's object tags read)",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        help="files at once (default: adapts, one at a time up to 8, as the server keeps up)",
    )
    p.add_argument(
        "--refresh", action="store_true", help="revalidate cached files with conditional requests"
    )
    p.add_argument("--strict", action="store_true", help="exit 1 when any file failed")
    p.add_argument(
        "--allow-missing",
        action="store_true",
        help="exit 0 even when some media files could not be fetched (default: exit 3)",
    )
    p.add_argument(
        "--allow-host",
        action="append",
        help="a private host, address or network that may be fetched (repeatable)",
    )
    p.add_argument("--table", type=Path, help="also write the media table to this Parquet file")
    p.set_defaults(func=cmd_media)


def _add_read(sub: _Subparsers, local: argparse.ArgumentParser) -> None:
    p = sub.add_parser("read", parents=[local], help="an export file on disk into Parquet")
    p.add_argument("file", type=Path)
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--label-config", type=Path, help="XML label config for categoricals")
    p.add_argument("--overwrite", action="store_true")
    p.set_defaults(func=cmd_read)


def _add_download(sub: _Subparsers, parents: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "download", parents=parents, help="snapshot and download JSON or a converted format"
    )
    p.add_argument("project", help=_PROJECT_HELP)
    p.add_argument("--format", default="JSON", help="JSON, CSV, COCO, YOLO, ... (see formats)")
    p.add_argument(
        "--out",
        default=".",
        help=(
            "where to write: a FOLDER (created if need be; the file keeps the server's name) "
            "when it ends with '/', already is a folder, or the format yields several files "
            "(every format but " + ", ".join(sorted(SINGLE_FILE_FORMATS)) + ": the server "
            "zips them) and it does not end in .zip; otherwise the FILE's name (default: .)"
        ),
    )
    p.set_defaults(func=cmd_download)


def _add_listings(sub: _Subparsers, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("formats", parents=[common], help="export formats of a project")
    p.add_argument("project", help=_PROJECT_HELP)
    p.set_defaults(func=cmd_formats)

    p = sub.add_parser(
        "snapshots",
        parents=[common],
        help="a project's snapshots, or the stale ones left in progress",
        description="List a project's snapshots. With --stale: the snapshots left in "
        "progress for longer than --older-than (of the project, or of every project), which "
        "a build killed by the server's worker timeout leaves; --delete removes them.",
    )
    p.add_argument("project", nargs="?", help=_PROJECT_HELP + " (with --stale: optional)")
    p.add_argument(
        "--stale", action="store_true", help="only snapshots still in progress past --older-than"
    )
    p.add_argument(
        "--older-than",
        type=parse_age,
        default=DEFAULT_STALE_AGE,
        metavar="AGE",
        help="with --stale: minimum age, seconds or 30m, 1h, 2d (default 1h)",
    )
    p.add_argument("--delete", action="store_true", help="with --stale: delete them")
    p.set_defaults(func=cmd_snapshots)


def _add_import_predictions(sub: _Subparsers, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "import-predictions",
        parents=[common],
        help="predictions from a file into a project, in bulk",
        description="Import predictions from a Parquet, CSV or JSON file: rows in "
        "to_results' shape (task_id, result, score) or {task, result, score} dicts. Rows on "
        "tasks the project does not hold are refused (counted; exit status 4), the others "
        "imported.",
    )
    p.add_argument("file", type=Path, help="a .parquet, .csv or .json(l) file")
    p.add_argument("--project", required=True, help=_PROJECT_HELP)
    p.add_argument("--model-version", required=True, help="the predictions' model version")
    p.add_argument(
        "--replace",
        action="store_true",
        help="first remove this model version's predictions on those tasks (a rerun, or a "
        "rerun after an interrupted run, leaves no duplicate)",
    )
    p.set_defaults(func=cmd_import_predictions)


def _add_demo(sub: _Subparsers, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "demo",
        parents=[common],
        help="export a demo project end to end "
        "(starts and seeds a local Label Studio when no server is given)",
    )
    p.add_argument("--out", default=Path("demo-output"), type=Path)
    p.add_argument("--project", type=int, help="with a server: the project (default: newest)")
    p.set_defaults(func=cmd_demo)


def build_parser(description: str) -> argparse.ArgumentParser:
    """``ls-frames`` and its commands, in the order ``--help`` lists them."""
    parser = argparse.ArgumentParser(
        prog="ls-frames",
        description=description,
        epilog="exit status: 0 success, 1 an error, 2 bad arguments, 3 media files missing "
        "(export/sync --media, media: the rest is done; dataset: also tasks left out; "
        "--allow-missing exits 0), "
        "4 rows refused (import-predictions: the rest is imported), 130 interrupted",
    )
    parser.add_argument("--version", action="version", version=f"ls-frames {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0)
    parser.add_argument("-q", "--quiet", action="store_true", default=False, help=_QUIET_HELP)
    local = _local()
    common = _server(local)
    opts = _snapshot_options()
    sub = parser.add_subparsers(dest="command", required=True)
    _add_export(sub, [common, opts])
    _add_sync(sub, common)
    _add_media(sub, common)
    add_dataset(sub, common)
    add_evaluate(sub, common)
    add_agreement(sub, common)
    _add_read(sub, local)
    _add_download(sub, [common, opts])
    _add_listings(sub, common)
    _add_import_predictions(sub, common)
    _add_demo(sub, common)
    return parser
