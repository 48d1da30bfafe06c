"""Update the data catalog after a successful run, for each Data Catalog target of the job.

The script only writes files. The runner then calls `update_catalog_after_run`, which reads
the written location with DuckDB (row counts per partition folder, and the columns the files
hold) and applies the node's `update_catalog` choice, as Glue names them:

- "none": the catalog is not changed;
- "create_update_schema": create the table, and on later runs update its schema and add new
  partitions;
- "keep_schema_add_partitions": create the table, and on later runs keep its schema and add
  new partitions. Written columns that differ from the table's schema are an error.

With mode overwrite, the run replaced the whole location, so the table's partitions become the
partition folders the run wrote, and the partitions of folders that are gone are removed.
"""

from __future__ import annotations

import logging
import os
from dataclasses import replace

import duckdb

from catalog.errors import CatalogError, DatabaseNotFoundError, TableNotFoundError
from catalog.model import Partition, Table
from catalog.reading import data_files, partition_folders
from catalog.store import Catalog, open_catalog
from catalog.validation import partition_spec
from codegen.quoting import sql_literal, substitute_parameters
from designer.catalog_nodes import schema_difference, target_path
from designer.model import Job, Node
from designer.schema import Column, Schema, find_column
from designer.validation import validate

logger = logging.getLogger(__name__)

NEW_TABLE_OPTIONS = {"csv": {"header": "true"}, "json": {}, "parquet": {}}
DUCKDB_CONFIG = {"autoload_known_extensions": False, "autoinstall_known_extensions": False}
NOTED_PARTITIONS = 5


def update_catalog_after_run(
    job: Job, parameters: dict[str, str] | None, catalog: Catalog | None = None
) -> list[str]:
    """Apply each Data Catalog target's update_catalog choice; return one message per change.

    Call it after a successful run, with the run's parameter values. Raises CatalogError, naming
    the node and the table, when the written files cannot go into the catalog as chosen.
    """
    targets = [node for node in job.nodes if node.type == "target.catalog"]
    if not targets:
        return []
    catalog = catalog or open_catalog()
    values = {**job.parameter_defaults(), **(parameters or {})}
    validation = validate(job)
    messages: list[str] = []
    for node in targets:
        if node.params.get("update_catalog", "create_update_schema") == "none":
            messages.append(f"node {node.id}: the Data Catalog was not updated (update_catalog none)")
            continue
        schema = validation.schemas.get(node.inputs.get("in", ""))
        if schema is None:
            raise CatalogError(
                f"node {node.id}: cannot update the Data Catalog, because the node's input is not "
                "valid; run `sparkcanvas validate` on the job and fix it"
            )
        messages += _update_table(catalog, node, schema, values)
    return messages


def _update_table(catalog: Catalog, node: Node, schema: Schema, values: dict[str, str]) -> list[str]:
    database, name = str(node.params["database"]).lower(), str(node.params["table"]).lower()
    existing = _existing(catalog, database, name)
    location = _absolute(substitute_parameters(target_path(node, existing), values))
    keys = [find_column(schema, str(key)) for key in node.params.get("partition_keys") or []]
    data_columns = [column for column in schema if column not in keys]
    written = _read_written(node, location, data_columns, keys)
    if existing is None:
        return _create(catalog, node, database, name, location, data_columns, keys, written)
    _check_partition_keys(node, existing, keys)
    return _update(catalog, node, existing, location, data_columns, written)


def _check_partition_keys(node: Node, existing: Table, keys: list[Column]) -> None:
    expected = [column.name.lower() for column in existing.partition_keys]
    if [key.name.lower() for key in keys] != expected:
        raise CatalogError(
            f"node {node.id}: table {existing.full_name} is partitioned by "
            f"{', '.join(expected) or '(nothing)'}, but the node partitions by other columns; use the "
            "table's partition keys or write to a new table"
        )


def _existing(catalog: Catalog, database: str, name: str) -> Table | None:
    try:
        return catalog.get_table(database, name)
    except (DatabaseNotFoundError, TableNotFoundError):
        return None


def _absolute(path: str) -> str:
    return path if "://" in path else os.path.abspath(path)


# --- reading what the run wrote ----------------------------------------------------------------


class _Written:
    """The partitions, with row counts, and the total row count that a run left at a location."""

    def __init__(self, partitions: list[Partition], row_count: int):
        self.partitions = partitions
        self.row_count = row_count


def _read_written(node: Node, location: str, data_columns: Schema, keys: list[Column]) -> _Written:
    """Count the rows of each data file with DuckDB and check the files contain the written columns."""
    files = data_files(location) if os.path.exists(location) else []
    if not files:
        raise CatalogError(
            f"node {node.id}: no data files at {location}, so the Data Catalog was not updated; "
            "check that the run wrote the target"
        )
    file_format = node.params.get("format", "parquet")
    counts = _rows_per_file(node, file_format, files, data_columns)
    if not keys:
        return _Written([], sum(counts.values()))
    partitions = []
    for partition in partition_folders(location, [key.name for key in keys]):
        rows = sum(count for name, count in counts.items() if os.path.dirname(name) == partition.location)
        partitions.append(replace(partition, row_count=rows))
    return _Written(partitions, sum(counts.values()))


