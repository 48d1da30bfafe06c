"""The data catalog: databases, tables with schema versions and partitions, and connections."""

from catalog.errors import (
    CatalogConflictError,
    CatalogError,
    ConnectionNotFoundError,
    DatabaseNotFoundError,
    TableNotFoundError,
)
from catalog.model import Column, Connection, Partition, SchemaVersion, Table
from catalog.store import Catalog, catalog_path, open_catalog

__all__ = [
    "Catalog",
    "CatalogConflictError",
    "CatalogError",
    "Column",
    "Connection",
    "ConnectionNotFoundError",
    "DatabaseNotFoundError",
    "Partition",
    "SchemaVersion",
    "Table",
    "TableNotFoundError",
    "catalog_path",
    "open_catalog",
]
