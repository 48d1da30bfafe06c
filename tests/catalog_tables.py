"""A small data catalog built through the store API, over files written here with DuckDB.

- sales.orders: Parquet partitioned by year (int) and region (string), with a NULL region
  (Spark's __HIVE_DEFAULT_PARTITION__ folder) and NULL, empty and non-ASCII values;
- sales.customers: CSV with `;` as delimiter, a duplicate key (10), a NULL key and a name
  that clashes with no order column;
- sales.events: JSON Lines partitioned by day (date).
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from catalog.model import Column, Table
from catalog.reading import partition_folders
from catalog.store import Catalog, open_catalog
from codegen.quoting import sql_literal

ORDERS = {
    ("2024", "eu"): "(1, 10, 'pen', 2.5), (2, 20, 'ink', NULL)",
    ("2024", "us"): "(3, 30, 'pad', 4.0)",
    ("2025", "__HIVE_DEFAULT_PARTITION__"): "(4, NULL, 'Zoë', 1.25)",
    ("2025", "eu"): "(5, 10, '', 0.0), (6, 99, 'Straße', 3.0)",
}
ORDER_COLUMNS = [
    Column("order_id", "int"),
    Column("customer_id", "bigint"),
    Column("item", "string"),
    Column("amount", "double"),
]
ORDER_KEYS = [Column("year", "int"), Column("region", "string")]
CUSTOMERS_CSV = "id;name;city\n10;Ann;Paris\n10;Ann B;Lyon\n20;Bob;\n;Nobody;Oslo\n99;Zoë;Köln\n"
EVENTS = {
    "2024-01-01": '{"event_id": 1, "kind": "open"}\n{"event_id": 2, "kind": null}\n',
    "2024-01-02": '{"event_id": 3, "kind": "close"}\n',
}


def write_orders(folder: Path) -> Path:
    """Write sales.orders as Spark lays out a partitioned table: one folder per partition."""
    for (year, region), rows in ORDERS.items():
        partition = folder / f"year={year}" / f"region={region}"
        partition.mkdir(parents=True)
        query = (
            "SELECT CAST(a AS INTEGER) AS order_id, CAST(b AS BIGINT) AS customer_id, "
            f"CAST(c AS VARCHAR) AS item, CAST(d AS DOUBLE) AS amount FROM (VALUES {rows}) t(a, b, c, d)"
        )
        target = sql_literal(str(partition / "part-00000.parquet"))
        duckdb.sql(f"COPY ({query}) TO {target} (FORMAT parquet)")
    (folder / "_SUCCESS").write_text("", encoding="utf-8")
    return folder


def write_customers(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "part-00000.csv").write_text(CUSTOMERS_CSV, encoding="utf-8")
    return folder


def write_events(folder: Path) -> Path:
    for day, lines in EVENTS.items():
        partition = folder / f"day={day}"
        partition.mkdir(parents=True)
        (partition / "part-00000.json").write_text(lines, encoding="utf-8")
    return folder


def build_sales_catalog(folder: Path, catalog_file: Path) -> Catalog:
    """Write the three tables under `folder` and register them in a new catalog file."""
    catalog = open_catalog(catalog_file)
    catalog.create_database("sales")
    orders = write_orders(folder / "orders")
    catalog.save_table(Table("sales", "orders", str(orders), "parquet", {}, ORDER_COLUMNS, ORDER_KEYS, None))
    catalog.add_partitions("sales", "orders", partition_folders(str(orders), ["year", "region"]))
    customers = write_customers(folder / "customers")
    catalog.save_table(
        Table(
            "sales",
            "customers",
            str(customers),
            "csv",
            {"header": "true", "sep": ";"},
            [Column("id", "bigint"), Column("name", "string"), Column("city", "string")],
            [],
            None,
        )
    )
    events = write_events(folder / "events")
    catalog.save_table(
        Table(
            "sales",
            "events",
            str(events),
            "json",
            {},
            [Column("event_id", "bigint"), Column("kind", "string")],
            [Column("day", "date")],
            None,
        )
    )
    catalog.add_partitions("sales", "events", partition_folders(str(events), ["day"]))
    return catalog
