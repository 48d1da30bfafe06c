"""Plain data of the catalog: tables, their schema versions and partitions, and connections."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from designer.schema import Column

__all__ = ["Column", "Connection", "Partition", "SchemaVersion", "Table"]


@dataclass
class Partition:
    """One partition of a table: its partition key values (as text) and its folder."""

    values: dict[str, str]
    location: str
    row_count: int | None = None


@dataclass
class Table:
    """A table of the catalog: where its files are, how to read them, and its schema.

    `version` is the number of the table's current schema version. `revision` increases on
    every write and is the value that optimistic locking compares; 0 means never saved.
    """

    database: str
    name: str
    location: str
    format: str
    options: dict[str, Any] = field(default_factory=dict)
    columns: list[Column] = field(default_factory=list)
    partition_keys: list[Column] = field(default_factory=list)
    row_count: int | None = None
    description: str = ""
    created: str = ""
    updated: str = ""
    version: int = 1
    revision: int = 0

    @property
    def full_name(self) -> str:
        return f"{self.database}.{self.name}"

    @property
    def schema(self) -> list[Column]:
        """Return the columns in the order Spark's partition discovery gives: data, then partition."""
        return list(self.columns) + list(self.partition_keys)


@dataclass
class SchemaVersion:
    """One numbered version of a table's schema and a one-line summary of what changed."""

    version: int
    columns: list[Column]
    partition_keys: list[Column]
    created: str
    change: str


@dataclass
class Connection:
    """A database server the jobs can read and write.

    The password is never stored: exactly one of `password_env` (the name of an environment
    variable) and `password_file` (the path of a file) names where to read it at run time.
    """

    name: str
    kind: str = "postgresql"
    host: str = "127.0.0.1"
    port: int = 5432
    database: str = ""
    user: str = ""
    password_env: str = ""
    password_file: str = ""
    description: str = ""
    revision: int = 0
