"""``ls-frames evaluate`` and ``ls-frames agreement``: the tables of
:func:`~ls_frames.evaluate` and :func:`~ls_frames.agreement` for a project or a Parquet
dataset, printed; ``--csv FILE`` keeps the table, ``--plot FILE.png`` the matching plot
(precision-recall curves for a region control, the confusion matrix for choices, the
pairwise heatmap for agreement).

A project (id or title) is loaded with ``load_project``; a folder holding ``_SUCCESS`` is
read with ``read_parquet``. Files are written to a temporary name beside the target and
renamed into place, so a file that is there is complete.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ls_frames.errors import ConfigurationError
from ls_frames.exports import Client
from ls_frames.pipeline.checks import check_destination

__all__ = ["add_agreement", "add_evaluate", "cmd_agreement", "cmd_evaluate", "load_frames"]


def _reference(text: str) -> str | int:
    """A user id is a number; anything else (a policy, an email) a string."""
    return int(text) if text.isdigit() else text


def load_frames(args: argparse.Namespace) -> Any:
    """The frames of ``args.source``: a dataset folder (``_SUCCESS`` in it) or a project."""
    from ls_frames.pipeline import load_project
    from ls_frames.tables import read_parquet

    source = args.source
    if (Path(source) / "_SUCCESS").is_file():
        return read_parquet(source)
    if Path(source).exists() or "/" in source or os.sep in source:
        why = "it has no _SUCCESS" if Path(source).exists() else "no such folder"
        raise ConfigurationError(f"{source} is neither a project id nor a dataset folder ({why})")
    progress = False if args.quiet or not sys.stderr.isatty() else None
    with Client(args.url, args.api_key) as client:
        return load_project(source, client=client, progress=progress)


def _check_outputs(args: argparse.Namespace) -> None:
    for flag, path in (("--csv", args.csv), ("--plot", args.plot)):
        if path is None:
            continue
        check_destination(path, flag)
        if path.exists() and not args.overwrite:
            raise FileExistsError(17, "File exists", str(path))
    if args.plot is not None and args.plot.suffix.lower() not in (".png", ".svg", ".pdf", ".jpg"):
        raise ConfigurationError(f"--plot takes a .png, .svg, .pdf or .jpg file, not {args.plot}")


def _write(path: Path, save: Callable[[str], None]) -> None:
    """``save(temporary path)`` then the rename into ``path``."""
    handle, temporary = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=path.suffix, dir=path.parent or "."
    )
    os.close(handle)
    try:
        save(temporary)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _print(table: Any) -> None:
    if not len(table):
        print("(no rows)")
        return
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))


def _save(args: argparse.Namespace, table: Any, plot: Callable[[], Any] | None) -> None:
    if args.csv is not None:
        _write(args.csv, lambda p: table.to_csv(p, index=False))
        print(f"table written to {args.csv}", file=sys.stderr)
    if args.plot is not None and plot is not None:
        import matplotlib

        matplotlib.use("Agg")  # a file, never a window
        ax = plot()
        figure = ax.figure
        figure.tight_layout()
        _write(args.plot, lambda p: figure.savefig(p, dpi=120))
        import matplotlib.pyplot as plt

        plt.close(figure)
        print(f"plot written to {args.plot}", file=sys.stderr)


def cmd_evaluate(args: argparse.Namespace) -> None:
    from ls_frames.drawing import plot_confusion, plot_pr_curves
    from ls_frames.drawing.extras import matplotlib_pyplot
    from ls_frames.evaluation import confusion, evaluate, pr_curve
    from ls_frames.evaluation.results import is_region_control

    _check_outputs(args)
    if args.plot is not None:
        matplotlib_pyplot()  # the extra's message before any download
    frames = load_frames(args)
    reference = _reference(args.reference)
    table = evaluate(
        frames,
        args.from_name,
        reference=reference,
        model_version=args.model_version,
        iou_thresholds=args.iou_threshold,
    )
    _print(table)
    iou = args.iou_threshold[0] if args.iou_threshold else 0.5

    def plot() -> Any:
        if is_region_control(frames, args.from_name):
            curve = pr_curve(
                frames,
                args.from_name,
                reference=reference,
                model_version=args.model_version,
                iou_threshold=iou,
            )
            return plot_pr_curves(curve)
        versions = args.model_version
        if versions is not None and len(versions) > 1:
            raise ConfigurationError("--plot of choices draws one model version: give one")
        matrix = confusion(
            frames,
            args.from_name,
            reference=reference,
            model_version=versions[0] if versions else None,
            iou_threshold=iou,
        )
        return plot_confusion(matrix)

    _save(args, table, plot)


def cmd_agreement(args: argparse.Namespace) -> None:
    from ls_frames.drawing import plot_agreement
    from ls_frames.drawing.extras import matplotlib_pyplot
    from ls_frames.evaluation.agreement import agreement

    _check_outputs(args)
    if args.plot is not None:
        if args.method in ("fleiss", "krippendorff"):
            raise ConfigurationError(
                f"--plot draws annotator pairs; --method {args.method} gives one score "
                "(use cohen, percent or iou)"
            )
        matplotlib_pyplot()
    frames = load_frames(args)
    table = agreement(frames, args.from_name, method=args.method, by=args.by)
    _print(table)
    _save(args, table, lambda: plot_agreement(table))


def _outputs(p: argparse.ArgumentParser, plot: str) -> None:
    p.add_argument("source", help="a project id or title, or a dataset folder")
    p.add_argument("--from-name", required=True, help="the control (its name= in the config)")
    p.add_argument("--csv", type=Path, metavar="FILE", help="also write the table to FILE")
    p.add_argument(
        "--plot",
        type=Path,
        metavar="FILE.png",
        help=f"also draw {plot} into FILE (.png, .svg, .pdf; needs the plot extra)",
    )
    p.add_argument("--overwrite", action="store_true", help="replace --csv / --plot files")


def add_evaluate(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "evaluate",
        parents=[common],
        help="score a project's (or a dataset's) predictions against its annotations",
        description="The table of ls_frames.evaluate: per model version and label, tp, fp, "
        "fn, precision, recall, f1 (accuracy for choices; COCO AP and AR for scored regions).",
    )
    _outputs(p, "the precision-recall curves (a region control) or the confusion matrix")
    p.add_argument(
        "--reference",
        default="ground_truth",
        help="the annotation each task is judged by: ground_truth (default), latest, "
        "consensus, or an annotator's email or user id",
    )
    p.add_argument("--model-version", action="append", help="only this model version (repeatable)")
    p.add_argument(
        "--iou-threshold",
        action="append",
        type=float,
        help="an IoU threshold (repeatable; the first counts tp/fp/fn; default COCO's 0.50:0.95)",
    )
    p.set_defaults(func=cmd_evaluate)


def add_agreement(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "agreement",
        parents=[common],
        help="how far a project's (or a dataset's) annotators agree on a control",
        description="The table of ls_frames.agreement: one row per annotator pair (cohen, "
        "percent, iou) or one overall score (fleiss, krippendorff).",
    )
    _outputs(p, "the annotator x annotator heatmap")
    p.add_argument(
        "--method",
        choices=["cohen", "percent", "fleiss", "krippendorff", "iou"],
        default="cohen",
        help="the score (default cohen; iou for regions)",
    )
    p.add_argument("--by", choices=["task", "region"], default="task")
    p.set_defaults(func=cmd_agreement)
