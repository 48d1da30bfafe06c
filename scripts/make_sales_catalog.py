"""Derive assets/data/sales_catalog/ from the bundled sales and taxi data, for the crawler example.

Run from the repository root: `.venv/bin/python scripts/make_sales_catalog.py`. It rewrites the
folder's data files with DuckDB (extension downloads off) and leaves PROVENANCE.md alone.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "assets" / "data"
TARGET = DATA / "sales_catalog"
SALES = DATA / "sales_json" / "sales-data.json"
TRIPS = DATA / "nyc_taxi" / "yellow_tripdata_2021-07_sample1000.csv"
ZONES = DATA / "nyc_taxi" / "taxi_zone_lookup.csv"


def main() -> None:
    for folder in ("orders", "products", "trips"):
        shutil.rmtree(TARGET / folder, ignore_errors=True)
    TARGET.mkdir(parents=True, exist_ok=True)
    connection = duckdb.connect(
        ":memory:", config={"autoload_known_extensions": False, "autoinstall_known_extensions": False}
    )
    connection.execute("SET TimeZone = 'UTC'")
    connection.execute(
        f"CREATE VIEW sales AS SELECT * FROM read_json('{SALES}', format = 'newline_delimited')"
    )
    _write_orders(connection)
    _write_products(connection)
    _write_trips(connection)
    shutil.copyfile(ZONES, TARGET / "zones.csv")
    connection.close()


def _write_orders(connection: duckdb.DuckDBPyConnection) -> None:
    """Write the orders as Parquet in Hive-style folders year=YYYY, as Spark's partitionBy("year") does."""
    connection.execute(
        f"""
        COPY (
            SELECT order_id, CAST(customer_id AS INTEGER) AS customer_id, product_name, category,
                   CAST(price AS DECIMAL(6, 2)) AS price, CAST(datetime AS TIMESTAMPTZ) AS order_time,
                   year(CAST(datetime AS TIMESTAMPTZ)) AS year
            FROM sales ORDER BY order_time, order_id
        ) TO '{TARGET / "orders"}' (FORMAT parquet, PARTITION_BY (year), FILENAME_PATTERN 'part-{{i}}')
        """
    )


def _write_products(connection: duckdb.DuckDBPyConnection) -> None:
    """Write one JSON Lines record per product: its category and list price."""
    (TARGET / "products").mkdir()
    connection.execute(
        f"""
        COPY (
            SELECT product_name, category, max(CAST(price AS DOUBLE)) AS price
            FROM sales GROUP BY product_name, category ORDER BY product_name
        ) TO '{TARGET / "products" / "products.json"}' (FORMAT json)
        """
    )


def _write_trips(connection: duckdb.DuckDBPyConnection) -> None:
    """Write the 1,000 taxi trips as two CSV files of one folder, split by vendor."""
    (TARGET / "trips").mkdir()
    for vendor in (1, 2):
        connection.execute(
            f"""
            COPY (SELECT * FROM read_csv('{TRIPS}', all_varchar = true) WHERE VendorID = '{vendor}')
            TO '{TARGET / "trips" / f"vendor_{vendor}.csv"}' (FORMAT csv, HEADER true)
            """
        )


if __name__ == "__main__":
    main()
