"""``fetch_media``: every file a project's tasks point to, in a local cache, as a table."""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from typing import Any

import httpx
import pandas as pd
import pyarrow as pa

from ls_frames._deprecation import renamed_kwargs
from ls_frames._progress import progress_bar
from ls_frames.errors import ConfigurationError
from ls_frames.exports import Client
from ls_frames.media.cache import MediaCache
from ls_frames.media.fetch import Fetcher, FileOutcome, LockedBar
from ls_frames.media.guard import HostGuard
from ls_frames.media.http import Hops
from ls_frames.media.pace import DEFAULT_LIMIT, Pace
from ls_frames.media.references import Reference, canonical, classify, iter_references, task_data
from ls_frames.media.report import raise_failures, run_counts, warn_partial
from ls_frames.media.resolve import Resolver
from ls_frames.reading import LabelConfig, resolve_label_config
from ls_frames.tables import Frames, read_parquet
from ls_frames.tables.dtypes import types_mapper

__all__ = ["MEDIA_SCHEMA", "fetch_media", "fetch_table"]

#: The columns of the table :func:`fetch_media` returns (also the ``media`` table of a
#: dataset).
MEDIA_SCHEMA = pa.schema(
    [
        ("task_id", pa.int64()),
        ("field", pa.string()),
        ("position", pa.int64()),
        ("uri", pa.string()),
        ("path", pa.string()),
        ("bytes", pa.int64()),
        ("sha256", pa.string()),
        ("content_type", pa.string()),
        ("error", pa.string()),
    ]
)

TaskRows = list[tuple[int | None, int | None, Mapping[str, Any]]]
FramesLike = Frames | pd.DataFrame | str | os.PathLike[str] | Sequence[Mapping[str, Any]]


def _int(value: Any) -> int | None:
    if value is None or (isinstance(value, float) and value != value) or value is pd.NA:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _from_arrow(table: pa.Table, project: int | None) -> TaskRows:
    columns = table.column_names
    ids = table.column("task_id").to_pylist() if "task_id" in columns else [None] * len(table)
    projects = (
        table.column("project_id").to_pylist() if "project_id" in columns else [None] * len(table)
    )
    if "data_json" in columns:
        datas: list[Mapping[str, Any]] = [
            task_data(v) for v in table.column("data_json").to_pylist()
        ]
    else:
        keys = [c for c in columns if c.startswith("data.")]
        values = {c: table.column(c).to_pylist() for c in keys}
        datas = [
            {c[5:]: _cell(values[c][i]) for c in keys if values[c][i] is not None}
            for i in range(len(table))
        ]
    return [
        (_int(t), _int(p) if _int(p) is not None else project, d)
        for t, p, d in zip(ids, projects, datas, strict=True)
    ]


def _cell(value: Any) -> Any:
    """A ``data.<key>`` cell: strings as they are, JSON lists decoded."""
    if isinstance(value, str) and value.startswith("["):
        decoded = task_data(f'{{"v": {value}}}').get("v")
        return decoded if isinstance(decoded, list) else value
    return value


def _tasks(
    frames: FramesLike,
) -> tuple[TaskRows, LabelConfig | None, Mapping[str, Any] | None]:
    """``(task rows, label config, provenance)`` of any accepted input."""
    if isinstance(frames, (str, os.PathLike)):
        frames = read_parquet(frames, tables=["tasks"])
    if isinstance(frames, Frames):
        if "tasks" not in frames.arrow:
            raise ConfigurationError(
                f"fetch_media reads the tasks table, and these Frames hold only "
                f"{sorted(frames.arrow)}"
            )
        provenance = frames.provenance
        project = _int(provenance.get("project") if provenance is not None else None)
        return _from_arrow(frames.arrow["tasks"], project), frames.label_config, provenance
    if isinstance(frames, pd.DataFrame):
        table = pa.Table.from_pandas(frames.reset_index(drop=True), preserve_index=False)
        if "task_id" not in table.column_names and "id" in table.column_names:
            table = table.rename_columns(
                ["task_id" if c == "id" else c for c in table.column_names]
            )
        return _from_arrow(table, None), None, None
    if isinstance(frames, Sequence):  # raw export tasks
        rows: TaskRows = [
            (_int(t.get("id")), _int(t.get("project")), task_data(t.get("data")))
            for t in frames
            if isinstance(t, Mapping)
        ]
        return rows, None, None
    raise TypeError(
        "fetch_media reads Frames, a tasks DataFrame, a Parquet dataset folder, or a list of "
        f"exported tasks; got {type(frames).__name__}"
    )


