"""A join's preview fetches the other side's rows whose keys match the kept side's sample, when
that side is a Data Catalog table or a PostgreSQL source, against a real PostgreSQL server.

The sample size is set so low that each fetched side's own sample contains no matching key, so
without the fetch every join below would show no rows.
"""

from __future__ import annotations

from decimal import Decimal

import psycopg
import pytest

from catalog import postgres
from catalog.model import Connection
from catalog.store import open_catalog
from codegen import duckdb_preview
from codegen.duckdb_preview import PreviewEngine
from designer.spark_check import check_node, normalize_row, run_on_spark, sorted_rows
from tests.catalog_tables import build_sales_catalog
from tests.jobs import job, node

pytestmark = pytest.mark.postgres

PASSWORD_VARIABLE = "SPARKCANVAS_JOIN_FETCH_PG_PASSWORD"
# Each table starts with rows whose keys no order has, so a sample of the first rows misses.
SETUP_SQL = [
    "DROP SCHEMA IF EXISTS join_fetch CASCADE",
    "CREATE SCHEMA join_fetch",
    "CREATE TABLE join_fetch.customers (id bigint, name text)",
    "INSERT INTO join_fetch.customers SELECT i, 'filler ' || i FROM generate_series(1000, 1049) AS i",
    "INSERT INTO join_fetch.customers VALUES (10, 'Ann'), (10, 'Ann B'), (20, 'Bob'), (99, 'Zoë')",
    "CREATE TABLE join_fetch.buyers (id bigint, name text)",
    "INSERT INTO join_fetch.buyers VALUES (10, 'Ann'), (99, 'Zoë')",
    "CREATE TABLE join_fetch.prices (customer_id bigint, item text, price numeric(6,2))",
    "INSERT INTO join_fetch.prices SELECT i, 'filler', 1 FROM generate_series(1000, 1049) AS i",
    # (10, 'Straße') matches each key of some order, but not both keys of one order.
    "INSERT INTO join_fetch.prices VALUES (10, '', 1.50), (99, 'Straße', 2.25), (10, 'Straße', 9.99), "
    "(NULL, 'Zoë', 3.00)",
    "CREATE TABLE join_fetch.many (id bigint, n integer)",
    "INSERT INTO join_fetch.many SELECT 1000, i FROM generate_series(1, 5) AS i",
    "INSERT INTO join_fetch.many SELECT 10, i FROM generate_series(1, 25) AS i",
    "CREATE TABLE join_fetch.opening_hours (opens time, label text)",
    "INSERT INTO join_fetch.opening_hours VALUES ('09:00', 'morning'), ('13:00', 'noon')",
]


@pytest.fixture(scope="module")
def database(postgres_server):
    with psycopg.connect(postgres_server.conninfo(), autocommit=True) as connection:
        for statement in SETUP_SQL:
            connection.execute(statement)
    return postgres_server


@pytest.fixture
def sales(database, tmp_path, monkeypatch, sparkcanvas_home):
    """The sales catalog of tests/catalog_tables.py, with a connection `shop` to the test server."""
    catalog_file = tmp_path / "catalog.db"
    monkeypatch.setenv("SPARKCANVAS_CATALOG", str(catalog_file))
    monkeypatch.setenv(PASSWORD_VARIABLE, database.password)
    postgres.clear_schema_cache()
    catalog = build_sales_catalog(tmp_path / "data", catalog_file)
    open_catalog().save_connection(
        Connection(
            name="shop",
            host=database.host,
            port=database.port,
            database=database.database,
            user=database.user,
            password_env=PASSWORD_VARIABLE,
        )
    )
    return catalog


def orders(predicate: str = ""):
    return node("orders", "source.catalog", database="sales", table="orders", partition_predicate=predicate)


def postgres_source(node_id: str, **relation):
    return node(node_id, "source.jdbc", connection="shop", **relation)


def join(left: str, right: str, keys: list[tuple[str, str]], join_type: str = "inner"):
    pairs = [{"left": left_key, "right": right_key} for left_key, right_key in keys]
    return node("joined", "transform.join", {"left": left, "right": right}, join_type=join_type, keys=pairs)


def joined_preview(the_job):
    result = PreviewEngine().preview(the_job, "joined")
    assert result.ok, result.error
    return result


def rows_of(result, *columns: str) -> list[tuple]:
    return sorted(tuple(row[column] for column in columns) for row in result.table.to_pylist())


# --- a Data Catalog table fetched by key -----------------------------------------------------------


def test_catalog_side_fetched_with_predicate(sales):
    # buyers' first row is customer 10; the orders sample (first row of year 2025) is order 4.
    the_job = job(
        postgres_source("buyers", table="join_fetch.buyers"),
        orders("year = 2025"),
        join("buyers", "orders", [("id", "customer_id")]),
        sample_rows=1,
    )
    result = joined_preview(the_job)
    # Order 1 of customer 10 is in year 2024, outside the predicate, so it is not fetched.
    assert rows_of(result, "id", "order_id", "year") == [(10, 5, 2025)]
    assert "Joined: 1 rows of Orders whose keys match the left side's sample (at most 10)" in result.notes
    assert result.matched_inputs["right"].num_rows == 1
    assert result.sources["orders"] == 1
    assert result.approximations == []


