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
    ls-frames dataset 12 --out train/ --format yolo --media media/ --split train=0.8,val=0.2
    ls-frames import-predictions preds.parquet --project 12 --model-version v3 --replace
    ls-frames evaluate 12 --from-name label --csv scores.csv --plot pr.png
    ls-frames agreement data/project-12 --from-name sentiment --plot agreement.png

The server and key come from ``--url`` / ``--api-key`` or ``LABEL_STUDIO_URL`` /
``LABEL_STUDIO_API_KEY``. A project is given by id or by title. Snapshots made for
``export`` and ``download`` are deleted from the server once downloaded, unless
``--keep-snapshot``. Exit codes: 0 success (a closed output pipe included), 1 an error
(printed in one line, never with the key), 2 bad arguments, 3 media files missing (the
command finished, but some files its tasks point to could not be fetched: the reasons
follow the summary; ``dataset`` also when its folder left tasks or regions out;
``--allow-missing`` exits 0 instead), 4 rows refused (``import-predictions``: their tasks
are not in the project; the others were imported), 130 interrupted.

The package: :mod:`~ls_frames.frontends.cli.parser` (the commands and their options),
:mod:`~ls_frames.frontends.cli.commands` (what each command calls),
:mod:`~ls_frames.frontends.cli.dataset` and :mod:`~ls_frames.frontends.cli.scores` (the
``dataset``, ``evaluate`` and ``agreement`` commands),
:mod:`~ls_frames.frontends.cli.output` (what it prints); :func:`main` runs a command and
turns its errors into one line and an exit status.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
import warnings
from collections.abc import Iterator, Sequence
from typing import TextIO

from ls_frames._warnings import PartialResultWarning
from ls_frames.errors import LSFramesError, OutputExistsError
from ls_frames.frontends.cli.output import cli_words, media_summary, summarize
from ls_frames.frontends.cli.parser import build_parser

__all__ = ["MISSING_MEDIA", "main", "media_summary", "summarize"]

#: The exit status of a command that fetched media and could not fetch every file (its
#: output is complete otherwise); ``--allow-missing`` makes it 0.
MISSING_MEDIA = 3


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser(__doc__.split("::")[0]).parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING - 10 * min(args.verbose, 2), format="%(levelname)s %(message)s"
    )
    words = _CliWords()  # the library's warnings too name flags, not arguments
    library = logging.getLogger("ls_frames")
    library.addFilter(words)
    try:
        return _run(args)
    finally:
        library.removeFilter(words)


def _run(args: argparse.Namespace) -> int:
    """The command, its errors turned into one line and an exit status."""
    try:
        with _media_failures() as missing:
            status = args.func(args)
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
        message = cli_words(" ".join(str(exc).split()))  # one line, in the CLI's words
        print(f"ls-frames: error: {type(exc).__name__}: {message}", file=sys.stderr)
        return 1
    except OSError as exc:  # a file that is missing, exists already, cannot be written
        hint = " (add --overwrite to replace it)" if isinstance(exc, FileExistsError) else ""
        print(f"ls-frames: error: {type(exc).__name__}: {_os_message(exc)}{hint}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("ls-frames: interrupted", file=sys.stderr)
        return 130
    left_out = getattr(args, "left_out", [])  # what `dataset` left out of its folder
    return status or _media_status(missing, getattr(args, "allow_missing", False), left_out)


@contextlib.contextmanager
def _media_failures() -> Iterator[list[PartialResultWarning]]:
    """Collect the :class:`~ls_frames.PartialResultWarning` of the media a command fetched
    (:func:`_media_status` reports them); any other warning is shown as usual."""
    found: list[PartialResultWarning] = []
    with warnings.catch_warnings():
        warnings.simplefilter("always", PartialResultWarning)
        show = warnings.showwarning

        def keep(
            message: Warning | str,
            category: type[Warning],
            filename: str,
            lineno: int,
            file: TextIO | None = None,
            line: str | None = None,
        ) -> None:
            if isinstance(message, PartialResultWarning):
                found.append(message)
            else:
                show(message, category, filename, lineno, file, line)

        warnings.showwarning = keep
        yield found


def _media_status(
    found: list[PartialResultWarning],
    allow_missing: bool,
    left_out: list[PartialResultWarning] | None = None,
) -> int:
    """After the summary: what could not be fetched (and what ``dataset`` left out of its
    folder), by reason, and :data:`MISSING_MEDIA` unless ``--allow-missing``."""
    for warning in found:
        print(f"ls-frames: media: {warning}", file=sys.stderr)
    for warning in left_out or []:
        print(f"ls-frames: dataset: {warning}", file=sys.stderr)
    if not (found or left_out) or allow_missing:
        return 0
    what = " and ".join(
        text
        for text, seen in (
            ("media files are missing", found),
            ("the dataset left some out", left_out),
        )
        if seen
    )
    print(
        f"ls-frames: exit status {MISSING_MEDIA}: {what} (add --allow-missing to accept that)",
        file=sys.stderr,
    )
    return MISSING_MEDIA


class _CliWords(logging.Filter):
    """Rewrites a log record's message in the command line's words (see ``cli_words``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = cli_words(record.msg)
        return True


def _os_message(exc: OSError) -> str:
    if exc.filename is not None and exc.strerror:
        return f"{exc.strerror}: {exc.filename}"
    return cli_words(str(exc).replace("pass overwrite=True to replace it", "it is not replaced"))
