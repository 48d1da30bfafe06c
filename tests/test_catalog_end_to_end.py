"""The data catalog, a PostgreSQL table and a durable run, used together as a user would.

Every step goes through the `sparkcanvas` command. The setup crawls a copy of
assets/data/sales_catalog and adds a connection whose password is in an environment variable.
Its job reads two years of the crawled orders, joins them to a PostgreSQL table of departments,
aggregates and writes a partitioned Data Catalog table. The tests check that each node's
preview gives Spark's rows, and that the run registers the table with its schema and
partitions and reads only the selected partitions. They also check that a re-crawl records a
new schema version and that no written file contains the password.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import psycopg
import pytest
from pyspark.sql import functions

from codegen.pyspark import node_blocks
from codegen.quoting import sql_literal
from designer.cli import json_value
from designer.model import Job, save_job
from designer.spark_check import normalize_row, run_on_spark, sorted_rows
from designer.validation import validate
from tests.conftest import ASSETS
from tests.jobs import node

pytestmark = [pytest.mark.postgres, pytest.mark.spark]

SPARKCANVAS = str(Path(sys.executable).parent / "sparkcanvas")
PASSWORD_VARIABLE = "SPARKCANVAS_E2E_PG_PASSWORD"
RUN_TIMEOUT_SECONDS = 300
PREDICATE = "year >= 2020 AND year < 2022"
SELECTED_YEARS = {2020, 2021}
# Every category of the orders but `grocery`, so the inner join drops rows. No order has `garden`.
DEPARTMENTS_SQL = [
    "DROP TABLE IF EXISTS departments",
    "CREATE TABLE departments (category text PRIMARY KEY, department text NOT NULL, margin numeric(4,2))",
    "INSERT INTO departments VALUES ('office', 'Stationery', 0.30), ('kitchen', 'Home', 0.25), "
    "('drink', 'Food & Drink', 0.40), ('garden', 'Outdoor', 0.10)",
]
NODE_IDS = ["orders", "departments", "joined", "sales_by_department", "write_sales"]


@dataclass
class Setup:
    """What the module fixture built: folders, the environment of every command, the job file."""

    data: Path
    home: Path
    output: Path
    job_path: Path
    environment: dict[str, str]
    password: str
    crawl: subprocess.CompletedProcess
    run: subprocess.CompletedProcess | None = None


def sparkcanvas(setup: Setup, *arguments: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [SPARKCANVAS, *arguments],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=setup.environment,
        cwd=setup.home.parent,
    )


def build_job(output: Path, sample_rows: int, predicate: str = PREDICATE) -> Job:
    orders = node("orders", "source.catalog", database="shop", table="orders", partition_predicate=predicate)
    departments = node("departments", "source.jdbc", connection="warehouse_pg", table="departments")
    joined = node(
        "joined",
        "transform.join",
        {"left": "orders", "right": "departments"},
        join_type="inner",
        keys=[{"left": "category", "right": "category"}],
    )
    aggregate = node(
        "sales_by_department",
        "transform.aggregate",
        {"in": "joined"},
        group_by=["department", "year"],
        aggregations=[
            {"function": "count", "column": "order_id", "name": "orders"},
            {"function": "sum", "column": "price", "name": "revenue"},
        ],
    )
    target = node(
        "write_sales",
        "target.catalog",
        {"in": "sales_by_department"},
        database="shop",
        table="department_sales",
        path=str(output),
        format="parquet",
        mode="overwrite",
        partition_keys=["year"],
        update_catalog="create_update_schema",
    )
    return Job(
        name="department_sales",
        nodes=[orders, departments, joined, aggregate, target],
        sample_rows=sample_rows,
    )


@pytest.fixture(scope="module")
def setup(postgres_server, tmp_path_factory) -> Setup:
    """Crawl the sales folder, create the PostgreSQL table and the connection, save the job."""
    root = tmp_path_factory.mktemp("catalog-end-to-end")
    data = root / "sales_catalog"
    subprocess.run(["cp", "-r", str(ASSETS / "data" / "sales_catalog"), str(data)], check=True)
    home = root / "home"
    environment = {
        **os.environ,
        "SPARKCANVAS_HOME": str(home),
        "SPARK_LOCAL_IP": "127.0.0.1",
        PASSWORD_VARIABLE: postgres_server.password,
    }
    for name in ("SPARKCANVAS_CATALOG", "SPARKCANVAS_RUNS_DB"):
        environment.pop(name, None)
    with psycopg.connect(postgres_server.conninfo(), autocommit=True) as connection:
        for statement in DEPARTMENTS_SQL:
            connection.execute(statement)

    setup = Setup(
        data,
        home,
        root / "warehouse" / "department_sales",
        root / "sales.job.json",
        environment,
        postgres_server.password,
        crawl=None,
    )
    setup.crawl = sparkcanvas(setup, "catalog", "crawl", str(data), "--database", "shop")
    assert setup.crawl.returncode == 0, setup.crawl.stderr
    added = sparkcanvas(
        setup,
        "connection", "add", "warehouse_pg",
        "--host", postgres_server.host,
        "--port", str(postgres_server.port),
        "--database", postgres_server.database,
        "--user", postgres_server.user,
        "--password-env", PASSWORD_VARIABLE,
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    save_job(build_job(setup.output, sample_rows=100_000), setup.job_path)
    return setup


@pytest.fixture(scope="module")
def in_process(setup):
    """Point this process at the fixture's catalog, for the in-process Spark runs."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SPARKCANVAS_HOME", str(setup.home))
        patch.setenv(PASSWORD_VARIABLE, setup.password)
        from catalog import postgres

        postgres.clear_schema_cache()
        yield setup


