"""PostgreSQL connections and the JDBC nodes, against a real PostgreSQL server on 127.0.0.1.

Covers passwords, test connections, the type mapping checked against Spark's own JDBC read,
the preview's sample, partitioned reads, append and overwrite writes, a real `sparkcanvas run`,
and a scan of every file the product wrote for the password. Each write is one transaction, so
the tests also check that a failed write keeps the table's rows.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
import pytest

from catalog import postgres
from catalog.model import Connection
from catalog.store import open_catalog
from codegen.duckdb_preview import PreviewEngine
from codegen.pyspark import emit_script, node_blocks, variable_name
from codegen.pyspark_jdbc import helper_sections
from codegen.safe_write import RUN_ID_CONF
from designer.errors import JobValidationError
from designer.model import save_job
from designer.spark_check import check_node, normalize_row, run_on_spark, sorted_rows
from designer.validation import validate
from tests.fidelity import assert_same_result
from tests.jobs import job, node
from tests.test_codegen import ruff_check

pytestmark = pytest.mark.postgres

# The node types whose preview this module compares with Spark; tests/test_fidelity.py counts them
# as covered, since their cases need the PostgreSQL server.
JDBC_CASE_TYPES = {"source.jdbc", "target.jdbc"}

PASSWORD_VARIABLE = "SPARKCANVAS_TEST_PG_PASSWORD"
GOLDEN = Path(__file__).resolve().parent / "golden" / "postgres_orders.py"
SPARK_RUN_TIMEOUT = 300

SETUP_SQL = [
    "DROP TABLE IF EXISTS orders, types_table, orders_copy, wide CASCADE",
    "DROP SCHEMA IF EXISTS sales CASCADE",
    "DROP SEQUENCE IF EXISTS counter",
    "CREATE SEQUENCE counter",
    "CREATE TABLE orders (id integer PRIMARY KEY, customer text, amount numeric(10,2), "
    "placed date, created timestamptz, note varchar(20))",
    "INSERT INTO orders SELECT i, 'customer ' || (i % 3), i * 1.25, date '2024-01-01' + i, "
    "timestamptz '2024-01-01 00:00:00+00' + i * interval '1 hour', "
    "CASE WHEN i % 5 = 0 THEN NULL ELSE 'note ' || i END FROM generate_series(1, 20) AS i",
    "CREATE SCHEMA sales",
    'CREATE TABLE sales."Mixed Case" (k bigint, "Value" text)',
    "INSERT INTO sales.\"Mixed Case\" VALUES (1, 'one'), (2, 'it''s \"two\"')",
    "CREATE TABLE types_table (a integer, b bigint, c smallint, d numeric(12,3), e numeric, "
    "f real, g double precision, h text, i varchar(10), j char(3), k boolean, l date, "
    "m timestamp, n timestamptz, o bytea, p uuid, q jsonb, r integer[], s text[], "
    't numeric(50,20), u money, v bit(1), w "char")',
    "INSERT INTO types_table VALUES (1, 9000000000, 7, 12.345, 2.25, 1.5, 2.5, 'héllo', 'v', 'ab', "
    "true, '2024-02-29', '2024-01-02 03:04:05', '2024-01-02 03:04:05+02', '\\x00ff', "
    "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{\"k\": [1, 2]}', '{1,NULL,3}', '{x,y}', "
    "123.456, 4.5, B'1', 'z')",
    "INSERT INTO types_table (a) VALUES (NULL)",
]


@pytest.fixture(scope="module")
def database(postgres_server):
    """Create the test tables once; return the server."""
    with psycopg.connect(postgres_server.conninfo(), autocommit=True) as connection:
        for statement in SETUP_SQL:
            connection.execute(statement)
    return postgres_server


@pytest.fixture
def conn(database, sparkcanvas_home, monkeypatch) -> Connection:
    """Save a connection `shop` whose password is in an environment variable."""
    monkeypatch.setenv(PASSWORD_VARIABLE, database.password)
    postgres.clear_schema_cache()
    connection = Connection(
        name="shop",
        host=database.host,
        port=database.port,
        database=database.database,
        user=database.user,
        password_env=PASSWORD_VARIABLE,
    )
    return open_catalog().save_connection(connection)


def query(server, statement: str) -> list[tuple]:
    with psycopg.connect(server.conninfo(), autocommit=True) as connection:
        cursor = connection.execute(statement)
        return cursor.fetchall() if cursor.description else []


def orders_job(**params):
    values = {"connection": "shop", "table": "orders", **params}
    return job(node("orders", "source.jdbc", **values))


# --- passwords and test connections ------------------------------------------------------------


def test_connection_ok_with_environment_variable(conn):
    assert postgres.test_connection(conn).startswith("PostgreSQL 15")


def test_connection_ok_with_password_file(conn, database, tmp_path):
    secret = tmp_path / "password"
    secret.write_text(database.password + "\n", encoding="utf-8")
    secret.chmod(0o600)
    with_file = Connection(**{**conn.__dict__, "password_env": "", "password_file": str(secret)})
    assert postgres.test_connection(with_file).startswith("PostgreSQL")


def test_password_file_readable_by_others_warns(conn, database, tmp_path, caplog):
    secret = tmp_path / "password"
    secret.write_text(database.password, encoding="utf-8")
    secret.chmod(0o644)
    with_file = Connection(**{**conn.__dict__, "password_env": "", "password_file": str(secret)})
    with caplog.at_level(logging.WARNING, logger="catalog.postgres"):
        assert postgres.test_connection(with_file).startswith("PostgreSQL")
    assert "readable by other users" in caplog.text
    assert "chmod 600" in caplog.text
    assert database.password not in caplog.text


def test_wrong_password_fails(conn, monkeypatch):
    monkeypatch.setenv(PASSWORD_VARIABLE, "not-the-password")
    with pytest.raises(postgres.PostgresConnectError, match="'shop'.*password authentication failed"):
        postgres.test_connection(conn)


def test_unknown_variable_fails(conn, monkeypatch):
    monkeypatch.delenv(PASSWORD_VARIABLE)
    with pytest.raises(postgres.PostgresConnectError, match=f"'shop'.*{PASSWORD_VARIABLE} is not set"):
        postgres.test_connection(conn)


def test_missing_password_file_fails(conn, tmp_path):
    missing = tmp_path / "no-such-file"
    with_file = Connection(**{**conn.__dict__, "password_env": "", "password_file": str(missing)})
    with pytest.raises(postgres.PostgresConnectError, match=f"'shop'.*{missing} not found"):
        postgres.test_connection(with_file)


def test_unreachable_server_is_a_node_error(conn):
    closed_port = Connection(**{**conn.__dict__, "name": "closed", "port": 1})
    open_catalog().save_connection(closed_port)
    validation = validate(orders_job(connection="closed"))
    [problem] = validation.problems
    assert problem.parameter == "connection"
    assert "cannot connect to" in problem.message


def test_cli_connection_commands(conn, database):
    environment = {**os.environ}
    command = [str(Path(sys.executable).parent / "sparkcanvas"), "connection"]
    tested = subprocess.run([*command, "test", "shop"], capture_output=True, text=True, env=environment)
    assert tested.returncode == 0, tested.stderr
    assert "connection shop OK: PostgreSQL" in tested.stdout
    listed = subprocess.run([*command, "list", "--format", "json"], capture_output=True, text=True)
    assert json.loads(listed.stdout)[0]["password_env"] == PASSWORD_VARIABLE
    added = subprocess.run(
        [
            *command,
            "add",
            "other",
            "--host",
            "127.0.0.1",
            "--database",
            "d",
            "--user",
            "u",
            "--password-env",
            "OTHER_PASSWORD",
        ],
        capture_output=True,
        text=True,
    )
    assert added.returncode == 0, added.stderr
    failed = subprocess.run([*command, "test", "other"], capture_output=True, text=True)
    assert failed.returncode == 1
    assert "OTHER_PASSWORD is not set" in failed.stderr
    deleted = subprocess.run([*command, "delete", "other"], capture_output=True, text=True)
    assert deleted.returncode == 0, deleted.stderr
    assert [item.name for item in open_catalog().list_connections()] == ["shop"]


# --- schemas and the type mapping ------------------------------------------------------------------


def spark_jdbc_schema(spark, server, table: str) -> list[tuple[str, str]]:
    frame = (
        spark.read.format("jdbc")
        .option("driver", postgres.JDBC_DRIVER)
        .option("url", f"jdbc:postgresql://{server.host}:{server.port}/{server.database}")
        .option("user", server.user)
        .option("password", server.password)
        .option("dbtable", table)
        .load()
    )
    return [(field.name, field.dataType.simpleString()) for field in frame.schema.fields]


@pytest.mark.spark
def test_type_mapping_matches_spark(conn, database, spark):
    ours = [(column.name, column.type) for column in postgres.table_schema(conn, table="types_table")]
    assert ours == spark_jdbc_schema(spark, database, "types_table")
    assert dict(ours)["t"] == "decimal(38,8)"


def test_schema_of_query_and_quoted_table(conn):
    by_query = postgres.table_schema(conn, query="SELECT id, amount * 2 AS doubled FROM orders")
    assert [(c.name, c.type) for c in by_query] == [("id", "int"), ("doubled", "decimal(38,18)")]
    quoted = postgres.table_schema(conn, table="sales.Mixed Case")
    assert [(c.name, c.type) for c in quoted] == [("k", "bigint"), ("Value", "string")]


def test_unknown_table_suggests_names(conn):
    with pytest.raises(postgres.PostgresTableNotFoundError, match="Did you mean 'orders'"):
        postgres.table_schema(conn, table="order")


def test_hostile_table_name_stays_a_name(conn, database):
    with pytest.raises(postgres.PostgresTableNotFoundError, match="does not exist"):
        postgres.table_schema(conn, table='orders"; DROP TABLE orders; --')
    assert query(database, "SELECT count(*) FROM orders") == [(20,)]


# --- preview ---------------------------------------------------------------------------------------


@pytest.mark.spark
def test_preview_sample_matches_spark(conn, spark):
    sampled = orders_job()
    sampled.sample_rows = 5
    preview = PreviewEngine().preview(sampled, "orders")
    assert preview.ok, preview.error
    assert preview.row_count == 5
    assert preview.sampled
    assert any("first 5 rows of table orders" in note for note in preview.notes)
    assert [(c.name, c.type) for c in preview.schema][:3] == [
        ("id", "int"),
        ("customer", "string"),
        ("amount", "decimal(10,2)"),
    ]
    check = check_node(sampled, "orders", spark=spark)
    assert check.matches, check.summary()


@pytest.mark.spark
def test_preview_of_every_type_matches_spark(conn, spark):
    every_type = orders_job(table="types_table")
    assert_same_result(spark, every_type, "orders")


def test_preview_readonly_query(conn, database):
    writes = orders_job(table="", query="SELECT nextval('counter') AS n")
    preview = PreviewEngine().preview(writes, "orders")
    assert not preview.ok
    assert "read-only transaction" in preview.error
    assert query(database, "SELECT last_value, is_called FROM counter") == [(1, False)]


# --- Spark reads -------------------------------------------------------------------------------------


@pytest.mark.spark
def test_spark_reads_table(conn, spark):
    rows = assert_same_result(spark, orders_job(), "orders")
    assert len(rows) == 20


@pytest.mark.spark
def test_spark_reads_query(conn, spark):
    by_query = orders_job(
        table="", query="SELECT customer, sum(amount) AS total\nFROM orders GROUP BY customer"
    )
    rows = assert_same_result(spark, by_query, "orders")
    assert len(rows) == 3


@pytest.mark.spark
def test_spark_reads_partitioned(conn, spark):
    partitioned = orders_job(partition_column="id", lower_bound="1", upper_bound="20", num_partitions=4)
    frame_rows = assert_same_result(spark, partitioned, "orders")
    assert len(frame_rows) == 20
    blocks = {block.node_id: block.code for block in node_blocks(partitioned)}
    assert '.option("numPartitions", 4)' in blocks["orders"]
    namespace = spark_namespace(spark, partitioned)
    assert namespace["orders"].rdd.getNumPartitions() == 4


@pytest.mark.spark
def test_spark_reads_partitioned_query_by_date(conn, spark):
    partitioned = orders_job(
        table="",
        query="SELECT id, placed FROM orders WHERE id > 10",
        partition_column="placed",
        lower_bound="2024-01-01",
        upper_bound="2024-01-21",
        num_partitions=2,
    )
    rows = assert_same_result(spark, partitioned, "orders")
    assert len(rows) == 10


def test_partition_settings_are_checked(conn):
    cases = [
        (
            {"partition_column": "customer", "lower_bound": "1", "upper_bound": "2", "num_partitions": 2},
            "partition_column",
            "numeric, date or timestamp",
        ),
        (
            {"partition_column": "idd", "lower_bound": "1", "upper_bound": "2", "num_partitions": 2},
            "partition_column",
            "Did you mean 'id'",
        ),
        (
            {"partition_column": "id", "lower_bound": "x", "upper_bound": "2", "num_partitions": 2},
            "lower_bound",
            "invalid lower_bound 'x'",
        ),
        (
            {"partition_column": "id", "lower_bound": "5", "upper_bound": "2", "num_partitions": 2},
            "upper_bound",
            "below lower bound",
        ),
        (
            {"partition_column": "id", "lower_bound": "1", "upper_bound": "2", "num_partitions": 0},
            "num_partitions",
            "use 1 or more",
        ),
        ({"lower_bound": "1"}, "lower_bound", "needs a partition column"),
        ({"query": "SELECT 1;"}, "query", "set a table or a query, not both"),
        ({"table": "", "query": "SELECT 1;"}, "query", "ends with ';'"),
    ]
    for params, parameter, message in cases:
        [problem] = validate(orders_job(**params)).problems
        assert problem.parameter == parameter, params
        assert message in problem.message, problem.message


def spark_namespace(spark, the_job) -> dict:
    """Run every block of a job's script, targets included, in the test session; return its variables."""
    import argparse

    from pyspark.sql import Observation, SparkSession
    from pyspark.sql import functions as F

    namespace = {
        "spark": spark,
        "F": F,
        "Observation": Observation,
        "SparkSession": SparkSession,
        "os": os,
        "uuid": uuid,
        "args": argparse.Namespace(**the_job.parameter_defaults()),
        "log": logging.getLogger("sparkcanvas.test"),
    }
    exec(compile("\n".join(helper_sections(the_job)), "<helpers>", "exec"), namespace)
    for block in node_blocks(the_job):
        exec(compile(block.code, f"<node {block.node_id}>", "exec"), namespace)
    return namespace


