"""Errors of the data catalog. Each message names the table or connection and suggests the fix."""

from __future__ import annotations

from designer.errors import SparkCanvasError


class CatalogError(SparkCanvasError):
    """A catalog operation that failed: an invalid name or value, or an unusable catalog file."""


class DatabaseNotFoundError(CatalogError):
    """A database name that the catalog does not contain."""


class TableNotFoundError(CatalogError):
    """A table name that the catalog does not contain."""


class ConnectionNotFoundError(CatalogError):
    """A connection name that the catalog does not contain."""


class CatalogConflictError(CatalogError):
    """A write based on a stale copy: someone else changed the entry since it was loaded."""
