"""Output-schema rules of the PostgreSQL nodes (source.jdbc and target.jdbc).

A source's schema is the one stored in its `schema` parameter, which the designer reads from
the server when the table or query is set. Validation, export and run use a stored schema
without contacting the server. Without one, the schema comes from the server, through
catalog.postgres, cached per connection and table or query for the life of the process. A
server that cannot be reached is then a problem of the node's `connection` parameter, not a crash.
A target checks an existing table's columns only when the server responds.
"""

from __future__ import annotations

import datetime as dt
import logging

from catalog.errors import CatalogError
from catalog.model import Connection
from designer.errors import did_you_mean
from designer.nodes import NodeError
from designer.schema import Column, Schema, column_names, find_column, is_numeric, normalize_type

logger = logging.getLogger(__name__)

PARTITION_PARAMS = ("partition_column", "lower_bound", "upper_bound", "num_partitions")
SCHEMA_PARAM = "schema"
READ_SCHEMA_HINT = (
    "press 'Read schema' on the node in the designer while the server is reachable, or write the "
    'columns into the job file as "schema": [{"name": ..., "type": ...}]'
)
# (connection, table, message) of the target checks already logged as skipped, so a designer
# that validates on every rerun logs each one once.
_skipped_target_checks: set[tuple[str, str, str]] = set()


def node_connection(node) -> Connection:
    """Return the catalog connection a node names, or raise NodeError on its `connection` parameter."""
    from catalog.postgres import load_connection

    name = str(node.params.get("connection") or "")
    try:
        return load_connection(name)
    except CatalogError as error:
        raise NodeError("connection", str(error)) from None


def source_relation(node) -> tuple[str | None, str | None]:
    """Return the node's (table, query), exactly one of them set, or raise NodeError."""
    table = str(node.params.get("table") or "").strip()
    query = str(node.params.get("query") or "").strip()
    if table and query:
        raise NodeError("query", "set a table or a query, not both; clear one of them")
    if not table and not query:
        raise NodeError("table", "set a table (TABLE or SCHEMA.TABLE) or a query to read")
    return (table or None, query or None)


def source_jdbc_schema(node) -> Schema:
    """Return the node's stored schema, else the schema Spark's JDBC reader gives its table or query."""
    _checked_relation(node)
    node_connection(node)  # the script needs the connection's server, database and user
    schema = stored_schema(node)
    if schema is None:
        schema = read_source_schema(node, missing_schema_hint=True)
    check_partitioning(node, schema)
    return schema


def _checked_relation(node) -> tuple[str | None, str | None]:
    from catalog.postgres import PostgresError, check_query

    table, query = source_relation(node)
    if query:
        try:
            check_query(query)
        except PostgresError as error:
            raise NodeError("query", str(error)) from None
    return table, query


def stored_schema(node) -> Schema | None:
    """Return the schema stored in the node's `schema` parameter, or None when it is empty."""
    rows = node.params.get(SCHEMA_PARAM) or []
    if not rows:
        return None
    schema: Schema = []
    for position, item in enumerate(rows):
        name = str(item.get("name") or "").strip() if isinstance(item, dict) else ""
        if not name:
            raise NodeError(
                SCHEMA_PARAM,
                f"column {position + 1} of the stored schema has no name; name it, or {READ_SCHEMA_HINT}",
            )
        try:
            schema.append(Column(name, normalize_type(str(item.get("type") or ""))))
        except ValueError as error:
            raise NodeError(SCHEMA_PARAM, f"column {name!r}: {error}") from None
    _check_unique_names(schema)
    return schema


def _check_unique_names(schema: Schema) -> None:
    seen: dict[str, str] = {}
    for column in schema:
        if column.name.lower() in seen:
            raise NodeError(
                SCHEMA_PARAM,
                f"column {column.name!r} appears twice in the stored schema (Spark compares names "
                f"case-insensitively, so {seen[column.name.lower()]!r} and {column.name!r} collide); "
                f"remove one, or {READ_SCHEMA_HINT}",
            )
        seen[column.name.lower()] = column.name


def read_source_schema(node, *, refresh: bool = False, missing_schema_hint: bool = False) -> Schema:
    """Read the schema of the node's table or query from the server, through the process's cache.

    `refresh` reads from the server even when the cache has the schema. `missing_schema_hint` adds
    to a connection failure that a stored schema makes the server unnecessary for validation.
    """
    from catalog.postgres import PostgresConnectError, cached_table_schema

    table, query = _checked_relation(node)
    conn = node_connection(node)
    try:
        return cached_table_schema(conn, table=table, query=query, refresh=refresh)
    except PostgresConnectError as error:
        hint = (
            f". The node has no stored schema, so validation reads it from the server; {READ_SCHEMA_HINT} "
            "to store it, so that validate, export and run no longer need the server"
            if missing_schema_hint
            else ""
        )
        raise NodeError("connection", f"{error}{hint}") from None
    except CatalogError as error:
        raise NodeError("table" if table else "query", str(error)) from None