# --- writes ------------------------------------------------------------------------------------------


def copy_job(mode: str):
    return job(
        node("orders", "source.jdbc", connection="shop", table="orders"),
        node("keep", "transform.filter", {"in": "orders"}, condition="id <= 5"),
        node("write_copy", "target.jdbc", {"in": "keep"}, connection="shop", table="orders_copy", mode=mode),
    )


@pytest.mark.spark
def test_append_and_overwrite_writes(conn, database, spark):
    query(database, "DROP TABLE IF EXISTS orders_copy")
    spark_namespace(spark, copy_job("append"))
    assert query(database, "SELECT count(*) FROM orders_copy") == [(5,)]
    postgres.clear_schema_cache()
    spark_namespace(spark, copy_job("append"))
    assert query(database, "SELECT count(*) FROM orders_copy") == [(10,)]
    postgres.clear_schema_cache()
    spark_namespace(spark, copy_job("overwrite"))
    rows = query(database, "SELECT id, amount FROM orders_copy ORDER BY id")
    assert [row[0] for row in rows] == [1, 2, 3, 4, 5]
    assert str(rows[0][1]) == "1.25"
    assert query(database, STAGING_TABLES) == []


@pytest.mark.spark
def test_target_preview_matches_written_rows(conn, database, spark):
    query(database, "DROP TABLE IF EXISTS orders_copy")
    overwrite = copy_job("overwrite")
    preview = PreviewEngine().preview(overwrite, "write_copy")
    assert preview.ok, preview.error
    spark_namespace(spark, overwrite)
    written = spark.read.jdbc(
        postgres.jdbc_url(conn),
        "orders_copy",
        properties={"user": conn.user, "password": database.password, "driver": "org.postgresql.Driver"},
    )
    expected = sorted_rows([normalize_row(row) for row in written.collect()])
    assert sorted_rows([normalize_row(row.values()) for row in preview.table.to_pylist()]) == expected
    assert [(c.name, c.type) for c in preview.schema] == [
        (field.name, field.dataType.simpleString()) for field in written.schema.fields
    ]


