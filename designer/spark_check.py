"""Check a node's preview against Spark: the node's generated PySpark, run on local Spark over
the same sampled rows the preview read, compared row by row."""

from __future__ import annotations

import argparse
import logging
import math
import os
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal

from codegen.duckdb_preview import NodePreview, PreviewEngine
from codegen.pyspark import node_blocks, variable_name
from codegen.pyspark_jdbc import READ_PASSWORD
from designer.errors import SparkCanvasError
from designer.model import Job
from designer.validation import Validation, validate

logger = logging.getLogger(__name__)
MAX_DIFFERENCES = 5
FLOAT_DIGITS = 6  # floats agree when equal to this many decimal places

_session = None
_session_lock = threading.Lock()


@dataclass
class SparkCheck:
    """The outcome of running one node on both engines over the same sample."""

    node_id: str
    matches: bool
    preview_rows: int = 0
    spark_rows: int = 0
    columns: list[str] = field(default_factory=list)
    spark_columns: list[str] = field(default_factory=list)
    only_in_spark: list[tuple] = field(default_factory=list)  # first rows Spark has and the preview lacks
    only_in_preview: list[tuple] = field(default_factory=list)
    preview_error: str | None = None
    spark_error: str | None = None
    seconds: float = 0.0

    def summary(self) -> str:
        """Return a one-line summary: whether the engines agree, and how they differ."""
        if self.preview_error and self.spark_error:
            return (
                f"both engines fail: the preview with {self.preview_error!r}, Spark with {self.spark_error!r}"
            )
        if self.spark_error:
            return f"Spark fails where the preview does not: {self.spark_error}"
        if self.preview_error:
            return f"the preview fails where Spark does not: {self.preview_error}"
        if self.columns != self.spark_columns:
            return f"columns differ: preview {self.columns}, Spark {self.spark_columns}"
        if self.matches:
            return f"Spark agrees: the same {self.spark_rows} rows"
        return (
            f"rows differ: {len(self.only_in_spark)}+ rows only in Spark, "
            f"{len(self.only_in_preview)}+ rows only in the preview "
            f"({self.spark_rows} rows in Spark, {self.preview_rows} in the preview)"
        )


def shared_session():
    """Return the process's warm local Spark session, starting it on first use."""
    global _session
    with _session_lock:
        if _session is None or _session.sparkContext._jsc is None:
            _session = _start_session()
        return _session


def start_local_session(app_name: str, master: str = "local[*]", time_zone: str = "UTC"):
    """Start a local Spark session bound to 127.0.0.1, with no UI and the given time zone."""
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    from pyspark.sql import SparkSession

    builder = (
        SparkSession.builder.master(master)
        .appName(app_name)
        .config("spark.sql.session.timeZone", time_zone)
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.sql.shuffle.partitions", "4")
    )
    jar = _jdbc_jar()
    if jar is not None:
        builder = builder.config("spark.jars", jar)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session


def _jdbc_jar() -> str | None:
    """Return the PostgreSQL JDBC driver's jar, so checks can run the PostgreSQL nodes, or None."""
    from catalog.postgres import PostgresError, find_jdbc_jar

    try:
        return str(find_jdbc_jar())
    except PostgresError as error:
        logger.info("local Spark starts without a JDBC driver: %s", error)
        return None


def _start_session():
    started = time.perf_counter()
    try:
        session = start_local_session("sparkcanvas-check")
    except Exception as error:  # noqa: BLE001 - Java missing, port taken, and more
        raise SparkCanvasError(
            f"cannot start local Spark: {error}; check that Java 17 or newer is installed"
        ) from error
    logger.info("started local Spark for checks in %.1f s", time.perf_counter() - started)
    return session


def check_node(job: Job, node_id: str, engine: PreviewEngine | None = None, spark=None) -> SparkCheck:
    """Run a node on the preview and on Spark over the preview's own sample, and compare."""
    engine = engine or PreviewEngine()
    validation = validate(job)
    validation.raise_if_invalid()
    started = time.perf_counter()
    preview = engine.preview(job, node_id, validation)
    check = SparkCheck(node_id, matches=False)
    spark = spark or shared_session()
    try:
        columns, rows = run_on_spark(spark, job, node_id, validation, engine)
    except Exception as error:  # noqa: BLE001 - any Spark failure is a result to report
        check.spark_error = first_line(error)
        columns, rows = [], []
    check.spark_columns, check.spark_rows = columns, len(rows)
    if not preview.ok:
        check.preview_error = preview.error
        check.matches = check.spark_error is not None
    elif check.spark_error is None:
        _compare(check, preview, rows)
    check.seconds = time.perf_counter() - started
    return check


