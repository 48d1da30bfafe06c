"""Output-schema rules of the nodes that use the data catalog: source.catalog, transform.lookup
and target.catalog, and the check of the `spark_table` parameter of file targets.

A catalog table is looked up in the default catalog (catalog.store.catalog_path) each time a
job is validated, so a table that changes in the catalog changes the node's schema.
"""

from __future__ import annotations

import os

from catalog.errors import CatalogError, DatabaseNotFoundError, TableNotFoundError
from catalog.model import Table
from catalog.reading import READABLE_FORMATS, load_table
from catalog.validation import IDENTIFIER
from codegen import infer
from codegen.expressions import check_columns, parse_expression, referenced_columns, to_duckdb
from codegen.quoting import PARAMETER_REFERENCE
from designer.errors import ExpressionError, did_you_mean
from designer.nodes import NodeError
from designer.schema import Column, Schema, column_names, find_column, is_numeric

WAREHOUSE_FOLDER = "warehouse"


def catalog_table(node) -> Table:
    """Return the catalog table a node names in its `database` and `table` parameters."""
    database = str(node.params.get("database") or "")
    name = str(node.params.get("table") or "")
    try:
        return load_table(database, name)
    except DatabaseNotFoundError as error:
        raise NodeError("database", str(error)) from None
    except TableNotFoundError as error:
        parameter = "database" if "has no database" in str(error) else "table"
        raise NodeError(
            parameter, f"{error} Crawl the files into the catalog or pick another table."
        ) from None
    except CatalogError as error:
        raise NodeError("table", str(error)) from None


def existing_table(node) -> Table | None:
    """Return the catalog table a target names, or None when the catalog has no such table yet."""
    try:
        return load_table(str(node.params.get("database") or ""), str(node.params.get("table") or ""))
    except (DatabaseNotFoundError, TableNotFoundError):
        return None
    except CatalogError as error:
        raise NodeError("table", str(error)) from None


def table_schema(table: Table) -> Schema:
    """Return a table's columns as Spark's partition discovery gives them: data, then partition."""
    return [Column(column.name, column.type) for column in table.schema]


def _check_readable(table: Table) -> None:
    if table.format not in READABLE_FORMATS:
        raise NodeError(
            "table",
            f"table {table.full_name} is stored as {table.format}, which this node cannot read; "
            f"use a table stored as {', '.join(READABLE_FORMATS)}",
        )


# --- source.catalog ----------------------------------------------------------------------------


def source_catalog_schema(node) -> Schema:
    table = catalog_table(node)
    _check_readable(table)
    check_partition_predicate(node, table)
    return table_schema(table)


def check_partition_predicate(node, table: Table) -> None:
    """Check that the predicate parses and reads partition columns only; raise NodeError if not."""
    text = str(node.params.get("partition_predicate") or "").strip()
    if not text:
        return
    keys = [Column(column.name, column.type) for column in table.partition_keys]
    if not keys:
        raise NodeError(
            "partition_predicate",
            f"table {table.full_name} has no partition columns, so a partition predicate cannot "
            "prune anything; clear it and filter rows with a Filter node",
        )
    try:
        tree = parse_expression(text)
        _check_partition_columns(tree, table, text)
        check_columns(tree, keys)
    except ExpressionError as error:
        raise NodeError("partition_predicate", f"{error} in {text!r}") from None
    _check_boolean(tree, keys, text)


def _check_partition_columns(tree, table: Table, text: str) -> None:
    keys = [column.name for column in table.partition_keys]
    for name in referenced_columns(tree):
        if find_column(table.columns, name) is not None:
            raise NodeError(
                "partition_predicate",
                f"column {name!r} in {text!r} is a data column of {table.full_name}, not a partition "
                f"column; the predicate may use only {', '.join(keys)}. To keep rows by {name!r}, add "
                "a Filter node after this source",
            )


def _check_boolean(tree, keys: Schema, text: str) -> None:
    try:
        result_type = infer.expression_type(to_duckdb(tree, keys), keys)
    except ExpressionError as error:
        raise NodeError("partition_predicate", str(error)) from None
    if result_type != "boolean":
        raise NodeError(
            "partition_predicate",
            f"the predicate gives {result_type}, not boolean; compare it, for example {text} = ...",
        )


# --- transform.lookup --------------------------------------------------------------------------


def lookup_schema(node, schema: Schema) -> Schema:
    """Return the input's columns followed by the lookup columns the node adds."""
    table = catalog_table(node)
    _check_readable(table)
    lookup_keys(node, schema, table)
    added = lookup_columns(node, schema, table)
    return list(schema) + [Column(column.name, column.type) for column in added]


def lookup_keys(node, schema: Schema, table: Table) -> list[tuple[Column, Column]]:
    """Return (input column, lookup column) for each key pair, or raise NodeError."""
    keys = node.params.get("keys") or []
    if not keys:
        raise NodeError("keys", "a lookup needs at least one key pair (input column = lookup column)")
    pairs = []
    for pair in keys:
        input_column = _input_column(schema, str(pair.get("input", "")))
        lookup_column = _lookup_column(table, str(pair.get("lookup", "")), "keys")
        if is_numeric(input_column.type) != is_numeric(lookup_column.type):
            raise NodeError(
                "keys",
                f"key {input_column.name} ({input_column.type}) = {lookup_column.name} "
                f"({lookup_column.type}) compares a number with a non-number; cast the input "
                "column with a Change Schema node first",
            )
        pairs.append((input_column, lookup_column))
    return pairs