# Spark 4 raises CAST_INVALID_INPUT under ANSI mode for the rows with id 18 to 20, in the last of
# the four partitions that the source reads.
FAILING_ID = "CAST(CASE WHEN id >= 18 THEN 'x' ELSE CAST(id AS STRING) END AS INT)"
FIXED_ID = "CAST(CAST(id AS STRING) AS INT)"
STAGING_TABLES = "SELECT schemaname, tablename FROM pg_tables WHERE tablename LIKE '%\\_staging\\_%'"


def cast_job(mode: str, expression: str, table: str = "orders_copy"):
    """Copy every order to `table`, recomputing `id` with `expression` on the way."""
    return job(
        node(
            "orders",
            "source.jdbc",
            connection="shop",
            table="orders",
            partition_column="id",
            lower_bound="1",
            upper_bound="20",
            num_partitions=4,
        ),
        node("recast", "transform.derived_column", {"in": "orders"}, column="id", expression=expression),
        node("write_copy", "target.jdbc", {"in": "recast"}, connection="shop", table=table, mode=mode),
    )


def reset_copy(server) -> list[tuple]:
    """Fill orders_copy with the orders 1 to 3 and return them, as the rows a write must keep."""
    query(server, "DROP TABLE IF EXISTS orders_copy")
    query(server, "CREATE TABLE orders_copy (LIKE orders INCLUDING ALL)")
    query(server, "INSERT INTO orders_copy SELECT * FROM orders WHERE id <= 3")
    postgres.clear_schema_cache()
    return query(server, "SELECT * FROM orders_copy ORDER BY id")


