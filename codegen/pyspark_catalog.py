"""PySpark lowering of the nodes that use the data catalog, and the registration of written
folders in Spark's own catalog (`spark_table`).

A catalog table's location, format, options and schema are written into the script at export
time, so the script runs unchanged where the SparkCanvas catalog is absent, such as on a
cluster. The SparkCanvas catalog is updated by the runner after a successful run
(catalog.targets), not by the script.
"""

from __future__ import annotations

from catalog.model import Table
from catalog.reading import ignored_options, reader_settings
from codegen.quoting import py_column, py_str, spark_ddl_chunks, spark_identifier
from designer.catalog_nodes import (
    catalog_table,
    existing_table,
    lookup_columns,
    lookup_keys,
    spark_table_name,
    table_schema,
    target_path,
)
from designer.model import Node
from designer.schema import Schema

DDL_LINE_WIDTH = 72


def _reader_lines(table: Table) -> list[str]:
    """Return the chained calls that read a catalog table with its schema and options."""
    from codegen.pyspark import CSV_OPTIONS, _py_value, _schema_call

    settings = reader_settings(table)
    lines = [f"    spark.read.format({py_str(table.format)})"]
    lines += _schema_call(table_schema(table))
    if table.format == "csv":
        for name, option in CSV_OPTIONS:
            lines.append(f"    .option({py_str(option)}, {_py_value(settings[name])})")
    elif table.format == "json" and settings["multiline"]:
        lines.append('    .option("multiLine", True)')
    for name in ignored_options(table):
        # Options the preview does not apply still reach Spark, which marks the preview approximate.
        lines.append(f"    .option({py_str(name)}, {_py_value(table.options[name])})")
    if table.partition_keys:
        # With basePath, Spark reads the partition columns from the folder names below it.
        lines.append(f'    .option("basePath", {py_str(table.location)})')
    lines.append(f"    .load({py_str(table.location)})")
    return lines


# --- source.catalog ----------------------------------------------------------------------------


def source_catalog(emitter, node: Node, variable: str) -> list[str]:
    table = catalog_table(node)
    lines = [
        f"# Data Catalog table {table.full_name}, schema version {table.version} at export time.",
        f"{variable} = (",
        *_reader_lines(table),
    ]
    predicate = str(node.params.get("partition_predicate") or "").strip()
    if predicate:
        # A condition on partition columns only: Spark reads the matching folders alone.
        lines.append(f"    .where({py_str(predicate)})")
    lines.append(")")
    return lines


# --- transform.lookup --------------------------------------------------------------------------


def lookup(emitter, node: Node, variable: str) -> list[str]:
    source = emitter.input_variable(node, "in")
    schema = emitter.schema_of(node.inputs["in"])
    table = catalog_table(node)
    pairs = lookup_keys(node, schema, table)
    added = lookup_columns(node, schema, table)
    lookup_variable = f"{variable}_table"

    conditions = [
        f"({source}[{py_column(input_column.name)}] == {lookup_variable}[{py_column(lookup_column.name)}])"
        for input_column, lookup_column in pairs
    ]
    selections = [f"{source}[{py_str('*')}]"]
    selections += [f"{lookup_variable}[{py_column(column.name)}]" for column in added]

    lines = [
        f"# A left join: an input row that matches several rows of {table.full_name} appears once per match.",
        f"{lookup_variable} = (",
        *_reader_lines(table),
        ")",
        f"{variable} = {source}.join(",
        f"    {lookup_variable},",
    ]
    if len(conditions) == 1:
        lines.append(f"    on={conditions[0][1:-1]},")
    else:
        lines.append("    on=" + "\n    & ".join(conditions) + ",")
    lines += ['    how="left",', ").select("]
    lines += [f"    {selection}," for selection in selections]
    lines.append(")")
    return lines


# --- target.catalog ----------------------------------------------------------------------------


def target_catalog(emitter, node: Node, variable: str) -> list[str]:
    """Write as a File target does, to the path target_path gives."""
    table = existing_table(node)
    params = node.params
    full_name = f"{params['database']}.{params['table']}"
    update = params.get("update_catalog", "create_update_schema")
    writer = Node(
        node.id,
        "target.file",
        node.name,
        dict(node.inputs),
        {
            "path": target_path(node, table),
            "format": params.get("format", "parquet"),
            "mode": params.get("mode", "append"),
            "partition_by": list(params.get("partition_keys") or []),
            "compression": "default",
        },
    )
    if update == "none":
        comment = f"# The Data Catalog table {full_name} is not updated (update_catalog none)."
    else:
        comment = (
            f"# After a successful run, the runner records {full_name} and its new partitions\n"
            f"# in the Data Catalog ({update})."
        )
    return [*comment.split("\n"), *emitter.target_file(writer, variable)]


# --- Spark's own catalog -----------------------------------------------------------------------


def written_path(node: Node) -> str:
    """Return the path a file target writes to, as the node states it (with ${name} references)."""
    if node.type == "target.catalog":
        return target_path(node, existing_table(node))
    return str(node.params["path"])


def spark_table_lines(emitter, node: Node, variable: str, schema: Schema) -> list[str]:
    """Return the statements that register a written folder as an external table of Spark's catalog."""
    name = spark_table_name(node)
    if name is None:
        return []
    database, table = (spark_identifier(part) for part in name)
    file_format = node.params.get("format", "parquet")
    key_parameter = "partition_keys" if node.type == "target.catalog" else "partition_by"
    keys = [str(key) for key in node.params.get(key_parameter) or []]
    location = f"{variable}_location"

    create = [f"CREATE TABLE IF NOT EXISTS {database}.{table} ("]
    create += spark_ddl_chunks(schema, DDL_LINE_WIDTH)
    clauses = f") USING {file_format}"
    if file_format == "csv":
        clauses += " OPTIONS (header 'true')"
    if keys:
        clauses += f" PARTITIONED BY ({', '.join(spark_identifier(key) for key in keys)})"
    create.append(f"{clauses} LOCATION :location")

    lines = [
        "# Register the written folder in Spark's catalog, for SQL users and other jobs.",
        f"{location} = {emitter.template(written_path(node))}",
        f'if "://" not in {location}:',
        f"    {location} = os.path.abspath({location})",
        f"spark.sql({py_str(f'CREATE DATABASE IF NOT EXISTS {database}')})",
        "spark.sql(",
        *[f"    {py_str(part)}" for part in create[:-1]],
        f"    {py_str(create[-1])},",
        f'    args={{"location": {location}}},',
        ")",
    ]
    if keys:
        # Spark lists the partitions of a table over existing folders only when asked to.
        lines.append(f"spark.sql({py_str(f'MSCK REPAIR TABLE {database}.{table} SYNC PARTITIONS')})")
    return lines


def uses_os(body: str) -> bool:
    """Return whether generated code calls os.path, so the script must import os."""
    return "os.path." in body
