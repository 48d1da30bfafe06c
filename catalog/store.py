"""The catalog store: one SQLite file with databases, tables, schema versions, partitions and connections.

Every write runs in one `BEGIN IMMEDIATE` transaction on a connection of its own, so a Catalog
object may be shared between threads and several processes may write the same file. Tables and
connections carry a `revision` that increases on every write. A write that passes the revision
it loaded raises CatalogConflictError when someone else wrote in between, so no update is lost.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from catalog.errors import (
    CatalogConflictError,
    CatalogError,
    ConnectionNotFoundError,
    DatabaseNotFoundError,
    TableNotFoundError,
)
from catalog.model import Column, Connection, Partition, SchemaVersion, Table
from catalog.validation import (
    check_connection,
    check_identifier,
    check_partition,
    check_table,
    check_type,
    partition_spec,
    split_full_name,
)
from designer.errors import did_you_mean

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
BUSY_TIMEOUT_SECONDS = 15.0

SCHEMA_SQL = """
CREATE TABLE IF NOT EXISTS catalog_info (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS databases (
    name TEXT PRIMARY KEY,
    description TEXT NOT NULL,
    created TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS tables (
    id INTEGER PRIMARY KEY,
    database TEXT NOT NULL REFERENCES databases (name),
    name TEXT NOT NULL,
    location TEXT NOT NULL,
    format TEXT NOT NULL,
    options TEXT NOT NULL,
    columns TEXT NOT NULL,
    partition_keys TEXT NOT NULL,
    row_count INTEGER,
    description TEXT NOT NULL,
    created TEXT NOT NULL,
    updated TEXT NOT NULL,
    version INTEGER NOT NULL,
    revision INTEGER NOT NULL,
    UNIQUE (database, name)
);
CREATE TABLE IF NOT EXISTS schema_versions (
    table_id INTEGER NOT NULL REFERENCES tables (id) ON DELETE CASCADE,
    version INTEGER NOT NULL,
    columns TEXT NOT NULL,
    partition_keys TEXT NOT NULL,
    created TEXT NOT NULL,
    change TEXT NOT NULL,
    PRIMARY KEY (table_id, version)
);
CREATE TABLE IF NOT EXISTS partitions (
    table_id INTEGER NOT NULL REFERENCES tables (id) ON DELETE CASCADE,
    spec TEXT NOT NULL,
    key_values TEXT NOT NULL,
    location TEXT NOT NULL,
    row_count INTEGER,
    created TEXT NOT NULL,
    PRIMARY KEY (table_id, spec)
);
CREATE TABLE IF NOT EXISTS connections (
    name TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    host TEXT NOT NULL,
    port INTEGER NOT NULL,
    database TEXT NOT NULL,
    user TEXT NOT NULL,
    password_env TEXT NOT NULL,
    password_file TEXT NOT NULL,
    description TEXT NOT NULL,
    revision INTEGER NOT NULL
);
"""


def catalog_path() -> Path:
    """Return the catalog file: $SPARKCANVAS_CATALOG, else $SPARKCANVAS_HOME/catalog.db.

    SPARKCANVAS_HOME defaults to ~/.sparkcanvas, as for runs.
    """
    explicit = os.environ.get("SPARKCANVAS_CATALOG")
    if explicit:
        return Path(explicit).expanduser()
    home = os.environ.get("SPARKCANVAS_HOME") or Path.home() / ".sparkcanvas"
    return Path(home).expanduser() / "catalog.db"


def open_catalog(path: Path | str | None = None) -> Catalog:
    """Open the catalog at `path` (default catalog_path()), creating the file and its tables on first use."""
    return Catalog(Path(path) if path is not None else catalog_path())


def now_text() -> str:
    """Return the current time in UTC as ISO 8601 text with seconds."""
    return datetime.now(UTC).isoformat(timespec="seconds")


class Catalog:
    """The catalog in one SQLite file. Methods open a short-lived SQLite connection each."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._initialize()

    def __repr__(self) -> str:
        return f"Catalog({str(self.path)!r})"

    # --- connections to the SQLite file --------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        try:
            connection = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None)
        except sqlite3.Error as exc:
            raise self._file_error(exc) from exc
        connection.row_factory = sqlite3.Row
        connection.execute("PRAGMA foreign_keys = ON")
        connection.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_SECONDS * 1000)}")
        return connection

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """Run the block in one BEGIN IMMEDIATE transaction: committed on success, rolled back on error."""
        connection = self._connect()
        try:
            connection.execute("BEGIN IMMEDIATE")
            yield connection
            connection.execute("COMMIT")
        except sqlite3.Error as exc:
            _rollback(connection)
            raise self._file_error(exc) from exc
        except BaseException:
            _rollback(connection)
            raise
        finally:
            connection.close()

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """Run the block in one read transaction, so it reads a single state of the file."""
        connection = self._connect()
        try:
            connection.execute("BEGIN")
            yield connection
        except sqlite3.Error as exc:
            raise self._file_error(exc) from exc
        finally:
            _rollback(connection)
            connection.close()

    def _file_error(self, exc: sqlite3.Error) -> CatalogError:
        text = str(exc)
        if "locked" in text or "busy" in text:
            return CatalogError(
                f"catalog {self.path} stayed locked by another writer for more than "
                f"{BUSY_TIMEOUT_SECONDS:g} s; try again"
            )
        if "not a database" in text or "malformed" in text:
            return CatalogError(
                f"{self.path} is not a SparkCanvas catalog ({text}); point SPARKCANVAS_CATALOG "
                "or --catalog at another file"
            )
        return CatalogError(f"catalog {self.path}: {text}")

    def _initialize(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CatalogError(f"cannot create the folder of catalog {self.path}: {exc.strerror}") from exc
        connection = self._connect()
        try:
            connection.execute("PRAGMA journal_mode = WAL")
        except sqlite3.Error as exc:
            raise self._file_error(exc) from exc
        finally:
            connection.close()
        with self._write() as connection:
            for statement in SCHEMA_SQL.split(";"):
                if statement.strip():
                    connection.execute(statement)
            self._check_format_version(connection)

    def _check_format_version(self, connection: sqlite3.Connection) -> None:
        row = connection.execute("SELECT value FROM catalog_info WHERE key = 'format_version'").fetchone()
        if row is None:
            connection.execute(
                "INSERT INTO catalog_info VALUES ('format_version', ?)", (str(FORMAT_VERSION),)
            )
            logger.info("created catalog %s", self.path)
            return
        if int(row["value"]) > FORMAT_VERSION:
            raise CatalogError(
                f"catalog {self.path} was written by a newer SparkCanvas (format {row['value']}, this "
                f"version reads {FORMAT_VERSION}); upgrade SparkCanvas"
            )

    # --- databases ------------------------------------------------------------------------------

    def create_database(self, name: str, description: str = "") -> None:
        """Add a database, or raise CatalogError if one of that name exists."""
        name = check_identifier("database", name)
        with self._write() as connection:
            if _database_exists(connection, name):
                raise CatalogError(f"database {name!r} already exists in catalog {self.path}")
            connection.execute("INSERT INTO databases VALUES (?, ?, ?)", (name, str(description), now_text()))
        logger.info("created database %s", name)

    def ensure_database(self, name: str) -> str:
        """Add the database unless it exists; return its stored (lower-case) name."""
        name = check_identifier("database", name)
        with self._write() as connection:
            connection.execute("INSERT OR IGNORE INTO databases VALUES (?, '', ?)", (name, now_text()))
        return name

    def list_databases(self) -> list[str]:
        with self._read() as connection:
            return _database_names(connection)

    def drop_database(self, name: str, cascade: bool = False) -> None:
        """Remove a database; one that still has tables needs cascade=True, which removes them too."""
        name = check_identifier("database", name)
        with self._write() as connection:
            self._require_database(connection, name)
            query = "SELECT count(*) FROM tables WHERE database = ?"
            count = connection.execute(query, (name,)).fetchone()[0]
            if count and not cascade:
                raise CatalogError(
                    f"database {name!r} still has {count} table(s); delete them first or drop it with cascade"
                )
            connection.execute("DELETE FROM tables WHERE database = ?", (name,))
            connection.execute("DELETE FROM databases WHERE name = ?", (name,))
        logger.info("dropped database %s with %d table(s)", name, count)

    def _require_database(self, connection: sqlite3.Connection, name: str) -> None:
        if not _database_exists(connection, name):
            hint = did_you_mean(name, _database_names(connection))
            raise DatabaseNotFoundError(f"database {name!r} not found in catalog {self.path}.{hint}")

    # --- tables ---------------------------------------------------------------------------------

    def get_table(self, database: str, name: str) -> Table:
        """Return a table, or raise TableNotFoundError with the closest names."""
        with self._read() as connection:
            return self._load_table(connection, database, name)

    def find_table(self, full_name: str) -> Table:
        """Return the table named "database.table"."""
        database, name = split_full_name(full_name)
        return self.get_table(database, name)

    def list_tables(self, database: str | None = None) -> list[Table]:
        """Return every table, or those of one database, sorted by database and name."""
        with self._read() as connection:
            if database is None:
                rows = connection.execute("SELECT * FROM tables ORDER BY database, name").fetchall()
            else:
                database = check_identifier("database", database)
                self._require_database(connection, database)
                query = "SELECT * FROM tables WHERE database = ? ORDER BY name"
                rows = connection.execute(query, (database,)).fetchall()
        return [_table_from_row(row) for row in rows]

    def save_table(self, table: Table, expected_revision: int | None = None) -> Table:
        """Insert or update a table and return it as stored.

        A change of column names, types or order, or of the partition keys, records a new schema
        version. `table.version`, `created` and `updated` are set by the store.
        With `expected_revision` (0 for a table that must not exist yet), a stored revision that
        differs raises CatalogConflictError. Without it, the write replaces whatever is stored.
        """
        checked = check_table(table)
        with self._write() as connection:
            self._require_database(connection, checked.database)
            saved = self._save(connection, checked, expected_revision)
        logger.info(
            "saved table %s (revision %d, version %d)", saved.full_name, saved.revision, saved.version
        )
        return saved

    def update_column(
        self,
        database: str,
        table: str,
        column: str,
        *,
        type: str | None = None,  # noqa: A002 - the catalog's name for a column's type
        comment: str | None = None,
        expected_revision: int | None = None,
    ) -> Table:
        """Change one column's (or partition key's) type or comment in one transaction; return the table."""
        with self._write() as connection:
            current = self._load_table(connection, database, table)
            self._check_revision(current.full_name, current.revision, expected_revision)
            changed = _with_column_changed(current, column, type, comment)
            saved = self._save(connection, check_table(changed), current.revision)
        logger.info("updated column %r of table %s", column, saved.full_name)
        return saved

    def delete_table(self, database: str, name: str) -> None:
        """Remove a table with its schema versions and partitions."""
        with self._write() as connection:
            current = self._load_table(connection, database, name)
            connection.execute(
                "DELETE FROM tables WHERE database = ? AND name = ?", (current.database, current.name)
            )
        logger.info("deleted table %s", current.full_name)

    def schema_versions(self, database: str, name: str) -> list[SchemaVersion]:
        """Return the table's schema versions, oldest first."""
        with self._read() as connection:
            table_id = self._table_id(connection, database, name)
            query = "SELECT * FROM schema_versions WHERE table_id = ? ORDER BY version"
            rows = connection.execute(query, (table_id,)).fetchall()
        return [_version_from_row(row) for row in rows]

    def _load_table(self, connection: sqlite3.Connection, database: str, name: str) -> Table:
        row = self._table_row(connection, database, name)
        return _table_from_row(row)

    def _table_id(self, connection: sqlite3.Connection, database: str, name: str) -> int:
        return self._table_row(connection, database, name)["id"]

    def _table_row(self, connection: sqlite3.Connection, database: str, name: str) -> sqlite3.Row:
        database = check_identifier("database", database)
        name = check_identifier("table", name)
        row = connection.execute(
            "SELECT * FROM tables WHERE database = ? AND name = ?", (database, name)
        ).fetchone()
        if row is not None:
            return row
        raise TableNotFoundError(self._table_not_found_message(connection, database, name))

    def _table_not_found_message(self, connection: sqlite3.Connection, database: str, name: str) -> str:
        full_name = f"{database}.{name}"
        if not _database_exists(connection, database):
            hint = did_you_mean(database, _database_names(connection))
            return f"table {full_name!r} not found: catalog {self.path} has no database {database!r}.{hint}"
        rows = connection.execute("SELECT name FROM tables WHERE database = ?", (database,)).fetchall()
        hint = did_you_mean(name, [row["name"] for row in rows])
        return f"table {full_name!r} not found in catalog {self.path}.{hint}"

    def _check_revision(self, full_name: str, current: int, expected: int | None) -> None:
        if expected is None or expected == current:
            return
        if current == 0:
            message = f"table {full_name} was deleted by someone else since you loaded it"
        elif expected == 0:
            message = f"table {full_name} already exists (revision {current})"
        else:
            message = (
                f"table {full_name} was changed by someone else since you loaded it "
                f"(you loaded revision {expected}, the catalog has revision {current})"
            )
        raise CatalogConflictError(f"{message}; reload the table and reapply your change")

    def _save(self, connection: sqlite3.Connection, table: Table, expected_revision: int | None) -> Table:
        query = "SELECT * FROM tables WHERE database = ? AND name = ?"
        row = connection.execute(query, (table.database, table.name)).fetchone()
        current = _table_from_row(row) if row is not None else None
        self._check_revision(table.full_name, current.revision if current else 0, expected_revision)
        if current is None:
            return _insert_table(connection, table)
        return _update_table(connection, row["id"], current, table)

    # --- partitions -----------------------------------------------------------------------------

    def add_partitions(self, database: str, name: str, partitions: list[Partition]) -> list[Partition]:
        """Record partitions of a table; return those that were not recorded before."""
        added: list[Partition] = []
        with self._write() as connection:
            row = self._table_row(connection, database, name)
            table = _table_from_row(row)
            created = now_text()
            for partition in partitions:
                checked = check_partition(table, partition)
                cursor = connection.execute(
                    "INSERT OR IGNORE INTO partitions VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        row["id"],
                        partition_spec(checked),
                        json.dumps(checked.values),
                        checked.location,
                        checked.row_count,
                        created,
                    ),
                )
                if cursor.rowcount == 1:
                    added.append(checked)
            if added:
                connection.execute("UPDATE tables SET updated = ? WHERE id = ?", (created, row["id"]))
        logger.info("added %d partition(s) to table %s", len(added), table.full_name)
        return added

    def replace_partitions(
        self, database: str, name: str, partitions: list[Partition], expected_revision: int | None = None
    ) -> tuple[list[Partition], list[Partition]]:
        """Make `partitions` the table's only partitions, in one transaction.

        Partitions already recorded get the given location and row count, and every other recorded
        partition is deleted. The table's revision increases, and a stale `expected_revision` raises
        CatalogConflictError, as in save_table. Returns the added and the removed partitions.
        """
        with self._write() as connection:
            row = self._table_row(connection, database, name)
            table = _table_from_row(row)
            self._check_revision(table.full_name, table.revision, expected_revision)
            checked = [check_partition(table, partition) for partition in partitions]
            requested = {partition_spec(partition): partition for partition in checked}
            stored = _stored_partitions(connection, row["id"])
            removed = [partition for spec, partition in stored.items() if spec not in requested]
            added = [partition for spec, partition in requested.items() if spec not in stored]
            _write_partitions(connection, row["id"], requested, removed)
        logger.info(
            "replaced the partitions of table %s: %d added, %d removed",
            table.full_name,
            len(added),
            len(removed),
        )
        return added, removed

    def list_partitions(self, database: str, name: str) -> list[Partition]:
        """Return a table's partitions sorted by their folder path."""
        with self._read() as connection:
            table_id = self._table_id(connection, database, name)
            return list(_stored_partitions(connection, table_id).values())

    # --- connections ----------------------------------------------------------------------------

    def save_connection(self, conn: Connection, expected_revision: int | None = None) -> Connection:
        """Insert or update a connection and return it as stored; see save_table for expected_revision."""
        checked = check_connection(conn)
        with self._write() as connection:
            row = connection.execute(
                "SELECT revision FROM connections WHERE name = ?", (checked.name,)
            ).fetchone()
            current = row["revision"] if row is not None else 0
            _check_connection_revision(checked.name, current, expected_revision)
            stored = replace(checked, revision=current + 1)
            connection.execute(
                "INSERT OR REPLACE INTO connections VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    stored.name,
                    stored.kind,
                    stored.host,
                    stored.port,
                    stored.database,
                    stored.user,
                    stored.password_env,
                    stored.password_file,
                    stored.description,
                    stored.revision,
                ),
            )
        logger.info("saved connection %s (revision %d)", stored.name, stored.revision)
        return stored

    def get_connection(self, name: str) -> Connection:
        """Return a connection, or raise ConnectionNotFoundError with the closest names."""
        key = check_identifier("connection", name)
        with self._read() as connection:
            row = connection.execute("SELECT * FROM connections WHERE name = ?", (key,)).fetchone()
            if row is None:
                names = [item["name"] for item in connection.execute("SELECT name FROM connections")]
                hint = did_you_mean(key, names)
                raise ConnectionNotFoundError(f"connection {name!r} not found in catalog {self.path}.{hint}")
        return _connection_from_row(row)

    def list_connections(self) -> list[Connection]:
        with self._read() as connection:
            rows = connection.execute("SELECT * FROM connections ORDER BY name").fetchall()
        return [_connection_from_row(row) for row in rows]

    def delete_connection(self, name: str) -> None:
        """Remove a connection, or raise ConnectionNotFoundError."""
        key = check_identifier("connection", name)
        with self._write() as connection:
            cursor = connection.execute("DELETE FROM connections WHERE name = ?", (key,))
            if cursor.rowcount == 0:
                names = [item["name"] for item in connection.execute("SELECT name FROM connections")]
                hint = did_you_mean(key, names)
                raise ConnectionNotFoundError(f"connection {name!r} not found in catalog {self.path}.{hint}")
        logger.info("deleted connection %s", name)


