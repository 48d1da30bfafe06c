"""The Data Catalog nodes on DuckDB (the preview) and on Spark (the generated code) over the same
files. Whole scripts also run in the shared Spark session, to check the write, the registration
in Spark's own catalog and the catalog update that the runner makes afterwards."""

from __future__ import annotations

import argparse

import pytest

from catalog.errors import CatalogError
from catalog.targets import update_catalog_after_run
from codegen.pyspark import emit_script
from designer.validation import validate
from tests.catalog_tables import build_sales_catalog
from tests.conftest import ROOT
from tests.fidelity import assert_same_result
from tests.jobs import job, node

pytestmark = pytest.mark.spark


@pytest.fixture
def sales(tmp_path, monkeypatch):
    catalog_file = tmp_path / "catalog.db"
    monkeypatch.setenv("SPARKCANVAS_CATALOG", str(catalog_file))
    return build_sales_catalog(tmp_path / "data", catalog_file)


def catalog_source(table: str, predicate: str = ""):
    return node(table, "source.catalog", database="sales", table=table, partition_predicate=predicate)


def lookup(upstream, columns=("name", "city")):
    return node(
        "result",
        "transform.lookup",
        {"in": upstream.id},
        database="sales",
        table="customers",
        keys=[{"input": "customer_id", "lookup": "id"}],
        columns=list(columns),
    )


def _lookup_job():
    orders = catalog_source("orders")
    return job(orders, lookup(orders))


CASES = {
    "catalog parquet every partition with null partition": lambda: job(catalog_source("orders")),
    "catalog parquet predicate on partitions": lambda: job(
        catalog_source("orders", "year = 2025 OR region IS NULL")
    ),
    "catalog parquet predicate matching nothing": lambda: job(catalog_source("orders", "year > 2030")),
    "catalog csv with options, no partitions": lambda: job(catalog_source("customers")),
    "catalog json date predicate": lambda: job(catalog_source("events", "day >= DATE'2024-01-02'")),
    "lookup duplicate and null keys": _lookup_job,
    "target catalog previews its input": lambda: job(
        catalog_source("orders"),
        node("result", "target.catalog", {"in": "orders"}, database="sales", table="never_written"),
    ),
}
CATALOG_CASE_TYPES = {"source.catalog", "transform.lookup", "target.catalog"}


@pytest.mark.parametrize("case", list(CASES))
def test_catalog_preview_matches_spark(spark, sales, case):
    the_job = CASES[case]()
    assert_same_result(spark, the_job, the_job.nodes[-1].id)


def test_cases_cover_every_catalog_node_type(sales):
    assert {CASES[case]().nodes[-1].type for case in CASES} == CATALOG_CASE_TYPES


def test_lookup_rows_multiply_on_spark(spark, sales):
    rows = assert_same_result(spark, _lookup_job(), "result")
    assert len(rows) == 8


def run_script(spark, the_job, parameters: dict[str, str] | None = None) -> None:
    """Run a job's whole generated script in the shared session, writes included."""
    namespace = {"__name__": "sparkcanvas_test_script"}
    exec(compile(emit_script(the_job), f"<{the_job.name}>", "exec"), namespace)
    values = {**the_job.parameter_defaults(), **(parameters or {})}
    namespace["run"](spark, argparse.Namespace(**values))


@pytest.fixture
def spark_database(spark, tmp_path):
    """A database of Spark's catalog with its folder under tmp_path, dropped after the test.

    Creating it here keeps the script's CREATE DATABASE IF NOT EXISTS from making a folder in
    the default warehouse. Spark still creates the empty warehouse folder itself
    (./spark-warehouse), which is removed again when the test made it.
    """
    warehouse = ROOT / "spark-warehouse"
    existed = warehouse.exists()
    name = f"canvas_{tmp_path.name.replace('-', '_')[-20:]}"
    spark.sql(f"CREATE DATABASE `{name}` LOCATION '{tmp_path / 'spark-db'}'")
    yield name
    spark.sql(f"DROP DATABASE IF EXISTS `{name}` CASCADE")
    if not existed and warehouse.is_dir() and not any(warehouse.iterdir()):
        warehouse.rmdir()


def test_target_catalog_run_updates_both_catalogs(spark, sales, spark_database, tmp_path):
    location = tmp_path / "orders_by_year"
    target = node(
        "write",
        "target.catalog",
        {"in": "orders"},
        database="warehouse",
        table="orders_by_year",
        path=str(location),
        partition_keys=["year"],
        update_catalog="keep_schema_add_partitions",
        spark_table=f"{spark_database}.orders_by_year",
    )
    the_job = job(catalog_source("orders", "year = 2024"), target)
    run_script(spark, the_job)

    queried = spark.sql(f"SELECT year, count(*) FROM {spark_database}.orders_by_year GROUP BY year").collect()
    assert [tuple(row) for row in queried] == [(2024, 3)]
    messages = update_catalog_after_run(the_job, {})
    assert messages[0].startswith("node write: created table warehouse.orders_by_year")
    assert messages[1] == "node write: added 1 partitions to warehouse.orders_by_year: year=2024"

    # The next run appends the 2025 partition: the catalog keeps the schema and adds it.
    the_job.node("orders").params["partition_predicate"] = "year = 2025"
    run_script(spark, the_job)
    assert update_catalog_after_run(the_job, {}) == [
        "node write: added 1 partitions to warehouse.orders_by_year: year=2025"
    ]
    table = sales.get_table("warehouse", "orders_by_year")
    assert table.row_count == 6
    queried = spark.sql(f"SELECT count(*) FROM {spark_database}.orders_by_year").collect()
    assert queried[0][0] == 6

    # Both engines read the table the run wrote, as the catalog now describes it.
    written = node("written", "source.catalog", database="warehouse", table="orders_by_year")
    rows = assert_same_result(spark, job(written), "written")
    assert len(rows) == 6


def test_keep_schema_rejects_a_changed_input(spark, sales, tmp_path):
    location = tmp_path / "customers_copy"
    target = node(
        "write",
        "target.catalog",
        {"in": "customers"},
        database="sales",
        table="customers_copy",
        path=str(location),
        format="csv",
        update_catalog="keep_schema_add_partitions",
    )
    the_job = job(catalog_source("customers"), target)
    run_script(spark, the_job)
    update_catalog_after_run(the_job, {})

    # Dropping a column upstream no longer matches the table that keeps its schema.
    narrower = node(
        "narrow",
        "transform.change_schema",
        {"in": "customers"},
        mappings=[{"source": "id"}, {"source": "name"}, {"source": "city", "drop": True}],
    )
    target.inputs = {"in": "narrow"}
    changed = job(catalog_source("customers"), narrower, target)
    problems = validate(changed).problems
    assert problems[0].parameter == "update_catalog"
    assert "does not match the schema of sales.customers_copy" in problems[0].message
    with pytest.raises(CatalogError, match="keeps its schema"):
        update_catalog_after_run(changed, {})


def test_file_target_registers_a_spark_table(spark, sales, spark_database, tmp_path):
    location = tmp_path / "customers_files"
    target = node(
        "write",
        "target.file",
        {"in": "customers"},
        path=str(location),
        format="csv",
        spark_table=f"{spark_database}.customers_files",
    )
    run_script(spark, job(catalog_source("customers"), target))
    rows = spark.sql(
        f"SELECT id, name, city FROM {spark_database}.customers_files WHERE id = 10 ORDER BY name"
    ).collect()
    assert [tuple(row) for row in rows] == [(10, "Ann", "Paris"), (10, "Ann B", "Lyon")]
