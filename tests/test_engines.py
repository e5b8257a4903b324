"""Spark and Dask read the Parquet datasets of ``to_parquet`` as they are.

Two datasets: a 20,000-task export of the corpus project's shape
(``benchmarks/generate_export.py``: boxes, choices, text areas, relations, predictions,
drafts, timestamps) and the corpus files together (masks, polygons, keypoints, text spans,
taxonomies, scores), both written with a label config so ``read_parquet`` makes
categoricals of ``from_name``, ``label`` and ``choice``. Each table is read by pyspark in
local mode (no UI, bound to 127.0.0.1) and by ``dask.dataframe``: row counts, column names,
the types each engine maps the Arrow types to, and the values (nulls included) against the
files and against ``ls_frames.read_parquet``.

Found here, and stated in the README: Spark needs backticks around the ``data.<key>``
columns; Spark's timestamps are instants shown in ``spark.sql.session.timeZone``; Dask's
default (numpy) backend says ``int64`` / ``bool`` for columns whose partitions come out as
``float64`` / ``object`` when they hold nulls, while ``dtype_backend="numpy_nullable"``
gives exactly ``read_parquet``'s frame; Spark's ``toPandas`` turns nullable integers into
``float64``; no engine sees the label config's categories.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ls_frames.reading import SCHEMAS
from ls_frames.tables import Frames, read_parquet, to_parquet
from tests.needs import missing

if TYPE_CHECKING:
    from pyspark.sql import SparkSession
    from pyspark.sql.types import DataType

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO / "tests" / "corpus"
LABEL_CONFIG = (CORPUS / "label-studio-1.23.2" / "label_config.xml").read_text()
TABLES = list(SCHEMAS)
GENERATED_TASKS = 20_000
# Between them every region column but rating, number, datetime and a few ids holds values.
CORPUS_FILES = [
    "label-studio-1.23.2/masks_export.json",
    "label-studio-1.23.2/random-with-predictions.json",
    "label-studio-1.23.2/snapshot_full_objects.json",
    "label-studio-1.23.2/three_tasks_two_gts.json",
    "sdk-converter-tests/test_export_json_min__data_repeater.json",
    "sdk-converter-tests/test_export_yolo__data_keypoints.json",
    "sdk-converter-tests/test_export_coco__data.json",
]
# The columns compared value by value with read_parquet's pandas frame, per table.
COMPARED = {
    "tasks": ["task_id", "created_at", "last_comment_updated_at", "data.image"],
    "annotations": ["annotation_id", "completed_by_email", "lead_time", "ground_truth"],
    "predictions": ["prediction_id", "model_version", "score", "updated_at"],
    "drafts": ["draft_id", "annotation_id", "created_at"],
    "regions": ["task_id", "from_name", "label", "choice", "start", "text", "points", "x"],
    "relations": ["from_id", "direction", "labels"],
}
CATEGORICAL = {"regions": ["from_name", "label", "choice"]}

pytestmark = [
    # pyspark 4.3 warns about pandas 3 when a session starts; the reads here go through
    # toArrow (Arrow end to end), bar the one test of what toPandas does.
    pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning"),
    # dask 2026.8's parquet reader calls reset_index(inplace=True), deprecated in pandas 3.1.
    pytest.mark.filterwarnings(
        "ignore:The inplace keyword in DataFrame.reset_index:DeprecationWarning"
    ),
]


@pytest.fixture(scope="module", params=["generated", "corpus"])
def dataset(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A dataset written by ``to_parquet`` with the corpus project's label config."""
    tmp = tmp_path_factory.mktemp(f"engines-{request.param}")
    source = tmp / "export.json"
    if request.param == "generated":
        script = REPO / "benchmarks" / "generate_export.py"
        size = ["--size-mb", "1000", "--tasks", str(GENERATED_TASKS)]
        subprocess.run(
            [sys.executable, str(script), *size, "--out", str(source)],
            check=True,
            capture_output=True,
        )
    else:
        tasks = [t for f in CORPUS_FILES for t in json.loads((CORPUS / f).read_text())]
        source.write_text(json.dumps(tasks))
    return to_parquet(source, tmp / "ds", label_config=LABEL_CONFIG, progress=False)


@pytest.fixture(scope="module")
def frames(dataset: Path) -> Frames:
    return read_parquet(dataset)