def _needs_label_studio(refs: Iterable[Reference]) -> Reference | None:
    for ref in refs:
        if classify(ref.uri) in ("upload", "local", "served", "storage"):
            return ref
    return None


def _check_server(client: Client, provenance: Mapping[str, Any] | None) -> None:
    server = (provenance or {}).get("server")
    if not server:
        return
    ours = str(client.base_url).rstrip("/")
    if httpx.URL(str(server).rstrip("/") + "/") != httpx.URL(ours + "/"):
        raise ConfigurationError(
            f"the dataset was exported from {server} but the client talks to {ours}: its "
            "references would resolve against the wrong server"
        )


def _table(refs: list[Reference], outcomes: Iterator[FileOutcome]) -> pd.DataFrame:
    columns: dict[str, list[Any]] = {name: [] for name in MEDIA_SCHEMA.names}
    for ref, outcome in zip(refs, outcomes, strict=True):
        columns["task_id"].append(ref.task_id)
        columns["field"].append(ref.field)
        columns["position"].append(ref.position)
        columns["uri"].append(ref.uri)
        columns["path"].append(outcome.path if outcome.error is None else None)
        columns["bytes"].append(outcome.size if outcome.error is None else None)
        columns["sha256"].append(outcome.sha256 if outcome.error is None else None)
        columns["content_type"].append(outcome.content_type if outcome.error is None else None)
        columns["error"].append(outcome.error)
    table = pa.Table.from_pydict(columns, schema=MEDIA_SCHEMA)
    frame: pd.DataFrame = table.to_pandas(types_mapper=types_mapper("numpy_nullable"))
    return frame


