"""Output types of Spark SQL expressions and queries, found by DuckDB over empty tables."""

from __future__ import annotations

from functools import lru_cache

import duckdb

from codegen.expressions import empty_table_sql
from codegen.quoting import sql_identifier
from codegen.types import spark_type
from designer.errors import ExpressionError
from designer.schema import Column, Schema


def describe_select(sql: str, tables: dict[str, Schema]) -> Schema:
    """Return the schema of a DuckDB query over empty tables with the given schemas."""
    frozen = tuple((name, tuple(schema)) for name, schema in sorted(tables.items()))
    return list(_describe(sql, frozen))


@lru_cache(maxsize=2048)
def _describe(sql: str, tables: tuple[tuple[str, tuple[Column, ...]], ...]) -> tuple[Column, ...]:
    """Describe a query in a new database; cached, because validation repeats it on every edit."""
    connection = duckdb.connect(
        ":memory:",
        config={"autoload_known_extensions": False, "autoinstall_known_extensions": False},
    )
    try:
        for table, schema in tables:
            connection.execute(empty_table_sql(table, list(schema)))
        connection.execute("SET enable_external_access = false")
        try:
            rows = connection.execute(f"DESCRIBE {sql}").fetchall()
        except duckdb.Error as error:
            raise ExpressionError(_first_line(error)) from None
    finally:
        connection.close()
    return tuple(Column(row[0], spark_type(row[1])) for row in rows)


def expression_type(duckdb_expression: str, schema: Schema) -> str:
    """Return the Spark type of an expression that is already in DuckDB SQL."""
    columns = describe_select(
        f"SELECT {duckdb_expression} AS {sql_identifier('value')} FROM {sql_identifier('input')}",
        {"input": schema},
    )
    return columns[0].type


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