@pytest.fixture(scope="module")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SparkSession]:
    """A local Spark session: one core, no UI, bound to 127.0.0.1, UTC session time zone."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        missing("pyspark (the test extra)")
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        missing("Java 17 or later, which pyspark runs on,")
    scratch = tmp_path_factory.mktemp("spark")
    saved = os.environ.get("SPARK_LOCAL_IP")
    os.environ["SPARK_LOCAL_IP"] = "127.0.0.1"
    session = (
        SparkSession.builder.master("local[1]")
        .appName("ls_frames-engines")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", "1")
        .config("spark.local.dir", str(scratch / "local"))
        .config("spark.sql.warehouse.dir", str(scratch / "warehouse"))
        .getOrCreate()
    )
    try:
        yield session
    finally:
        session.stop()
        _stop_jvm()
        if saved is None:
            os.environ.pop("SPARK_LOCAL_IP", None)
        else:
            os.environ["SPARK_LOCAL_IP"] = saved


def _stop_jvm() -> None:
    """End the JVM too: ``stop()`` leaves it running (about 1.2 GB) until Python exits."""
    from pyspark import SparkContext

    gateway, SparkContext._gateway, SparkContext._jvm = SparkContext._gateway, None, None
    if gateway is None:
        return
    process = getattr(gateway, "proc", None)
    gateway.shutdown()
    if process is not None:
        process.stdin.close()  # the JVM exits when its standard input closes
        process.wait(timeout=60)


def _dask() -> Any:
    try:
        import dask.dataframe as dd
    except ImportError:
        missing("dask[dataframe] (the test extra)")
    return dd


def _spark_type(arrow: pa.DataType) -> DataType:
    """The Spark SQL type an Arrow type of ls_frames' schemas is read as."""
    from pyspark.sql import types as T

    if pa.types.is_list(arrow):
        return T.ArrayType(_spark_type(arrow.value_type), containsNull=True)
    if pa.types.is_timestamp(arrow):
        assert arrow.unit == "us" and arrow.tz == "UTC", arrow
        return T.TimestampType()
    simple: dict[pa.DataType, DataType] = {
        pa.int64(): T.LongType(),
        pa.float64(): T.DoubleType(),
        pa.bool_(): T.BooleanType(),
        pa.string(): T.StringType(),
    }
    return simple[arrow]


def _plain(value: Any) -> Any:
    """A pandas cell as plain Python: NA as None, arrays as lists, Timestamps as datetimes."""
    if isinstance(value, np.ndarray):
        return [_plain(v) for v in value]
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if (
        value is None
        or value is pd.NA
        or value is pd.NaT
        or (isinstance(value, float) and np.isnan(value))
    ):
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if isinstance(value, np.generic):
        return value.item()
    return value


def _chunked(series: pd.Series, typ: pa.DataType) -> pa.ChunkedArray:
    array = pa.array(series, typ)
    return array if isinstance(array, pa.ChunkedArray) else pa.chunked_array([array])


def _manifest_rows(dataset: Path) -> dict[str, int]:
    manifest = json.loads((dataset / "_SUCCESS").read_text())
    return {name: int(info["rows"]) for name, info in manifest["tables"].items()}


def test_spark_reads_every_table_with_its_rows_types_and_values(
    spark: SparkSession, dataset: Path, frames: Frames
) -> None:
    rows = _manifest_rows(dataset)
    assert set(rows) == set(TABLES)
    for name in TABLES:
        written = pq.read_table(dataset / name / "part-0000.parquet").replace_schema_metadata(None)
        df = spark.read.parquet(str(dataset / name))
        assert df.count() == rows[name] == len(frames[name]) == written.num_rows, name
        assert df.columns == written.column_names == list(frames[name].columns), name
        assert {f.name: f.dataType for f in df.schema.fields} == {
            f.name: _spark_type(f.type) for f in written.schema
        }, name
        # One file below spark.sql.files.maxPartitionBytes is one split: rows in file order.
        read = df.toArrow()
        assert read.schema == written.schema, name
        assert read.equals(written), name
        for column in COMPARED[name]:
            expected = [_plain(v) for v in frames[name][column]]
            assert read.column(column).to_pylist() == expected, (name, column)
        for column in CATEGORICAL.get(name, []):
            # The label config's categories live in ls_frames only: Spark reads strings.
            assert isinstance(frames[name][column].dtype, pd.CategoricalDtype), column


def test_spark_sql_counts_labels_like_pandas(
    spark: SparkSession, dataset: Path, frames: Frames
) -> None:
    counts = spark.sql(
        f"SELECT label, count(*) AS n FROM parquet.`{dataset / 'regions'}` "
        "WHERE label IS NOT NULL GROUP BY label"
    ).collect()
    expected = frames.regions["label"].value_counts()
    assert {row["label"]: row["n"] for row in counts} == {
        str(k): int(v) for k, v in expected.items() if v
    }
    assert len(counts) >= 2


def test_spark_needs_backticks_for_the_data_columns(
    spark: SparkSession, dataset: Path, frames: Frames
) -> None:
    from pyspark.errors import AnalysisException

    keys = [c for c in frames.tasks.columns if c.startswith("data.")]
    assert keys
    df = spark.read.parquet(str(dataset / "tasks"))
    for key in keys:
        values = [row[0] for row in df.select(f"`{key}`").collect()]
        assert values == [_plain(v) for v in frames.tasks[key]], key
    with pytest.raises(AnalysisException):
        df.select(keys[0]).collect()