# --- rows and records ---------------------------------------------------------------------------


def _rollback(connection: sqlite3.Connection) -> None:
    if connection.in_transaction:
        connection.execute("ROLLBACK")


def _database_exists(connection: sqlite3.Connection, name: str) -> bool:
    return connection.execute("SELECT 1 FROM databases WHERE name = ?", (name,)).fetchone() is not None


def _database_names(connection: sqlite3.Connection) -> list[str]:
    return [row["name"] for row in connection.execute("SELECT name FROM databases ORDER BY name")]


def _columns_to_json(columns: list[Column]) -> str:
    return json.dumps([{"name": c.name, "type": c.type, "comment": c.comment} for c in columns])


def _columns_from_json(text: str) -> list[Column]:
    return [Column(item["name"], item["type"], item.get("comment", "")) for item in json.loads(text)]


def _table_from_row(row: sqlite3.Row) -> Table:
    return Table(
        database=row["database"],
        name=row["name"],
        location=row["location"],
        format=row["format"],
        options=json.loads(row["options"]),
        columns=_columns_from_json(row["columns"]),
        partition_keys=_columns_from_json(row["partition_keys"]),
        row_count=row["row_count"],
        description=row["description"],
        created=row["created"],
        updated=row["updated"],
        version=row["version"],
        revision=row["revision"],
    )


