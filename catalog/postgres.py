"""PostgreSQL connections: passwords, test connections, schemas in Spark's types, samples, JDBC.

A connection in the catalog names where its password is (an environment variable or a
file), never the password. Column types map to Spark's as Spark 4.3's JDBC PostgreSQL
dialect maps them, so a node's schema in the designer is the schema a Spark read gives.
Every table name and query that reaches SQL goes through `relation_sql`.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import stat
import threading
import time
import urllib.parse
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pyarrow as pa
from psycopg import sql
from psycopg.types.string import TextLoader

from catalog.errors import CatalogError
from catalog.model import Connection
from designer.errors import did_you_mean
from designer.schema import Column

logger = logging.getLogger(__name__)

JDBC_DRIVER = "org.postgresql.Driver"
JDBC_JAR_VARIABLE = "SPARKCANVAS_JDBC_JAR"
DEBIAN_JDBC_JAR = Path("/usr/share/java/postgresql.jar")
CONNECT_TIMEOUT_SECONDS = 5
# A failed connection is remembered this long, so the designer does not wait for an unreachable
# server on every rerun.
FAILURE_MEMORY_SECONDS = 30.0
QUERY_ALIAS = "sparkcanvas_query"
JDBC_NODE_TYPES = ("source.jdbc", "target.jdbc")

# PostgreSQL type names (pg_type.typname) and their Spark types, as Spark 4.3 reads them
# through pgjdbc 42.5. Checked against real Spark reads in tests/test_postgres.py.
SIMPLE_TYPES = {
    "int2": "smallint",
    "int4": "int",
    "int8": "bigint",
    "float4": "float",
    "float8": "double",
    "bool": "boolean",
    "date": "date",
    "timestamp": "timestamp",
    "timestamptz": "timestamp",
    "time": "timestamp",
    "timetz": "timestamp",
    "bytea": "binary",
    "oid": "decimal(20,0)",
}
NUMERIC_DEFAULT = "decimal(38,18)"  # Spark's type for a numeric without precision
MAX_PRECISION = 38


class PostgresError(CatalogError):
    """A PostgreSQL connection whose password, server, table or query cannot be used."""


class PostgresTableNotFoundError(PostgresError):
    """A table that the PostgreSQL server does not have."""


class PostgresKeyTypeError(PostgresError):
    """A key column whose PostgreSQL type the preview cannot compare with requested key values."""


class PostgresConnectError(PostgresError):
    """A connection whose password cannot be read or whose server refuses or cannot be reached."""


@dataclass(frozen=True)
class SourceColumn:
    """A column of a PostgreSQL result: its name, type OID, type modifier and Spark type."""

    name: str
    oid: int
    type_name: str
    spark_type: str
    element_oid: int = 0  # for arrays: the element type's OID


# --- passwords --------------------------------------------------------------------------------


def resolve_password(conn: Connection) -> str:
    """Read a connection's password from its environment variable or its file."""
    if conn.password_env:
        return _password_from_environment(conn)
    if conn.password_file:
        return _password_from_file(conn)
    raise PostgresConnectError(
        f"connection {conn.name!r} names no password source; set --password-env VARIABLE or "
        "--password-file FILE with `sparkcanvas connection add`"
    )


def _password_from_environment(conn: Connection) -> str:
    value = os.environ.get(conn.password_env)
    if value is None:
        raise PostgresConnectError(
            f"connection {conn.name!r}: the environment variable {conn.password_env} is not set; "
            f"export {conn.password_env} with the password of user {conn.user!r}"
        )
    if not value:
        raise PostgresConnectError(
            f"connection {conn.name!r}: the environment variable {conn.password_env} is empty; "
            f"set it to the password of user {conn.user!r}"
        )
    return value


def _password_from_file(conn: Connection) -> str:
    path = Path(conn.password_file).expanduser()
    try:
        mode = path.stat().st_mode
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PostgresConnectError(
            f"connection {conn.name!r}: password file {conn.password_file} not found; create it "
            f"with the password of user {conn.user!r} and chmod 600"
        ) from None
    except (IsADirectoryError, PermissionError, UnicodeDecodeError) as error:
        raise PostgresConnectError(
            f"connection {conn.name!r}: cannot read password file {conn.password_file}: "
            f"{getattr(error, 'strerror', None) or error}"
        ) from None
    if mode & (stat.S_IRGRP | stat.S_IROTH):
        logger.warning(
            "connection %s: password file %s is readable by other users; run chmod 600 %s",
            conn.name,
            conn.password_file,
            conn.password_file,
        )
    # The password is the first line, without its line ending; the generated script reads it the same way.
    password = text.split("\n")[0].rstrip("\r")
    if not password:
        raise PostgresConnectError(f"connection {conn.name!r}: password file {conn.password_file} is empty")
    return password


