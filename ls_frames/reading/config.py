"""Parse a Label Studio labeling config (XML) into its control tags.

Pure: ``xml.etree`` only. A control tag is any element with both ``name`` and ``toName``
(RectangleLabels, Choices, TextArea, Taxonomy, Rating, ...); its values are the ``value``
attributes of its ``Label`` / ``Choice`` children (in config order), or of ``Relation``
children for ``Relations``. The ``type`` is the tag name in lower case, which is how it
appears as ``type`` in the export's result items.

An object tag is an element that shows task data: a ``name`` and a ``value="$key"`` (or
``valueList="$key"`` for a list of items, as ``<Image valueList="$images">``), no ``toName``.
Its ``field`` is the data key it reads (``image`` for ``$image``).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any, Literal

from ls_frames.errors import ConfigurationError

__all__ = ["Control", "LabelConfig", "ObjectTag", "parse_label_config", "resolve_label_config"]

_VALUE_CHILDREN = {"label", "choice", "relation"}


@dataclass(frozen=True)
class Control:
    """One control tag: ``name`` (the result's ``from_name``), ``type``, ``to_name``,
    ``values`` (its labels or choices in config order), ``per_region`` and ``colors``
    (``(value, background)`` pairs of the values whose tag sets a ``background``, as
    written: ``#ff0000``, ``red``, ``rgba(...)``)."""

    name: str
    type: str
    to_name: tuple[str, ...] = ()
    values: tuple[str, ...] = ()
    per_region: bool = False
    colors: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class ObjectTag:
    """One object tag: ``name``, ``type`` (the tag in lower case: ``image``, ``audio``,
    ``text``, ...), ``field`` (the data key it reads), ``is_list`` (read through
    ``valueList``) and ``value_type`` (its ``valueType`` attribute, e.g. ``url``, or ``""``)."""

    name: str
    type: str
    field: str
    is_list: bool = False
    value_type: str = ""


@dataclass(frozen=True)
class LabelConfig:
    """The control tags of a config, in document order, plus the relation labels and the
    object tags."""

    controls: tuple[Control, ...] = ()
    relation_labels: tuple[str, ...] = field(default=())
    objects: tuple[ObjectTag, ...] = field(default=())

    def by_name(self) -> dict[str, Control]:
        return {c.name: c for c in self.controls}

    def values_of(self, kind: str) -> tuple[str, ...]:
        """Union, in config order, of the values of controls whose type ends with ``kind``
        (``"labels"`` for label tags, ``"choices"`` for choice tags)."""
        seen: dict[str, None] = {}
        for c in self.controls:
            if c.type.endswith(kind):
                for v in c.values:
                    seen.setdefault(v)
        return tuple(seen)


def parse_label_config(xml: str) -> LabelConfig:
    """Parse a labeling config; raises :class:`ConfigurationError` if it is not XML."""
    try:
        root = ET.fromstring(xml)
    except ET.ParseError as exc:
        raise ConfigurationError(f"label config is not valid XML: {exc}") from None
    controls: list[Control] = []
    relation_labels: list[str] = []
    objects: list[ObjectTag] = []
    for el in root.iter():
        tag = el.tag.lower() if isinstance(el.tag, str) else ""
        obj = _object_tag(el, tag)
        if obj is not None:
            objects.append(obj)
            continue
        if tag == "relations":
            relation_labels.extend(
                str(ch.get("value"))
                for ch in el
                if str(ch.tag).lower() == "relation" and ch.get("value") is not None
            )
            continue
        name, to_name = el.get("name"), el.get("toName")
        if not name or to_name is None:
            continue
        values: dict[str, None] = {}
        colors: dict[str, str] = {}
        for ch in el.iter():
            if ch is el or str(ch.tag).lower() not in _VALUE_CHILDREN:
                continue
            value = ch.get("alias") or ch.get("value")  # results store the alias if set
            if value is not None:
                values.setdefault(value)
                background = (ch.get("background") or "").strip()
                if background:
                    colors.setdefault(value, background)
        controls.append(
            Control(
                name=name,
                type=tag,
                to_name=tuple(t for t in to_name.split(",") if t),
                values=tuple(values),
                per_region=el.get("perRegion", "").lower() == "true",
                colors=tuple(colors.items()),
            )
        )
    return LabelConfig(tuple(controls), tuple(relation_labels), tuple(objects))


def resolve_label_config(
    label_config: str | LabelConfig | Literal[False] | None, stored: Any = None
) -> LabelConfig | None:
    """What a reader's ``label_config=`` argument means, in one place.

    Parameters
    ----------
    label_config
        The argument: the config's XML (parsed), a :class:`LabelConfig` (as it is),
        ``False`` (no config: plain string columns) or ``None`` (the config stored with
        the data, if any).
    stored
        The XML stored with the data (a dataset's provenance ``label_config``), used
        when ``label_config`` is ``None``.

    Returns
    -------
    LabelConfig or None
        The config to type the tables by, or ``None``.

    Raises
    ------
    ConfigurationError
        The XML is not valid.
    """
    if label_config is None:
        return parse_label_config(str(stored)) if stored else None
    if label_config is False:
        return None
    if isinstance(label_config, LabelConfig):
        return label_config
    return parse_label_config(label_config)


def _object_tag(el: ET.Element, tag: str) -> ObjectTag | None:
    """The element as an object tag, or ``None`` (a control, a layout tag, a literal)."""
    name = el.get("name")
    if not name or el.get("toName") is not None:
        return None
    for attr, is_list in (("valueList", True), ("value", False)):
        value = (el.get(attr) or "").strip()
        if value.startswith("$") and len(value) > 1:
            return ObjectTag(
                name=name,
                type=tag,
                field=value[1:],
                is_list=is_list,
                value_type=(el.get("valueType") or "").lower(),
            )
    return None