@pytest.fixture(scope="module")
def finished_run(setup) -> Setup:
    """Run the saved job once with `sparkcanvas run`."""
    setup.run = sparkcanvas(
        setup, "run", str(setup.job_path), "--master", "local[2]", "-q", timeout=RUN_TIMEOUT_SECONDS
    )
    return setup


def preview_json(setup: Setup, job_path: Path, node_id: str) -> tuple[list[dict], list[str]]:
    """Return a node's preview rows and notes, from `sparkcanvas preview --format json`."""
    completed = sparkcanvas(setup, "preview", str(job_path), "--node", node_id, "--format", "json")
    assert completed.returncode == 0, completed.stderr
    notes = [
        line.removeprefix("note: ") for line in completed.stderr.splitlines() if line.startswith("note: ")
    ]
    return json.loads(completed.stdout), notes


def comparable(rows: list[tuple], schema) -> list[tuple]:
    """Bring rows to one form: JSON values as the preview prints them, timestamps as naive UTC."""
    converted = []
    for row in rows:
        values = []
        for value, column in zip(row, schema, strict=True):
            if isinstance(value, str) and column.type == "timestamp":
                value = datetime.fromisoformat(value)
            if isinstance(value, str) and column.type.startswith("decimal"):
                value = Decimal(value)
            values.append(value)
        converted.append(normalize_row(values))
    return sorted_rows(converted)


def json_rows(rows: list[dict], schema) -> list[tuple]:
    return comparable([tuple(row[column.name] for column in schema) for row in rows], schema)


def spark_json_rows(rows: list[tuple], schema) -> list[tuple]:
    """Spark's rows through the preview's JSON conversion, so both sides carry the same types."""
    return comparable([tuple(json_value(value) for value in row) for row in rows], schema)


def written_rows(spark, location: Path) -> tuple[list[str], list[tuple]]:
    frame = spark.read.parquet(str(location))
    return frame.columns, [tuple(row) for row in frame.collect()]


def catalog_table(setup: Setup, name: str) -> dict:
    completed = sparkcanvas(setup, "catalog", "show", f"shop.{name}", "--format", "json")
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout)


# --- (a) every node's preview gives Spark's rows ------------------------------------------------------


@pytest.mark.parametrize("node_id", NODE_IDS[:-1])
def test_preview_matches_spark(setup, in_process, spark, node_id):
    job = build_job(setup.output, sample_rows=100_000)
    schema = validate(job).schemas[node_id]
    rows, notes = preview_json(setup, setup.job_path, node_id)
    row_notes = [note for note in notes if "rows" in note]

    assert row_notes, notes
    assert all("all " in note and "fewer than the sample size" in note for note in row_notes), notes

    columns, on_spark = run_on_spark(spark, job, node_id)
    assert [column.name for column in schema] == columns
    assert json_rows(rows, schema) == spark_json_rows(on_spark, schema)


