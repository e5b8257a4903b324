"""Looking at the labels: regions drawn on their images, spans highlighted, plots.

Pure, as the rest of the data layer: tables and arrays in, images, HTML and matplotlib
axes out (no HTTP; the files come from :func:`~ls_frames.fetch_media`'s table or a
folder). Needs the ``plot`` extra (Pillow, matplotlib): ``pip install 'ls-frames[plot]'``.

Modules: :mod:`~ls_frames.drawing.extras` (the extra's imports and their message),
:mod:`~ls_frames.drawing.colors` (a colour per label), :mod:`~ls_frames.drawing.images`
(the picture behind a task), :mod:`~ls_frames.drawing.canvas` (regions drawn on a PIL
image), :mod:`~ls_frames.drawing.pictures` (:func:`show`, :func:`show_grid`),
:mod:`~ls_frames.drawing.mistakes` (:func:`show_errors`, :func:`worst_errors`),
:mod:`~ls_frames.drawing.text` (:func:`show_text`), :mod:`~ls_frames.drawing.plots`
(:func:`plot_confusion`, :func:`plot_pr_curves`, :func:`plot_label_counts`,
:func:`plot_agreement`).
"""

from typing import TYPE_CHECKING as _TYPE_CHECKING

from ls_frames._lazy import attach as _attach

if _TYPE_CHECKING:
    from ls_frames.drawing.colors import label_colors
    from ls_frames.drawing.mistakes import show_errors, worst_errors
    from ls_frames.drawing.pictures import show, show_grid
    from ls_frames.drawing.plots import (
        plot_agreement,
        plot_confusion,
        plot_label_counts,
        plot_pr_curves,
    )
    from ls_frames.drawing.text import show_text

_LAZY = {
    "label_colors": "ls_frames.drawing.colors",
    "show_errors": "ls_frames.drawing.mistakes",
    "worst_errors": "ls_frames.drawing.mistakes",
    "plot_agreement": "ls_frames.drawing.plots",
    "plot_confusion": "ls_frames.drawing.plots",
    "plot_label_counts": "ls_frames.drawing.plots",
    "plot_pr_curves": "ls_frames.drawing.plots",
    "show": "ls_frames.drawing.pictures",
    "show_grid": "ls_frames.drawing.pictures",
    "show_text": "ls_frames.drawing.text",
}

__getattr__, __dir__ = _attach(__name__, _LAZY)

__all__ = [
    "label_colors",
    "plot_agreement",
    "plot_confusion",
    "plot_label_counts",
    "plot_pr_curves",
    "show",
    "show_errors",
    "show_grid",
    "show_text",
    "worst_errors",
]