# --- connecting -------------------------------------------------------------------------------


def connect(conn: Connection, *, read_only: bool = False, timeout_seconds: float | None = None):
    """Open a psycopg connection; raise PostgresError naming the connection when that fails."""
    password = resolve_password(conn)
    options = f"-c statement_timeout={int(timeout_seconds * 1000)}" if timeout_seconds else None
    try:
        connection = psycopg.connect(
            host=conn.host,
            port=conn.port,
            dbname=conn.database,
            user=conn.user,
            password=password,
            connect_timeout=CONNECT_TIMEOUT_SECONDS,
            application_name="sparkcanvas",
            options=options,
        )
    except psycopg.OperationalError as error:
        raise PostgresConnectError(
            f"connection {conn.name!r}: cannot connect to {describe_server(conn)}: {_first_line(error)}"
        ) from None
    connection.read_only = read_only
    return connection


def describe_server(conn: Connection) -> str:
    """Return `user@host:port/database`, the way errors and listings name a server."""
    return f"{conn.user}@{conn.host}:{conn.port}/{conn.database}"


def test_connection(conn: Connection) -> str:
    """Connect and return the server's version, or raise PostgresError saying why it failed."""
    with connect(conn, read_only=True) as connection:
        version = connection.execute("SHOW server_version").fetchone()[0]
    logger.info("connection %s: reached PostgreSQL %s at %s", conn.name, version, describe_server(conn))
    return f"PostgreSQL {version}"


def _first_line(error: Exception) -> str:
    lines = [line.strip() for line in str(error).strip().splitlines() if line.strip()]
    return "; ".join(lines[:2]) if lines else type(error).__name__


# --- table names and queries ------------------------------------------------------------------


def split_table_name(name: str) -> tuple[str, ...]:
    """Split `table` or `schema.table` into its parts; names are exact (case-sensitive)."""
    parts = tuple(str(name).split("."))
    if not 1 <= len(parts) <= 2 or not all(part.strip() for part in parts):
        raise PostgresError(
            f"invalid table name {name!r}: write it as TABLE or SCHEMA.TABLE, for example public.orders"
        )
    return parts


def check_query(query: str) -> str:
    """Return a query without trailing blanks, or raise PostgresError for what Spark cannot read."""
    text = str(query).strip()
    if not text:
        raise PostgresError("the query is empty; write a SELECT statement")
    if text.endswith(";"):
        raise PostgresError("the query ends with ';'; remove it, because Spark reads the query as a subquery")
    return text


def relation_sql(*, table: str | None = None, query: str | None = None) -> sql.Composable:
    """Return the FROM item of a table (quoted identifiers) or of a query (an aliased subquery).

    This is the one place where a table name or a query becomes SQL, for psycopg and for
    Spark's `dbtable` option alike.
    """
    if bool(table) == bool(query):
        raise PostgresError("set either a table or a query, not both and not neither")
    if table:
        return sql.Identifier(*split_table_name(table))
    return sql.SQL("({}) AS {}").format(sql.SQL(check_query(query)), sql.Identifier(QUERY_ALIAS))


def relation_text(*, table: str | None = None, query: str | None = None) -> str:
    """Return relation_sql as text, as Spark's `dbtable` option takes it."""
    return relation_sql(table=table, query=query).as_string(None)


def _relation_label(table: str | None, query: str | None) -> str:
    return f"table {table!r}" if table else "the query"


# --- schemas ----------------------------------------------------------------------------------


def describe_columns(connection, *, table: str | None = None, query: str | None = None) -> list[SourceColumn]:
    """Return the columns of a table or query with their Spark types, reading no rows."""
    statement = sql.SQL("SELECT * FROM {} LIMIT 0").format(relation_sql(table=table, query=query))
    with connection.cursor() as cursor:
        cursor.execute(statement)
        result = cursor.pgresult
        fields = [
            (cursor.description[index].name, result.ftype(index), result.fmod(index))
            for index in range(result.nfields)
        ]
    types = _type_names(connection, {oid for _, oid, _ in fields})
    return [_source_column(name, oid, modifier, types) for name, oid, modifier in fields]