@pytest.fixture
def run_id(spark):
    """Set the run id that the runner passes to every attempt of a run, and remove it afterwards."""
    spark.conf.set(RUN_ID_CONF, "20250101T000000000Z-abc123")
    yield
    spark.conf.unset(RUN_ID_CONF)


@pytest.mark.spark
@pytest.mark.parametrize("mode", ["overwrite", "append"])
def test_failed_write_keeps_table(conn, database, spark, mode):
    before = reset_copy(database)
    with pytest.raises(Exception, match="CAST_INVALID_INPUT"):
        spark_namespace(spark, cast_job(mode, FAILING_ID))
    assert query(database, "SELECT * FROM orders_copy ORDER BY id") == before
    assert query(database, STAGING_TABLES) == []


@pytest.mark.spark
def test_failed_insert_rolls_back_truncate(conn, database, spark):
    query(database, "DROP TABLE IF EXISTS orders_copy")
    query(
        database,
        "CREATE TABLE orders_copy (id integer, customer integer, amount numeric(10,2), placed date, "
        "created timestamptz, note varchar(20))",
    )
    query(database, "INSERT INTO orders_copy (id, customer) VALUES (1, 1), (2, 2)")
    postgres.clear_schema_cache()
    with pytest.raises(Exception, match="customer.*is of type integer"):
        spark_namespace(spark, copy_job("overwrite"))
    assert query(database, "SELECT id, customer FROM orders_copy ORDER BY id") == [(1, 1), (2, 2)]
    assert query(database, STAGING_TABLES) == []


