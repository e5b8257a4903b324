"""One colour per label: the ``background`` the label config gives it, else a stable one.

A stable colour is picked from a fixed palette by a hash of the label's name (CRC-32, the
same in every process and on every machine), so a label keeps its colour from one picture
to the next without a config.
"""

from __future__ import annotations

import contextlib
import zlib
from collections.abc import Iterable
from typing import Any

from ls_frames.drawing.extras import pillow
from ls_frames.errors import ConfigurationError
from ls_frames.reading import LabelConfig

__all__ = ["PALETTE", "label_colors", "parse_color", "stable_color"]

RGB = tuple[int, int, int]

#: Colours for labels the config gives none (Tableau 20's strong half, then its light one).
PALETTE: tuple[RGB, ...] = (
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (127, 127, 127),
    (188, 189, 34),
    (23, 190, 207),
    (174, 199, 232),
    (255, 187, 120),
    (152, 223, 138),
    (255, 152, 150),
    (197, 176, 213),
    (196, 156, 148),
    (247, 182, 210),
    (219, 219, 141),
    (158, 218, 229),
)


def stable_color(label: Any) -> RGB:
    """The palette colour of ``label``: the same for the same name, always."""
    return PALETTE[zlib.crc32(str(label).encode("utf-8")) % len(PALETTE)]


def parse_color(text: str) -> RGB:
    """A CSS colour (``#f00``, ``#ff0000``, ``red``, ``rgb(...)``, ``rgba(...)``) as RGB.

    Raises
    ------
    ConfigurationError
        Not a colour Pillow's ``ImageColor`` reads.
    """
    image_color = pillow().ImageColor
    try:
        rgb = image_color.getrgb(text.strip())
    except ValueError:
        raise ConfigurationError(f"{text!r} is not a colour") from None
    return int(rgb[0]), int(rgb[1]), int(rgb[2])


def _config(source: Any) -> LabelConfig | None:
    if source is None or isinstance(source, LabelConfig):
        return source
    config = getattr(source, "label_config", None)  # Frames
    if config is None or isinstance(config, LabelConfig):
        return config
    raise ConfigurationError(f"expected Frames or a LabelConfig, not {type(source).__name__}")


def label_colors(
    source: Any,
    labels: Iterable[Any] = (),
    *,
    from_name: str | None = None,
) -> dict[str, RGB]:
    """The colour of each label: the config's ``background`` where set, else stable.

    Parameters
    ----------
    source
        :class:`~ls_frames.Frames` (its label config is read), a
        :class:`~ls_frames.reading.LabelConfig`, or ``None`` (stable colours only).
    labels
        Labels to give a colour besides the config's.
    from_name
        Only this control's colours (by default a label takes the first ``background``
        any control gives it).

    Returns
    -------
    dict
        ``label -> (r, g, b)``: the config's labels (in config order), then ``labels``.
        A ``background`` Pillow cannot read gives the stable colour.
    """
    config = _config(source)
    found: dict[str, RGB] = {}
    controls = [
        c
        for c in (() if config is None else config.controls)
        if from_name is None or c.name == from_name
    ]
    for control in controls:  # the backgrounds first: any control's wins over a stable one
        for value, text in control.colors:
            if value not in found:
                with contextlib.suppress(ConfigurationError):
                    found[value] = parse_color(text)
    ordered: dict[str, RGB] = {}
    for control in controls:
        for value in control.values:
            ordered.setdefault(value, found.get(value) or stable_color(value))
    found = ordered
    for label in labels:
        if label is None or label != label:  # missing (None, NaN)
            continue
        found.setdefault(str(label), stable_color(label))
    return found