def _type_names(connection, oids: set[int]) -> dict[int, tuple[str, str, int, str]]:
    """Return oid -> (type name, type kind, element OID, element name) from pg_type."""
    rows = connection.execute(
        "SELECT t.oid::int, t.typname::text, t.typtype::text, t.typelem::int, "
        "coalesce(e.typname::text, '') FROM pg_type AS t "
        "LEFT JOIN pg_type AS e ON e.oid = t.typelem WHERE t.oid = ANY(%s)",
        [list(oids)],
    ).fetchall()
    return {row[0]: (row[1], row[2], row[3], row[4]) for row in rows}


def _source_column(name: str, oid: int, modifier: int, types: dict) -> SourceColumn:
    type_name, kind, element_oid, element_name = types.get(oid, ("unknown", "b", 0, ""))
    if type_name.startswith("_") and element_oid:
        element = spark_type_of(element_name, modifier, "b")
        return SourceColumn(name, oid, type_name, f"array<{element}>", element_oid)
    return SourceColumn(name, oid, type_name, spark_type_of(type_name, modifier, kind))


def spark_type_of(type_name: str, modifier: int, kind: str = "b") -> str:
    """Return the Spark type Spark's JDBC reader gives a PostgreSQL type with its modifier."""
    if type_name in SIMPLE_TYPES:
        return SIMPLE_TYPES[type_name]
    if type_name == "numeric":
        return _numeric_type(modifier)
    if type_name == "bit":
        return "boolean" if modifier in (-1, 1) else "binary"
    # Text types, and every other type (json, uuid, interval, money, enums, ranges, ...),
    # which pgjdbc reports as VARCHAR or OTHER and Spark reads as text.
    return "string"


def _numeric_type(modifier: int) -> str:
    if modifier < 4:
        return NUMERIC_DEFAULT
    precision = ((modifier - 4) >> 16) & 0xFFFF
    scale = (modifier - 4) & 0xFFFF
    if precision <= MAX_PRECISION:
        return f"decimal({precision},{scale})"
    # Spark keeps the integral digits and drops fraction digits: numeric(50,20) reads as
    # decimal(38,8) in Spark 4.3.0 (test_type_mapping_matches_spark).
    integral = precision - scale
    return f"decimal({MAX_PRECISION},{max(0, MAX_PRECISION - integral)})"


def table_schema(conn: Connection, table: str | None = None, query: str | None = None) -> list[Column]:
    """Return the Spark schema of a table or query, as a Spark JDBC read would give it."""
    with connect(conn, read_only=True) as connection:
        try:
            columns = describe_columns(connection, table=table, query=query)
        except psycopg.Error as error:
            raise _relation_error(conn, connection, table, query, error) from None
    _check_unique_names(conn, table, query, [column.name for column in columns])
    return [Column(column.name, column.spark_type) for column in columns]


def _check_unique_names(conn: Connection, table, query, names: list[str]) -> None:
    seen: set[str] = set()
    for name in names:
        if name.lower() in seen:
            raise PostgresError(
                f"connection {conn.name!r}, {_relation_label(table, query)}: column {name!r} appears "
                "twice (Spark compares names case-insensitively); give each column its own name"
            )
        seen.add(name.lower())


def _relation_error(conn: Connection, connection, table, query, error: psycopg.Error) -> PostgresError:
    """Turn a failed statement into an error naming the connection and the table or query."""
    where = f"connection {conn.name!r}, {_relation_label(table, query)}"
    message = _first_line(error)
    if isinstance(error, psycopg.errors.UndefinedTable) and table:
        connection.rollback()
        hint = did_you_mean(table, list_tables(connection))
        return PostgresTableNotFoundError(f"{where}: {message}.{hint} Table names are case-sensitive")
    return PostgresError(f"{where}: {message}")


def list_tables(connection) -> list[str]:
    """Return the tables and views the user can see outside system schemas, as `schema.table`.

    A table in the public schema is listed by its plain name too, since that name reaches it.
    """
    rows = connection.execute(
        "SELECT table_schema, table_name FROM information_schema.tables "
        "WHERE table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2"
    ).fetchall()
    names = [f"{schema}.{name}" for schema, name in rows]
    names += [name for schema, name in rows if schema == "public"]
    return names


