"""Parse a Label Studio labeling config (XML) into its control tags.

Pure: ``xml.etree`` only. A control tag is any element with both ``name`` and ``toName``
(RectangleLabels, Choices, TextArea, Taxonomy, Rating, ...); its values are the ``value``
attributes of its ``Label`` / ``Choice`` children (in config order), or of ``Relation``
children for ``Relations``. The ``type`` is the tag name in lower case, which is how it
appears as ``type`` in the export's result items.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

from ls_frames.errors import ConfigurationError

__all__ = ["Control", "LabelConfig", "parse_label_config"]

_VALUE_CHILDREN = {"label", "choice", "relation"}


@dataclass(frozen=True)
class Control:
    """One control tag: ``name`` (the result's ``from_name``), ``type``, ``to_name``,
    ``values`` (its labels or choices in config order) and ``per_region``."""

    name: str
    type: str
    to_name: tuple[str, ...] = ()
    values: tuple[str, ...] = ()
    per_region: bool = False


@dataclass(frozen=True)
class LabelConfig:
    """The control tags of a config, in document order, plus the relation labels."""

    controls: tuple[Control, ...] = ()
    relation_labels: tuple[str, ...] = field(default=())

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
    for el in root.iter():
        tag = el.tag.lower() if isinstance(el.tag, str) else ""
        if tag == "relations":
            relation_labels.extend(
                str(ch.get("value")) for ch in el if str(ch.tag).lower() == "relation"
                and ch.get("value") is not None
            )
            continue
        name, to_name = el.get("name"), el.get("toName")
        if not name or to_name is None:
            continue
        values: dict[str, None] = {}
        for ch in el.iter():
            if ch is el or str(ch.tag).lower() not in _VALUE_CHILDREN:
                continue
            value = ch.get("alias") or ch.get("value")  # results store the alias if set
            if value is not None:
                values.setdefault(value)
        controls.append(
            Control(
                name=name,
                type=tag,
                to_name=tuple(t for t in to_name.split(",") if t),
                values=tuple(values),
                per_region=el.get("perRegion", "").lower() == "true",
            )
        )
    return LabelConfig(tuple(controls), tuple(relation_labels))
