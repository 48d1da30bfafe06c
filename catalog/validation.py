"""Checks on the values the catalog stores: names, types, formats, partitions, connections."""

from __future__ import annotations

import json
import re
from typing import Any

from catalog.errors import CatalogError
from catalog.model import Column, Connection, Partition, Table
from designer.errors import did_you_mean
from designer.schema import normalize_type

IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
ENVIRONMENT_VARIABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
MAX_NAME_LENGTH = 128
FORMATS = ("csv", "json", "parquet", "orc", "avro", "text", "jdbc")
CONNECTION_KINDS = ("postgresql",)


def check_identifier(kind: str, name: str) -> str:
    """Return a database or table name in lower case, or raise CatalogError saying why it is invalid.

    Names are case-insensitive and stored in lower case, as Spark's Hive metastore stores them.
    """
    if not isinstance(name, str) or not name:
        raise CatalogError(f"{kind} name is missing; use letters, digits and underscores")
    if len(name) > MAX_NAME_LENGTH or not IDENTIFIER.match(name):
        suggestion = make_identifier(name)
        raise CatalogError(
            f"invalid {kind} name {name!r}: use letters, digits and underscores, starting with a "
            f"letter or underscore, at most {MAX_NAME_LENGTH} characters (for example {suggestion!r})"
        )
    return name.lower()


def make_identifier(text: str) -> str:
    """Turn any text, such as a file stem, into a lower-case identifier: `Sales 2024` -> `sales_2024`."""
    name = re.sub(r"[^0-9A-Za-z_]+", "_", text).strip("_").lower()
    if not name:
        name = "t"
    if name[0].isdigit():
        name = "t_" + name
    return name[:MAX_NAME_LENGTH]


def split_full_name(full_name: str) -> tuple[str, str]:
    """Split "database.table" into its two names, or raise CatalogError showing the expected form."""
    parts = full_name.split(".") if isinstance(full_name, str) else []
    if len(parts) != 2 or not all(parts):
        raise CatalogError(
            f"invalid table name {full_name!r}: write it as DATABASE.TABLE, for example 'sales.orders'"
        )
    return parts[0], parts[1]


def check_table(table: Table) -> Table:
    """Return a copy of `table` with checked names, types and values, or raise CatalogError."""
    database = check_identifier("database", table.database)
    name = check_identifier("table", table.name)
    where = f"table {database}.{name}"
    columns = [_check_column(where, "column", column) for column in table.columns]
    partition_keys = [_check_column(where, "partition key", column) for column in table.partition_keys]
    _check_unique_names(where, columns + partition_keys)
    return Table(
        database=database,
        name=name,
        location=_check_text(where, "location", table.location, required=True),
        format=_check_format(where, table.format),
        options=_check_options(where, table.options),
        columns=columns,
        partition_keys=partition_keys,
        row_count=_check_count(where, "row count", table.row_count),
        description=_check_text(where, "description", table.description),
        created=table.created,
        updated=table.updated,
        version=table.version,
        revision=table.revision,
    )


def check_type(where: str, column_name: str, type_name: str) -> str:
    """Return the canonical Spark name of a column's type, or raise CatalogError naming the column."""
    try:
        return normalize_type(str(type_name))
    except ValueError as exc:
        raise CatalogError(f"{where}, column {column_name!r}: {exc}") from exc


def _check_column(where: str, kind: str, column: Column) -> Column:
    if not isinstance(column, Column):
        raise CatalogError(f"{where}: each {kind} must be a Column(name, type, comment), not {column!r}")
    if not isinstance(column.name, str) or not column.name.strip():
        raise CatalogError(f"{where}: a {kind} has an empty name; give every {kind} a name")
    comment = _check_text(where, f"comment of {kind} {column.name!r}", column.comment)
    return Column(column.name, check_type(where, column.name, column.type), comment)


def _check_unique_names(where: str, columns: list[Column]) -> None:
    seen: dict[str, str] = {}
    for column in columns:
        key = column.name.lower()
        if key in seen:
            raise CatalogError(
                f"{where}: columns {seen[key]!r} and {column.name!r} clash, because Spark resolves "
                "column names case-insensitively; rename one of them"
            )
        seen[key] = column.name


def _check_text(where: str, field_name: str, value: Any, *, required: bool = False) -> str:
    if not isinstance(value, str):
        raise CatalogError(f"{where}: {field_name} must be text, not {value!r}")
    if required and not value.strip():
        raise CatalogError(f"{where}: {field_name} is missing; set it to the folder or file of the table")
    return value


