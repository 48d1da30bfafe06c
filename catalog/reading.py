"""Reading a catalog table's files: its reader settings, its data files and its partition folders.

Both backends use these: the PySpark emitter bakes a table's location, format, options and
schema into the script at export time, and the DuckDB preview reads the same files.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import unquote

from catalog.model import Partition, Table

READABLE_FORMATS = ("csv", "json", "parquet")
# Spark writes a NULL partition value as this folder name.
NULL_PARTITION_VALUE = "__HIVE_DEFAULT_PARTITION__"
# A catalog table's options may use Spark's option names or source.file's parameter names.
OPTION_NAMES = {
    "header": "header",
    "sep": "delimiter",
    "delimiter": "delimiter",
    "quote": "quote",
    "escape": "escape",
    "multiline": "multiline",
    "nullvalue": "null_value",
    "null_value": "null_value",
}
BOOLEAN_SETTINGS = ("header", "multiline")
# The defaults of source.file, so a catalog table reads as the same files would in a File source.
DEFAULT_SETTINGS = {
    "csv": {
        "header": True,
        "delimiter": ",",
        "quote": '"',
        "escape": '"',
        "multiline": False,
        "null_value": "",
    },
    "json": {"multiline": False},
    "parquet": {},
}


def load_table(database: str, name: str) -> Table:
    """Return a table of the default catalog, or raise TableNotFoundError with the closest names."""
    from catalog.store import open_catalog

    return open_catalog().get_table(database, name)


def load_partitions(table: Table) -> list[Partition]:
    from catalog.store import open_catalog

    return open_catalog().list_partitions(table.database, table.name)


def reader_settings(table: Table) -> dict[str, Any]:
    """Return the table's reader settings under source.file's parameter names, defaults filled in.

    Options that do not apply to the table's format are left out; `ignored_options` lists them.
    """
    settings = dict(DEFAULT_SETTINGS.get(table.format, {}))
    for key, value in table.options.items():
        name = OPTION_NAMES.get(str(key).lower())
        if name is None or name not in settings:
            continue
        settings[name] = _as_bool(value) if name in BOOLEAN_SETTINGS else str(value)
    return settings


def ignored_options(table: Table) -> list[str]:
    """Return the table's options that neither backend applies to its format."""
    applicable = DEFAULT_SETTINGS.get(table.format, {})
    return sorted(key for key in table.options if OPTION_NAMES.get(str(key).lower()) not in applicable)


def _as_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    return bool(value)


def data_files(folder: str) -> list[str]:
    """Return the data files under a folder, or the path itself when it is a file, sorted.

    As Spark does, files and folders whose names start with `_` or `.` are skipped (job
    markers, checksums, staging folders), except folders that hold a partition (`_k=v`).
    """
    if os.path.isfile(folder):
        return [folder]
    found = []
    for root, folders, files in os.walk(folder):
        folders[:] = sorted(name for name in folders if not _hidden(name) or "=" in name)
        found.extend(os.path.join(root, name) for name in sorted(files) if not _hidden(name))
    return found


def _hidden(name: str) -> bool:
    return name.startswith(("_", "."))


def partition_folders(location: str, keys: list[str]) -> list[Partition]:
    """Return one Partition per `k1=v1/k2=v2` folder under a location that contains data files.

    Values are unescaped as Spark escapes them in folder names (`%3A` for `:`).
    """
    partitions = []
    for path in sorted({os.path.dirname(name) for name in data_files(location)}):
        relative = os.path.relpath(path, location)
        values = _folder_values(relative, keys)
        if values is not None:
            partitions.append(Partition(values, os.path.abspath(path)))
    return partitions


def _folder_values(relative: str, keys: list[str]) -> dict[str, str] | None:
    parts = relative.split(os.sep)
    if len(parts) != len(keys):
        return None
    values = {}
    for key, part in zip(keys, parts, strict=True):
        name, separator, value = part.partition("=")
        if not separator or name.lower() != key.lower():
            return None
        values[key] = unquote(value)
    return values