def _compare(check: SparkCheck, preview: NodePreview, spark_rows: list[tuple]) -> None:
    check.columns = list(preview.table.column_names)
    preview_rows = [tuple(row.values()) for row in preview.table.to_pylist()]
    check.preview_rows = len(preview_rows)
    on_spark = Counter(normalize_row(row) for row in spark_rows)
    on_preview = Counter(normalize_row(row) for row in preview_rows)
    check.only_in_spark = sorted_rows(list((on_spark - on_preview).elements()))[:MAX_DIFFERENCES]
    check.only_in_preview = sorted_rows(list((on_preview - on_spark).elements()))[:MAX_DIFFERENCES]
    check.matches = check.columns == check.spark_columns and on_spark == on_preview


def run_on_spark(
    spark,
    job: Job,
    node_id: str,
    validation: Validation | None = None,
    engine: PreviewEngine | None = None,
) -> tuple[list[str], list[tuple]]:
    """Run the generated PySpark blocks up to a node, writing nothing, and collect its rows.

    With an engine, each source is the preview's own sample of it, and a join that fetched
    rows by key reads those rows, so both engines read the same input. Without one, the
    sources read their files as the script does.
    """
    from pyspark.sql import Observation
    from pyspark.sql import functions as F

    validation = validation or validate(job)
    needed = ancestors(job, node_id)
    spark.conf.set("spark.sql.session.timeZone", job.session_time_zone)
    namespace = {
        "spark": spark,
        "F": F,
        "Observation": Observation,
        "args": argparse.Namespace(**job.parameter_defaults()),
        "log": logging.getLogger("sparkcanvas.check"),
        "os": os,
    }
    # The PostgreSQL nodes call the script's read_password function.
    exec(compile(READ_PASSWORD, "<read_password>", "exec"), namespace)
    result_variable = None
    for block in node_blocks(job, validation):
        if block.node_id not in needed:
            continue
        node = job.node(block.node_id)
        if node.type.startswith("target."):
            result_variable = variable_name(node.inputs["in"])  # what the target would write
            continue
        if engine is not None and node.type.startswith("source."):
            sample = engine.preview(job, node.id, validation)
            namespace[block.variable] = _frame(spark, sample)
        elif engine is not None and node.type == "transform.join":
            _run_join_over_matched_rows(spark, job, node, block, namespace, engine, validation)
        else:
            exec(compile(block.code, f"<node {block.node_id}>", "exec"), namespace)
        result_variable = block.variable
    frame = namespace[result_variable]
    return frame.columns, [tuple(row) for row in frame.collect()]


def _run_join_over_matched_rows(spark, job, node, block, namespace, engine, validation) -> None:
    """Run a join block with the rows the preview fetched by key in place of that side's sample."""
    joined = engine.preview(job, node.id, validation)
    saved = {}
    for port, table in joined.matched_inputs.items():
        variable = variable_name(node.inputs[port])
        saved[variable] = namespace[variable]
        upstream = NodePreview(node.inputs[port], schema=validation.schemas[node.inputs[port]], table=table)
        namespace[variable] = _frame(spark, upstream)
    try:
        exec(compile(block.code, f"<node {block.node_id}>", "exec"), namespace)
    finally:
        namespace.update(saved)


def _frame(spark, sample: NodePreview):
    if not sample.ok:
        raise SparkCanvasError(f"node {sample.node_id!r} has no preview to check: {sample.error}")
    ddl = ", ".join(f"`{column.name.replace('`', '``')}` {column.type}" for column in sample.schema)
    return spark.createDataFrame(sample.table, schema=ddl)


def ancestors(job: Job, node_id: str) -> set[str]:
    """Return a node and every node it reads from, directly or not."""
    needed, stack = set(), [node_id]
    while stack:
        current = stack.pop()
        if current not in needed:
            needed.add(current)
            stack.extend(job.node(current).inputs.values())
    return needed


def normalize(value):
    """Bring a value to a form both engines agree on: floats rounded, timestamps naive UTC."""
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        return round(value, FLOAT_DIGITS)
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value
    if isinstance(value, (date, Decimal)):
        return value
    if isinstance(value, dict):
        # DuckDB gives a struct as a dict, PySpark as a Row, which is a tuple.
        return tuple(normalize(item) for item in value.values())
    if isinstance(value, (list, tuple)):
        return tuple(normalize(item) for item in value)
    return value


def normalize_row(row) -> tuple:
    return tuple(normalize(value) for value in row)


def sorted_rows(rows: list[tuple]) -> list[tuple]:
    """Sort rows of mixed types with NULLs first, as a stable order for comparison."""
    return sorted(rows, key=lambda row: tuple((value is not None, str(value)) for value in row))


def first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