def _rows_per_file(node: Node, file_format: str, files: list[str], data_columns: Schema) -> dict[str, int]:
    paths = "[" + ", ".join(sql_literal(name) for name in files) + "]"
    readers = {
        "parquet": f"read_parquet({paths}, filename = true, union_by_name = true, hive_partitioning = false)",
        "csv": f"read_csv({paths}, filename = true, header = true, all_varchar = true, "
        "union_by_name = true, hive_partitioning = false)",
        "json": f"read_json({paths}, filename = true, format = 'newline_delimited', union_by_name = true, "
        "hive_partitioning = false)",
    }
    connection = duckdb.connect(":memory:", config=DUCKDB_CONFIG)
    try:
        described = connection.execute(f"DESCRIBE SELECT * FROM {readers[file_format]}").fetchall()
        _check_written_columns(node, [row[0] for row in described], data_columns)
        rows = connection.execute(f"SELECT filename, count(*) FROM {readers[file_format]} GROUP BY filename")
        return {os.path.abspath(name): count for name, count in rows.fetchall()}
    except duckdb.Error as error:
        raise CatalogError(f"node {node.id}: cannot read the written {file_format} files: {error}") from None
    finally:
        connection.close()


def _check_written_columns(node: Node, names: list[str], data_columns: Schema) -> None:
    present = {name.lower() for name in names}
    missing = [column.name for column in data_columns if column.name.lower() not in present]
    if missing:
        raise CatalogError(
            f"node {node.id}: the files contain no column {', '.join(missing)}, which the node wrote; "
            "another job may write to the same location"
        )


# --- applying the choice -----------------------------------------------------------------------


def _create(catalog, node, database, name, location, data_columns, keys, written) -> list[str]:
    catalog.ensure_database(database)
    table = Table(
        database=database,
        name=name,
        location=location,
        format=node.params.get("format", "parquet"),
        options=dict(NEW_TABLE_OPTIONS[node.params.get("format", "parquet")]),
        columns=[Column(column.name, column.type) for column in data_columns],
        partition_keys=[Column(key.name, key.type) for key in keys],
        row_count=written.row_count,
    )
    catalog.save_table(table, expected_revision=0)
    messages = [
        f"node {node.id}: created table {table.full_name} at {location} with {len(data_columns)} "
        f"columns and {written.row_count} rows"
    ]
    logger.info("node %s created catalog table %s", node.id, table.full_name)
    return messages + _add_partitions(catalog, node, table, written)


def _update(catalog, node, existing: Table, location, data_columns, written) -> list[str]:
    if _absolute(existing.location) != location:
        raise CatalogError(
            f"node {node.id}: table {existing.full_name} is at {existing.location}, but the run wrote "
            f"to {location}; clear the node's path or write to a new table"
        )
    difference = schema_difference(existing.columns, data_columns)
    choice = node.params.get("update_catalog")
    if difference and choice == "keep_schema_add_partitions":
        raise CatalogError(
            f"node {node.id}: table {existing.full_name} keeps its schema (keep_schema_add_partitions), "
            f"but the run wrote other columns: {difference}. Choose create_update_schema, or change "
            "the input with a Change Schema node"
        )
    messages = []
    columns = (
        [Column(column.name, column.type) for column in data_columns] if difference else existing.columns
    )
    updated = replace(existing, columns=columns, row_count=written.row_count)
    saved = catalog.save_table(updated, expected_revision=existing.revision)
    if difference:
        messages.append(
            f"node {node.id}: updated the schema of {saved.full_name} to version {saved.version}: "
            f"{difference}"
        )
        logger.info("node %s updated the schema of catalog table %s", node.id, saved.full_name)
    if node.params.get("mode") == "overwrite":
        return messages + _replace_partitions(catalog, node, saved, written)
    return messages + _add_partitions(catalog, node, saved, written)


def _add_partitions(catalog: Catalog, node: Node, table: Table, written: _Written) -> list[str]:
    if not written.partitions:
        return []
    added = catalog.add_partitions(table.database, table.name, written.partitions)
    if not added:
        return []
    return [f"node {node.id}: added {len(added)} partitions to {table.full_name}: {_spec_list(added)}"]


def _replace_partitions(catalog: Catalog, node: Node, table: Table, written: _Written) -> list[str]:
    """Make the table's partitions those the overwrite wrote; return one message per kind of change."""
    if not table.partition_keys:
        return []
    added, removed = catalog.replace_partitions(table.database, table.name, written.partitions)
    name = table.full_name
    messages = []
    if added:
        messages.append(f"node {node.id}: added {len(added)} partitions to {name}: {_spec_list(added)}")
    if removed:
        messages.append(
            f"node {node.id}: removed {len(removed)} partitions whose folders the overwrite deleted from "
            f"{name}: {_spec_list(removed)}"
        )
        logger.info("node %s removed %d partitions from catalog table %s", node.id, len(removed), name)
    return messages


def _spec_list(partitions: list[Partition]) -> str:
    """Return the folder paths of the first partitions, comma-separated, and how many more there are."""
    names = [partition_spec(partition) for partition in partitions[:NOTED_PARTITIONS]]
    if len(partitions) > NOTED_PARTITIONS:
        names.append(f"and {len(partitions) - NOTED_PARTITIONS} more")
    return ", ".join(names)