def test_catalog_side_fetched_for_right_join(sales):
    the_job = job(
        orders("year = 2025"),
        postgres_source("buyers", table="join_fetch.buyers"),
        join("orders", "buyers", [("customer_id", "id")], join_type="right"),
        sample_rows=1,
    )
    result = joined_preview(the_job)
    assert rows_of(result, "id", "order_id") == [(10, 5)]
    assert any("rows of Orders whose keys match the right side's sample" in note for note in result.notes)


# --- a PostgreSQL source fetched by key ------------------------------------------------------------


def test_postgres_side_fetched_by_one_key(sales):
    the_job = job(
        orders("year = 2024"),
        postgres_source("customers", table="join_fetch.customers"),
        join("orders", "customers", [("customer_id", "id")]),
        sample_rows=2,
    )
    result = joined_preview(the_job)
    # Orders 1 and 2 (customers 10 and 20) are the kept sample; customer 10 has two rows.
    assert rows_of(result, "order_id", "name") == [(1, "Ann"), (1, "Ann B"), (2, "Bob")]
    assert "Joined: 3 rows of Customers whose keys match the left side's sample (at most 20)" in result.notes
    assert result.sources["customers"] == 3
    assert result.approximations == []


@pytest.mark.parametrize(
    "relation",
    [
        {"table": "join_fetch.prices"},
        {"query": "SELECT customer_id, item, price FROM join_fetch.prices"},
    ],
    ids=["table", "query"],
)
def test_postgres_side_fetched_by_two_keys(sales, relation):
    the_job = job(
        orders("year = 2025"),
        postgres_source("prices", **relation),
        join("orders", "prices", [("customer_id", "customer_id"), ("item", "item")]),
        sample_rows=3,
    )
    result = joined_preview(the_job)
    assert rows_of(result, "order_id", "right_item", "price") == [
        (5, "", Decimal("1.50")),
        (6, "Straße", Decimal("2.25")),
    ]
    assert result.matched_inputs["right"].num_rows == 2


def test_postgres_side_without_matching_keys(sales):
    # Order 4 has a NULL customer, which matches nothing, so nothing is sent to the server.
    the_job = job(
        orders("year = 2025 AND region IS NULL"),
        postgres_source("customers", table="join_fetch.customers"),
        join("orders", "customers", [("customer_id", "id")], join_type="left"),
        sample_rows=1,
    )
    result = joined_preview(the_job)
    assert rows_of(result, "order_id", "name") == [(4, None)]
    assert "Joined: 0 rows of Customers whose keys match the left side's sample (at most 10)" in result.notes


def test_fetch_past_the_cap_is_approximate(sales):
    the_job = job(
        orders("year = 2024"),
        postgres_source("many", table="join_fetch.many"),
        join("orders", "many", [("customer_id", "id")]),
        sample_rows=1,
    )
    result = joined_preview(the_job)
    limit = duckdb_preview.MATCHED_ROWS_FACTOR
    assert result.row_count == limit
    assert result.approximations == [
        f"Joined: more than {limit} rows of Many match the left side's sample; "
        "the preview joined the first of them only"
    ]


def test_key_type_postgres_cannot_match_falls_back(sales):
    # Spark reads `time` as a timestamp; the preview cannot bind the sample's keys to it.
    the_job = job(
        node("events", "source.catalog", database="sales", table="events"),
        postgres_source("hours", table="join_fetch.opening_hours"),
        join("events", "hours", [("day", "opens")]),
        sample_rows=1,
    )
    result = joined_preview(the_job)
    assert not result.matched_inputs
    assert len(result.approximations) == 1
    assert "key column 'opens' has PostgreSQL type time" in result.approximations[0]
    assert "the preview joined the two samples" in result.approximations[0]


def test_hostile_key_value_stays_a_value(sales, database):
    the_job = job(
        postgres_source("buyers", query="SELECT 'x''); DROP TABLE join_fetch.buyers; --' AS name"),
        postgres_source("customers", table="join_fetch.customers"),
        join("buyers", "customers", [("name", "name")]),
        sample_rows=1,
    )
    result = joined_preview(the_job)
    assert result.row_count == 0
    with psycopg.connect(database.conninfo()) as connection:
        assert connection.execute("SELECT count(*) FROM join_fetch.buyers").fetchone() == (2,)


# --- Check against Spark -------------------------------------------------------------------------


@pytest.mark.spark
def test_spark_check_joins_the_fetched_rows(sales, spark):
    the_job = job(
        orders("year = 2024"),
        postgres_source("customers", table="join_fetch.customers"),
        join("orders", "customers", [("customer_id", "id")]),
        sample_rows=2,
    )
    check = check_node(the_job, "joined", spark=spark)
    assert check.matches, check.summary()
    assert check.spark_rows == 3
    assert check.preview_rows == 3

    # Spark over the full table and PostgreSQL table gives the same rows for the kept orders 1 and 2.
    columns, full_rows = run_on_spark(spark, the_job, "joined")
    kept = [row for row in full_rows if row[columns.index("order_id")] in (1, 2)]
    preview = joined_preview(the_job)
    assert sorted_rows([normalize_row(row) for row in kept]) == sorted_rows(
        [normalize_row(tuple(row.values())) for row in preview.table.to_pylist()]
    )