# Schemas looked up in this process, so the designer queries the server once per table or query,
# and recent connection failures with their time.monotonic() stamps.
_schema_cache: dict[tuple, list[Column]] = {}
_failure_cache: dict[tuple, tuple[float, PostgresConnectError]] = {}
_schema_cache_lock = threading.Lock()


def cached_table_schema(
    conn: Connection, table: str | None = None, query: str | None = None, *, refresh: bool = False
) -> list[Column]:
    """Return table_schema from a per-process cache keyed by the connection and table or query.

    A connection failure is raised again without a new attempt for FAILURE_MEMORY_SECONDS.
    With `refresh`, the server is asked again whatever the cache holds.
    """
    server = (
        conn.name,
        conn.host,
        conn.port,
        conn.database,
        conn.user,
        conn.password_env,
        conn.password_file,
    )
    key = (*server, table or "", query or "")
    with _schema_cache_lock:
        if key in _schema_cache and not refresh:
            return list(_schema_cache[key])
        failure = _failure_cache.get(server)
        if failure is not None and not refresh and time.monotonic() - failure[0] < FAILURE_MEMORY_SECONDS:
            raise failure[1]
    try:
        schema = table_schema(conn, table=table, query=query)
    except PostgresConnectError as error:
        with _schema_cache_lock:
            _failure_cache[server] = (time.monotonic(), error)
        raise
    with _schema_cache_lock:
        _schema_cache[key] = schema
        _failure_cache.pop(server, None)
    return list(schema)


def existing_table_schema(conn: Connection, table: str) -> list[Column] | None:
    """Return the Spark schema of a table, or None when the table does not exist."""
    try:
        return cached_table_schema(conn, table=table)
    except PostgresTableNotFoundError:
        return None


def clear_schema_cache() -> None:
    """Forget every cached schema, so the next lookup queries the server again."""
    with _schema_cache_lock:
        _schema_cache.clear()
        _failure_cache.clear()


# --- samples ----------------------------------------------------------------------------------


def read_sample(
    conn: Connection,
    *,
    table: str | None = None,
    query: str | None = None,
    limit: int,
    time_zone: str = "UTC",
    timeout_seconds: float | None = None,
) -> pa.Table:
    """Read at most `limit` rows of a table or query into Arrow, with the Spark schema's types.

    The rows are the first ones PostgreSQL returns, without ORDER BY. A timestamp without
    time zone is read in `time_zone`, which matches Spark when its JVM runs in that zone.
    """
    with connect(conn, read_only=True, timeout_seconds=timeout_seconds) as connection:
        try:
            columns = describe_columns(connection, table=table, query=query)
            rows = _fetch_rows(connection, columns, table, query, limit)
        except psycopg.Error as error:
            raise _relation_error(conn, connection, table, query, error) from None
    _check_unique_names(conn, table, query, [column.name for column in columns])
    return _arrow_table(conn, columns, rows, time_zone)


def _arrow_table(
    conn: Connection, columns: list[SourceColumn], rows: list[tuple], time_zone: str
) -> pa.Table:
    zone = ZoneInfo(time_zone)
    arrays = []
    for index, column in enumerate(columns):
        values = [_spark_value(row[index], column.spark_type, zone) for row in rows]
        arrays.append(_arrow_array(conn, column, values))
    names = [column.name for column in columns]
    return pa.Table.from_arrays(arrays, names=names)


def _fetch_rows(
    connection,
    columns: list[SourceColumn],
    table,
    query,
    limit: int,
    condition: sql.Composable | None = None,
    values: tuple = (),
) -> list[tuple]:
    statement = sql.SQL("SELECT * FROM {}{} LIMIT {}").format(
        relation_sql(table=table, query=query),
        sql.SQL(" WHERE {}").format(condition) if condition is not None else sql.SQL(""),
        sql.Literal(int(limit)),
    )
    with connection.cursor() as cursor:
        # Spark reads these types through getString, so the sample keeps PostgreSQL's text too.
        for column in columns:
            if column.spark_type == "string" or column.spark_type == "array<string>":
                cursor.adapters.register_loader(column.element_oid or column.oid, TextLoader)
            if column.type_name in ("bit", "_bit"):
                cursor.adapters.register_loader(column.element_oid or column.oid, TextLoader)
        cursor.execute(statement, values or None)
        return cursor.fetchall()


