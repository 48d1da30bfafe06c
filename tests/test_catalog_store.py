"""Tests of the catalog store: a real SQLite file, two Catalog objects and two real processes."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
from dataclasses import replace
from pathlib import Path

import pytest

from catalog import (
    CatalogConflictError,
    CatalogError,
    Column,
    Connection,
    ConnectionNotFoundError,
    DatabaseNotFoundError,
    Partition,
    Table,
    TableNotFoundError,
    catalog_path,
    open_catalog,
)

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def catalog(tmp_path):
    store = open_catalog(tmp_path / "catalog.db")
    store.create_database("sales", "example data")
    return store


def orders_table(**changes) -> Table:
    table = Table(
        database="sales",
        name="orders",
        location="/data/orders",
        format="parquet",
        options={},
        columns=[Column("order_id", "integer", "the order's key"), Column("amount", "double")],
        partition_keys=[Column("year", "int")],
        row_count=10,
    )
    return replace(table, **changes)


# --- location of the file ----------------------------------------------------------------------


def test_catalog_path_prefers_sparkcanvas_catalog(monkeypatch, tmp_path):
    monkeypatch.setenv("SPARKCANVAS_CATALOG", str(tmp_path / "other.db"))
    monkeypatch.setenv("SPARKCANVAS_HOME", str(tmp_path / "home"))
    assert catalog_path() == tmp_path / "other.db"


def test_catalog_path_under_sparkcanvas_home(monkeypatch, tmp_path):
    monkeypatch.delenv("SPARKCANVAS_CATALOG", raising=False)
    monkeypatch.setenv("SPARKCANVAS_HOME", str(tmp_path / "home"))
    assert catalog_path() == tmp_path / "home" / "catalog.db"


def test_catalog_path_defaults_to_home_folder(monkeypatch):
    monkeypatch.delenv("SPARKCANVAS_CATALOG", raising=False)
    monkeypatch.delenv("SPARKCANVAS_HOME", raising=False)
    assert catalog_path() == Path.home() / ".sparkcanvas" / "catalog.db"


def test_open_catalog_creates_file_in_wal_mode(monkeypatch, tmp_path):
    monkeypatch.setenv("SPARKCANVAS_CATALOG", str(tmp_path / "new" / "folder" / "catalog.db"))
    store = open_catalog()
    assert store.path.is_file()
    with sqlite3.connect(store.path) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.list_databases() == []


def test_open_catalog_rejects_other_file(tmp_path):
    path = tmp_path / "notes.db"
    path.write_text("these are not the droids you are looking for\n" * 200)
    with pytest.raises(CatalogError, match="is not a SparkCanvas catalog.*--catalog"):
        open_catalog(path)


def test_open_catalog_twice_keeps_data(catalog):
    catalog.save_table(orders_table())
    again = open_catalog(catalog.path)
    assert again.get_table("sales", "orders").revision == 1


# --- databases ---------------------------------------------------------------------------------


def test_create_database_twice_raises(catalog):
    with pytest.raises(CatalogError, match="database 'sales' already exists"):
        catalog.create_database("sales")


def test_ensure_database_is_idempotent_and_lower_case(catalog):
    assert catalog.ensure_database("Sales") == "sales"
    assert catalog.ensure_database("raw_2024") == "raw_2024"
    assert catalog.list_databases() == ["raw_2024", "sales"]


@pytest.mark.parametrize("name", ["", "1st", "sales-2024", "a b", "x" * 129, "dbo.sales"])
def test_invalid_database_names_raise(catalog, name):
    with pytest.raises(CatalogError, match="database name"):
        catalog.create_database(name)


def test_invalid_name_message_suggests_identifier(catalog):
    with pytest.raises(CatalogError, match="for example 'sales_2024'"):
        catalog.create_database("sales-2024")


def test_drop_database_with_tables_needs_cascade(catalog):
    catalog.save_table(orders_table())
    with pytest.raises(CatalogError, match="still has 1 table.*cascade"):
        catalog.drop_database("sales")
    catalog.drop_database("sales", cascade=True)
    assert catalog.list_databases() == []
    assert catalog.list_tables() == []


def test_drop_unknown_database_suggests_name(catalog):
    with pytest.raises(DatabaseNotFoundError, match="Did you mean 'sales'"):
        catalog.drop_database("sale")


# --- tables ------------------------------------------------------------------------------------


def test_save_table_stores_every_field(catalog):
    table = orders_table(options={"compression": "snappy"}, description="one row per order")
    saved = catalog.save_table(table)
    loaded = catalog.get_table("sales", "orders")
    assert loaded == saved
    assert loaded.full_name == "sales.orders"
    assert loaded.location == "/data/orders"
    assert loaded.format == "parquet"
    assert loaded.options == {"compression": "snappy"}
    assert loaded.columns[0].comment == "the order's key"
    assert loaded.row_count == 10
    assert loaded.description == "one row per order"
    assert loaded.created
    assert loaded.updated == loaded.created
    assert loaded.version == 1
    assert loaded.revision == 1


def test_save_table_normalizes_types(catalog):
    saved = catalog.save_table(orders_table())
    assert [column.type for column in saved.columns] == ["int", "double"]


def test_table_schema_puts_partition_keys_last(catalog):
    saved = catalog.save_table(orders_table())
    assert [column.name for column in saved.schema] == ["order_id", "amount", "year"]


def test_save_table_rejects_unknown_type(catalog):
    table = orders_table(columns=[Column("amount", "money")])
    with pytest.raises(CatalogError, match="table sales.orders, column 'amount': unknown type 'money'"):
        catalog.save_table(table)


def test_save_table_rejects_clashing_column_names(catalog):
    table = orders_table(columns=[Column("Year", "int")])
    with pytest.raises(CatalogError, match="columns 'Year' and 'year' clash"):
        catalog.save_table(table)


def test_save_table_rejects_unknown_format(catalog):
    with pytest.raises(CatalogError, match="unknown format 'parquett'.*Did you mean 'parquet'"):
        catalog.save_table(orders_table(format="parquett"))


def test_save_table_rejects_missing_location(catalog):
    with pytest.raises(CatalogError, match="location is missing"):
        catalog.save_table(orders_table(location=" "))


def test_save_table_rejects_negative_row_count(catalog):
    with pytest.raises(CatalogError, match="row count must be a whole number"):
        catalog.save_table(orders_table(row_count=-1))


def test_save_table_in_unknown_database_suggests_name(catalog):
    with pytest.raises(DatabaseNotFoundError, match="database 'sale' not found.*Did you mean 'sales'"):
        catalog.save_table(orders_table(database="sale"))


def test_rejected_table_leaves_catalog_unchanged(catalog):
    catalog.save_table(orders_table())
    with pytest.raises(CatalogError):
        catalog.save_table(orders_table(columns=[Column("x", "nonsense")]))
    assert catalog.get_table("sales", "orders").revision == 1


def test_get_table_suggests_close_name(catalog):
    catalog.save_table(orders_table())
    with pytest.raises(TableNotFoundError, match="'sales.order' not found.*Did you mean 'orders'"):
        catalog.get_table("sales", "order")


def test_get_table_in_unknown_database(catalog):
    with pytest.raises(TableNotFoundError, match="no database 'sals'.*Did you mean 'sales'"):
        catalog.get_table("sals", "orders")


def test_find_table_by_full_name(catalog):
    catalog.save_table(orders_table())
    assert catalog.find_table("Sales.Orders").name == "orders"


@pytest.mark.parametrize("full_name", ["orders", "a.b.c", ".orders", "sales."])
def test_find_table_rejects_malformed_name(catalog, full_name):
    with pytest.raises(CatalogError, match="DATABASE.TABLE"):
        catalog.find_table(full_name)


def test_list_tables_sorted_and_filtered(catalog):
    catalog.ensure_database("raw")
    catalog.save_table(orders_table(name="returns"))
    catalog.save_table(orders_table())
    catalog.save_table(orders_table(database="raw", name="events"))
    assert [table.full_name for table in catalog.list_tables()] == [
        "raw.events",
        "sales.orders",
        "sales.returns",
    ]
    assert [table.name for table in catalog.list_tables("sales")] == ["orders", "returns"]


def test_list_tables_of_unknown_database_raises(catalog):
    with pytest.raises(DatabaseNotFoundError):
        catalog.list_tables("nowhere")


def test_delete_table_removes_versions_and_partitions(catalog):
    catalog.save_table(orders_table())
    catalog.add_partitions("sales", "orders", [Partition({"year": "2024"}, "/data/orders/year=2024")])
    catalog.delete_table("sales", "orders")
    with pytest.raises(TableNotFoundError):
        catalog.get_table("sales", "orders")
    catalog.save_table(orders_table())
    assert len(catalog.schema_versions("sales", "orders")) == 1
    assert catalog.list_partitions("sales", "orders") == []


def test_delete_unknown_table_raises(catalog):
    with pytest.raises(TableNotFoundError):
        catalog.delete_table("sales", "orders")


# --- schema versions ---------------------------------------------------------------------------


def test_schema_change_records_new_version(catalog):
    first = catalog.save_table(orders_table())
    columns = [Column("order_id", "bigint"), Column("amount", "double"), Column("note", "string")]
    second = catalog.save_table(replace(first, columns=columns), expected_revision=first.revision)
    versions = catalog.schema_versions("sales", "orders")
    assert second.version == 2
    assert [version.version for version in versions] == [1, 2]
    assert versions[0].change == "created"
    assert (
        versions[1].change == "added column note (string); changed type of column order_id from int to bigint"
    )
    assert [column.type for column in versions[0].columns] == ["int", "double"]
    assert versions[1].partition_keys == [Column("year", "int")]


def test_same_schema_keeps_version(catalog):
    first = catalog.save_table(orders_table())
    second = catalog.save_table(replace(first, row_count=20, description="more rows"))
    assert second.version == 1
    assert second.revision == 2
    assert second.created == first.created
    assert len(catalog.schema_versions("sales", "orders")) == 1


def test_comment_change_is_not_schema_change(catalog):
    catalog.save_table(orders_table())
    table = catalog.update_column("sales", "orders", "amount", comment="in euros")
    assert table.columns[1].comment == "in euros"
    assert table.version == 1


def test_update_column_type_records_version(catalog):
    catalog.save_table(orders_table())
    table = catalog.update_column("sales", "orders", "AMOUNT", type="decimal(12,2)")
    assert table.columns[1] == Column("amount", "decimal(12,2)")
    assert table.version == 2
    assert "changed type of column amount from double to decimal(12,2)" in table_change(catalog)


def table_change(catalog) -> str:
    return catalog.schema_versions("sales", "orders")[-1].change


def test_update_column_of_partition_key(catalog):
    catalog.save_table(orders_table())
    table = catalog.update_column("sales", "orders", "year", comment="order year")
    assert table.partition_keys[0].comment == "order year"


def test_update_unknown_column_suggests_name(catalog):
    catalog.save_table(orders_table())
    with pytest.raises(CatalogError, match="no column 'amout'.*Did you mean 'amount'"):
        catalog.update_column("sales", "orders", "amout", comment="x")


def test_update_column_rejects_bad_type(catalog):
    catalog.save_table(orders_table())
    with pytest.raises(CatalogError, match="column 'amount': unknown type 'float64'"):
        catalog.update_column("sales", "orders", "amount", type="float64")


def test_changed_partition_keys_drop_old_partitions(catalog):
    table = catalog.save_table(orders_table())
    catalog.add_partitions("sales", "orders", [Partition({"year": "2024"}, "/data/orders/year=2024")])
    catalog.save_table(replace(table, partition_keys=[Column("month", "int")]))
    assert catalog.list_partitions("sales", "orders") == []
    assert "added partition key month (int); removed partition key year" in table_change(catalog)


# --- optimistic locking ------------------------------------------------------------------------


def test_stale_revision_from_second_catalog_conflicts(tmp_path):
    first = open_catalog(tmp_path / "catalog.db")
    second = open_catalog(tmp_path / "catalog.db")
    first.ensure_database("sales")
    first.save_table(orders_table())
    mine = first.get_table("sales", "orders")
    theirs = second.get_table("sales", "orders")
    second.save_table(replace(theirs, description="theirs"), expected_revision=theirs.revision)
    with pytest.raises(CatalogConflictError, match="changed by someone else.*reload the table and reapply"):
        first.save_table(replace(mine, description="mine"), expected_revision=mine.revision)
    assert first.get_table("sales", "orders").description == "theirs"


def test_update_column_with_stale_revision_conflicts(catalog):
    table = catalog.save_table(orders_table())
    catalog.update_column("sales", "orders", "amount", comment="first")
    with pytest.raises(CatalogConflictError, match="you loaded revision 1, the catalog has revision 2"):
        catalog.update_column("sales", "orders", "amount", comment="second", expected_revision=table.revision)
    assert catalog.get_table("sales", "orders").columns[1].comment == "first"


def test_expected_revision_zero_means_new_table(catalog):
    catalog.save_table(orders_table(), expected_revision=0)
    with pytest.raises(CatalogConflictError, match="already exists"):
        catalog.save_table(orders_table(), expected_revision=0)


def test_save_of_deleted_table_conflicts(catalog):
    table = catalog.save_table(orders_table())
    catalog.delete_table("sales", "orders")
    with pytest.raises(CatalogConflictError, match="was deleted"):
        catalog.save_table(table, expected_revision=table.revision)


WRITER = textwrap.dedent(
    """
    import sys
    from dataclasses import replace
    from catalog import CatalogConflictError, open_catalog

    catalog = open_catalog(sys.argv[1])
    name, count = sys.argv[2], int(sys.argv[3])
    conflicts = 0
    for index in range(count):
        while True:
            table = catalog.get_table("sales", "orders")
            # Append this writer's mark to the description: a lost update would drop a mark.
            description = table.description + f"{name}{index},"
            try:
                catalog.save_table(replace(table, description=description), expected_revision=table.revision)
                break
            except CatalogConflictError:
                conflicts += 1
        catalog.update_column("sales", "orders", "amount", comment=f"{name}{index}")
    print(conflicts)
    """
)


def test_two_processes_lose_no_update(catalog, tmp_path):
    catalog.save_table(orders_table(description=""))
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    count = 40
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    writers = [
        subprocess.Popen(
            [sys.executable, str(script), str(catalog.path), name, str(count)],
            cwd=ROOT,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("a", "b")
    ]
    results = [writer.communicate(timeout=120) for writer in writers]
    for writer, (_, stderr) in zip(writers, results, strict=True):
        assert writer.returncode == 0, stderr
    table = catalog.get_table("sales", "orders")
    marks = table.description.rstrip(",").split(",")
    assert sorted(marks) == sorted(f"{name}{index}" for name in "ab" for index in range(count))
    # Each writer saved the description `count` times and a comment `count` times.
    assert table.revision == 1 + 4 * count


# --- partitions --------------------------------------------------------------------------------


def test_add_partitions_returns_only_new(catalog):
    catalog.save_table(orders_table())
    first = catalog.add_partitions(
        "sales",
        "orders",
        [
            Partition({"year": "2023"}, "/data/orders/year=2023", 5),
            Partition({"YEAR": "2024"}, "/d/year=2024"),
        ],
    )
    again = catalog.add_partitions(
        "sales",
        "orders",
        [Partition({"year": "2024"}, "/d/year=2024"), Partition({"year": "2025"}, "/d/y=2025")],
    )
    assert [partition.values for partition in first] == [{"year": "2023"}, {"year": "2024"}]
    assert again == [Partition({"year": "2025"}, "/d/y=2025")]
    stored = catalog.list_partitions("sales", "orders")
    assert [partition.values["year"] for partition in stored] == ["2023", "2024", "2025"]
    assert stored[0].row_count == 5


def test_add_partitions_keeps_revision(catalog):
    catalog.save_table(orders_table())
    catalog.add_partitions("sales", "orders", [Partition({"year": "2023"}, "/d/year=2023")])
    assert catalog.get_table("sales", "orders").revision == 1


def test_partition_with_wrong_keys_raises(catalog):
    catalog.save_table(orders_table())
    with pytest.raises(CatalogError, match="do not match the partition keys \\['year'\\]"):
        catalog.add_partitions("sales", "orders", [Partition({"month": "1"}, "/d/month=1")])
    assert catalog.list_partitions("sales", "orders") == []


def test_partition_of_unpartitioned_table_raises(catalog):
    catalog.save_table(orders_table(partition_keys=[]))
    with pytest.raises(CatalogError, match="has no partition keys"):
        catalog.add_partitions("sales", "orders", [Partition({"year": "1"}, "/d/year=1")])


def test_replace_partitions_adds_updates_and_removes(catalog):
    catalog.save_table(orders_table())
    catalog.add_partitions(
        "sales",
        "orders",
        [Partition({"year": "2023"}, "/d/year=2023", 5), Partition({"year": "2024"}, "/d/year=2024", 6)],
    )
    added, removed = catalog.replace_partitions(
        "sales",
        "orders",
        [Partition({"YEAR": "2024"}, "/new/year=2024", 7), Partition({"year": "2025"}, "/new/year=2025", 8)],
    )
    assert added == [Partition({"year": "2025"}, "/new/year=2025", 8)]
    assert removed == [Partition({"year": "2023"}, "/d/year=2023", 5)]
    assert catalog.list_partitions("sales", "orders") == [
        Partition({"year": "2024"}, "/new/year=2024", 7),
        Partition({"year": "2025"}, "/new/year=2025", 8),
    ]
    assert catalog.get_table("sales", "orders").revision == 2


def test_replace_partitions_with_none_removes_all(catalog):
    catalog.save_table(orders_table())
    catalog.add_partitions("sales", "orders", [Partition({"year": "2023"}, "/d/year=2023")])
    added, removed = catalog.replace_partitions("sales", "orders", [])
    assert added == []
    assert [partition.values for partition in removed] == [{"year": "2023"}]
    assert catalog.list_partitions("sales", "orders") == []


def test_replace_partitions_is_one_transaction(catalog):
    catalog.save_table(orders_table())
    before = catalog.add_partitions("sales", "orders", [Partition({"year": "2023"}, "/d/year=2023")])
    with pytest.raises(CatalogError, match="do not match the partition keys \\['year'\\]"):
        catalog.replace_partitions(
            "sales",
            "orders",
            [Partition({"year": "2025"}, "/d/year=2025"), Partition({"month": "1"}, "/d/m=1")],
        )
    assert catalog.list_partitions("sales", "orders") == before
    assert catalog.get_table("sales", "orders").revision == 1


def test_replace_partitions_stale_revision_raises(catalog):
    catalog.save_table(orders_table())
    catalog.save_table(orders_table(description="changed"))
    with pytest.raises(CatalogConflictError, match="you loaded revision 1, the catalog has revision 2"):
        catalog.replace_partitions(
            "sales", "orders", [Partition({"year": "2025"}, "/d/year=2025")], expected_revision=1
        )
    assert catalog.list_partitions("sales", "orders") == []


def test_replace_partitions_of_missing_table_raises(catalog):
    catalog.save_table(orders_table())
    with pytest.raises(TableNotFoundError, match="'sales.ordres' not found.*Did you mean"):
        catalog.replace_partitions("sales", "ordres", [])


# --- connections -------------------------------------------------------------------------------


def warehouse(**changes) -> Connection:
    connection = Connection(name="warehouse", database="shop", user="etl", password_env="WAREHOUSE_PASSWORD")
    return replace(connection, **changes)


def test_save_and_get_connection(catalog):
    saved = catalog.save_connection(warehouse())
    assert saved.revision == 1
    assert catalog.get_connection("warehouse") == saved
    assert catalog.list_connections() == [saved]


def test_connection_file_never_contains_password(catalog, monkeypatch):
    monkeypatch.setenv("WAREHOUSE_PASSWORD", "s3cret-value")
    catalog.save_connection(warehouse())
    assert b"s3cret-value" not in catalog.path.read_bytes()
    columns = [row[1] for row in sqlite3.connect(catalog.path).execute("PRAGMA table_info(connections)")]
    assert "password" not in columns


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"password_env": ""}, "exactly one of password_env"),
        ({"password_file": "/run/secrets/pg"}, "exactly one of password_env"),
        ({"password_env": "hunter2!"}, "not the password"),
        ({"port": 0}, "invalid port 0"),
        ({"kind": "postgres"}, "Did you mean 'postgresql'"),
        ({"host": ""}, "host is missing"),
        ({"name": "my warehouse"}, "invalid connection name"),
    ],
)
def test_invalid_connection_raises(catalog, changes, message):
    with pytest.raises(CatalogError, match=message):
        catalog.save_connection(warehouse(**changes))


def test_connection_with_password_file(catalog):
    saved = catalog.save_connection(warehouse(password_env="", password_file="/run/secrets/pg"))
    assert saved.password_file == "/run/secrets/pg"


def test_stale_connection_conflicts(catalog):
    loaded = catalog.save_connection(warehouse())
    catalog.save_connection(replace(loaded, host="db.internal"), expected_revision=loaded.revision)
    with pytest.raises(CatalogConflictError, match="reload the connection and reapply"):
        catalog.save_connection(replace(loaded, port=5433), expected_revision=loaded.revision)


def test_unknown_connection_suggests_name(catalog):
    catalog.save_connection(warehouse())
    with pytest.raises(ConnectionNotFoundError, match="Did you mean 'warehouse'"):
        catalog.get_connection("warehose")
    with pytest.raises(ConnectionNotFoundError):
        catalog.delete_connection("warehose")


def test_delete_connection(catalog):
    catalog.save_connection(warehouse())
    catalog.delete_connection("warehouse")
    assert catalog.list_connections() == []