def _stored_partitions(connection: sqlite3.Connection, table_id: int) -> dict[str, Partition]:
    """Return a table's recorded partitions by folder path, sorted by it."""
    rows = connection.execute("SELECT * FROM partitions WHERE table_id = ? ORDER BY spec", (table_id,))
    return {
        row["spec"]: Partition(json.loads(row["key_values"]), row["location"], row["row_count"])
        for row in rows
    }


def _write_partitions(
    connection: sqlite3.Connection, table_id: int, requested: dict[str, Partition], removed: list[Partition]
) -> None:
    """Delete the removed partitions, upsert the requested ones and increase the table's revision."""
    now = now_text()
    connection.executemany(
        "DELETE FROM partitions WHERE table_id = ? AND spec = ?",
        [(table_id, partition_spec(partition)) for partition in removed],
    )
    upsert = (
        "INSERT INTO partitions VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (table_id, spec)"
        " DO UPDATE SET location = excluded.location, row_count = excluded.row_count"
    )
    rows = [
        (table_id, spec, json.dumps(partition.values), partition.location, partition.row_count, now)
        for spec, partition in requested.items()
    ]
    connection.executemany(upsert, rows)
    connection.execute("UPDATE tables SET updated = ?, revision = revision + 1 WHERE id = ?", (now, table_id))