def _spark_value(value: Any, spark_type: str, zone: ZoneInfo) -> Any:
    """Convert one value as loaded by psycopg to the Python value of its Spark type."""
    if value is None:
        return None
    if spark_type.startswith("array<"):
        element = spark_type[len("array<") : -1]
        return [_spark_value(item, element, zone) for item in value]
    if spark_type == "timestamp":
        return _instant(value, zone)
    if spark_type.startswith("decimal"):
        scale = int(spark_type[:-1].split(",")[1])
        return Decimal(value).quantize(Decimal(1).scaleb(-scale), rounding=ROUND_HALF_UP)
    if spark_type == "boolean" and isinstance(value, str):
        return value == "1"  # bit(1)
    if spark_type == "binary" and isinstance(value, str):
        # NOTE: bit(n) as bytes of its text form is a guess; no test compares it with Spark.
        return value.encode()
    if spark_type == "string" and not isinstance(value, str):
        return str(value)
    return value


def _instant(value: Any, zone: ZoneInfo) -> dt.datetime:
    if isinstance(value, dt.time):
        # Spark reads a time of day as a timestamp on 1970-01-01.
        value = dt.datetime.combine(dt.date(1970, 1, 1), value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=zone)
    return value.astimezone(dt.UTC)


def arrow_type(spark_type: str) -> pa.DataType:
    """Return the Arrow type that carries values of a Spark type in the preview."""
    simple = {
        "string": pa.string(),
        "boolean": pa.bool_(),
        "smallint": pa.int16(),
        "int": pa.int32(),
        "bigint": pa.int64(),
        "float": pa.float32(),
        "double": pa.float64(),
        "date": pa.date32(),
        "timestamp": pa.timestamp("us", tz="UTC"),
        "binary": pa.binary(),
    }
    if spark_type in simple:
        return simple[spark_type]
    if spark_type.startswith("decimal("):
        precision, scale = spark_type[len("decimal(") : -1].split(",")
        return pa.decimal128(int(precision), int(scale))
    if spark_type.startswith("array<"):
        return pa.list_(arrow_type(spark_type[len("array<") : -1]))
    raise PostgresError(f"no Arrow type for Spark type {spark_type!r}")


def _arrow_array(conn: Connection, column: SourceColumn, values: list) -> pa.Array:
    try:
        return pa.array(values, type=arrow_type(column.spark_type))
    except (pa.ArrowInvalid, pa.ArrowTypeError, InvalidOperation, OverflowError) as error:
        raise PostgresError(
            f"connection {conn.name!r}: column {column.name!r} ({column.type_name}) does not fit "
            f"Spark's type {column.spark_type}: {error}"
        ) from None


# --- rows matching keys -------------------------------------------------------------------------

# PostgreSQL types whose values a key comparison binds as an array of the same type. A column
# that Spark reads as a string is compared as PostgreSQL's text output instead, which is the
# value Spark reads. Other types (time, bit, arrays) cannot be matched by key.
KEY_TYPES = (
    "int2",
    "int4",
    "int8",
    "float4",
    "float8",
    "numeric",
    "bool",
    "date",
    "timestamp",
    "timestamptz",
    "bytea",
)


@dataclass(frozen=True)
class KeyValues:
    """A key column of a table or query and its requested values, one per requested key."""

    column: str
    values: list


def read_matching_rows(
    conn: Connection,
    *,
    table: str | None = None,
    query: str | None = None,
    keys: list[KeyValues],
    limit: int,
    time_zone: str = "UTC",
    timeout_seconds: float | None = None,
) -> pa.Table:
    """Read at most `limit` rows of a table or query whose key columns equal a requested key.

    The i-th values of all `keys` form one requested key, so two keys match as `(k1, k2) IN (...)`.
    The values are bound as array parameters, never written into the SQL. The read runs in one
    read-only transaction whose TimeZone is `time_zone`, so a `timestamp` column compares with
    the requested instants as `read_sample` reads it.
    """
    with connect(conn, read_only=True, timeout_seconds=timeout_seconds) as connection:
        try:
            columns = describe_columns(connection, table=table, query=query)
            condition = _key_condition(conn, columns, keys)
            connection.execute("SELECT set_config('TimeZone', %s, true)", [time_zone])
            values = tuple(key.values for key in keys)
            rows = _fetch_rows(connection, columns, table, query, limit, condition, values)
        except psycopg.Error as error:
            raise _relation_error(conn, connection, table, query, error) from None
    _check_unique_names(conn, table, query, [column.name for column in columns])
    return _arrow_table(conn, columns, rows, time_zone)


