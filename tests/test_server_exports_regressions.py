"""Offline regressions for flattening bugs first seen in real-server exports
(test_server_exports.py); these need no server."""

from __future__ import annotations

import json

import ls_frames


def test_text_span_string_is_one_text_element_not_characters() -> None:
    # Labels on Text: value.text is the span's string; pa.array used to split it into
    # characters in the list<string> ``text`` column.
    span = {
        "id": "s",
        "from_name": "ner",
        "to_name": "text",
        "type": "labels",
        "value": {"start": 0, "end": 3, "text": "Ada", "labels": ["PER"]},
    }
    area = {
        "id": "t",
        "from_name": "note",
        "to_name": "text",
        "type": "textarea",
        "value": {"text": ["one", "two"]},
    }
    tasks = [{"id": 1, "data": {"text": "Ada"}, "annotations": [{"id": 2, "result": [span, area]}]}]
    regions = ls_frames.read_export(json.dumps(tasks).encode(), progress=False).regions
    assert [list(t) for t in regions["text"]] == [["Ada"], ["one", "two"]]
    assert regions["start"].iloc[0] == 0 and list(regions["labels"].iloc[0]) == ["PER"]
    assert regions["start_text"].iloc[0] == "0"
