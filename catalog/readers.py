"""Format, schema and row count of one data file, read with DuckDB's CSV, JSON and Parquet readers."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from catalog.model import Column
from codegen.quoting import sql_literal
from codegen.types import spark_type

logger = logging.getLogger(__name__)

# Extension downloads stay off, as in the preview: a crawl reads local files only.
DUCKDB_CONFIG = {"autoload_known_extensions": False, "autoinstall_known_extensions": False}
EXTENSIONS = {
    ".csv": "csv",
    ".tsv": "csv",
    ".json": "json",
    ".jsonl": "json",
    ".ndjson": "json",
    ".parquet": "parquet",
}
COMPRESSION_SUFFIXES = (".gz", ".zst")
# Counting the rows of a CSV or JSON file means reading all of it, so larger files keep an
# unknown row count. Parquet files store their row count, which is always read.
MAX_COUNTED_BYTES = 16 * 1024 * 1024


class UnreadableFileError(Exception):
    """A data file that DuckDB cannot read; the message is the reason shown to the user."""


@dataclass
class FileSchema:
    """The format, reader options, columns and row count read from one data file."""

    path: Path
    format: str
    options: dict[str, Any]
    columns: list[Column]
    row_count: int | None
    partition_values: dict[str, str] = field(default_factory=dict)


def file_format(path: Path) -> str | None:
    """Return csv, json or parquet from a file's extension (also under .gz or .zst), or None."""
    suffixes = [suffix.lower() for suffix in path.suffixes]
    if suffixes and suffixes[-1] in COMPRESSION_SUFFIXES:
        suffixes = suffixes[:-1]
    if not suffixes:
        return None
    return EXTENSIONS.get(suffixes[-1])


def connect() -> duckdb.DuckDBPyConnection:
    return duckdb.connect(":memory:", config=DUCKDB_CONFIG)


def read_file_schema(connection: duckdb.DuckDBPyConnection, path: Path, file_format: str) -> FileSchema:
    """Read a file's schema, reader options and (when cheap) row count, or raise UnreadableFileError."""
    try:
        if file_format == "csv":
            options = _csv_options(connection, path)
        elif file_format == "json":
            options = _json_options(connection, path)
        else:
            options = {}
        reader = reader_sql([str(path)], file_format, options)
        rows = connection.execute(f"DESCRIBE SELECT * FROM {reader}").fetchall()
        columns = [Column(row[0], spark_type(row[1])) for row in rows]
        row_count = _row_count(connection, path, file_format, reader)
    except duckdb.Error as exc:
        raise UnreadableFileError(_first_line(exc)) from None
    if not columns:
        raise UnreadableFileError("the file has no columns")
    return FileSchema(path, file_format, options, columns, row_count)


def reader_sql(paths: list[str], file_format: str, options: dict[str, Any], hive_types: str = "") -> str:
    """Return a DuckDB table function call that reads files with the options a crawl recorded.

    `hive_types` is a DuckDB struct literal of partition column types; without it, partition
    folders are not read as columns.
    """
    files = "[" + ", ".join(sql_literal(path) for path in paths) + "]"
    hive = (
        f"hive_partitioning = true, hive_types = {hive_types}" if hive_types else "hive_partitioning = false"
    )
    if file_format == "csv":
        return (
            f"read_csv({files}, header = {_bool(options.get('header', True))}, "
            f"delim = {sql_literal(options.get('delimiter', ','))}, "
            f"quote = {sql_literal(options.get('quote', chr(34)))}, "
            f"escape = {sql_literal(options.get('escape', chr(34)))}, "
            f"nullstr = {sql_literal(options.get('null_value', ''))}, null_padding = true, "
            f"union_by_name = true, {hive})"
        )
    if file_format == "json":
        layout = "auto" if options.get("multiline") else "newline_delimited"
        return f"read_json({files}, format = {sql_literal(layout)}, union_by_name = true, {hive})"
    return f"read_parquet({files}, union_by_name = true, {hive})"


def _csv_options(connection: duckdb.DuckDBPyConnection, path: Path) -> dict[str, Any]:
    """Sniff a CSV file's dialect; the option names are those of the File source node."""
    row = connection.execute(
        "SELECT Delimiter, Quote, Escape, HasHeader FROM sniff_csv(?)", [str(path)]
    ).fetchone()
    delimiter, quote, escape, has_header = (_sniffed(value) for value in row)
    quote = quote or '"'
    return {
        "header": bool(has_header),
        "delimiter": delimiter or ",",
        "quote": quote,
        "escape": escape or quote,
        "null_value": "",
    }


def _sniffed(value: Any) -> Any:
    """Return a sniff_csv value, or '' where DuckDB 2.0 reports the text `(empty)` for none."""
    return "" if value == "(empty)" else value


def _json_options(connection: duckdb.DuckDBPyConnection, path: Path) -> dict[str, Any]:
    """Tell JSON Lines from a file that is one document (Spark's multiLine option)."""
    try:
        connection.execute(f"DESCRIBE SELECT * FROM {reader_sql([str(path)], 'json', {})}").fetchall()
        return {"multiline": False}
    except duckdb.Error:
        logger.debug("%s is not JSON Lines; reading it as one document", path)
        return {"multiline": True}


def _row_count(
    connection: duckdb.DuckDBPyConnection, path: Path, file_format: str, reader: str
) -> int | None:
    if file_format != "parquet" and path.stat().st_size > MAX_COUNTED_BYTES:
        return None
    return int(connection.execute(f"SELECT count(*) FROM {reader}").fetchone()[0])


def _bool(value: Any) -> str:
    return "true" if value else "false"


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