@renamed_kwargs(timeout="http_timeout")
def fetch_media(
    frames: FramesLike,
    cache_dir: str | os.PathLike[str],
    *,
    client: Client | None = None,
    fields: Sequence[str] | None = None,
    workers: int | None = None,
    strict: bool = False,
    refresh: bool = False,
    progress: bool | None = None,
    allow_hosts: Iterable[str] | None = None,
    label_config: str | LabelConfig | None = None,
    http_timeout: float | None = None,
) -> pd.DataFrame:
    """Download every file the tasks point to into ``cache_dir``; one row per reference.

    ``frames`` is :class:`~ls_frames.Frames` (from ``load_project``, ``read_export`` or
    ``read_parquet``), the folder of a Parquet dataset, a tasks DataFrame (``task_id`` and
    ``data_json`` or ``data.<key>`` columns), or a list of exported task dicts.

    Security: task data is untrusted. The key goes only to the Label Studio origin, never
    to a redirect target elsewhere nor to any hop after one. Before each request to
    another host (redirect hops included) its name is resolved and every address checked:
    link-local and cloud metadata addresses are never fetched, private and loopback ones
    only for the Label Studio host or ``allow_hosts``; the request then goes to the checked
    address, so a DNS answer changed in between (rebinding) cannot redirect it. What
    remains: a proxy from the environment connects on our behalf, a host in
    ``allow_hosts`` is trusted whatever it resolves to, and storage URIs are resolved by
    Label Studio itself (its ``SSRF_PROTECTION_ENABLED`` covers that side).

    Files: a cached file is complete and checked (announced length; MD5 where the source
    gives one); a download cut short is kept beside it and resumed with ``Range`` by the
    next run when the source names its version (a strong ETag or Last-Modified).

    Parameters
    ----------
    frames
        What the references are read from (see above).
    cache_dir
        Where the files go, one per reference, named from a hash of the reference, its
        server and project (of a plain URL on another host: the URL alone), see
        :mod:`ls_frames.media.cache`.
    client
        The Label Studio client for ``/data/upload/``, ``/data/local-files/`` and storage
        URIs (``s3://``, ``gs://``, ``azure-blob://``, resolved by the server); ``None``
        makes one from ``LABEL_STUDIO_URL`` / ``LABEL_STUDIO_API_KEY`` when a reference
        needs it. Plain ``http(s)`` URLs on other hosts never get the key.
    fields
        The data keys to read; default: those the label config's object tags read
        (``$image``, ``$audio``, ``$video``, ``$pdf``, ``valueList``; ``$text`` and
        ``$html`` only where the value is a URL), else every value that looks like a URL
        or a storage URI.
    workers
        Files fetched at once. ``None`` (the default) adapts: one at a time first, then
        twice as many while that makes the files arrive at least 15 % faster, up to 8
        (a server answering from one process gains nothing from parallel requests, one
        with several workers or object storage does; see :mod:`ls_frames.media.pace`).
    strict
        Raise :class:`~ls_frames.errors.MediaError` listing the failures at the end (the
        files that arrived stay in the cache).
    refresh
        Revalidate cached files with conditional requests (ETag, Last-Modified) and fetch
        only what changed; a source without validators is downloaded again and compared.
        Without it, a cached file is used without any request.
    progress
        Show bars counting files and bytes (``None``: the global switch).
    allow_hosts
        Host names, addresses or networks with private addresses that may be fetched
        besides the Label Studio host. Link-local and cloud metadata addresses are never
        fetched (see :mod:`ls_frames.media.guard`).
    label_config
        The config to take the fields from when ``frames`` carries none.
    http_timeout
        Seconds to wait for a connection or for the next bytes of an answer (default: the
        client's timeouts, 60 s, connect 10 s); an answer that stalls longer is retried,
        then reported as ``timeout``.

    Returns
    -------
    pandas.DataFrame
        ``task_id``, ``field``, ``position`` (0 for a single value, the index in a list),
        ``uri`` (as in the task data), ``path`` (absolute), ``bytes``, ``sha256``,
        ``content_type`` and ``error`` (null when fetched, else a short reason:
        ``HTTP 404``, ``no storage on the server resolves this URI``, ``timeout``,
        ``refused: ...``). ``df.attrs["media"]`` counts what the run did (downloaded,
        cached, not_modified, unchanged, failed, bytes_downloaded; ``reasons``: the
        failures by reason, as the warning counts them; ``workers``: the requests at
        once it ended with).

    Raises
    ------
    MediaError
        With ``strict=True``, when any reference failed.

    ConfigurationError
        References need Label Studio and no client can be made, or the dataset came from
        another server than the client's.
    TypeError
        ``frames`` is none of the accepted inputs.
    ValueError
        ``frames`` holds no tasks table.

    Warns
    -----
    PartialResultWarning
        Without ``strict``, once, when any file failed: how many of how many, and the
        reasons grouped and counted (the host for a connection that failed or timed out).
    """
    table = fetch_table(
        frames,
        cache_dir,
        client=client,
        fields=fields,
        workers=workers,
        strict=strict,
        refresh=refresh,
        progress=progress,
        allow_hosts=allow_hosts,
        label_config=label_config,
        http_timeout=http_timeout,
    )
    warn_partial(table)
    return table


def fetch_table(
    frames: FramesLike,
    cache_dir: str | os.PathLike[str],
    *,
    client: Client | None = None,
    fields: Sequence[str] | None = None,
    workers: int | None = None,
    strict: bool = False,
    refresh: bool = False,
    progress: bool | None = None,
    allow_hosts: Iterable[str] | None = None,
    label_config: str | LabelConfig | None = None,
    http_timeout: float | None = None,
    check_fields: bool = True,
) -> pd.DataFrame:
    """:func:`fetch_media` without its warning (for callers that fetch in parts and warn
    once, :func:`warn_partial`). ``check_fields=False``: ``frames`` is a part of the tasks
    (whose fields were checked on the whole, :func:`check_fields`), where a field may be
    missing from every task."""
    if isinstance(fields, str):
        fields = [fields]
    pace = _pace(workers)
    rows, config, provenance = _tasks(frames)
    if fields is not None and check_fields:
        _check_fields(fields, rows)
    config = resolve_label_config(label_config) or config
    refs = list(iter_references(rows, config=config, fields=fields))
    cache = MediaCache(cache_dir)  # before any request: a file there is refused
    with ExitStack() as stack:
        client = _client_for(refs, client, provenance, stack)
        origin = str(client.base_url) if client is not None else (provenance or {}).get("server")
        guard = HostGuard(client.base_url.host if client is not None else None, allow_hosts)
        hops = Hops(
            client,
            guard,
            workers=pace.limit,
            timeout=None if http_timeout is None else httpx.Timeout(http_timeout),
        )
        stack.callback(hops.close)
        files = stack.enter_context(
            progress_bar(progress, unit="file", desc="media files", position=0)
        )
        raw_bytes = progress_bar(
            progress, unit="B", unit_scale=True, unit_divisor=1024, desc="media bytes", position=1
        )
        bytes_bar = LockedBar(raw_bytes)
        stack.callback(bytes_bar.close)
        # the release's route for storage URIs (/presign/ before 1.20), asked only when needed
        route = "resolve"
        if client is not None and any(classify(canonical(r.uri)) == "storage" for r in refs):
            route = client.capabilities().resolve_endpoint
        fetcher = Fetcher(
            cache,
            hops,
            Resolver(client.base_url if client is not None else None, route),
            origin=str(origin) if origin else None,
            refresh=refresh,
            bytes_bar=bytes_bar,
        )
        results = _fetch_all(fetcher, refs, pace, files)
    outcomes = [results[fetcher.key(ref)] for ref in refs]
    table = _table(refs, iter(outcomes))
    table.attrs["media"] = {**run_counts(results.values(), cache_dir), "workers": pace.level}
    if strict:
        raise_failures(refs, outcomes)
    return table