def _version_from_row(row: sqlite3.Row) -> SchemaVersion:
    return SchemaVersion(
        version=row["version"],
        columns=_columns_from_json(row["columns"]),
        partition_keys=_columns_from_json(row["partition_keys"]),
        created=row["created"],
        change=row["change"],
    )


def _connection_from_row(row: sqlite3.Row) -> Connection:
    return Connection(**{key: row[key] for key in row.keys()})


def _check_connection_revision(name: str, current: int, expected: int | None) -> None:
    if expected is None or expected == current:
        return
    if current == 0:
        message = f"connection {name} was deleted by someone else since you loaded it"
    elif expected == 0:
        message = f"connection {name} already exists (revision {current})"
    else:
        message = (
            f"connection {name} was changed by someone else since you loaded it "
            f"(you loaded revision {expected}, the catalog has revision {current})"
        )
    raise CatalogConflictError(f"{message}; reload the connection and reapply your change")


def _insert_table(connection: sqlite3.Connection, table: Table) -> Table:
    now = now_text()
    stored = replace(table, created=now, updated=now, version=1, revision=1)
    cursor = connection.execute(
        "INSERT INTO tables (database, name, location, format, options, columns, partition_keys, row_count,"
        " description, created, updated, version, revision) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        _table_values(stored),
    )
    _insert_version(connection, cursor.lastrowid, stored, "created")
    return stored


