"""``ls-frames``: the command line. It holds no logic of its own; every command calls the
same functions a notebook user calls.

::

    ls-frames export 12 --out data/project-12        # snapshot -> Parquet dataset
    ls-frames export "Street scenes" --out data/ss   # a project by title
    ls-frames read export.json --out data/local      # a file already on disk -> Parquet
    ls-frames download 12 --format CSV --out exports/
    ls-frames formats 12 | ls-frames snapshots 12
    ls-frames demo --out demo-output                 # local Label Studio, seeded, exported
    ls-frames media 12 --out media/                  # the files behind the tasks
    ls-frames media data/project-12 --out media/     # ... of a dataset, kept as its media table

The server and key come from ``--url`` / ``--api-key`` or ``LABEL_STUDIO_URL`` /
``LABEL_STUDIO_API_KEY``. A project is given by id or by title. Snapshots made for
``export`` and ``download`` are deleted from the server once downloaded, unless
``--keep-snapshot``. Exit codes: 0 success (a closed output pipe included), 1 an error
(printed in one line, never with the key), 2 bad arguments.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from ls_frames._version import __version__
from ls_frames.errors import ConfigurationError, LSFramesError, OutputExistsError
from ls_frames.exports import AnnotationFilter, Client, Serialization, TaskFilter
from ls_frames.pipeline.project import (
    SINGLE_FILE_FORMATS,
    download_project,
    export_project,
    load_project,
)
from ls_frames.tables import read_parquet, to_parquet

__all__ = ["main"]


def _client(args: argparse.Namespace) -> Client:
    return Client(args.url, args.api_key)


def _progress(args: argparse.Namespace) -> bool | None:
    """``-q`` switches the bars off; otherwise the environment decides (on by default)."""
    return False if args.quiet else None


def _options(args: argparse.Namespace) -> dict[str, Any]:
    task = TaskFilter(
        view=args.view,
        skipped=args.skipped,
        finished=args.finished,
        annotated=args.annotated,
        only_with_annotations=args.only_with_annotations,
    )
    kinds = args.annotations or ["usual", "ground_truth", "skipped"]
    annotation = AnnotationFilter(**{k: k in kinds for k in ("usual", "ground_truth", "skipped")})
    shape: Literal["full", "id"] = "id" if args.ids_only else "full"
    serialization = Serialization(
        predictions=shape,
        drafts=shape,
        annotators=shape,
        interpolate_key_frames=args.interpolate_key_frames,
        annotation_history=args.annotation_history,
    )
    return {"task_filter": task, "annotation_filter": annotation, "serialization": serialization}


def summarize(out_dir: Path) -> str:
    """A few lines on the tables of a dataset written by ``to_parquet``."""
    frames = read_parquet(out_dir)
    lines = [f"Parquet dataset: {out_dir}"]
    for name, df in frames.items():
        lines.append(f"  {name:<12} {len(df):>9,} rows  {len(df.columns):>3} columns")
    annotations = frames.annotations
    if len(annotations):
        skipped = int(annotations["was_cancelled"].fillna(False).sum())
        ground_truth = int(annotations["ground_truth"].fillna(False).sum())
        people = annotations["completed_by_email"].dropna().nunique()
        lines.append(
            f"  annotations: {skipped} skipped, {ground_truth} ground truth, "
            f"by {people} annotator(s)"
        )
    regions = frames.regions
    if len(regions):
        by_source = regions["source"].value_counts()
        lines.append("  regions by source: " + ", ".join(f"{k}={v}" for k, v in by_source.items()))
    if len(regions) and "labels" in regions:
        for source, rows in regions.groupby("source", observed=True, sort=True):
            counts = rows["labels"].explode().value_counts().head(8)
            if len(counts):
                lines.append(
                    f"  labels in {source}s: " + ", ".join(f"{k}={v}" for k, v in counts.items())
                )
    return "\n".join(lines)


def _check_output(out: Path, overwrite: bool) -> None:
    """Refuse an existing output folder before any server work."""
    if out.exists() and not overwrite:
        raise OutputExistsError(out)


def _check_writable(folder: Path | None) -> None:
    """A cache folder must be a folder we can write, checked before any server work."""
    if folder is None:
        return
    if folder.exists() and not folder.is_dir():
        raise ConfigurationError(f"{folder} is not a folder")
    probe = (
        folder if folder.exists() else next((p for p in folder.parents if p.exists()), Path("."))
    )
    if not os.access(probe, os.W_OK | os.X_OK):
        raise ConfigurationError(f"cannot write to {folder} ({probe} is not writable)")


def _cmd_export(args: argparse.Namespace) -> None:
    _check_output(args.out, args.overwrite)
    _check_writable(args.media)
    with _client(args) as client:
        out = export_project(
            client.resolve_project(args.project),
            args.out,
            client=client,
            export_id=args.export_id,
            keep_file=args.keep_json,
            keep_snapshot=args.keep_snapshot,
            overwrite=args.overwrite,
            timeout=args.timeout,
            progress=_progress(args),
            media=args.media,
            **_options(args),
        )
    print(summarize(out))


def media_summary(table: Any) -> str:
    """Lines on a media table: what the run did, and the first failures."""
    counts = table.attrs.get("media", {})
    done = ", ".join(
        f"{counts[k]} {k.replace('_', ' ')}"
        for k in ("downloaded", "cached", "not_modified", "unchanged", "failed")
        if counts.get(k)
    )
    lines = [
        f"media: {len(table):,} reference(s) ({done or 'nothing to fetch'}), "
        f"{int(counts.get('bytes_downloaded', 0)):,} bytes downloaded, "
        f"cache {counts.get('cache_dir', '')}"
    ]
    failed = table[table["error"].notna()]
    for row in failed.head(10).itertuples():
        lines.append(f"  task {row.task_id} {row.field}: {row.error} ({row.uri})")
    if len(failed) > 10:
        lines.append(f"  ... and {len(failed) - 10} more failure(s)")
    return "\n".join(lines)


def _cmd_media(args: argparse.Namespace) -> None:
    from ls_frames.media import fetch_media
    from ls_frames.media.dataset import fetch_dataset_media

    options: dict[str, Any] = {
        "fields": args.field,
        "workers": args.workers,
        "strict": args.strict,
        "refresh": args.refresh,
        "allow_hosts": args.allow_host,
        "progress": _progress(args),
    }
    if args.workers < 1:
        raise ConfigurationError(f"--workers must be at least 1, not {args.workers}")
    _check_writable(args.out)
    source = args.source
    if (Path(source) / "_SUCCESS").is_file():
        # The client from --url/--api-key, else fetch_media makes one from the environment
        # when a reference needs Label Studio (plain URLs do not).
        with contextlib.ExitStack() as stack:
            given = stack.enter_context(_client(args)) if args.url or args.api_key else None
            table = fetch_dataset_media(source, args.out, client=given, **options)
    elif Path(source).exists() or "/" in source or os.sep in source:
        why = "it has no _SUCCESS" if Path(source).exists() else "no such folder"
        raise ConfigurationError(f"{source} is neither a project id nor a dataset folder ({why})")
    else:
        with _client(args) as client:  # a project id or title
            frames = load_project(
                client.resolve_project(source), client=client, progress=_progress(args)
            )
            table = fetch_media(frames, args.out, client=client, **options)
    if args.table is not None:
        args.table.parent.mkdir(parents=True, exist_ok=True)
        table.to_parquet(args.table, index=False)
    print(media_summary(table))


def _storage_options(pairs: list[str]) -> dict[str, str] | None:
    options = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigurationError(f"--storage-option takes KEY=VALUE, not {pair!r}")
        options[key.strip()] = value
    return options or None


def _cmd_sync_delta(args: argparse.Namespace) -> None:
    from ls_frames.sync import sync_delta

    if args.media is not None:
        raise ConfigurationError("--media works with --out (a Parquet dataset), not --delta")
    options = _storage_options(args.storage_option)
    with _client(args) as client:
        result = sync_delta(
            client.resolve_project(args.project),
            args.delta,
            client=client,
            storage_options=options,
            overlap=args.overlap,
            full=args.full,
            timeout=args.timeout,
            progress=_progress(args),
        )
    print(
        f"{result.mode}: {result.changed_tasks} task(s) exported, "
        f"{result.deleted_tasks} deleted, {result.total_tasks} in the tables "
        f"({result.seconds:.1f} s)"
    )
    print(
        f"version {result.version}: {result.commits} commit(s), "
        f"{result.files_written} file(s) / {result.bytes_written:,} bytes written, "
        f"{result.files_removed} file(s) / {result.bytes_removed:,} bytes replaced"
    )


def _cmd_sync(args: argparse.Namespace) -> None:
    from ls_frames.sync import sync_parquet

    if args.overlap < 0:
        raise ConfigurationError(f"--overlap must be 0 or more seconds, not {args.overlap:g}")
    if args.delta is not None:
        _cmd_sync_delta(args)
        return
    if args.storage_option:
        raise ConfigurationError("--storage-option works with --delta, not --out")
    if args.out.exists() and not args.out.is_dir():
        raise ConfigurationError(f"--out {args.out} is a file, not a dataset folder")
    _check_writable(args.media)
    with _client(args) as client:
        result = sync_parquet(
            client.resolve_project(args.project),
            args.out,
            client=client,
            overlap=args.overlap,
            full=args.full,
            timeout=args.timeout,
            progress=_progress(args),
            media=args.media,
        )
    print(
        f"{result.mode}: {result.changed_tasks} task(s) exported, "
        f"{result.deleted_tasks} deleted, {result.total_tasks} in the dataset "
        f"({result.seconds:.1f} s)"
    )
    print(summarize(result.path))


def _cmd_read(args: argparse.Namespace) -> None:
    source = Path(args.file)
    if source.is_dir():
        raise ConfigurationError(
            f"{source} is a folder: `ls-frames read` takes one export file (a folder a "
            "local-files export storage wrote is read with ls_frames.read_storage)"
        )
    if not source.exists():
        raise ConfigurationError(f"no such file: {source}")
    _check_output(args.out, args.overwrite)
    config = Path(args.label_config).read_text() if args.label_config else None
    out = to_parquet(
        source, args.out, overwrite=args.overwrite, label_config=config, progress=_progress(args)
    )
    print(summarize(out))


def _cmd_download(args: argparse.Namespace) -> None:
    with _client(args) as client:
        path = download_project(
            client.resolve_project(args.project),
            args.out,
            args.format,
            client=client,
            export_id=args.export_id,
            keep_snapshot=args.keep_snapshot,
            timeout=args.timeout,
            progress=_progress(args),
            **_options(args),
        )
    print(path)


def _cmd_formats(args: argparse.Namespace) -> None:
    with _client(args) as client:
        formats = client.export_formats(client.resolve_project(args.project))
    for fmt in formats:
        print(f"{fmt.name:<24} {'disabled' if fmt.disabled else 'enabled ':<9} {fmt.title}")


def _cmd_snapshots(args: argparse.Namespace) -> None:
    with _client(args) as client:
        exports = client.list_exports(client.resolve_project(args.project))
    for export in exports:
        print(
            f"{export.id:>6}  {export.status.value:<12} {export.task_count or 0:>8} tasks  "
            f"{export.raw.get('created_at', '')}  {export.title}"
        )


def _cmd_demo(args: argparse.Namespace) -> None:
    # the one seam from a front end into ls_frames.testing: the demo seeds a local server
    from ls_frames.testing.demo import run_demo

    path = run_demo(args.out, project=args.project, url=args.url, api_key=args.api_key)
    print(summarize(path))


_PROJECT_HELP = "project id, or title (a number is taken as an id)"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ls-frames", description=__doc__.split("::")[0])
    parser.add_argument("--version", action="version", version=f"ls-frames {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0)
    local = argparse.ArgumentParser(add_help=False)  # commands that need no server
    local.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    common = argparse.ArgumentParser(add_help=False, parents=[local])
    common.add_argument("--url", help="Label Studio URL (default: $LABEL_STUDIO_URL)")
    common.add_argument(
        "--api-key", help="legacy token or personal access token (default: $LABEL_STUDIO_API_KEY)"
    )
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
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("export", parents=[common, opts], help="snapshot a project into Parquet")
    p.add_argument("project", help=_PROJECT_HELP)
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--keep-json", type=Path, help="also keep the JSON snapshot here")
    p.add_argument("--overwrite", action="store_true")
    p.add_argument(
        "--media",
        type=Path,
        metavar="DIR",
        help="also fetch the tasks' files into DIR and keep a media table",
    )
    p.set_defaults(func=_cmd_export)

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
    p.add_argument("--timeout", type=float, help="seconds to wait for the snapshot")
    p.add_argument(
        "--media",
        type=Path,
        metavar="DIR",
        help="keep the media table up to date with files in DIR (default: the "
        "cache the dataset already uses, if any)",
    )
    p.set_defaults(func=_cmd_sync)

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
    p.add_argument(
        "--field",
        action="append",
        help="data key to read (repeatable; default: those the label config's object tags read)",
    )
    p.add_argument("--workers", type=int, default=8, help="files at once (default 8)")
    p.add_argument(
        "--refresh", action="store_true", help="revalidate cached files with conditional requests"
    )
    p.add_argument("--strict", action="store_true", help="exit 1 when any file failed")
    p.add_argument(
        "--allow-host",
        action="append",
        help="a private host, address or network that may be fetched (repeatable)",
    )
    p.add_argument("--table", type=Path, help="also write the media table to this Parquet file")
    p.set_defaults(func=_cmd_media)

    p = sub.add_parser("read", parents=[local], help="an export file on disk into Parquet")
    p.add_argument("file", type=Path)
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--label-config", type=Path, help="XML label config for categoricals")
    p.add_argument("--overwrite", action="store_true")
    p.set_defaults(func=_cmd_read)

    p = sub.add_parser(
        "download", parents=[common, opts], help="snapshot and download JSON or a converted format"
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
    p.set_defaults(func=_cmd_download)

    p = sub.add_parser("formats", parents=[common], help="export formats of a project")
    p.add_argument("project", help=_PROJECT_HELP)
    p.set_defaults(func=_cmd_formats)

    p = sub.add_parser("snapshots", parents=[common], help="a project's snapshots")
    p.add_argument("project", help=_PROJECT_HELP)
    p.set_defaults(func=_cmd_snapshots)

    p = sub.add_parser(
        "demo",
        parents=[common],
        help="export a demo project end to end "
        "(starts and seeds a local Label Studio when no server is given)",
    )
    p.add_argument("--out", default=Path("demo-output"), type=Path)
    p.add_argument("--project", type=int, help="with a server: the project (default: newest)")
    p.set_defaults(func=_cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING - 10 * min(args.verbose, 2), format="%(levelname)s %(message)s"
    )
    try:
        args.func(args)
        sys.stdout.flush()
    except BrokenPipeError:
        # the reader went away (`ls-frames snapshots 12 | head`): not an error; stdout is
        # pointed at /dev/null so the interpreter's last flush does not fail again
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except OutputExistsError as exc:
        print(
            f"ls-frames: error: {type(exc).__name__}: {exc.path} exists "
            "(add --overwrite to replace it)",
            file=sys.stderr,
        )
        return 1
    except LSFramesError as exc:
        message = " ".join(str(exc).split())  # one line, whatever the server said
        print(f"ls-frames: error: {type(exc).__name__}: {message}", file=sys.stderr)
        return 1
    except OSError as exc:  # a file that is missing, exists already, cannot be written
        hint = " (add --overwrite to replace it)" if isinstance(exc, FileExistsError) else ""
        print(f"ls-frames: error: {type(exc).__name__}: {_os_message(exc)}{hint}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("ls-frames: interrupted", file=sys.stderr)
        return 130
    return 0


def _os_message(exc: OSError) -> str:
    if exc.filename is not None and exc.strerror:
        return f"{exc.strerror}: {exc.filename}"
    return str(exc).replace("pass overwrite=True to replace it", "it is not replaced")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
