"""A PostgreSQL source with a stored schema, against a real PostgreSQL server on 127.0.0.1.

With the schema stored in the node, `sparkcanvas validate` and `export` work without the
password and without the server; without it they fail as before. A target whose server cannot
be reached is not checked, and its preview notes that. The preview still needs the server, and reports a
stored column that the server no longer has. The form's 'Read schema' button stores the schema.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from streamlit.testing.v1 import AppTest

from catalog import postgres
from catalog.model import Connection
from catalog.store import open_catalog
from codegen.duckdb_preview import PreviewEngine
from codegen.pyspark import emit_script
from designer.jdbc_nodes import read_source_schema
from designer.model import load_job, save_job
from designer.schema import schema_to_params
from designer.validation import validate
from tests.fidelity import assert_same_result
from tests.jobs import job, node, source
from tests.postgres_server import free_port
from tests.test_app import ROOT, TIMEOUT, click_node, widget

pytestmark = pytest.mark.postgres

PASSWORD_VARIABLE = "SPARKCANVAS_TEST_STORED_PASSWORD"
TABLE = "stored_orders"
SETUP_SQL = [
    f"DROP TABLE IF EXISTS {TABLE}, stored_copy, stored_other",
    f"CREATE TABLE {TABLE} (id integer, customer text, amount numeric(10,2), gone text)",
    f"INSERT INTO {TABLE} SELECT i, 'customer ' || i, i * 1.5, 'x' FROM generate_series(1, 6) AS i",
    "CREATE TABLE stored_other (code bigint, label text)",
    "CREATE TABLE stored_copy (id integer)",
]
SERVER_COLUMNS = [
    {"name": "id", "type": "int"},
    {"name": "customer", "type": "string"},
    {"name": "amount", "type": "decimal(10,2)"},
    {"name": "gone", "type": "string"},
]


@pytest.fixture(scope="module")
def database(postgres_server):
    with psycopg.connect(postgres_server.conninfo(), autocommit=True) as connection:
        for statement in SETUP_SQL:
            connection.execute(statement)
    return postgres_server


@pytest.fixture
def conn(database, sparkcanvas_home, monkeypatch) -> Connection:
    """Save a connection `shop` that reaches the server, and `closed`, on a port nothing listens on."""
    monkeypatch.setenv(PASSWORD_VARIABLE, database.password)
    postgres.clear_schema_cache()
    shop = Connection(
        name="shop",
        host=database.host,
        port=database.port,
        database=database.database,
        user=database.user,
        password_env=PASSWORD_VARIABLE,
    )
    catalog = open_catalog()
    catalog.save_connection(Connection(**{**shop.__dict__, "name": "closed", "port": free_port()}))
    return catalog.save_connection(shop)


def stored_job(connection: str = "shop", schema: list[dict] | None = None):
    """Return a job that reads the table and writes its first rows to another table."""
    return job(
        node("orders", "source.jdbc", connection=connection, table=TABLE, schema=schema or []),
        node("keep", "transform.filter", {"in": "orders"}, condition="id <= 3"),
        node("write", "target.jdbc", {"in": "keep"}, connection=connection, table="stored_copy_new"),
    )


def sparkcanvas(*arguments: str, without_password: bool = False) -> subprocess.CompletedProcess:
    environment = {**os.environ}
    if without_password:
        environment.pop(PASSWORD_VARIABLE, None)
    command = [str(Path(sys.executable).parent / "sparkcanvas"), *arguments]
    return subprocess.run(command, capture_output=True, text=True, env=environment, timeout=120)


# --- validate and export without the server ---------------------------------------------------------


def test_read_schema_returns_server_columns(conn):
    schema = read_source_schema(stored_job().node("orders"), refresh=True)
    assert schema_to_params(schema) == SERVER_COLUMNS


@pytest.mark.parametrize("connection", ["shop", "closed"])
def test_cli_works_offline_with_stored_schema(conn, tmp_path, connection):
    job_path = tmp_path / "stored.job.json"
    save_job(stored_job(connection, SERVER_COLUMNS), job_path)
    validated = sparkcanvas("validate", str(job_path), without_password=True)
    assert validated.returncode == 0, validated.stderr
    script = tmp_path / "stored.py"
    exported = sparkcanvas("export", str(job_path), "-o", str(script), without_password=True)
    assert exported.returncode == 0, exported.stderr
    text = script.read_text(encoding="utf-8")
    assert (
        '.option("customSchema", "`id` int, `customer` string, `amount` decimal(10,2), `gone` string")'
        in text
    )
    assert f'read_password(environment_variable="{PASSWORD_VARIABLE}")' in text
    compile(text, str(script), "exec")


@pytest.mark.parametrize(
    ("connection", "without_password", "reason"),
    [("shop", True, f"{PASSWORD_VARIABLE} is not set"), ("closed", False, "cannot connect to")],
)
def test_cli_fails_offline_without_stored_schema(conn, tmp_path, connection, without_password, reason):
    job_path = tmp_path / "live.job.json"
    save_job(stored_job(connection), job_path)
    for command in ("validate", "export"):
        completed = sparkcanvas(command, str(job_path), without_password=without_password)
        assert completed.returncode == 1, completed.stdout
        output = completed.stdout + completed.stderr
        assert reason in output
        assert "Read schema" in output
        assert "orders" in output


def test_unreachable_target_is_not_checked(conn, database):
    validation = validate(stored_job("closed", SERVER_COLUMNS))
    assert validation.ok, validation.problems
    assert "customSchema" in emit_script(stored_job("closed", SERVER_COLUMNS))


def test_reachable_target_is_still_checked(conn):
    narrow = stored_job(schema=SERVER_COLUMNS)
    narrow.node("write").params["table"] = "stored_copy"
    [problem] = validate(narrow).problems
    assert problem.node_id == "write"
    assert "has no column 'customer'" in problem.message


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([{"name": "", "type": "int"}], "column 1 of the stored schema has no name"),
        ([{"name": "id", "type": "no_such_type"}], "column 'id'"),
        ([{"name": "id", "type": "int"}, {"name": "ID", "type": "int"}], "appears twice"),
    ],
)
def test_invalid_stored_schema_is_a_node_error(conn, rows, message):
    [problem] = validate(stored_job("closed", rows)).problems
    assert problem.node_id == "orders"
    assert problem.parameter == "schema"
    assert message in problem.message


def test_stored_schema_checks_partition_column(conn):
    partitioned = stored_job("closed", SERVER_COLUMNS)
    partitioned.node("orders").params.update(
        partition_column="customer", lower_bound="1", upper_bound="6", num_partitions=2
    )
    [problem] = validate(partitioned).problems
    assert problem.parameter == "partition_column"
    assert "is string" in problem.message


# --- the preview still reads from the server ----------------------------------------------------------


def test_preview_needs_the_server(conn):
    preview = PreviewEngine().preview(stored_job("closed", SERVER_COLUMNS), "orders")
    assert not preview.ok
    assert "the preview reads sample rows from the PostgreSQL server" in preview.error
    assert "cannot connect to" in preview.error


def test_preview_notes_unchecked_target(conn, tmp_path):
    people = tmp_path / "people.csv"
    people.write_text("id,name\n1,a\n2,b\n", encoding="utf-8")
    file_to_closed = job(
        source("people", people),
        node("write", "target.jdbc", {"in": "people"}, connection="closed", table="people"),
    )
    preview = PreviewEngine().preview(file_to_closed, "write")
    assert preview.ok, preview.error
    assert any("columns of table people were not checked" in note for note in preview.notes), preview.notes


def test_preview_reports_stored_column_gone(conn, database):
    with psycopg.connect(database.conninfo(), autocommit=True) as connection:
        connection.execute("DROP TABLE IF EXISTS stored_shrinking")
        connection.execute(f"CREATE TABLE stored_shrinking AS SELECT * FROM {TABLE}")
        shrinking = stored_job(schema=SERVER_COLUMNS)
        shrinking.node("orders").params["table"] = "stored_shrinking"
        assert PreviewEngine().preview(shrinking, "orders").ok
        connection.execute("ALTER TABLE stored_shrinking DROP COLUMN gone")
        connection.execute("ALTER TABLE stored_shrinking ADD COLUMN added date")
    preview = PreviewEngine().preview(shrinking, "orders")
    assert not preview.ok
    assert "node 'orders'" in preview.error
    assert "'gone'" in preview.error
    assert "Read schema" in preview.error


def test_preview_notes_new_server_column(conn, database):
    without_gone = [column for column in SERVER_COLUMNS if column["name"] != "gone"]
    preview = PreviewEngine().preview(stored_job(schema=without_gone), "orders")
    assert preview.ok, preview.error
    assert [column.name for column in preview.schema] == ["id", "customer", "amount"]
    assert any("column(s) gone that the stored schema lacks" in note for note in preview.notes)


@pytest.mark.spark
def test_spark_reads_with_stored_types(conn, spark):
    edited = [dict(column) for column in SERVER_COLUMNS]
    edited[2]["type"] = "double"
    rows = assert_same_result(spark, job(stored_job(schema=edited).node("orders")), "orders")
    assert len(rows) == 6


@pytest.mark.spark
def test_run_records_failure_of_unreachable_server(conn, tmp_path):
    job_path = tmp_path / "closed.job.json"
    save_job(stored_job("closed", SERVER_COLUMNS), job_path)
    completed = subprocess.run(
        [
            str(Path(sys.executable).parent / "sparkcanvas"),
            "run",
            str(job_path),
            "--master",
            "local[1]",
            "-q",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "SPARK_LOCAL_IP": "127.0.0.1"},
    )
    assert completed.returncode != 0, completed.stdout[-3000:]
    output = completed.stdout + completed.stderr
    assert "node orders (Orders) failed" in output, output[-3000:]
    assert "Couldn't connect to the database" in output
    listed = sparkcanvas("runs", "--format", "json")
    assert '"failed"' in listed.stdout, listed.stdout


# --- the form ------------------------------------------------------------------------------------------


@pytest.fixture
def form_app(conn, tmp_path, monkeypatch) -> tuple[AppTest, Path]:
    """The designer on a job whose PostgreSQL source stores a stale schema."""
    folder = tmp_path / "jobs"
    folder.mkdir()
    path = folder / "stored.job.json"
    stale = [{"name": "old_column", "type": "string"}]
    save_job(job(node("orders", "source.jdbc", connection="shop", table=TABLE, schema=stale)), path)
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("SPARKCANVAS_JOBS_DIR", str(folder))
    monkeypatch.setenv("SPARKCANVAS_JOB", str(path))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    at.run()
    assert not at.exception, [item.message for item in at.exception]
    return click_node(at, "orders"), path


def stored_params(at: AppTest) -> list[dict]:
    return at.session_state["job"].node("orders").params["schema"]


def test_read_schema_button_stores_schema(form_app):
    at, _ = form_app
    assert stored_params(at) == [{"name": "old_column", "type": "string"}]
    at.button(key=widget(at, "orders", "schema_relation") + ":read").click().run()
    assert not at.exception, [item.message for item in at.exception]
    assert stored_params(at) == SERVER_COLUMNS


def test_changed_table_reads_schema_again(form_app):
    at, _ = form_app
    at.text_input(key=widget(at, "orders", "table")).set_value("stored_other").run()
    at.run()
    assert not at.exception, [item.message for item in at.exception]
    assert stored_params(at) == [{"name": "code", "type": "bigint"}, {"name": "label", "type": "string"}]


def test_empty_schema_filled_when_server_answers(form_app):
    at, path = form_app
    saved = load_job(path)
    saved.node("orders").params["schema"] = []
    save_job(saved, path)
    fresh = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    fresh.run()
    fresh = click_node(fresh, "orders")
    assert not fresh.exception, [item.message for item in fresh.exception]
    assert stored_params(fresh) == SERVER_COLUMNS