def _update_table(connection: sqlite3.Connection, table_id: int, current: Table, table: Table) -> Table:
    change = schema_change(current, table)
    version = current.version + 1 if change else current.version
    stored = replace(
        table, created=current.created, updated=now_text(), version=version, revision=current.revision + 1
    )
    connection.execute(
        "UPDATE tables SET database = ?, name = ?, location = ?, format = ?, options = ?, columns = ?,"
        " partition_keys = ?, row_count = ?, description = ?, created = ?, updated = ?, version = ?,"
        " revision = ? WHERE id = ?",
        (*_table_values(stored), table_id),
    )
    if change:
        _insert_version(connection, table_id, stored, change)
    if _key_names(current.partition_keys) != _key_names(stored.partition_keys):
        # Partitions recorded under other keys no longer describe the table's folders.
        connection.execute("DELETE FROM partitions WHERE table_id = ?", (table_id,))
    return stored


def _table_values(table: Table) -> tuple:
    return (
        table.database,
        table.name,
        table.location,
        table.format,
        json.dumps(table.options, sort_keys=True),
        _columns_to_json(table.columns),
        _columns_to_json(table.partition_keys),
        table.row_count,
        table.description,
        table.created,
        table.updated,
        table.version,
        table.revision,
    )


def _insert_version(connection: sqlite3.Connection, table_id: int, table: Table, change: str) -> None:
    connection.execute(
        "INSERT INTO schema_versions VALUES (?, ?, ?, ?, ?, ?)",
        (
            table_id,
            table.version,
            _columns_to_json(table.columns),
            _columns_to_json(table.partition_keys),
            table.updated,
            change,
        ),
    )


