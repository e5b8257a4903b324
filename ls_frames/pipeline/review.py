"""Review queues: Data Manager tabs holding exactly the tasks to look at again.

A tab is a view under a filter on task ids (``POST api/dm/views/``); annotators see it in
the project's Data Manager. SQLite refuses long filters (2,000 single ids answer 500,
"Expression tree is too large"), so runs of consecutive ids become ranges and a filter
holds at most :data:`~ls_frames.exports.imports.MAX_FILTER_ITEMS` items; a longer queue
takes several tabs (:func:`review_tabs`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ls_frames.errors import ConfigurationError
from ls_frames.exports import Client
from ls_frames.exports.imports import MAX_FILTER_ITEMS, id_set_filters
from ls_frames.pipeline.checks import check_project
from ls_frames.pipeline.clients import using_client

__all__ = ["review_tab", "review_tabs"]


def _task_ids(task_ids: Iterable[Any]) -> list[int]:
    if isinstance(task_ids, str | bytes) or not isinstance(task_ids, Iterable):
        raise ConfigurationError(f"task_ids must be a list of task ids, not {task_ids!r}")
    out: list[int] = []
    for t in task_ids:
        value = t.item() if hasattr(t, "item") else t
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigurationError(f"task_ids must hold task ids, not {t!r}")
        out.append(value)
    if not out:
        raise ConfigurationError("task_ids is empty: a review tab needs at least one task")
    return out


def _check_title(title: Any) -> None:
    if not isinstance(title, str) or not title.strip():
        raise ConfigurationError(f"title must be a non-empty string, not {title!r}")


def _tab_url(client: Client, project: int, view: int) -> str:
    base = str(client.base_url).rstrip("/")
    return f"{base}/projects/{project}/data?tab={view}"


def review_tabs(
    project: int | str,
    task_ids: Iterable[int],
    *,
    title: str,
    client: Client | None = None,
    max_items: int = MAX_FILTER_ITEMS,
) -> list[str]:
    """Data Manager tabs that together hold exactly ``task_ids``; their URLs.

    One tab when the ids make at most ``max_items`` runs of consecutive ids, else several,
    titled ``"<title> (1/3)"`` and so on.

    Parameters
    ----------
    project
        The project's id or title.
    task_ids
        The tasks to review (any iterable of ids; repeats are ignored).
    title
        The tab's title.
    client
        The client to use (default: one made from the environment).
    max_items
        Filter items (single ids or ranges) per tab.

    Returns
    -------
    list of str
        ``<server>/projects/<id>/data?tab=<view id>`` for each tab, in id order.

    Raises
    ------
    ConfigurationError
        No ids, an id that is not an integer, an empty title.
    """
    check_project(project)
    _check_title(title)
    ids = _task_ids(task_ids)
    if isinstance(max_items, bool) or not isinstance(max_items, int) or max_items < 1:
        raise ConfigurationError(f"max_items must be a whole number >= 1, not {max_items!r}")
    filters = id_set_filters(ids, max_items)
    with using_client(client) as c:
        pid = c.resolve_project(project)
        urls = []
        for k, f in enumerate(filters, 1):
            name = title if len(filters) == 1 else f"{title} ({k}/{len(filters)})"
            urls.append(_tab_url(c, pid, c.create_view(pid, f, name)))
        return urls


def review_tab(
    project: int | str,
    task_ids: Iterable[int],
    *,
    title: str,
    client: Client | None = None,
) -> str:
    """A Data Manager tab holding exactly ``task_ids``; its URL.

    Runs of consecutive ids become ranges, so thousands of ids fit when they are mostly
    consecutive; ids that make more than
    :data:`~ls_frames.exports.imports.MAX_FILTER_ITEMS` runs need several tabs
    (:func:`review_tabs`).

    Parameters
    ----------
    project
        The project's id or title.
    task_ids
        The tasks to review.
    title
        The tab's title.
    client
        The client to use (default: one made from the environment).

    Returns
    -------
    str
        ``<server>/projects/<id>/data?tab=<view id>``.

    Raises
    ------
    ConfigurationError
        No ids, an id that is not an integer, an empty title, or ids too scattered for
        one tab (before any request).
    """
    check_project(project)
    _check_title(title)
    ids = _task_ids(task_ids)
    runs = len(id_set_filters(ids, MAX_FILTER_ITEMS))
    if runs > 1:
        raise ConfigurationError(
            f"these {len(set(ids))} task ids need {runs} tabs (a tab holds at most "
            f"{MAX_FILTER_ITEMS} runs of consecutive ids on SQLite): use ls_frames.review_tabs"
        )
    return review_tabs(project, ids, title=title, client=client)[0]
