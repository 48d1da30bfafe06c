"""Run one node of a job on DuckDB (the preview) and on Spark (the generated code), and compare."""

from __future__ import annotations

from codegen.duckdb_preview import PreviewEngine
from designer.model import Job
from designer.spark_check import normalize, normalize_row, run_on_spark
from designer.spark_check import sorted_rows as _sorted

__all__ = ["assert_same_result", "normalize", "preview_rows", "sorted_rows", "spark_rows"]


def preview_rows(job: Job, node_id: str) -> tuple[list[str], list[tuple]]:
    """Return the column names and rows of a node's DuckDB preview, or raise its error."""
    preview = PreviewEngine().preview(job, node_id)
    if not preview.ok:
        raise AssertionError(f"preview of {node_id} failed: {preview.error}")
    table = preview.table
    return table.column_names, [tuple(row.values()) for row in table.to_pylist()]


def spark_rows(spark, job: Job, node_id: str) -> tuple[list[str], list[tuple]]:
    """Run the generated PySpark blocks up to a node in a shared session, reading the files."""
    return run_on_spark(spark, job, node_id)


def sorted_rows(rows: list[tuple]) -> list[tuple]:
    return _sorted([normalize_row(row) for row in rows])


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