def partitioning(node) -> dict | None:
    """Return the partitioned read's settings, or None when the node reads with one query."""
    column = str(node.params.get("partition_column") or "").strip()
    if not column:
        return None
    return {
        "column": column,
        "lower_bound": str(node.params.get("lower_bound") or "").strip(),
        "upper_bound": str(node.params.get("upper_bound") or "").strip(),
        "num_partitions": node.params.get("num_partitions"),
    }


def check_partitioning(node, schema: Schema) -> None:
    """Check a partitioned read's column, bounds and number of partitions against the schema."""
    settings = partitioning(node)
    if settings is None:
        for name in PARTITION_PARAMS[1:]:
            if node.params.get(name) not in (None, "", 0):
                raise NodeError(
                    name, f"{name} needs a partition column; set partition_column or clear {name}"
                )
        return
    column = find_column(schema, settings["column"])
    if column is None:
        names = column_names(schema)
        raise NodeError(
            "partition_column",
            f"unknown column {settings['column']!r}.{did_you_mean(settings['column'], names)} "
            f"Available columns: {', '.join(names)}.",
        )
    if not (is_numeric(column.type) or column.type in ("date", "timestamp")):
        raise NodeError(
            "partition_column",
            f"column {column.name!r} is {column.type}; Spark partitions a read by a numeric, date "
            "or timestamp column only",
        )
    lower = _bound(column, "lower_bound", settings["lower_bound"])
    upper = _bound(column, "upper_bound", settings["upper_bound"])
    if lower > upper:
        raise NodeError(
            "upper_bound",
            f"upper bound {settings['upper_bound']!r} is below lower bound {settings['lower_bound']!r}",
        )
    count = settings["num_partitions"]
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        raise NodeError("num_partitions", f"invalid number of partitions {count!r}; use 1 or more")


def _bound(column: Column, parameter: str, text: str):
    """Parse a bound as Spark does for the column's type: a number, a date or a timestamp."""
    if not text:
        raise NodeError(parameter, f"{parameter} is missing; a partitioned read needs both bounds")
    try:
        if column.type == "date":
            return dt.date.fromisoformat(text)
        if column.type == "timestamp":
            return dt.datetime.fromisoformat(text).replace(tzinfo=None)
        return int(text) if not column.type.startswith(("decimal", "float", "double")) else float(text)
    except ValueError:
        example = {"date": "2024-01-31", "timestamp": "2024-01-31 00:00:00"}.get(column.type, "1000")
        raise NodeError(
            parameter,
            f"invalid {parameter} {text!r} for {column.type} column {column.name!r}; write it like {example}",
        ) from None


def target_jdbc_schema(node, schema: Schema) -> Schema:
    """Check the target's table name and, for an existing table, that it has every input column."""
    from catalog.postgres import PostgresConnectError, PostgresError, existing_table_schema, split_table_name

    table = str(node.params.get("table") or "").strip()
    try:
        split_table_name(table)
    except PostgresError as error:
        raise NodeError("table", str(error)) from None
    conn = node_connection(node)
    try:
        existing = existing_table_schema(conn, table)
    except PostgresConnectError as error:
        # A run must not depend on the designer's machine reaching the server, so the check is
        # skipped. If the server is down when the script runs, the run fails with its own error.
        _log_skipped_target_check(node, conn, table, str(error))
        return list(schema)
    except CatalogError as error:
        raise NodeError("table", str(error)) from None
    if existing is not None:
        missing = [column.name for column in schema if find_column(existing, column.name) is None]
        if missing:
            raise NodeError(
                "table",
                f"table {table!r} has no column {', '.join(repr(name) for name in missing)}; "
                f"its columns are {', '.join(column_names(existing))}. Rename or drop the input "
                "columns with a Change Schema node, or write to another table",
            )
    return list(schema)


def _log_skipped_target_check(node, conn: Connection, table: str, reason: str) -> None:
    key = (conn.name, table, reason)
    if key in _skipped_target_checks:
        return
    _skipped_target_checks.add(key)
    logger.warning("node %s: the columns of table %s were not checked: %s", node.id, table, reason)


def skipped_target_check(node) -> str | None:
    """Return why a target's table columns could not be checked, or None when the check ran."""
    from catalog.postgres import PostgresConnectError, existing_table_schema

    table = str(node.params.get("table") or "").strip()
    try:
        existing_table_schema(node_connection(node), table)
    except PostgresConnectError as error:
        return (
            f"the columns of table {table} were not checked against the server ({error}); "
            "a run fails if the server cannot be reached then"
        )
    except (CatalogError, NodeError):
        return None
    return None
