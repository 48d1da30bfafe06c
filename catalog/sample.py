"""Sample rows of a catalog table, read with DuckDB and typed as the catalog records the columns."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pyarrow as pa

from catalog.errors import CatalogError
from catalog.model import Table
from catalog.readers import connect, file_format, reader_sql
from codegen.quoting import sql_identifier, sql_literal
from codegen.types import duckdb_type

logger = logging.getLogger(__name__)

SAMPLE_FORMATS = ("csv", "json", "parquet")
# A sample needs only the first files; listing stops here so a huge folder stays quick.
MAX_SAMPLE_FILES = 100


def read_sample(table: Table, limit: int = 10) -> pa.Table:
    """Return up to `limit` rows of a table's files, or raise CatalogError saying why they cannot be read.

    Partition columns take the types the catalog records, as Spark's partition discovery
    infers them, and every column is cast to its catalog type.
    """
    if table.format not in SAMPLE_FORMATS:
        raise CatalogError(
            f"table {table.full_name}: sample rows of format {table.format!r} cannot be read here; "
            f"only {', '.join(SAMPLE_FORMATS)} tables have them"
        )
    files = table_files(table)
    hive_types = _hive_types(table)
    reader = reader_sql(files, table.format, table.options, hive_types)
    casts = ", ".join(
        f"CAST({sql_identifier(column.name)} AS {duckdb_type(column.type)}) AS {sql_identifier(column.name)}"
        for column in table.schema
    )
    connection = connect()
    try:
        connection.execute("SET TimeZone = 'UTC'")
        return connection.sql(f"SELECT {casts} FROM {reader} LIMIT {int(limit)}").to_arrow_table()
    except Exception as exc:  # duckdb.Error and its subclasses, which DuckDB raises as several bases
        head = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        logger.info("reading sample rows of %s failed: %s", table.full_name, head)
        raise CatalogError(
            f"table {table.full_name}: reading its {table.format} files at {table.location} failed: "
            f"{head}. If the files changed, crawl the folder again."
        ) from None
    finally:
        connection.close()


def table_files(table: Table) -> list[str]:
    """List up to MAX_SAMPLE_FILES data files of a table, skipping names that Spark skips (`.x`, `_x`)."""
    location = Path(table.location)
    if not location.exists():
        raise CatalogError(
            f"table {table.full_name}: its location {table.location} does not exist; restore the files, "
            "crawl the folder that now contains them, or delete the table"
        )
    if location.is_file():
        return [str(location)]
    files: list[str] = []
    for folder, subfolders, names in os.walk(location):
        subfolders[:] = sorted(name for name in subfolders if not name.startswith((".", "_")))
        for name in sorted(names):
            if not name.startswith((".", "_")) and file_format(Path(name)) == table.format:
                files.append(str(Path(folder) / name))
        if len(files) >= MAX_SAMPLE_FILES:
            break
    if not files:
        raise CatalogError(
            f"table {table.full_name}: its location {table.location} contains no {table.format} files"
        )
    return files[:MAX_SAMPLE_FILES]


def _hive_types(table: Table) -> str:
    if not table.partition_keys:
        return ""
    fields = ", ".join(
        f"{sql_literal(column.name)}: {sql_literal(duckdb_type(column.type))}"
        for column in table.partition_keys
    )
    return "{" + fields + "}"
