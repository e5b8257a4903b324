"""Pieces of the image projects the dataset tests build by hand: a task-level choice, an
annotation, and image files with a media table shaped like ``fetch_media``'s."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd


def scene(choice: str, rid: str | None = "s") -> dict[str, Any]:
    """A ``scene`` choice of the whole image, with region id ``rid`` (none when ``None``)."""
    item: dict[str, Any] = {
        "from_name": "scene",
        "to_name": "image",
        "type": "choices",
        "value": {"choices": [choice]},
    }
    return item if rid is None else {"id": rid, **item}


def annotation(aid: int, result: list[dict[str, Any]], **flags: Any) -> dict[str, Any]:
    """An annotation by user 1, updated on day ``aid`` of January 2024."""
    return {
        "id": aid,
        "completed_by": 1,
        "result": result,
        "was_cancelled": False,
        "ground_truth": False,
        "updated_at": f"2024-01-{aid:02d}T00:00:00Z",
        **flags,
    }


def media_table(
    folder: Path,
    sizes: dict[int, tuple[int, int]],
    task_ids: list[int],
    *,
    field: str = "image",
    name: str = "{tid}.png",
    shade: int = 40,
    as_bytes: bool = False,
) -> pd.DataFrame:
    """One PNG per task (``sizes[tid]`` = width, height; grey ``tid * shade``) written in
    ``folder``, and their media rows: the file's path and size as ``fetch_media`` writes
    them, or (``as_bytes``) no path and the content under ``bytes``."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for tid in task_ids:
        width, height = sizes[tid]
        path = folder / name.format(tid=tid)
        Image.fromarray(np.full((height, width, 3), tid * shade, np.uint8)).save(path)
        data = path.read_bytes()
        rows.append(
            {
                "task_id": tid,
                "field": field,
                "position": 0,
                "uri": f"/data/upload/1/{tid}.png",
                "path": None if as_bytes else str(path),
                "bytes": data if as_bytes else len(data),
                "sha256": "",
                "content_type": "image/png",
                "error": None,
            }
        )
    table: pd.DataFrame = pd.DataFrame(rows)
    return table