def _check_format(where: str, file_format: str) -> str:
    text = str(file_format).lower()
    if text not in FORMATS:
        hint = did_you_mean(text, list(FORMATS))
        raise CatalogError(f"{where}: unknown format {file_format!r}; use one of {', '.join(FORMATS)}.{hint}")
    return text


def _check_options(where: str, options: Any) -> dict[str, Any]:
    if not isinstance(options, dict):
        raise CatalogError(f"{where}: options must be a mapping of option name to value, not {options!r}")
    try:
        json.dumps(options)
    except (TypeError, ValueError) as exc:
        raise CatalogError(
            f"{where}: options must be plain JSON values (text, numbers, true/false): {exc}"
        ) from exc
    return dict(options)


def _check_count(where: str, field_name: str, value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise CatalogError(
            f"{where}: {field_name} must be a whole number of at least 0 or unknown, not {value!r}"
        )
    return value


def check_partition(table: Table, partition: Partition) -> Partition:
    """Return a partition with its values in the table's key order, or raise CatalogError."""
    where = f"table {table.full_name}"
    if not table.partition_keys:
        raise CatalogError(
            f"{where} has no partition keys, so it cannot have partitions; set partition_keys first"
        )
    values = {str(key).lower(): value for key, value in dict(partition.values).items()}
    keys = [column.name for column in table.partition_keys]
    if set(values) != {key.lower() for key in keys}:
        raise CatalogError(
            f"{where}: partition values {partition.values!r} do not match the partition keys "
            f"{keys!r}; give one value for each key"
        )
    ordered = {key: _partition_value(where, key, values[key.lower()]) for key in keys}
    location = _check_text(where, "partition location", partition.location, required=True)
    row_count = _check_count(where, "partition row count", partition.row_count)
    return Partition(ordered, location, row_count)


def _partition_value(where: str, key: str, value: Any) -> str:
    if value is None:
        # Spark writes a NULL partition value as this folder name.
        return "__HIVE_DEFAULT_PARTITION__"
    if not isinstance(value, str):
        raise CatalogError(f"{where}: the value of partition key {key!r} must be text, not {value!r}")
    return value


def partition_spec(partition: Partition) -> str:
    """Return the Hive-style folder path of a partition, such as `year=2024/month=1`."""
    return "/".join(f"{key}={value}" for key, value in partition.values.items())


def check_connection(connection: Connection) -> Connection:
    """Return a checked copy of a connection, or raise CatalogError naming the field and value."""
    name = check_identifier("connection", connection.name)
    where = f"connection {name!r}"
    if connection.kind not in CONNECTION_KINDS:
        hint = did_you_mean(str(connection.kind), list(CONNECTION_KINDS))
        raise CatalogError(
            f"{where}: unknown kind {connection.kind!r}; use {', '.join(CONNECTION_KINDS)}.{hint}"
        )
    _check_port(where, connection.port)
    for field_name in ("host", "database", "user", "description"):
        _check_text(where, field_name, getattr(connection, field_name))
    if not connection.host.strip():
        raise CatalogError(f"{where}: host is missing; set it to the server's name or address")
    _check_password_source(where, connection)
    return Connection(
        name=name,
        kind=connection.kind,
        host=connection.host.strip(),
        port=connection.port,
        database=connection.database,
        user=connection.user,
        password_env=connection.password_env,
        password_file=connection.password_file,
        description=connection.description,
        revision=connection.revision,
    )


def _check_port(where: str, port: Any) -> None:
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise CatalogError(
            f"{where}: invalid port {port!r}; use a number from 1 to 65535 (PostgreSQL's is 5432)"
        )


def _check_password_source(where: str, connection: Connection) -> None:
    password_env = _check_text(where, "password_env", connection.password_env)
    password_file = _check_text(where, "password_file", connection.password_file)
    if bool(password_env) == bool(password_file):
        raise CatalogError(
            f"{where}: set exactly one of password_env (the name of an environment variable) and "
            "password_file (the path of a file) that contains the password; the catalog never stores "
            "the password itself"
        )
    if password_env and not ENVIRONMENT_VARIABLE.match(password_env):
        raise CatalogError(
            f"{where}: invalid password_env {password_env!r}; give the name of an environment "
            "variable, such as PGPASSWORD, not the password"
        )
