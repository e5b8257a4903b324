"""``Frames``: the six tables of an export, as Arrow and (lazily) as pandas."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ls_frames._deprecation import renamed_kwargs
from ls_frames._progress import progress_bar
from ls_frames._warnings import warn_outside
from ls_frames.errors import ConfigurationError
from ls_frames.provenance import Provenance
from ls_frames.reading import (
    DEFAULT_CHUNK_SIZE,
    SCHEMAS,
    TABLES,
    ExportReader,
    LabelConfig,
    Source,
    expand_data_columns,
    resolve_label_config,
)
from ls_frames.reading.controls import ATTRIBUTE_TYPES
from ls_frames.reading.schemas import choose_tables
from ls_frames.tables.dataset import METADATA_KEY, read_manifest
from ls_frames.tables.dtypes import (
    DtypeBackend,
    check_dtype_backend,
    check_tables,
    table_to_pandas,
    types_mapper,
)
from ls_frames.tables.parallel import Recut, check_workers, read_parallel

__all__ = ["METADATA_KEY", "Frames", "read_export", "read_parquet"]

_REGION_KEY = ["task_id", "source", "source_id", "region_id"]


class Frames:
    """The tables of one export.

    ``.tasks .annotations .predictions .drafts .regions .relations`` are pandas DataFrames
    (built on first access, then cached); ``.arrow`` maps table names to ``pa.Table``;
    ``.provenance`` is where the tables came from (a :class:`~ls_frames.provenance.
    Provenance`: what a dataset stores, or what :func:`~ls_frames.load_project` read), else
    ``None``. It reads like the dict earlier releases gave (``provenance["export_id"]``,
    ``.get("sync")``, ``dict(provenance)``) and has typed attributes
    (``provenance.export_id``, ``provenance.sync.watermark``); a dict assigned to it is
    read into one.
    """

    def __init__(
        self,
        arrow: dict[str, pa.Table],
        *,
        dtype_backend: DtypeBackend = "numpy_nullable",
        label_config: LabelConfig | None = None,
        provenance: Mapping[str, Any] | None = None,
    ) -> None:
        types_mapper(dtype_backend)  # validates the name
        self.arrow = arrow
        self.dtype_backend = dtype_backend
        self.label_config = label_config
        self.provenance = provenance  # read into a Provenance by the setter
        self._pandas: dict[str, pd.DataFrame] = {}

    @property
    def provenance(self) -> Provenance | None:
        """Where the tables came from (see the class's docstring), or ``None``."""
        return self._provenance

    @provenance.setter
    def provenance(self, value: Mapping[str, Any] | None) -> None:
        self._provenance = None if value is None else Provenance.from_dict(value)

    def __getitem__(self, name: str) -> pd.DataFrame:
        if name not in self.arrow:
            raise KeyError(f"no table {name!r}; have {list(self.arrow)}")
        if name not in self._pandas:
            self._pandas[name] = table_to_pandas(
                name,
                self.arrow[name],
                dtype_backend=self.dtype_backend,
                config=self.label_config,
            )
        return self._pandas[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.arrow)

    def __len__(self) -> int:
        return len(self.arrow)

    def items(self) -> Iterator[tuple[str, pd.DataFrame]]:
        for name in self.arrow:
            yield name, self[name]

    @property
    def tasks(self) -> pd.DataFrame:
        return self["tasks"]

    @property
    def annotations(self) -> pd.DataFrame:
        return self["annotations"]

    @property
    def predictions(self) -> pd.DataFrame:
        return self["predictions"]

    @property
    def drafts(self) -> pd.DataFrame:
        return self["drafts"]

    @property
    def regions(self) -> pd.DataFrame:
        return self["regions"]

    @property
    def relations(self) -> pd.DataFrame:
        return self["relations"]

    @property
    def media(self) -> pd.DataFrame:
        """The files behind the tasks (see :func:`ls_frames.fetch_media`), kept in a dataset
        written with ``media=DIR``; a ``KeyError`` says how to get it otherwise."""
        if "media" not in self.arrow:
            raise KeyError(
                "no media table: export_project(..., media=DIR) or sync_parquet(..., "
                "media=DIR) keep one in the dataset; ls_frames.fetch_media(frames, DIR) "
                "returns it"
            )
        return self["media"]

    def select(self, task_ids: Iterable[int] | pd.Series | pd.Index) -> Frames:
        """The same tables holding only these tasks (every table, ``media`` included).

        Row order, dtypes, the label config and the provenance are kept; ids that are not in
        the tables are ignored (``len(frames.select(ids).tasks)`` tells how many matched).

        Parameters
        ----------
        task_ids
            Task ids: a list, a set, a pandas Series or Index (a boolean mask is not
            accepted: ``frames.select(frames.tasks.loc[mask, "task_id"])`` says the same).

        Returns
        -------
        Frames
            A new :class:`Frames`; these frames are unchanged.

        Raises
        ------
        ConfigurationError
            ``task_ids`` holds something that is not an integer id.
        """
        wanted = _task_id_array(task_ids)
        arrow = {
            name: table.filter(pc.is_in(table["task_id"], value_set=wanted))
            if "task_id" in table.column_names
            else table
            for name, table in self.arrow.items()
        }
        return Frames(
            arrow,
            dtype_backend=self.dtype_backend,
            label_config=self.label_config,
            provenance=self.provenance,
        )

    def __repr__(self) -> str:
        counts = ", ".join(f"{name}={t.num_rows:,}" for name, t in self.arrow.items())
        return f"Frames({counts})"

    def regions_wide(self) -> pd.DataFrame:
        """One row per region, per-region attributes attached as columns.

        Result items sharing a region id within one annotation (or prediction, draft) form
        one region (an item without a region id is a region of its own, never merged with
        another id-less item): the row of its first item that is not an attribute type
        (choices, textarea, rating, number, taxonomy, datetime) is kept, and each attribute
        item adds a column named after its ``from_name`` holding its value (the first
        choice, the first text line, the rating or number, taxonomy paths as JSON).
        Attribute items with no region of their own (a whole-image choice) stay as rows of
        their own.

        Returns
        -------
        pandas.DataFrame
            The ``regions`` columns plus one column per attribute control.

        Raises
        ------
        KeyError
            These frames were read without the ``regions`` table.
        """
        regions = self.regions
        if regions.empty:
            empty: pd.DataFrame = regions.copy()
            return empty
        keys = pd.MultiIndex.from_frame(_region_keys(regions))
        is_attr = regions["type"].astype(object).isin(ATTRIBUTE_TYPES).to_numpy(dtype=bool)
        drop = is_attr & keys.isin(keys[~is_attr])
        base: pd.DataFrame = regions[~drop]
        base_keys = keys[~drop]
        first = ~base_keys.duplicated()
        base, base_keys = base[first].reset_index(drop=True), base_keys[first]
        attrs = regions[is_attr]
        attr_keys = keys[is_attr]
        values = [_attribute_value(row) for row in attrs.itertuples(index=False)]
        for name in dict.fromkeys(attrs["from_name"].astype(object).dropna()):
            mask = (attrs["from_name"].astype(object) == name).to_numpy(dtype=bool)
            picked = [v for v, m in zip(values, mask, strict=True) if m]
            series = pd.Series(picked, index=attr_keys[mask], dtype=object)
            series = series[~series.index.duplicated()]
            column = pd.Series(series.reindex(base_keys).to_numpy(), dtype=object)
            base[str(name)] = _attribute_series(column, attrs[mask], self, str(name))
        return base


def _task_id_array(task_ids: Any) -> pa.Array:
    if isinstance(task_ids, pd.Series | pd.Index) and pd.api.types.is_bool_dtype(task_ids):
        raise ConfigurationError(
            "select() takes task ids, not a boolean mask: pass frames.tasks.loc[mask, 'task_id']"
        )
    values = list(task_ids)
    bad = [v for v in values if isinstance(v, bool) or not _is_integer(v)]
    if bad:
        raise ConfigurationError(f"select() takes integer task ids; got {bad[0]!r}")
    return pa.array([int(v) for v in values], pa.int64())


def _is_integer(value: Any) -> bool:
    try:
        return bool(int(value) == value)
    except (TypeError, ValueError):
        return False


def _region_keys(regions: pd.DataFrame) -> pd.DataFrame:
    """The key that groups result items into regions. An item without a region id (common
    in imported predictions) is a region of its own: its key holds its place in the
    result list, so two id-less boxes of one prediction never merge."""
    keys = regions[_REGION_KEY].astype(object)
    missing = keys["region_id"].isna().to_numpy(dtype=bool)
    if missing.any():
        keys = keys.copy()
        place = regions["result_index"].astype(object).to_numpy()[missing]
        keys.loc[missing, "region_id"] = [f"\x00result {i}" for i in place]
    filled: pd.DataFrame = keys.fillna("<NA>")
    return filled


def _attribute_value(row: Any) -> Any:
    typ = row.type
    if typ == "choices":
        return row.choice if hasattr(row, "choice") else None
    if typ == "textarea":
        text = row.text
        return None if text is None or len(text) == 0 else str(text[0])
    if typ == "rating":
        return row.rating
    if typ == "number":
        return row.number
    if typ == "taxonomy":
        return row.value_json
    return row.datetime if typ == "datetime" else row.value_json


def _attribute_series(column: pd.Series, sub: pd.DataFrame, frames: Frames, name: str) -> Any:
    typ = str(sub["type"].iloc[0])
    config = frames.label_config
    if typ == "choices" and config is not None:
        control = config.by_name().get(name)
        cats = list(control.values) if control else []
        extra = sorted(set(column.dropna().astype(str)) - set(cats))
        return column.astype(object).astype(pd.CategoricalDtype([*cats, *extra]))
    if typ in ("rating", "number"):
        return pd.to_numeric(column.astype(object), errors="coerce").astype("Float64")
    return column.astype(object).astype("string")


def collect_batches(
    reader: Iterable[dict[str, pa.RecordBatch]],
    tables: Iterable[str],
    done: Callable[[], int],
    progress: bool | None,
    *,
    desc: str,
    unit: str,
) -> dict[str, list[pa.RecordBatch]]:
    """Every batch ``reader`` yields, by table, with a progress bar at ``done()``."""
    parts: dict[str, list[pa.RecordBatch]] = {name: [] for name in tables}
    with progress_bar(progress, desc=desc, unit=unit) as bar:
        for batches in reader:
            for name, batch in batches.items():
                parts[name].append(batch)
            bar.update(done() - bar.n)
    return parts


def read_export(
    source: Source,
    *,
    label_config: str | LabelConfig | Literal[False] | None = None,
    dtype_backend: DtypeBackend = "numpy_nullable",
    tables: Iterable[str] | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    workers: int = 1,
    progress: bool | None = None,
    strict: bool = False,
) -> Frames:
    """Read a JSON export (path, bytes or binary file object) into :class:`Frames`.

    ``tables`` limits the work to some of ``tasks, annotations, predictions, drafts,
    regions, relations``. ``label_config`` (the project's XML) turns ``from_name``,
    ``label`` and ``choice`` into categoricals in config order. ``workers=2`` flattens a
    file in two processes. Malformed input raises :class:`ExportFormatError`.

    Malformed result items (a ``value`` that is not a JSON object, no ``from_name`` or
    ``type``, a coordinate that is not a number, an image size that is not an integer, a
    value converted or dropped to fit its column) are kept: ``value_json`` holds the
    export's exact text, the typed column what could be made of it (``"12"`` -> 12.0,
    ``640.5`` -> 640, ``"480"`` -> null). One :class:`~ls_frames.MalformedResultWarning`
    at the end of the read counts them by kind and names the first of each.

    Parameters
    ----------
    source
        A JSON export: a path, the bytes, or a binary file object.
    label_config
        The project's label config (XML); ``None`` means none.
    dtype_backend
        ``"numpy_nullable"`` (the default) or ``"pyarrow"``: the pandas dtypes of the
        tables.
    tables
        Only these of ``tasks, annotations, predictions, drafts, regions, relations``;
        all by default.
    chunk_size
        Bytes read at a time.
    workers
        Processes flattening the file (1: this one alone). With more, ``source`` must
        be a file path: this process and ``workers - 1`` spawned ones each flatten
        ranges of whole tasks read from the file into uncompressed Parquet parts in a
        temporary folder, read back here (the same tables, row for row). Scripts need
        the ``if __name__ == "__main__":`` guard.
    progress
        Show progress bars; ``None`` shows them unless ``LS_FRAMES_DISABLE_PROGRESS_BARS``
        is set.
    strict
        Raise :class:`ExportFormatError` at the first malformed result item instead of
        keeping it and warning.

    Returns
    -------
    Frames
        The tables, as Arrow and (on first use) pandas.

    Raises
    ------
    ExportFormatError
        The input is not a Label Studio JSON export; the error names the byte offset or
        task index. With ``strict=True``, also a malformed result item (the error names
        its task and item).

    Warns
    -----
    MalformedResultWarning
        The export held malformed result items (kept as read; not with ``strict=True``).
    ConfigurationError
        ``label_config`` is not XML, ``dtype_backend`` is unknown, or ``workers`` is not
        a whole number >= 1 or is more than 1 for bytes or a stream.
    ValueError
        A name in ``tables`` is not one of the six.
    """
    config = resolve_label_config(label_config)
    check_dtype_backend(dtype_backend)
    tables = check_tables(tables)
    path = check_workers(workers, source, "read_export")
    if path is not None:
        try:
            with progress_bar(progress, desc="flatten", unit="task") as bar:
                done, arrow = read_parallel(
                    path,
                    tables=choose_tables(tables),
                    chunk_size=chunk_size,
                    workers=workers,
                    strict=strict,
                )
                bar.update(done.task_count)
        except Recut:  # a fast-path cut to check: the exact scan, in this process
            pass
        else:
            if done.report:
                warn_outside(done.report.warning())
            return Frames(arrow, dtype_backend=dtype_backend, label_config=config)
    reader = ExportReader(source, tables=tables, chunk_size=chunk_size, strict=strict)
    parts = collect_batches(
        reader, reader.tables, lambda: reader.task_count, progress, desc="flatten", unit="task"
    )
    arrow = {
        name: pa.Table.from_batches(parts[name], schema=SCHEMAS[name]) for name in reader.tables
    }
    if "tasks" in arrow:
        arrow["tasks"] = expand_data_columns(arrow["tasks"], reader.data_keys)
    return Frames(arrow, dtype_backend=dtype_backend, label_config=config)


@renamed_kwargs(out_dir="path")
def read_parquet(
    path: str | os.PathLike[str],
    *,
    dtype_backend: DtypeBackend = "numpy_nullable",
    tables: Iterable[str] | None = None,
    label_config: str | LabelConfig | Literal[False] | None = None,
) -> Frames:
    """Read a dataset written by :func:`to_parquet` back into :class:`Frames`.

    The label config stored in the provenance is used unless one is given. A dataset
    written with ``media=DIR`` also has a ``media`` table (``frames.media``), read when
    ``tables`` is ``None`` or names it.

    Parameters
    ----------
    path
        The dataset's folder (written by :func:`~ls_frames.to_parquet`,
        :func:`~ls_frames.export_project` or :func:`~ls_frames.sync_parquet`).
    dtype_backend
        ``"numpy_nullable"`` (the default) or ``"pyarrow"``.
    tables
        Only these of ``tasks, annotations, predictions, drafts, regions, relations``
        (and ``media``); all by default.
    label_config
        Use this label config (XML) instead of the one stored with the dataset.

    Returns
    -------
    Frames
        The dataset's tables.

    Raises
    ------
    ExportFormatError
        The folder is not a complete ls_frames dataset (no ``_SUCCESS``).
    ConfigurationError
        ``label_config`` is not XML, or ``dtype_backend`` is unknown.
    """
    root = Path(path)
    read_manifest(root)  # a complete dataset of a format version this ls_frames reads
    check_dtype_backend(dtype_backend)
    tables = check_tables(tables, extra=("media",))
    wanted = [t for t in (*TABLES, "media") if tables is None or t in set(tables)]
    arrow: dict[str, pa.Table] = {}
    provenance: dict[str, Any] | None = None
    for name in wanted:
        folder = root / name
        if not folder.is_dir():
            continue
        files = sorted(folder.glob("*.parquet"))
        if not files and name not in SCHEMAS:
            continue
        schema = pq.read_schema(files[0]) if files else SCHEMAS[name]
        arrow[name] = pq.read_table(folder, schema=schema) if files else schema.empty_table()
        meta = schema.metadata or {}
        if provenance is None and METADATA_KEY in meta:
            provenance = json.loads(meta[METADATA_KEY])
    config = resolve_label_config(label_config, (provenance or {}).get("label_config"))
    return Frames(arrow, dtype_backend=dtype_backend, label_config=config, provenance=provenance)