def _key_condition(conn: Connection, columns: list[SourceColumn], keys: list[KeyValues]) -> sql.Composable:
    """Return `k = ANY(%s)` for one key, or `(k1, k2) IN (SELECT * FROM unnest(%s, %s))`."""
    # Spark resolves column names case-insensitively, and a node's schema may come from a stored copy.
    by_name = {column.name.lower(): column for column in columns}
    sides = []
    for key in keys:
        column = by_name.get(key.column.lower())
        if column is None:
            raise PostgresError(f"connection {conn.name!r}: key column {key.column!r} not found")
        sides.append(_key_sides(conn, column))
    if len(sides) == 1:
        [(column, array)] = sides
        return sql.SQL("{} = ANY({})").format(column, array)
    return sql.SQL("({}) IN (SELECT * FROM unnest({}))").format(
        sql.SQL(", ").join(column for column, _ in sides),
        sql.SQL(", ").join(array for _, array in sides),
    )


def _key_sides(conn: Connection, column: SourceColumn) -> tuple[sql.Composable, sql.Composable]:
    """Return the SQL of a key column and of its array parameter, cast to comparable types."""
    name = sql.Identifier(column.name)
    if column.spark_type == "string":
        # concat() keeps a char(n) value's trailing blanks, as its text output does; ::text drops them.
        template = "concat({})" if column.type_name == "bpchar" else "{}::text"
        return sql.SQL(template).format(name), sql.SQL("{}::text[]").format(sql.Placeholder())
    if column.type_name not in KEY_TYPES:
        raise PostgresKeyTypeError(
            f"connection {conn.name!r}: key column {column.name!r} has PostgreSQL type "
            f"{column.type_name}, which the preview cannot match by key"
        )
    return name, sql.SQL("{}::{}[]").format(sql.Placeholder(), sql.SQL(column.type_name))


# --- Spark's JDBC reader ----------------------------------------------------------------------


def jdbc_url(conn: Connection) -> str:
    """Return the JDBC URL of a connection, which contains no user name or password."""
    host = f"[{conn.host}]" if ":" in conn.host else conn.host
    database = urllib.parse.quote(conn.database, safe="")
    return f"jdbc:postgresql://{host}:{conn.port}/{database}"


def find_jdbc_jar() -> Path:
    """Return the PostgreSQL JDBC driver: $SPARKCANVAS_JDBC_JAR, else Debian's jar."""
    configured = os.environ.get(JDBC_JAR_VARIABLE)
    if configured:
        path = Path(configured).expanduser()
        if not path.is_file():
            raise PostgresError(
                f"{JDBC_JAR_VARIABLE} names {configured}, which is not a file; point it at the "
                "PostgreSQL JDBC driver's jar, or unset it to use Debian's "
                f"{DEBIAN_JDBC_JAR}"
            )
        return path.resolve()
    if DEBIAN_JDBC_JAR.is_file():
        return DEBIAN_JDBC_JAR
    raise PostgresError(
        f"the PostgreSQL JDBC driver was not found at {DEBIAN_JDBC_JAR}; install Debian's "
        f"libpostgresql-jdbc-java package (apt-get install libpostgresql-jdbc-java), or set "
        f"{JDBC_JAR_VARIABLE} to the driver's jar"
    )


def job_uses_jdbc(job) -> bool:
    return any(node.type in JDBC_NODE_TYPES for node in job.nodes)


def spark_submit_jars(job) -> list[str]:
    """Return the jars spark-submit needs for a job: the JDBC driver when a node uses JDBC."""
    if not job_uses_jdbc(job):
        return []
    return [str(find_jdbc_jar())]


def load_connection(name: str) -> Connection:
    """Return a connection from the catalog at catalog_path()."""
    from catalog.store import open_catalog

    return open_catalog().get_connection(name)
