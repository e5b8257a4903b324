"""What drawing one task needs from the tables, gathered once per :class:`Frames`.

Drawing a page of pictures asks the same tables the same questions for each task: which
rows of ``regions`` belong to it, who made each annotation, what each prediction scored,
which annotation is the reference. Filtering a pandas table per task costs milliseconds
each time; here the rows are grouped by task once (positions into plain object arrays of
the columns drawing reads), and the answers kept, so each task then costs microseconds.
The cache is keyed weakly by the frames and rebuilt when their regions table is another
object.
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from ls_frames.evaluation.reference import Reference, reference_ids

__all__ = ["COLUMNS", "TaskLookup", "lookup"]

#: the regions columns drawing reads
COLUMNS = (
    "task_id",
    "source",
    "source_id",
    "region_id",
    "from_name",
    "to_name",
    "type",
    "label",
    "x",
    "y",
    "width",
    "height",
    "rotation",
    "radius_x",
    "radius_y",
    "points",
    "start",
    "end",
    "value_json",
    "original_width",
    "original_height",
    "score",
    "item_index",
)


def _missing(value: Any) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


class TaskLookup:
    """The regions of each task as dicts, and the annotators, scores and model versions."""

    def __init__(self, frames: Any) -> None:
        regions = frames.regions
        self.regions = regions
        self.index = regions.index.to_numpy(dtype=object)
        self.columns = {
            c: regions[c].to_numpy(dtype=object) if c in regions.columns else None for c in COLUMNS
        }
        task = regions["task_id"].to_numpy(dtype="float64", na_value=np.nan)
        order = np.argsort(task, kind="stable")
        ordered = task[order]
        keys, starts = np.unique(ordered, return_index=True)
        ends = [*starts[1:], len(ordered)]
        self._positions = {
            int(k): order[s:e] for k, s, e in zip(keys, starts, ends, strict=True) if k == k
        }
        self.who = self._annotators(frames.annotations)
        predictions = frames.predictions.drop_duplicates("prediction_id")
        ids = predictions["prediction_id"].to_numpy(dtype=object)
        self.pred_score = dict(zip(ids, predictions["score"].to_numpy(dtype=object), strict=True))
        self.pred_version = dict(
            zip(ids, predictions["model_version"].to_numpy(dtype=object), strict=True)
        )
        self.names = {str(n) for n in self.columns["from_name"] if not _missing(n)}  # type: ignore[union-attr]
        self._references: dict[Any, set[Any]] = {}
        self._data: dict[int, Any] | None = None

    def data_json(self, frames: Any, task_id: int) -> Any:
        """The task's ``data_json`` text (``None`` when the frames do not hold the task)."""
        if self._data is None:
            tasks = frames.tasks
            self._data = dict(
                zip(
                    tasks["task_id"].to_numpy(dtype=object),
                    tasks["data_json"].to_numpy(dtype=object),
                    strict=True,
                )
            )
        return self._data.get(int(task_id))

    @staticmethod
    def _annotators(annotations: pd.DataFrame) -> dict[Any, str]:
        """annotation id -> its annotator's email, else ``user <id>``."""
        who: dict[Any, str] = {}
        for aid, email, user in zip(
            annotations["annotation_id"].to_numpy(dtype=object),
            annotations["completed_by_email"].to_numpy(dtype=object),
            annotations["completed_by_id"].to_numpy(dtype=object),
            strict=True,
        ):
            if not _missing(email):
                who[aid] = str(email)
            elif not _missing(user):
                who[aid] = f"user {user}"
        return who

    def reference(self, frames: Any, reference: Reference) -> set[Any]:
        """The ids of the reference annotations (:func:`~ls_frames.evaluation.reference.
        reference_ids`), computed once per ``reference``."""
        key = (type(reference).__name__, str(reference))
        if key not in self._references:
            self._references[key] = set(reference_ids(frames.annotations, reference).tolist())
        return self._references[key]

    def records(
        self,
        task_id: int,
        sources: set[str],
        from_name: str | None,
        annotations: set[Any] | None,
        versions: Iterable[str] | None,
        item: int = 0,
    ) -> list[dict[str, Any]]:
        """The task's region rows as dicts (the :data:`COLUMNS` plus ``index``, the row's
        label in ``frames.regions``, and ``caption``), chosen by source, control,
        annotation ids, model versions and the image of a list (``item_index``: a row
        without one belongs to every item)."""
        wanted_versions = None if versions is None else set(versions)
        out = []
        cols = self.columns
        for p in self._positions.get(int(task_id), ()):
            source = cols["source"][p]  # type: ignore[index]
            if source not in sources:
                continue
            if from_name is not None and cols["from_name"][p] != from_name:  # type: ignore[index]
                continue
            at = cols["item_index"][p] if cols["item_index"] is not None else None
            if at is not None and not _missing(at) and int(at) != item:
                continue
            sid = cols["source_id"][p]  # type: ignore[index]
            if source == "annotation" and annotations is not None and sid not in annotations:
                continue
            if (
                source == "prediction"
                and wanted_versions is not None
                and self.pred_version.get(sid) not in wanted_versions
            ):
                continue
            row = {c: (None if v is None else v[p]) for c, v in cols.items()}
            row["index"] = self.index[p]
            row["caption"] = self._caption(row)
            out.append(row)
        return out

    def _caption(self, row: dict[str, Any]) -> str:
        """``label · annotator`` for an annotation's region, ``label score`` for a
        prediction's (its own score, else its prediction's)."""
        label = row["label"]
        text = "" if _missing(label) else str(label)
        sid = row["source_id"]
        if row["source"] == "annotation":
            who = self.who.get(sid)
            return f"{text} · {who}" if who else text
        if row["source"] == "prediction":
            score = row["score"]
            if _missing(score):
                score = self.pred_score.get(sid)
            if not _missing(score):
                return f"{text} {float(score):.2f}".strip()
        return text


_CACHE: weakref.WeakKeyDictionary[Any, TaskLookup] = weakref.WeakKeyDictionary()


def lookup(frames: Any) -> TaskLookup:
    """The :class:`TaskLookup` of ``frames`` (made on first use, remade when their regions
    table is another object)."""
    try:
        found = _CACHE.get(frames)
    except TypeError:  # not weakly referenceable: no cache
        return TaskLookup(frames)
    if found is None or found.regions is not frames.regions:
        found = TaskLookup(frames)
        _CACHE[frames] = found
    return found
