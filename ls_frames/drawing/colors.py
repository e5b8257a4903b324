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

#: Colours for labels the config gives none (Tableau 10: strong, and told apart by most
#: colour-blind readers).
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
)


def stable_color(label: Any) -> RGB:
    """The palette colour of ``label``: the same for the same name, always."""
    return PALETTE[zlib.crc32(str(label).encode("utf-8")) % len(PALETTE)]


def _free(label: Any, taken: set[RGB]) -> RGB:
    """The stable colour of ``label``, or the next palette colour not ``taken`` (the stable
    one when all are)."""
    start = zlib.crc32(str(label).encode("utf-8")) % len(PALETTE)
    for step in range(len(PALETTE)):
        color = PALETTE[(start + step) % len(PALETTE)]
        if color not in taken:
            return color
    return PALETTE[start]


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
        Only this control's labels, in its colours (a label takes the first
        ``background`` any control gives it otherwise).

    Returns
    -------
    dict
        ``label -> (r, g, b)``: the config's labels (in config order), then ``labels``.
        A label without a ``background`` (or with one Pillow cannot read) takes the
        palette colour its name hashes to, or the next one no other label holds yet:
        the labels of a config get the same colours in every call; two labels share a
        colour only when there are more labels than palette colours.

    Raises
    ------
    ConfigurationError
        ``source`` is neither frames nor a label config, or the ``plot`` extra (Pillow) is
        missing.
    """
    config = _config(source)
    found: dict[str, RGB] = {}
    controls = () if config is None else config.controls
    # the backgrounds first (from_name's own, then the first any control gives a label):
    # a background wins over a stable colour
    first = sorted(controls, key=lambda c: c.name != from_name)
    for control in first:
        for value, text in control.colors:
            if value not in found:
                with contextlib.suppress(ConfigurationError):
                    found[value] = parse_color(text)
    # every label of the config in config order (the same for any from_name), then the
    # others: each takes its stable colour, or the next one no label holds yet
    names = [v for c in controls for v in c.values]
    names += [str(lab) for lab in labels if lab is not None and lab == lab]
    taken = set(found.values())
    for name in dict.fromkeys(names):
        if name not in found:
            found[name] = _free(name, taken)
            taken.add(found[name])
    chosen = {v for c in controls if from_name is None or c.name == from_name for v in c.values}
    chosen |= {str(lab) for lab in labels if lab is not None and lab == lab}
    return {name: found[name] for name in dict.fromkeys([*names]) if name in chosen}
