"""The one registry of Label Studio's control types: which tags draw boxes, polygons,
spans, masks, keypoints, and which hold choices or other per-task answers.

A control's ``type`` is its tag in lower case (``<RectangleLabels>`` -> ``rectanglelabels``),
which is also the ``type`` of its result items. A ``*labels`` tag and its plain form
(``rectanglelabels`` / ``rectangle``, the latter a control without labels or a tool's
result) draw the same shape, so they share a kind. Every module that needs to know what
a type is asks here (:data:`CONTROL_KINDS`, :func:`control_types` and the sets below)
instead of spelling the tag names again. Pure: no imports beyond the standard library.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

__all__ = [
    "ATTRIBUTE_TYPES",
    "BRUSH_TYPES",
    "CHOICE_TYPES",
    "CONTROL_KINDS",
    "ELLIPSE_TYPES",
    "KEYPOINT_TYPES",
    "LABEL_KEYS",
    "MASK_KINDS",
    "POLYGON_TYPES",
    "RECTANGLE_TYPES",
    "SPAN_TYPES",
    "VIDEO_RECTANGLE_TYPES",
    "control_types",
    "kind_of",
]

#: control (and result) type -> its kind. Kinds are the shape drawn (``rectangle``,
#: ``polygon``, ``ellipse``, ``brush``, ``keypoint``, ...), the object a span is marked on
#: (``text`` for ``Labels``, ``hypertext``, ``paragraph``, ``timeseries``) or the answer
#: held (``choice``, ``taxonomy``, ``textarea``, ``rating``, ``number``, ``datetime``).
CONTROL_KINDS: Mapping[str, str] = MappingProxyType(
    {
        "rectanglelabels": "rectangle",
        "rectangle": "rectangle",
        "polygonlabels": "polygon",
        "polygon": "polygon",
        "ellipselabels": "ellipse",
        "ellipse": "ellipse",
        "brushlabels": "brush",
        "brush": "brush",
        "keypointlabels": "keypoint",
        "keypoint": "keypoint",
        "polylinelabels": "polyline",
        "polyline": "polyline",
        "bitmasklabels": "bitmask",
        "vectorlabels": "vector",
        "magicwandlabels": "magicwand",
        "videorectangle": "videorectangle",
        "labels": "text",
        "hypertextlabels": "hypertext",
        "paragraphlabels": "paragraph",
        "timeserieslabels": "timeseries",
        "choices": "choice",
        "taxonomy": "taxonomy",
        "textarea": "textarea",
        "rating": "rating",
        "number": "number",
        "datetime": "datetime",
        "relation": "relation",
    }
)

#: the ``*labels`` tags, whose results hold their labels under a value key of the same
#: name (``"value": {"rectanglelabels": [...]}``), in the order the reader looks for them
LABEL_KEYS: tuple[str, ...] = (
    "rectanglelabels",
    "labels",
    "polygonlabels",
    "brushlabels",
    "keypointlabels",
    "ellipselabels",
    "polylinelabels",
    "timeserieslabels",
    "paragraphlabels",
    "hypertextlabels",
    "bitmasklabels",
    "vectorlabels",
    "magicwandlabels",
)


def control_types(*kinds: str, labelled: bool = False) -> tuple[str, ...]:
    """The types of these kinds, kind by kind in the order given (within a kind, the
    ``*labels`` tag first).

    Parameters
    ----------
    *kinds
        Kinds of :data:`CONTROL_KINDS` (``"rectangle"``, ``"text"``, ``"choice"``, ...).
    labelled
        Only the ``*labels`` tags (``rectanglelabels``, not ``rectangle``).

    Returns
    -------
    tuple of str
        The types, each once.

    Raises
    ------
    ValueError
        A kind the registry does not know.
    """
    known = set(CONTROL_KINDS.values())
    unknown = [k for k in kinds if k not in known]
    if unknown:
        raise ValueError(f"unknown control kinds {unknown}; the registry has {sorted(known)}")
    out: list[str] = []
    for kind in kinds:
        types = [t for t, k in CONTROL_KINDS.items() if k == kind]
        out.extend(t for t in types if t in LABEL_KEYS)
        if not labelled:
            out.extend(t for t in types if t not in LABEL_KEYS)
    return tuple(dict.fromkeys(out))


def kind_of(type_: Any) -> str | None:
    """The kind of a result's ``type`` (any case), ``None`` for an unknown type or a
    missing value."""
    return CONTROL_KINDS.get(type_.lower()) if isinstance(type_, str) else None


RECTANGLE_TYPES = frozenset(control_types("rectangle"))
POLYGON_TYPES = frozenset(control_types("polygon"))
ELLIPSE_TYPES = frozenset(control_types("ellipse"))
BRUSH_TYPES = frozenset(control_types("brush"))
KEYPOINT_TYPES = frozenset(control_types("keypoint"))
VIDEO_RECTANGLE_TYPES = frozenset(control_types("videorectangle"))
#: spans marked on text, hypertext, paragraphs or time series (``start``/``end``)
SPAN_TYPES = frozenset(control_types("text", "hypertext", "paragraph", "timeseries"))
#: a set of choices (a taxonomy is a set of paths)
CHOICE_TYPES = frozenset(control_types("choice", "taxonomy"))
#: per-task (or per-region) answers that describe rather than draw
ATTRIBUTE_TYPES = frozenset(
    control_types("choice", "taxonomy", "textarea", "rating", "number", "datetime")
)
#: type -> kind of the regions that have an area drawn as a mask
MASK_KINDS: Mapping[str, str] = MappingProxyType(
    {t: k for t, k in CONTROL_KINDS.items() if k in ("brush", "polygon", "rectangle", "ellipse")}
)