def _key_names(columns: list[Column]) -> list[str]:
    return [column.name.lower() for column in columns]


def schema_change(old: Table, new: Table) -> str:
    """Summarize how the schema changed from `old` to `new`, or return '' if names, types and order match.

    Comments are documentation, so a change of comments alone is no schema change.
    """
    parts = _column_changes("column", old.columns, new.columns)
    parts += _column_changes("partition key", old.partition_keys, new.partition_keys)
    if not parts and _signature(old.columns) != _signature(new.columns):
        parts.append("reordered columns")
    return "; ".join(parts)


def _signature(columns: list[Column]) -> list[tuple[str, str]]:
    return [(column.name, column.type) for column in columns]


def _column_changes(kind: str, old: list[Column], new: list[Column]) -> list[str]:
    old_by_name = {column.name: column for column in old}
    new_by_name = {column.name: column for column in new}
    parts = [f"added {kind} {c.name} ({c.type})" for c in new if c.name not in old_by_name]
    parts += [f"removed {kind} {c.name}" for c in old if c.name not in new_by_name]
    for column in new:
        before = old_by_name.get(column.name)
        if before is not None and before.type != column.type:
            parts.append(f"changed type of {kind} {column.name} from {before.type} to {column.type}")
    return parts


def _with_column_changed(table: Table, name: str, type_name: str | None, comment: str | None) -> Table:
    where = f"table {table.full_name}"
    lowered = name.lower() if isinstance(name, str) else name
    lists = {"columns": list(table.columns), "partition_keys": list(table.partition_keys)}
    for field_name, columns in lists.items():
        for index, column in enumerate(columns):
            if column.name.lower() != lowered:
                continue
            new_type = check_type(where, column.name, type_name) if type_name is not None else column.type
            new_comment = str(comment) if comment is not None else column.comment
            columns[index] = Column(column.name, new_type, new_comment)
            return replace(table, **{field_name: columns})
    hint = did_you_mean(str(name), [column.name for column in table.schema])
    raise CatalogError(f"{where} has no column {name!r}.{hint}")
