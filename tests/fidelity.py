"""Run one node of a job on DuckDB (the preview) and on Spark (the generated code), and compare."""

from __future__ import annotations

import argparse
import math
from datetime import UTC, date, datetime
from decimal import Decimal

from codegen.duckdb_preview import PreviewEngine
from codegen.pyspark import node_blocks, variable_name
from designer.model import Job
from designer.validation import validate


def preview_rows(job: Job, node_id: str) -> tuple[list[str], list[tuple]]:
    """Return the column names and rows of a node's DuckDB preview, or raise its error."""
    preview = PreviewEngine().preview(job, node_id)
    if not preview.ok:
        raise AssertionError(f"preview of {node_id} failed: {preview.error}")
    table = preview.table
    return table.column_names, [tuple(row.values()) for row in table.to_pylist()]


def spark_rows(spark, job: Job, node_id: str) -> tuple[list[str], list[tuple]]:
    """Run the generated PySpark blocks up to a node in a shared session, writing nothing."""
    from pyspark.sql import Observation
    from pyspark.sql import functions as F

    validation = validate(job)
    needed = _ancestors(job, node_id)
    namespace = {
        "spark": spark,
        "F": F,
        "Observation": Observation,
        "args": argparse.Namespace(**job.parameter_defaults()),
        "log": _SilentLog(),
    }
    result_variable = None
    for block in node_blocks(job, validation):
        if block.node_id not in needed:
            continue
        node = job.node(block.node_id)
        if node.type.startswith("target."):
            # A target's rows are what it would write: its input, unwritten.
            result_variable = variable_name(node.inputs["in"])
            continue
        exec(compile(block.code, f"<node {block.node_id}>", "exec"), namespace)
        result_variable = block.variable
    frame = namespace[result_variable]
    rows = [tuple(row) for row in frame.collect()]
    return frame.columns, rows


def _ancestors(job: Job, node_id: str) -> set[str]:
    needed, stack = set(), [node_id]
    while stack:
        current = stack.pop()
        if current not in needed:
            needed.add(current)
            stack.extend(job.node(current).inputs.values())
    return needed


class _SilentLog:
    def info(self, *args, **kwargs) -> None:
        pass


def normalize(value):
    """Bring a value to a form both engines agree on: floats rounded, timestamps naive UTC."""
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        return round(value, 6)
    if isinstance(value, Decimal):
        return value
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value
    if isinstance(value, date):
        return value
    if isinstance(value, dict):
        # DuckDB gives a struct as a dict, PySpark as a Row, which is a tuple.
        return tuple(normalize(item) for item in value.values())
    if isinstance(value, (list, tuple)):
        return tuple(normalize(item) for item in value)
    return value


def sorted_rows(rows: list[tuple]) -> list[tuple]:
    normalized = [tuple(normalize(value) for value in row) for row in rows]
    return sorted(
        normalized, key=lambda row: tuple((value is not None, str(value)) for value in row)
    )


def assert_same_result(spark, job: Job, node_id: str) -> list[tuple]:
    """Assert that the preview and Spark give the same columns and rows; return the rows."""
    duck_columns, duck = preview_rows(job, node_id)
    spark_columns, on_spark = spark_rows(spark, job, node_id)
    assert duck_columns == spark_columns
    expected, actual = sorted_rows(on_spark), sorted_rows(duck)
    assert len(actual) == len(expected), f"{len(actual)} preview rows, {len(expected)} Spark rows"
    for preview_row, spark_row in zip(actual, expected, strict=True):
        assert preview_row == spark_row
    return expected