def test_spark_timestamps_are_instants(spark: SparkSession, dataset: Path, frames: Frames) -> None:
    """SQL shows them in ``spark.sql.session.timeZone``; ``collect()`` gives naive datetimes
    in the Python process's local zone, whatever the session's."""
    from pyspark.sql import functions as F

    df = spark.read.parquet(str(dataset / "annotations"))
    expected = [_plain(v) for v in frames.annotations["created_at"]]
    assert any(v is not None for v in expected)
    local = [v and v.astimezone().replace(tzinfo=None) for v in expected]
    shown = "date_format(created_at, 'yyyy-MM-dd HH:mm:ss.SSSSSS') AS shown"
    for zone, offset in (("UTC", dt.timedelta(0)), ("Asia/Kolkata", dt.timedelta(hours=5.5))):
        spark.conf.set("spark.sql.session.timeZone", zone)
        try:
            rows = df.select("created_at", F.expr(shown)).collect()
            arrow = df.select("created_at").toArrow().column(0)
        finally:
            spark.conf.set("spark.sql.session.timeZone", "UTC")
        assert [row["created_at"] for row in rows] == local, zone
        assert [row["shown"] for row in rows] == [
            v and (v + offset).strftime("%Y-%m-%d %H:%M:%S.%f") for v in expected
        ], zone
        assert arrow.type == pa.timestamp("us", tz="UTC"), zone  # toArrow: UTC always
        assert arrow.to_pylist() == expected, zone


def test_dask_numpy_nullable_reads_what_read_parquet_reads(dataset: Path, frames: Frames) -> None:
    dd = _dask()
    rows = _manifest_rows(dataset)
    plain = read_parquet(dataset, label_config=False)
    for name in TABLES:
        ddf = dd.read_parquet(str(dataset / name), dtype_backend="numpy_nullable")
        assert len(ddf) == rows[name], name
        assert list(ddf.columns) == list(plain[name].columns), name
        assert dict(ddf.dtypes) == dict(plain[name].dtypes), name
        df = ddf.compute().reset_index(drop=True)
        pd.testing.assert_frame_equal(df, plain[name], obj=name)
        for column in CATEGORICAL.get(name, []):
            # Strings in the files: the categories are read_parquet's, from the label config.
            assert isinstance(frames[name][column].dtype, pd.CategoricalDtype), column
            pd.testing.assert_series_equal(
                df[column], frames[name][column].astype("string"), obj=column
            )


def test_dask_pyarrow_backend_keeps_the_arrow_types(dataset: Path) -> None:
    dd = _dask()
    for name in ("tasks", "regions"):
        written = pq.read_schema(dataset / name / "part-0000.parquet")
        ddf = dd.read_parquet(str(dataset / name), dtype_backend="pyarrow")
        df = ddf.compute().reset_index(drop=True)
        for field in written:
            dtype = df[field.name].dtype
            if pa.types.is_string(field.type):
                assert dtype == pd.StringDtype("pyarrow", na_value=pd.NA), field.name
            else:
                assert dtype == pd.ArrowDtype(field.type), field.name
        frame = read_parquet(dataset, tables=[name], dtype_backend="pyarrow", label_config=False)
        assert len(df) == len(frame[name])
        for column in COMPARED[name]:
            typ = written.field(column).type
            got = _chunked(df[column], typ)
            assert got.equals(_chunked(frame[name][column], typ)), (name, column)


def test_dask_default_backend_turns_nullable_ints_into_floats(dataset: Path) -> None:
    """Why the README says ``dtype_backend="numpy_nullable"``: without it, a column with
    nulls is ``int64`` in Dask's metadata and ``float64`` (NaN) in the computed frame."""
    dd = _dask()
    ddf = dd.read_parquet(str(dataset / "regions"))
    df = ddf.compute()
    assert df["start"].isna().any() and df["readonly"].isna().any()
    assert str(ddf.dtypes["start"]) == "int64"
    assert str(df["start"].dtype) == "float64"
    assert str(ddf.dtypes["readonly"]) == "bool"
    assert str(df["readonly"].dtype) == "object"


# pyspark 4.3's toPandas passes copy= to pandas, deprecated in pandas 3.1
@pytest.mark.filterwarnings("ignore:The copy keyword is deprecated:DeprecationWarning")
def test_spark_to_pandas_turns_nullable_ints_into_floats(
    spark: SparkSession, dataset: Path, frames: Frames
) -> None:
    """Why the README points to ``toArrow()``: Spark's own pandas conversion gives NaN."""
    df = spark.read.parquet(str(dataset / "regions")).select("result_index", "start").toPandas()
    assert frames.regions["result_index"].notna().all()
    assert str(df["result_index"].dtype) == "int64"
    assert str(df["start"].dtype) == "float64"
    assert df["start"].isna().sum() == frames.regions["start"].isna().sum() > 0