def test_preview_of_target_matches_written_rows(finished_run, in_process, spark):
    setup = finished_run
    assert setup.run.returncode == 0, setup.run.stdout[-3000:] + setup.run.stderr[-3000:]
    schema = validate(build_job(setup.output, 100_000)).schemas["sales_by_department"]
    rows, _ = preview_json(setup, setup.job_path, "write_sales")
    columns, written = written_rows(spark, setup.output)
    by_name = [dict(zip(columns, row, strict=True)) for row in written]

    assert sorted(columns) == sorted(column.name for column in schema)
    assert json_rows(rows, schema) == spark_json_rows(
        [tuple(row[column.name] for column in schema) for row in by_name], schema
    )


def test_sampled_preview_within_run_counts(finished_run, in_process, spark, tmp_path):
    """Check that a 500-row preview reports its sample and counts no group above the run's count."""
    setup = finished_run
    job_path = tmp_path / "sampled.job.json"
    save_job(build_job(setup.output, sample_rows=500), job_path)
    rows, notes = preview_json(setup, job_path, "write_sales")
    columns, written = written_rows(spark, setup.output)
    full = {(row[columns.index("department")], row[columns.index("year")]): row[columns.index("orders")]
            for row in written}  # fmt: skip

    assert any("500" in note for note in notes), notes
    assert sum(row["orders"] for row in rows) <= 500
    for row in rows:
        assert row["orders"] <= full[(row["department"], row["year"])], row


# --- (b) the run, the written table in the catalog, partition pruning ------------------------------------


def test_run_succeeds_and_reports_rows(finished_run):
    run = finished_run.run
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "write_sales wrote 6 rows to" in run.stdout


def test_written_table_in_catalog(finished_run):
    table = catalog_table(finished_run, "department_sales")
    columns = [(column["name"], column["type"]) for column in table["columns"]]
    keys = [(column["name"], column["type"]) for column in table["partition_keys"]]
    partitions = sorted(tuple(sorted(p["values"].items())) for p in table["partitions"])

    assert table["location"] == str(finished_run.output)
    assert table["format"] == "parquet"
    assert columns == [("department", "string"), ("orders", "bigint"), ("revenue", "decimal(16,2)")]
    assert keys == [("year", "int")]
    assert partitions == [(("year", "2020"),), (("year", "2021"),)]
    assert table["row_count"] == 6


def test_only_selected_partitions_read(finished_run, spark):
    setup = finished_run
    _, notes = preview_json(setup, setup.job_path, "orders")
    columns, written = written_rows(spark, setup.output)
    years = {row[columns.index("year")] for row in written}
    orders_by_year = dict(
        duckdb.sql(
            "SELECT year, count(*) FROM read_parquet("
            + sql_literal(str(setup.data / "orders" / "*" / "*.parquet"))
            + ", hive_partitioning = true) WHERE category <> 'grocery' GROUP BY year"
        ).fetchall()
    )
    spark_orders = {}
    for row in written:
        year = row[columns.index("year")]
        spark_orders[year] = spark_orders.get(year, 0) + row[columns.index("orders")]

    note = " ".join(notes)
    assert "year=2020" in note, notes
    assert "year=2021" in note, notes
    for year in (2018, 2019, 2022):
        assert f"year={year}" not in note, notes
    assert years == SELECTED_YEARS
    assert spark_orders == {year: orders_by_year[year] for year in SELECTED_YEARS}


def test_crawl_of_written_folder_changes_nothing(finished_run):
    """Crawling the folder the run wrote finds the table the runner registered, unchanged."""
    setup = finished_run
    before = catalog_table(setup, "department_sales")

    crawled = sparkcanvas(setup, "catalog", "crawl", str(setup.output.parent), "--database", "shop")
    after = catalog_table(setup, "department_sales")

    assert crawled.returncode == 0, crawled.stderr
    assert "0 new table(s), 0 new partition(s), 0 schema change(s)" in crawled.stdout
    assert "0 incompatible change(s)" in crawled.stdout
    assert after["version"] == before["version"]
    assert after["columns"] == before["columns"]


def scan_metrics(frame) -> dict[str, int]:
    """Collect a frame and return the metrics of its file scan, such as numPartitions and numFiles."""
    frame.collect()
    leaves = frame._jdf.queryExecution().executedPlan().collectLeaves().iterator()
    while leaves.hasNext():
        leaf = leaves.next()
        if leaf.nodeName().startswith("Scan "):
            metrics, names = leaf.metrics(), leaf.metrics().keys().iterator()
            values = {}
            while names.hasNext():
                name = names.next()
                values[name] = int(metrics.apply(name).value())
            return values
    raise AssertionError("the plan has no file scan")


