"""``ls-frames dataset``: a training folder (COCO, YOLO, image folder) of a project or of
a Parquet dataset, through :func:`~ls_frames.export_dataset`.

A project (id or title) is loaded (``load_project``) and its files fetched into the
``--media`` cache (``fetch_media``); a dataset folder is read (``read_parquet``) with its
media table, or its files fetched into ``--media`` when given. What the folder left out
(tasks without a reference annotation or media, regions of other controls) is listed on
standard error and makes the exit status 3, as missing media does, unless
``--allow-missing``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import warnings
from pathlib import Path
from typing import Any

from ls_frames._warnings import PartialResultWarning
from ls_frames.errors import ConfigurationError
from ls_frames.exports import Client
from ls_frames.tables.folders import check_output_dir, check_writable_dir

__all__ = ["add_dataset", "cmd_dataset", "parse_fractions"]


def parse_fractions(text: str) -> dict[str, float]:
    """``"train=0.8,val=0.2"`` -> ``{"train": 0.8, "val": 0.2}`` (``split`` checks that
    they add up to 1)."""
    fractions: dict[str, float] = {}
    for part in (p.strip() for p in text.split(",") if p.strip()):
        name, sep, value = part.partition("=")
        try:
            if not sep or not name.strip():
                raise ValueError
            fractions[name.strip()] = float(value)
        except ValueError:
            raise ConfigurationError(
                f"--split takes NAME=FRACTION,... (train=0.8,val=0.2), not {text!r}"
            ) from None
    if not fractions:
        raise ConfigurationError("--split names no split (train=0.8,val=0.2)")
    return fractions


def _reference(text: str) -> str | int:
    """A user id is a number; anything else (a policy, an email) a string."""
    return int(text) if text.isdigit() else text


def _frames_and_media(args: argparse.Namespace, progress: bool | None) -> tuple[Any, Any]:
    from ls_frames.media import fetch_media
    from ls_frames.pipeline import load_project
    from ls_frames.tables import read_parquet

    source = args.source
    if (Path(source) / "_SUCCESS").is_file():
        frames = read_parquet(source)
        if args.media is None:
            if "media" not in frames.arrow:
                raise ConfigurationError(
                    f"the dataset {source} has no media table: pass --media DIR to fetch its "
                    "files (or `ls-frames media DATASET --out DIR` once)"
                )
            return frames, frames.media
        with contextlib.ExitStack() as stack:  # the environment's server, unless given
            given = (
                stack.enter_context(Client(args.url, args.api_key))
                if args.url or args.api_key
                else None
            )
            return frames, fetch_media(frames, args.media, client=given, progress=progress)
    if Path(source).exists() or "/" in source or os.sep in source:
        why = "it has no _SUCCESS" if Path(source).exists() else "no such folder"
        raise ConfigurationError(f"{source} is neither a project id nor a dataset folder ({why})")
    if args.media is None:
        raise ConfigurationError("a project's files need a cache: pass --media DIR")
    with Client(args.url, args.api_key) as client:
        frames = load_project(
            source,
            client=client,
            progress=progress,
            source=args.route,
            fetch_workers=args.fetch_workers,
        )
        return frames, fetch_media(frames, args.media, client=client, progress=progress)


def cmd_dataset(args: argparse.Namespace) -> None:
    from ls_frames.training import export_dataset, split

    check_output_dir(args.out, args.overwrite, "--out")
    if args.media is not None:
        check_writable_dir(args.media, "--media")
    fractions = parse_fractions(args.split) if args.split else None
    progress = False if args.quiet or not sys.stderr.isatty() else None
    frames, media = _frames_and_media(args, progress)
    parts = split(frames, fractions, reference=_reference(args.reference)) if fractions else None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", PartialResultWarning)
        summary = export_dataset(
            frames,
            args.out,
            format=args.format,
            media=media,
            from_name=args.from_name,
            split=parts,
            reference=_reference(args.reference),
            overwrite=args.overwrite,
            link=args.link,
            segmentation=args.segmentation,
            field=args.field,
        )
    print(summary)
    left_out = [w.message for w in caught if isinstance(w.message, PartialResultWarning)]
    for other in (w for w in caught if not isinstance(w.message, PartialResultWarning)):
        warnings.warn_explicit(other.message, other.category, other.filename, other.lineno)
    args.left_out = left_out  # main() lists them and exits 3 (see _media_status)


def add_source_arguments(p: argparse.ArgumentParser) -> None:
    """``--source`` and ``--fetch-workers``: how a command reads a project."""
    group = p.add_argument_group("how the project is read")
    group.add_argument(
        "--source",
        dest="route",  # "source" is the project (or dataset) argument of some commands
        choices=["auto", "snapshot", "tasks"],
        default="auto",
        help="snapshot: a snapshot the server builds; tasks: the paged task list (no long "
        "request, for servers whose worker timeout kills large snapshots); auto (default): "
        "a snapshot, and the task list if the server kills its build or the project is "
        "large",
    )
    group.add_argument(
        "--fetch-workers",
        type=int,
        default=2,
        metavar="N",
        help="task-list pages fetched at a time (default 2)",
    )


def add_dataset(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "dataset",
        parents=[common],
        help="a training folder (COCO, YOLO, image folder) of a project or a dataset",
        description="A training folder through export_dataset: a project is loaded and its "
        "files fetched into --media; a dataset folder brings its media table (or --media "
        "fetches its files). Exit status 3 when tasks, regions or files were left out, "
        "unless --allow-missing.",
    )
    p.add_argument("source", help="a project id or title, or a dataset folder")
    p.add_argument("--out", required=True, type=Path, help="the folder to write")
    add_source_arguments(p)
    p.add_argument("--format", choices=["coco", "yolo", "imagefolder"], default="coco")
    p.add_argument("--from-name", help="the control (default: the only one of the format's kind)")
    p.add_argument("--field", help="the data key of the images (default: the control's toName)")
    p.add_argument(
        "--media",
        type=Path,
        metavar="CACHE",
        help="the media cache to fetch the files into (a project needs one; a dataset "
        "uses its media table without it)",
    )
    p.add_argument(
        "--split", metavar="NAME=FRACTION,...", help="split the tasks (train=0.8,val=0.2)"
    )
    p.add_argument(
        "--reference",
        default="ground_truth",
        help="the annotation each task is labelled by: ground_truth (default), latest, "
        "consensus, or an annotator's email or user id",
    )
    p.add_argument(
        "--link",
        choices=["hard", "copy", "symlink"],
        default="hard",
        help="how images get into the folder (default: hard links, copies across file systems)",
    )
    p.add_argument(
        "--segmentation", action="store_true", help="YOLO: polygon lines instead of boxes"
    )
    p.add_argument("--overwrite", action="store_true")
    p.add_argument(
        "--allow-missing",
        action="store_true",
        help="exit 0 even when tasks, regions or media files were left out (default: exit 3)",
    )
    p.set_defaults(func=cmd_dataset)
