"""Result lists checked against a project's label config before anything is sent.

:func:`check_results` looks at every item of every list and refuses the whole lot, naming
the first few rows, when one of them would not fit the project:

- ``from_name`` is not a control of the config, ``to_name`` is not one of its objects, or
  ``type`` is not the control's (the plain form of a ``*labels`` tag, ``rectangle`` for
  ``rectanglelabels``, is accepted: the same shape);
- a label or choice the control does not list (controls that list none, dynamic ones,
  are not checked);
- a coordinate outside 0-100 (percent of the image): ``x``, ``y``, ``width``,
  ``height``, every point;
- a relation whose ``from_id`` / ``to_id`` is no item of its list;
- a task id that is not among the known ones (when they are given).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import pandas as pd

from ls_frames.errors import ConfigurationError
from ls_frames.reading.config import Control, LabelConfig, resolve_label_config
from ls_frames.reading.controls import LABEL_KEYS, kind_of

if TYPE_CHECKING:
    from ls_frames.tables.frames import Frames

__all__ = ["check_results"]

_SHOWN = 5  # mistakes named in the message
_PERCENT = ("x", "y", "width", "height")
_EPS = 1e-6  # rounding of a converted coordinate (a turned box's corner at -6e-16)


def check_results(
    results: pd.DataFrame,
    label_config: str | LabelConfig | None,
    task_ids: Iterable[int] | Frames | None = None,
) -> None:
    """Check result lists against a label config and the known tasks; raise on any mistake.

    Parameters
    ----------
    results
        What :func:`~ls_frames.to_results` returns: columns ``task_id`` and ``result`` (a
        list of items per row).
    label_config
        The project's config (XML or a parsed :class:`~ls_frames.reading.LabelConfig`);
        ``None`` checks only the coordinates, the relations and the task ids.
    task_ids
        The project's task ids (or a :class:`~ls_frames.Frames`, whose ``tasks`` give
        them); ``None``: not checked.

    Raises
    ------
    ConfigurationError
        Some item does not fit: the message counts them and names the first few (row of
        ``results``, item index, task id, what is wrong). Nothing is half-checked: either
        every list passes or the call raises.

    Examples
    --------
    >>> results = ls_frames.to_results(regions)  # doctest: +SKIP
    >>> check_results(results, project_config, task_ids=frames)  # doctest: +SKIP
    """
    config = resolve_label_config(label_config) if label_config is not None else None
    controls = config.by_name() if config is not None else None
    known = _known_tasks(task_ids)
    mistakes: list[str] = []
    for row, (task, items) in enumerate(zip(results["task_id"], results["result"], strict=True)):
        where = f"row {row} (task {task})"
        if isinstance(items, str):  # to_results(..., as_json=True)
            items = _parse(items, where, mistakes)
        if known is not None and (pd.isna(task) or int(task) not in known):
            mistakes.append(f"{where}: task {task} is not a task of the project")
        ids = {it.get("id") for it in items if isinstance(it, dict)}
        for k, item in enumerate(items):
            if not isinstance(item, dict):
                mistakes.append(f"{where} item {k}: not an object")
                continue
            for problem in _item_problems(item, controls, ids):
                mistakes.append(f"{where} item {k}: {problem}")
    if mistakes:
        shown = "; ".join(mistakes[:_SHOWN])
        more = f" (and {len(mistakes) - _SHOWN} more)" if len(mistakes) > _SHOWN else ""
        raise ConfigurationError(
            f"{len(mistakes)} result items do not fit the project, nothing was produced: "
            f"{shown}{more}"
        )


def _parse(text: str, where: str, mistakes: list[str]) -> list[Any]:
    try:
        items = json.loads(text)
    except ValueError:
        items = None
    if not isinstance(items, list):
        mistakes.append(f"{where}: result is text that is no JSON list")
        return []
    return items


def _known_tasks(task_ids: Any) -> set[int] | None:
    if task_ids is None:
        return None
    if hasattr(task_ids, "arrow"):
        return set(task_ids.arrow["tasks"].column("task_id").drop_null().to_pylist())
    return {int(t) for t in task_ids}


def _item_problems(
    item: dict[str, Any], controls: dict[str, Control] | None, ids: set[Any]
) -> list[str]:
    """What is wrong with one item (nothing: an empty list); ``controls`` by name."""
    if item.get("type") == "relation":
        return [
            f"relation {end} {item.get(end)!r} is no region of the list"
            for end in ("from_id", "to_id")
            if item.get(end) not in ids
        ]
    problems = _coordinate_problems(item.get("value"))
    if controls is None:
        return problems
    name, type_ = item.get("from_name"), item.get("type")
    control = controls.get(name) if isinstance(name, str) else None
    if control is None:
        names = list(controls)
        return [*problems, f"from_name {name!r} is not a control of the config ({names})"]
    if type_ != control.type and (
        kind_of(type_) is None or kind_of(type_) != kind_of(control.type)
    ):
        problems.append(f"type {type_!r} is not {control.name!r}'s ({control.type!r})")
    if control.to_name and item.get("to_name") not in control.to_name:
        problems.append(
            f"to_name {item.get('to_name')!r} is not an object of {control.name!r} "
            f"({list(control.to_name)})"
        )
    value = item.get("value")
    if control.values and isinstance(value, dict):
        for key in (*LABEL_KEYS, "choices"):
            got = value.get(key)
            for v in got if isinstance(got, list) else []:
                if isinstance(v, str) and v not in control.values:
                    problems.append(
                        f"{key[:-1] if key.endswith('s') else key} {v!r} is not one of "
                        f"{control.name!r}'s ({list(control.values)})"
                    )
    return problems


def _coordinate_problems(value: Any) -> list[str]:
    if not isinstance(value, dict):
        return []
    problems = []
    for key in _PERCENT:
        v = value.get(key)
        if isinstance(v, int | float) and not -_EPS <= v <= 100 + _EPS:
            problems.append(f"{key} {v} is outside 0-100 (percent of the image)")
    points = value.get("points")
    if isinstance(points, list):
        for point in points:
            if isinstance(point, list) and any(
                isinstance(c, int | float) and not -_EPS <= c <= 100 + _EPS for c in point
            ):
                problems.append(f"point {point} is outside 0-100 (percent of the image)")
                break
    return problems
