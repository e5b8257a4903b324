"""Pieces of the text projects the evaluation tests build by hand: a NER label config and
its labelled spans."""

from __future__ import annotations

from typing import Any

NER = """<View><Text name="text" value="$text"/>
<Labels name="ner" toName="text"><Label value="PER"/><Label value="ORG"/></Labels></View>"""


def span(start: int, end: int, label: str, score: float | None = None) -> dict[str, Any]:
    """A ``ner`` span (characters ``start`` to ``end``), scored when ``score`` is given."""
    item: dict[str, Any] = {
        "from_name": "ner",
        "to_name": "text",
        "type": "labels",
        "value": {"start": start, "end": end, "labels": [label]},
    }
    if score is not None:
        item["score"] = score
    return item
