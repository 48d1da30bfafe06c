"""Read the first rows of a catalog table with DuckDB, from the files at the table's location."""

from __future__ import annotations

import logging
from pathlib import Path

import duckdb
import pyarrow as pa

from catalog import reading
from catalog.errors import CatalogError
from catalog.model import Table
from codegen.duckdb_preview import DUCKDB_CONFIG
from codegen.duckdb_preview_catalog import scan_sql

logger = logging.getLogger(__name__)

SAMPLE_FORMATS = reading.READABLE_FORMATS
MAX_FILES = 1000


def read_sample(table: Table, limit: int) -> pa.Table:
    """Return up to `limit` rows of `table`, or raise CatalogError saying why they cannot be read."""
    if table.format not in SAMPLE_FORMATS:
        raise CatalogError(
            f"table {table.full_name}: sample rows of format {table.format!r} cannot be shown here; "
            f"the Catalog page reads {', '.join(SAMPLE_FORMATS)}"
        )
    files = data_files(table)
    # The same query as a Catalog source node's preview, so the rows have the catalog's column types.
    sql = f"{scan_sql(table, files, table.schema)} LIMIT {int(limit)}"
    connection = duckdb.connect(":memory:", config=DUCKDB_CONFIG)
    try:
        return connection.sql(sql).to_arrow_table()
    except duckdb.Error as error:
        head = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        logger.info("reading sample rows of %s failed: %s", table.full_name, head)
        raise CatalogError(
            f"table {table.full_name}: reading {table.format} files at {table.location} failed: {head}. "
            "Check that the column types fit the files, or crawl the folder again if the files changed."
        ) from None
    finally:
        connection.close()


def data_files(table: Table) -> list[str]:
    """Return at most MAX_FILES data files of the table, or raise CatalogError when there are none."""
    if not Path(table.location).exists():
        raise CatalogError(
            f"table {table.full_name}: its location {table.location} no longer exists. Restore the "
            "files, or delete the table from the catalog, or crawl the folder that now holds them."
        )
    files = reading.data_files(table.location)
    if not files:
        raise CatalogError(f"table {table.full_name}: its location {table.location} contains no data files")
    return files[:MAX_FILES]