@pytest.mark.spark
def test_overwrite_keeps_primary_key(conn, database, spark):
    reset_copy(database)
    spark_namespace(spark, cast_job("overwrite", FIXED_ID))
    assert query(database, "SELECT id FROM orders_copy ORDER BY id") == [(i,) for i in range(1, 21)]
    assert query(database, STAGING_TABLES) == []
    with pytest.raises(psycopg.errors.UniqueViolation):
        query(database, "INSERT INTO orders_copy (id) VALUES (1)")


@pytest.mark.spark
def test_retried_append_appends_once(conn, database, spark, run_id):
    query(database, "DROP TABLE IF EXISTS orders_copy")
    query(database, "CREATE TABLE orders_copy AS SELECT * FROM orders WHERE id <= 3")
    postgres.clear_schema_cache()
    with pytest.raises(Exception, match="CAST_INVALID_INPUT"):
        spark_namespace(spark, cast_job("append", FAILING_ID))
    spark_namespace(spark, cast_job("append", FIXED_ID))
    counts = query(database, "SELECT id, count(*) FROM orders_copy GROUP BY id ORDER BY id")
    assert counts == [(i, 2 if i <= 3 else 1) for i in range(1, 21)]
    assert query(database, STAGING_TABLES) == []


def two_targets_job(expression: str):
    """Append every order to orders_copy, then to orders_recast with `id` recomputed by `expression`."""
    return job(
        node(
            "orders",
            "source.jdbc",
            connection="shop",
            table="orders",
            partition_column="id",
            lower_bound="1",
            upper_bound="20",
            num_partitions=4,
        ),
        node("write_copy", "target.jdbc", {"in": "orders"}, connection="shop", table="orders_copy"),
        node("recast", "transform.derived_column", {"in": "orders"}, column="id", expression=expression),
        node("write_recast", "target.jdbc", {"in": "recast"}, connection="shop", table="orders_recast"),
    )