def lookup_columns(node, schema: Schema, table: Table) -> list[Column]:
    """Return the lookup table's columns the node adds, or raise NodeError for a clash."""
    names = [str(name) for name in node.params.get("columns") or []]
    if not names:
        raise NodeError("columns", f"choose at least one column of {table.full_name} to add")
    added: list[Column] = []
    for name in names:
        column = _lookup_column(table, name, "columns")
        if find_column(schema, column.name) is not None:
            raise NodeError(
                "columns",
                f"column {column.name!r} exists both in the input and in {table.full_name}; rename "
                "the input column with a Change Schema node first, or leave it out of the columns to add",
            )
        if find_column(added, column.name) is not None:
            raise NodeError("columns", f"column {column.name!r} is listed twice; list it once")
        added.append(column)
    return added


def _input_column(schema: Schema, name: str) -> Column:
    column = find_column(schema, name)
    if column is None:
        raise NodeError(
            "keys",
            f"unknown input column {name!r}.{did_you_mean(name, column_names(schema))} "
            f"Available columns: {', '.join(column_names(schema)) or '(none)'}.",
        )
    return column


def _lookup_column(table: Table, name: str, parameter: str) -> Column:
    schema = table_schema(table)
    column = find_column(schema, name)
    if column is None:
        raise NodeError(
            parameter,
            f"table {table.full_name} has no column {name!r}.{did_you_mean(name, column_names(schema))} "
            f"Its columns: {', '.join(column_names(schema))}.",
        )
    return column


# --- target.catalog ----------------------------------------------------------------------------


def default_target_path(database: str, table: str) -> str:
    """Return where a new table's files go when the node sets no path: warehouse/DATABASE/TABLE.

    The path is relative to the folder the script runs in, as every relative path of a job is.
    """
    return f"{WAREHOUSE_FOLDER}/{database.lower()}/{table.lower()}"


def target_path(node, table: Table | None) -> str:
    """Return the path the target writes to: its own, else the existing table's, else the default."""
    path = str(node.params.get("path") or "").strip()
    if path:
        return path
    if table is not None:
        return table.location
    return default_target_path(str(node.params["database"]), str(node.params["table"]))


def target_catalog_schema(node, schema: Schema) -> Schema:
    for parameter in ("database", "table"):
        _check_name(node, parameter)
    keys = [str(name) for name in node.params.get("partition_keys") or []]
    for name in keys:
        if find_column(schema, name) is None:
            raise NodeError(
                "partition_keys",
                f"unknown column {name!r}.{did_you_mean(name, column_names(schema))}",
            )
    if len(keys) >= len(schema):
        raise NodeError("partition_keys", "partitioning by every column leaves no data columns to write")
    table = existing_table(node)
    if table is not None:
        _check_existing_table(node, schema, table)
    check_spark_table(node)
    return list(schema)


def _check_name(node, parameter: str) -> None:
    value = str(node.params.get(parameter) or "")
    if not IDENTIFIER.match(value):
        raise NodeError(
            parameter,
            f"invalid {parameter} name {value!r}; use letters, digits and underscores, "
            "starting with a letter",
        )


def _check_existing_table(node, schema: Schema, table: Table) -> None:
    file_format = node.params.get("format", "parquet")
    if table.format != file_format:
        raise NodeError(
            "format",
            f"table {table.full_name} is stored as {table.format}; set the format to {table.format} "
            "or write to a new table",
        )
    keys = [str(name).lower() for name in node.params.get("partition_keys") or []]
    existing_keys = [column.name.lower() for column in table.partition_keys]
    if keys != existing_keys:
        raise NodeError(
            "partition_keys",
            f"table {table.full_name} is partitioned by {', '.join(existing_keys) or '(nothing)'}; "
            "use the same partition keys in the same order, or write to a new table",
        )
    _check_same_location(node, table)
    if node.params.get("update_catalog") == "keep_schema_add_partitions":
        data_columns = [column for column in schema if column.name.lower() not in keys]
        difference = schema_difference(table.columns, data_columns)
        if difference:
            raise NodeError(
                "update_catalog",
                f"the input does not match the schema of {table.full_name}, which "
                f"keep_schema_add_partitions keeps: {difference}. Change the input with a Change "
                "Schema node, or choose create_update_schema",
            )


def _check_same_location(node, table: Table) -> None:
    path = str(node.params.get("path") or "").strip()
    if not path or PARAMETER_REFERENCE.search(path) or "://" in path:
        return
    if os.path.abspath(path) != os.path.abspath(table.location):
        raise NodeError(
            "path",
            f"table {table.full_name} is at {table.location}, not {path}; clear the path to write "
            "to the table's location, or write to a new table",
        )


def schema_difference(expected: list[Column], actual: list[Column]) -> str:
    """Describe how `actual` differs from `expected` (names, order and types), or return ''."""
    expected_text = [f"{column.name.lower()} {column.type}" for column in expected]
    actual_text = [f"{column.name.lower()} {column.type}" for column in actual]
    if expected_text == actual_text:
        return ""
    return f"expected ({', '.join(expected_text)}), got ({', '.join(actual_text)})"


# --- spark_table -------------------------------------------------------------------------------


def spark_table_name(node) -> tuple[str, str] | None:
    """Return the (database, table) of a target's `spark_table` parameter, or None when unset."""
    value = str(node.params.get("spark_table") or "").strip()
    if not value:
        return None
    parts = value.split(".")
    if len(parts) != 2 or not all(IDENTIFIER.match(part) for part in parts):
        raise NodeError(
            "spark_table",
            f"invalid Spark table name {value!r}; write it as DATABASE.TABLE with letters, digits "
            "and underscores, for example sales.orders",
        )
    return parts[0], parts[1]


def check_spark_table(node) -> None:
    spark_table_name(node)
