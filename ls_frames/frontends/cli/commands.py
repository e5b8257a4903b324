"""The commands: each reads its parsed arguments, checks what can be checked before any
server work, calls the library function a notebook user calls and prints the result
(:mod:`~ls_frames.frontends.cli.output` says how)."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from pathlib import Path
from typing import Any, Literal

from ls_frames.errors import ConfigurationError, OutputExistsError
from ls_frames.exports import AnnotationFilter, Client, ExportOptions, Serialization, TaskFilter
from ls_frames.exports.stale import delete_stale_snapshots, stale_snapshots
from ls_frames.frontends.cli.output import (
    cli_words,
    delta_sync_summary,
    format_line,
    media_summary,
    snapshot_line,
    summarize,
    sync_summary,
)
from ls_frames.pipeline import (
    download_project,
    export_project,
    import_predictions,
    load_project,
)
from ls_frames.pipeline.checks import check_destination
from ls_frames.tables import to_parquet
from ls_frames.tables.delta.storage import check_storage_options
from ls_frames.tables.folders import check_writable_dir

__all__ = [
    "cmd_demo",
    "cmd_download",
    "cmd_export",
    "cmd_formats",
    "cmd_import_predictions",
    "cmd_media",
    "cmd_read",
    "cmd_snapshots",
    "cmd_sync",
]


def _client(args: argparse.Namespace) -> Client:
    return Client(args.url, args.api_key)


def _progress(args: argparse.Namespace) -> bool | None:
    """``-q`` switches the bars off, and so does a stderr that is not a terminal (a log
    file, a pipe, CI); otherwise the environment decides (on by default). The library
    keeps its own default: a notebook is no terminal but wants its bars."""
    if args.quiet or not sys.stderr.isatty():
        return False
    return None


def _options(args: argparse.Namespace) -> dict[str, Any]:
    """The snapshot options, checked (with --export-id and --timeout) before a client is
    made: the library checks them again, but after the CLI has made its client."""
    ExportOptions(export_id=args.export_id, timeout=args.timeout)
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


def _check_output(out: Path, overwrite: bool) -> None:
    """Refuse an existing output folder before any server work."""
    if out.exists() and not overwrite:
        raise OutputExistsError(out)


def _check_writable(folder: Path | None, flag: str) -> None:
    """A folder the command writes must be one it can write, checked before any server
    work (the library's check, with the flag's name)."""
    if folder is not None:
        check_writable_dir(folder, flag)


def cmd_export(args: argparse.Namespace) -> None:
    _check_output(args.out, args.overwrite)
    _check_writable(args.media, "--media")
    check_destination(args.keep_json, "--keep-json")
    options = _options(args)
    ExportOptions(  # --source tasks with what only a snapshot applies: refused here
        **options,
        export_id=args.export_id,
        keep_snapshot=args.keep_snapshot,
        source=args.route,
        fetch_workers=args.fetch_workers,
    )
    with _client(args) as client:
        out = export_project(
            args.project,  # an id or a title: the function resolves it, after its checks
            args.out,
            client=client,
            export_id=args.export_id,
            keep_file=args.keep_json,
            keep_snapshot=args.keep_snapshot,
            overwrite=args.overwrite,
            timeout=args.timeout,
            progress=_progress(args),
            media=args.media,
            source=args.route,
            fetch_workers=args.fetch_workers,
            **options,
        )
    print(summarize(out))


def cmd_media(args: argparse.Namespace) -> None:
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
    if args.workers is not None and args.workers < 1:
        raise ConfigurationError(f"--workers must be at least 1, not {args.workers}")
    ExportOptions(source=args.route, fetch_workers=args.fetch_workers)
    _check_writable(args.out, "--out")
    if args.table is not None:
        _check_writable(args.table.parent, "--table")
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
                source,
                client=client,
                progress=_progress(args),
                source=args.route,
                fetch_workers=args.fetch_workers,
            )
            table = fetch_media(frames, args.out, client=client, **options)
    if args.table is not None:
        args.table.parent.mkdir(parents=True, exist_ok=True)
        table.to_parquet(args.table, index=False)
    print(cli_words(media_summary(table)))  # its failures may name allow_hosts=


def _storage_options(pairs: list[str]) -> dict[str, str] | None:
    options = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigurationError(f"--storage-option takes KEY=VALUE, not {pair!r}")
        options[key.strip()] = value
    return options or None


def _sync_delta(args: argparse.Namespace) -> None:
    from ls_frames.sync import sync_delta

    if args.media is not None:
        raise ConfigurationError("--media works with --out (a Parquet dataset), not --delta")
    options = _storage_options(args.storage_option)
    check_storage_options(args.delta, options)
    ExportOptions(timeout=args.timeout, source=args.route, fetch_workers=args.fetch_workers)
    with _client(args) as client:
        result = sync_delta(
            args.project,
            args.delta,
            client=client,
            storage_options=options,
            overlap=args.overlap,
            full=args.full,
            timeout=args.timeout,
            progress=_progress(args),
            source=args.route,
            fetch_workers=args.fetch_workers,
        )
    print(delta_sync_summary(result))


def cmd_sync(args: argparse.Namespace) -> None:
    from ls_frames.sync import sync_parquet

    if args.overlap < 0:
        raise ConfigurationError(f"--overlap must be 0 or more seconds, not {args.overlap:g}")
    if args.delta is not None:
        _sync_delta(args)
        return
    if args.storage_option:
        raise ConfigurationError("--storage-option works with --delta, not --out")
    if args.out.exists() and not args.out.is_dir():
        raise ConfigurationError(f"--out {args.out} is a file, not a dataset folder")
    _check_writable(args.out.parent, "--out")
    _check_writable(args.media, "--media")
    ExportOptions(timeout=args.timeout, source=args.route, fetch_workers=args.fetch_workers)
    with _client(args) as client:
        result = sync_parquet(
            args.project,
            args.out,
            client=client,
            overlap=args.overlap,
            full=args.full,
            timeout=args.timeout,
            progress=_progress(args),
            media=args.media,
            source=args.route,
            fetch_workers=args.fetch_workers,
        )
    print(sync_summary(result))
    print(summarize(result.path))


def cmd_read(args: argparse.Namespace) -> None:
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


def cmd_download(args: argparse.Namespace) -> None:
    check_destination(args.out, "--out")
    options = _options(args)
    with _client(args) as client:
        path = download_project(
            args.project,
            args.out,
            args.format,
            client=client,
            export_id=args.export_id,
            keep_snapshot=args.keep_snapshot,
            timeout=args.timeout,
            progress=_progress(args),
            **options,
        )
    print(path)


def cmd_formats(args: argparse.Namespace) -> None:
    with _client(args) as client:
        formats = client.export_formats(client.resolve_project(args.project))
    for fmt in formats:
        print(format_line(fmt))


def cmd_snapshots(args: argparse.Namespace) -> None:
    if not args.stale and (args.project is None or args.delete):
        raise ConfigurationError(
            "snapshots needs a project (or --stale); --delete only removes --stale ones"
        )
    with _client(args) as client:
        project = None if args.project is None else client.resolve_project(args.project)
        if not args.stale:
            assert project is not None
            exports = client.list_exports(project)
        elif args.delete:
            exports = delete_stale_snapshots(project, older_than=args.older_than, client=client)
        else:
            exports = stale_snapshots(project, older_than=args.older_than, client=client)
    for export in exports:
        line = snapshot_line(export)
        print(
            f"{line}  (project {export.project}{', deleted' if args.delete else ''})"
            if args.stale
            else line
        )
    if args.stale:
        what = "deleted" if args.delete else "stale"
        print(f"{len(exports)} snapshot(s) {what}", file=sys.stderr)


#: exit status of import-predictions when rows were refused (the others were imported)
REFUSED_STATUS = 4


def read_prediction_rows(path: Path) -> Any:
    """A predictions file as ``import_predictions`` takes it: Parquet, CSV (``result`` as
    JSON text) or JSON (a list, or JSON lines), in ``to_results``' shape (``task_id``, a
    DataFrame) or the prediction-dict shape (``task``, a list of dicts)."""
    import json

    import pandas as pd

    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        frame = pd.read_parquet(path)  # import_predictions drops the nulls Arrow adds
    elif suffix == ".csv":
        frame = pd.read_csv(path)
    elif suffix in (".json", ".jsonl", ".ndjson"):
        text = path.read_text(encoding="utf-8")
        try:
            rows = json.loads(text)
        except ValueError:
            rows = [json.loads(line) for line in text.splitlines() if line.strip()]
        if not isinstance(rows, list):
            raise ConfigurationError(f"{path}: expected a list of predictions")
        if rows and isinstance(rows[0], dict) and "task_id" in rows[0]:
            return pd.DataFrame(rows)
        return rows
    else:
        raise ConfigurationError(f"{path}: not a .parquet, .csv or .json file")
    if "task" in frame.columns and "task_id" not in frame.columns:
        return frame.to_dict("records")
    return frame


def cmd_import_predictions(args: argparse.Namespace) -> int:
    if not args.file.is_file():
        raise ConfigurationError(f"{args.file} is not a file")
    rows = read_prediction_rows(args.file)
    with _client(args) as client:
        done = import_predictions(
            args.project,
            rows,
            model_version=args.model_version,
            client=client,
            replace=args.replace,
            skip_missing=True,
            progress=_progress(args),
        )
    print(done)
    return REFUSED_STATUS if done.refused else 0


def cmd_demo(args: argparse.Namespace) -> None:
    # the one seam from a front end into ls_frames.testing: the demo seeds a local server
    from ls_frames.testing.demo import run_demo

    path = run_demo(args.out, project=args.project, url=args.url, api_key=args.api_key)
    print(summarize(path))