@pytest.mark.spark
def test_retry_after_committed_append_skips_it(conn, database, spark, run_id, caplog):
    query(database, "DROP TABLE IF EXISTS orders_copy, orders_recast, sparkcanvas_appends")
    postgres.clear_schema_cache()
    failing = two_targets_job(FAILING_ID)
    order = [block.node_id for block in node_blocks(failing)]
    assert order.index("write_copy") < order.index("write_recast")
    with pytest.raises(Exception, match="CAST_INVALID_INPUT"):
        spark_namespace(spark, failing)
    assert query(database, "SELECT count(*) FROM orders_copy") == [(20,)]
    assert query(database, "SELECT count(*) FROM pg_tables WHERE tablename = 'orders_recast'") == [(0,)]

    postgres.clear_schema_cache()
    with caplog.at_level(logging.INFO, logger="sparkcanvas.test"):
        spark_namespace(spark, two_targets_job(FIXED_ID))
    assert query(database, "SELECT count(*) FROM orders_copy") == [(20,)]
    assert query(database, "SELECT count(*) FROM orders_recast") == [(20,)]
    assert "Node write_copy: run 20250101T000000000Z-abc123 already appended" in caplog.text
    recorded = query(database, "SELECT target_table, run_id, node_id FROM sparkcanvas_appends ORDER BY 1")
    assert recorded == [
        ("orders_copy", "20250101T000000000Z-abc123", "write_copy"),
        ("orders_recast", "20250101T000000000Z-abc123", "write_recast"),
    ]
    assert query(database, STAGING_TABLES) == []

    spark.conf.set(RUN_ID_CONF, "20250102T000000000Z-def456")
    postgres.clear_schema_cache()
    spark_namespace(spark, two_targets_job(FIXED_ID))
    assert query(database, "SELECT count(*) FROM orders_copy") == [(40,)]
    assert query(database, "SELECT count(*) FROM orders_recast") == [(40,)]


@pytest.mark.spark
def test_overwrite_records_no_append(conn, database, spark, run_id):
    query(database, "DROP TABLE IF EXISTS orders_copy, sparkcanvas_appends")
    postgres.clear_schema_cache()
    spark_namespace(spark, copy_job("overwrite"))
    spark_namespace(spark, copy_job("overwrite"))
    assert query(database, "SELECT count(*) FROM orders_copy") == [(5,)]
    assert query(database, "SELECT count(*) FROM pg_tables WHERE tablename = 'sparkcanvas_appends'") == [(0,)]


@pytest.mark.spark
def test_append_creates_quoted_table_in_schema(conn, database, spark):
    name = 'sales.Copy "of" orders'
    query(database, 'DROP TABLE IF EXISTS sales."Copy ""of"" orders"')
    postgres.clear_schema_cache()
    spark_namespace(spark, cast_job("append", FIXED_ID, table=name))
    rows = query(database, 'SELECT count(*), min(id), max(id) FROM sales."Copy ""of"" orders"')
    assert rows == [(20, 1, 20)]
    assert query(database, STAGING_TABLES) == []


@pytest.mark.spark
def test_spark_check_of_target_writes_nothing(conn, database, spark):
    before = reset_copy(database)
    columns, rows = run_on_spark(spark, copy_job("overwrite"), "write_copy")
    assert columns[0] == "id"
    assert sorted(row[0] for row in rows) == [1, 2, 3, 4, 5]
    assert query(database, "SELECT * FROM orders_copy ORDER BY id") == before
    assert query(database, STAGING_TABLES) == []


def test_target_with_unknown_column_is_rejected(conn, database):
    query(database, "DROP TABLE IF EXISTS narrow; CREATE TABLE narrow (id integer)")
    narrow = job(
        node("orders", "source.jdbc", connection="shop", table="orders"),
        node("write", "target.jdbc", {"in": "orders"}, connection="shop", table="narrow"),
    )
    [problem] = validate(narrow).problems
    assert problem.parameter == "table"
    assert "has no column 'customer'" in problem.message


# --- generated script -----------------------------------------------------------------------------