def _client_for(
    refs: list[Reference],
    client: Client | None,
    provenance: Mapping[str, Any] | None,
    stack: ExitStack,
) -> Client | None:
    """The client to fetch with: the one given, else one from the environment when a
    reference needs Label Studio (closed with ``stack``); checked against the dataset's
    server."""
    if client is None and _needs_label_studio(refs) is not None:
        try:
            client = stack.enter_context(Client())
        except ConfigurationError as exc:
            example = _needs_label_studio(refs)
            raise ConfigurationError(
                f"references such as {example.uri if example else ''!r} are served by "
                f"Label Studio: pass client=... ({exc})"
            ) from None
    if client is not None:
        _check_server(client, provenance)
    return client


def check_fields(frames: FramesLike, fields: Sequence[str] | str | None) -> None:
    """Refuse a field no task of ``frames`` holds (ConfigurationError, with the keys)."""
    if fields is not None:
        _check_fields([fields] if isinstance(fields, str) else fields, _tasks(frames)[0])


def _check_fields(fields: Sequence[str], rows: TaskRows) -> None:
    """A field no task's data holds is a misspelt key (its files would silently be none)."""
    present: dict[str, None] = {}
    for _, _, data in rows:
        present.update(dict.fromkeys(data))
    unknown = [f for f in fields if f not in present]
    if present and unknown:
        close = difflib.get_close_matches(unknown[0], list(present), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ConfigurationError(
            f"fields: no task's data has the key {unknown[0]!r} (the tasks have "
            f"{', '.join(map(repr, list(present)[:12]))}){hint}"
        )


def _pace(workers: Any) -> Pace:
    """The gate for ``workers`` (``None``: adaptive up to :data:`DEFAULT_LIMIT`)."""
    if workers is None:
        return Pace(DEFAULT_LIMIT, adapt=True)
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ConfigurationError(
            f"workers must be a whole number >= 1, or None to adapt, not {workers!r}"
        )
    return Pace(workers, adapt=False)


def _fetch_all(
    fetcher: Fetcher, refs: list[Reference], pace: Pace, files: Any
) -> dict[str, FileOutcome]:
    """Fetch each distinct reference once, as many at a time as ``pace`` lets through; the
    outcome of each by its cache key."""
    unique: dict[str, Reference] = {}
    for ref in refs:
        unique.setdefault(fetcher.key(ref), ref)
    files.total = len(unique)
    files.refresh()
    results: dict[str, FileOutcome] = {}

    def run(key: str) -> tuple[str, FileOutcome]:
        with pace.slot() as started:
            outcome = fetcher.fetch(unique[key])
        if outcome.status != "cached":  # a request was made
            pace.done(started, outcome.downloaded_bytes)
        return key, outcome

    pool = ThreadPoolExecutor(max_workers=pace.limit, thread_name_prefix="ls-frames-media")
    try:
        for key, outcome in pool.map(run, unique):
            results[key] = outcome
            files.update(1)
    except BaseException:
        # Ctrl-C: the files being fetched end (a cut one is kept to resume), the queued ones
        # never start.
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown()
    return results
