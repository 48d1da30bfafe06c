"""Type mapping between Spark's names (the job file's vocabulary) and DuckDB's."""

from __future__ import annotations

import re

from sqlglot import exp
from sqlglot.errors import ParseError

from designer.schema import render_type

SPARK_TO_DUCKDB = {
    "string": "VARCHAR",
    "boolean": "BOOLEAN",
    "tinyint": "TINYINT",
    "smallint": "SMALLINT",
    "int": "INTEGER",
    "bigint": "BIGINT",
    "float": "FLOAT",
    "double": "DOUBLE",
    "date": "DATE",
    # Spark's timestamp is an instant shown in the session time zone. The preview keeps the
    # session time zone in DuckDB's TimeZone setting and uses TIMESTAMPTZ for the same meaning.
    "timestamp": "TIMESTAMPTZ",
    "binary": "BLOB",
}

DUCKDB_TO_SPARK = {
    "VARCHAR": "string",
    "BOOLEAN": "boolean",
    "TINYINT": "tinyint",
    "SMALLINT": "smallint",
    "INTEGER": "int",
    "BIGINT": "bigint",
    # DuckDB sums integers into HUGEINT where Spark gives bigint (and raises on overflow);
    # the preview casts such results to BIGINT, which raises on overflow too.
    "HUGEINT": "bigint",
    "UTINYINT": "smallint",
    "USMALLINT": "int",
    "UINTEGER": "bigint",
    "UBIGINT": "decimal(20,0)",
    "FLOAT": "float",
    "DOUBLE": "double",
    "DATE": "date",
    "TIMESTAMP": "timestamp",
    "TIMESTAMP WITH TIME ZONE": "timestamp",
    "TIMESTAMP_NS": "timestamp",
    "TIMESTAMP_MS": "timestamp",
    "TIMESTAMP_S": "timestamp",
    "BLOB": "binary",
    '"NULL"': "string",
    "NULL": "string",
}

DECIMAL = re.compile(r"^DECIMAL\((\d+),\s*(\d+)\)$")


def duckdb_type(spark_type: str) -> str:
    """Return the DuckDB type for values of a Spark type."""
    if spark_type in SPARK_TO_DUCKDB:
        return SPARK_TO_DUCKDB[spark_type]
    if spark_type.startswith("decimal"):
        return spark_type.upper()
    # Arrays, maps and structs: sqlglot maps each element type as above.
    return exp.DataType.build(spark_type, dialect="spark").sql(dialect="duckdb")


def spark_type(duckdb_type_name: str) -> str:
    """Return the Spark type name for a DuckDB result type; unknown types map to string."""
    name = duckdb_type_name.upper()
    match = DECIMAL.match(name)
    if match:
        return f"decimal({match.group(1)},{match.group(2)})"
    if name in DUCKDB_TO_SPARK:
        return DUCKDB_TO_SPARK[name]
    if name.endswith("]") or name.startswith(("STRUCT", "MAP")):
        try:
            return render_type(exp.DataType.build(duckdb_type_name, dialect="duckdb"))
        except (ParseError, ValueError):
            return "string"
    return "string"