def test_script_matches_golden_and_passes_ruff(conn, database, tmp_path):
    script = emit_script(copy_job("overwrite"))
    assert database.password not in script
    assert 'read_password(environment_variable="SPARKCANVAS_TEST_PG_PASSWORD")' in script
    assert "--jars /usr/share/java/postgresql.jar" in script
    # The test server's port is random, so the golden file has PostgreSQL's default in its place.
    stable = script.replace(f"127.0.0.1:{database.port}/", "127.0.0.1:5432/")
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.write_text(stable, encoding="utf-8")
    assert stable == GOLDEN.read_text(encoding="utf-8"), (
        "rerun with UPDATE_GOLDEN=1 if the change is intended"
    )
    target = tmp_path / "script.py"
    target.write_text(script, encoding="utf-8")
    compile(script, "script.py", "exec")
    result = ruff_check(target)
    assert result.returncode == 0, result.stdout


def test_missing_jar_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv(postgres.JDBC_JAR_VARIABLE, str(tmp_path / "missing.jar"))
    with pytest.raises(postgres.PostgresError, match="SPARKCANVAS_JDBC_JAR.*not a file"):
        postgres.spark_submit_jars(copy_job("append"))
    assert postgres.spark_submit_jars(job()) == []


def test_missing_connection_is_a_node_error(conn):
    [problem] = validate(orders_job(connection="shopp")).problems
    assert problem.parameter == "connection"
    assert "Did you mean 'shop'" in problem.message
    with pytest.raises(JobValidationError):
        emit_script(orders_job(connection="shopp"))


# --- a real run, then a scan for the password ---------------------------------------------------------


@pytest.mark.spark
def test_run_and_no_password_in_any_file(conn, database, sparkcanvas_home, tmp_path):
    query(database, "DROP TABLE IF EXISTS orders_copy")
    run_job = copy_job("overwrite")
    run_job.nodes[0].params.update(partition_column="id", lower_bound="1", upper_bound="20", num_partitions=2)
    job_path = tmp_path / "copy.job.json"
    save_job(run_job, job_path)
    sparkcanvas = str(Path(sys.executable).parent / "sparkcanvas")
    environment = {**os.environ, "SPARK_LOCAL_IP": "127.0.0.1"}
    completed = subprocess.run(
        [sparkcanvas, "run", str(job_path), "--master", "local[2]"],
        capture_output=True,
        text=True,
        timeout=SPARK_RUN_TIMEOUT,
        env=environment,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "write_copy wrote 5 rows to" in completed.stdout
    assert query(database, "SELECT count(*) FROM orders_copy") == [(5,)]

    exported = tmp_path / "copy.py"
    notebook = tmp_path / "copy.ipynb"
    for output, file_format in ((exported, "py"), (notebook, "ipynb")):
        done = subprocess.run(
            [sparkcanvas, "export", str(job_path), "-o", str(output), "--format", file_format],
            capture_output=True,
            text=True,
            env=environment,
        )
        assert done.returncode == 0, done.stderr
    written = [job_path, exported, notebook, *sorted(p for p in sparkcanvas_home.rglob("*") if p.is_file())]
    assert any(path.name == "catalog.db" for path in written)
    assert any(path.name == "log.txt" for path in written)
    secret = database.password.encode()
    for path in written:
        assert secret not in path.read_bytes(), f"{path} contains the password"
    assert database.password not in completed.stdout + completed.stderr
    assert "def save_to_postgres(" in notebook.read_text(encoding="utf-8")


@pytest.mark.spark
def test_failed_run_keeps_table(conn, database, tmp_path):
    before = reset_copy(database)
    job_path = tmp_path / "failing.job.json"
    save_job(cast_job("append", FAILING_ID), job_path)
    sparkcanvas = str(Path(sys.executable).parent / "sparkcanvas")
    completed = subprocess.run(
        [sparkcanvas, "run", str(job_path), "--master", "local[2]", "-q"],
        capture_output=True,
        text=True,
        timeout=SPARK_RUN_TIMEOUT,
        env={**os.environ, "SPARK_LOCAL_IP": "127.0.0.1"},
    )
    assert completed.returncode != 0, completed.stdout[-3000:]
    assert "CAST_INVALID_INPUT" in completed.stdout + completed.stderr
    assert query(database, "SELECT * FROM orders_copy ORDER BY id") == before
    assert query(database, STAGING_TABLES) == []


def test_variable_names_stay_clear_of_script_names():
    assert variable_name("os") == "os_df"
    assert variable_name("read_password") == "read_password_df"
    assert variable_name("save_to_postgres") == "save_to_postgres_df"