def test_spark_scans_only_selected_partitions(setup, in_process, spark):
    """The script's read of the catalog table lets Spark prune the partitions the predicate excludes."""
    job = build_job(setup.output, sample_rows=100_000)
    [block] = [block for block in node_blocks(job) if block.node_id == "orders"]
    namespace = {"spark": spark, "F": functions, "args": argparse.Namespace(), "os": os}
    namespace["log"] = logging.getLogger("sparkcanvas.test")
    exec(compile(block.code, "<node orders>", "exec"), namespace)

    metrics = scan_metrics(namespace[block.variable])

    assert metrics["numPartitions"] == len(SELECTED_YEARS)
    assert metrics["numFiles"] == len(SELECTED_YEARS)


# --- (c) a re-crawl after a new column --------------------------------------------------------------------


def test_recrawl_records_new_schema_version(finished_run):
    setup = finished_run
    products = setup.data / "products" / "products.json"
    lines = products.read_text(encoding="utf-8").splitlines()
    with_stock = [
        json.dumps({**json.loads(line), "in_stock": index % 2 == 0}) for index, line in enumerate(lines)
    ]
    products.write_text("\n".join(with_stock) + "\n", encoding="utf-8")

    crawled = sparkcanvas(setup, "catalog", "crawl", str(setup.data), "--database", "shop")
    table = catalog_table(setup, "products")

    assert crawled.returncode == 0, crawled.stderr
    assert "shop.products" in crawled.stdout
    assert table["version"] == 2
    assert [version["version"] for version in table["schema_versions"]] == [1, 2]
    assert "in_stock" in table["schema_versions"][-1]["change"]
    assert ("in_stock", "boolean") in [(column["name"], column["type"]) for column in table["columns"]]
    assert catalog_table(setup, "orders")["version"] == 1


@pytest.mark.parametrize("predicate", ["year = 2021", "year >= 2022"])
def test_preview_reads_old_partitions_after_new_column(finished_run, in_process, spark, tmp_path, predicate):
    """A column added by a new partition's files is NULL in the older ones, in the preview as in Spark."""
    setup = finished_run
    new_partition = setup.data / "orders" / "year=2023"
    if not new_partition.exists():
        new_partition.mkdir()
        source = sql_literal(str(setup.data / "orders" / "year=2022" / "part-0.parquet"))
        duckdb.sql(
            f"COPY (SELECT *, CAST(0.1 AS DOUBLE) AS discount FROM read_parquet({source})) "
            f"TO {sql_literal(str(new_partition / 'part-0.parquet'))} (FORMAT parquet)"
        )
    crawled = sparkcanvas(setup, "catalog", "crawl", str(setup.data), "--database", "shop")
    assert crawled.returncode == 0, crawled.stderr
    columns = catalog_table(setup, "orders")["columns"]
    assert ("discount", "double") in [(column["name"], column["type"]) for column in columns]
    job = build_job(setup.output, sample_rows=100_000, predicate=predicate)
    job_path = tmp_path / "evolved.job.json"
    save_job(job, job_path)
    schema = validate(job).schemas["orders"]

    rows, _ = preview_json(setup, job_path, "orders")
    columns, on_spark = run_on_spark(spark, job, "orders")

    assert columns == [column.name for column in schema]
    assert json_rows(rows, schema) == spark_json_rows(on_spark, schema)


# --- (d) the password ----------------------------------------------------------------------------------


def test_no_written_file_contains_password(finished_run):
    setup = finished_run
    secret = setup.password.encode()
    folders = [setup.home, setup.output, setup.job_path.parent]
    written = sorted({path for folder in folders for path in folder.rglob("*") if path.is_file()})

    assert any(path.name == "catalog.db" for path in written)
    assert any(path.name == "log.txt" for path in written)
    assert any(path.suffix == ".py" for path in written), "the run's script was not kept"
    for path in written:
        assert secret not in path.read_bytes(), f"{path} contains the password"
    for completed in (setup.crawl, setup.run):
        assert setup.password not in completed.stdout + completed.stderr


def test_catalog_holds_variable_not_password(finished_run):
    listed = sparkcanvas(finished_run, "connection", "list", "--format", "json")
    [connection] = json.loads(listed.stdout)

    assert listed.returncode == 0, listed.stderr
    assert connection["password_env"] == PASSWORD_VARIABLE
    assert finished_run.password not in listed.stdout
