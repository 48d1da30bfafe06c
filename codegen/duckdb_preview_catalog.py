"""DuckDB preview of the nodes that use the data catalog: source.catalog, transform.lookup and
target.catalog.

A catalog table is read from its location with its format, options and schema, the partition
columns coming from the Hive-style folder names (`year=2024/month=6`). A partition predicate
is evaluated in the sandboxed database over the partition values alone, so only the folders
of the matching partitions are read, and no user expression runs where files can be read.
"""

from __future__ import annotations

import os

import pyarrow as pa

from catalog.errors import CatalogError
from catalog.model import Partition, Table
from catalog.reading import (
    NULL_PARTITION_VALUE,
    data_files,
    ignored_options,
    load_partitions,
    load_table,
    partition_folders,
    reader_settings,
)
from catalog.validation import partition_spec
from codegen.approximations import approximation_reasons
from codegen.expressions import expression_to_duckdb, parse_expression
from codegen.quoting import sql_identifier, sql_literal, substitute_parameters
from codegen.types import duckdb_type
from designer.catalog_nodes import (
    catalog_table,
    existing_table,
    lookup_columns,
    lookup_keys,
    target_path,
)
from designer.errors import PreviewError
from designer.nodes import NodeError
from designer.schema import Column, Schema

# A lookup fetches the lookup rows whose keys match the input's rows, at most this many times
# the sample size.
MATCHED_ROWS_FACTOR = 10
CATALOG_NODE_TYPES = ("source.catalog", "transform.lookup", "target.catalog")
NOTED_PARTITIONS = 5  # partitions named in a note; the rest are counted
PARTITION_VIEW = "partition_values"
LOOKUP_VIEW = "lookup_rows"


# --- reading a table ---------------------------------------------------------------------------


def scan_sql(table: Table, files: list[str], schema: Schema) -> str:
    """Return a DuckDB query over a table's files giving `schema`, partition columns from folders."""
    if not files:
        return _empty_sql(schema)
    settings = reader_settings(table)
    data = list(table.columns)
    paths = "[" + ", ".join(sql_literal(name) for name in files) + "]"
    hive = _hive_arguments(table)
    if table.format == "csv":
        reader = (
            f"read_csv({paths}, columns = {_struct(data)}, header = {_bool(settings['header'])}, "
            f"delim = {sql_literal(settings['delimiter'])}, quote = {sql_literal(settings['quote'])}, "
            f"escape = {sql_literal(settings['escape'])}, nullstr = {sql_literal(settings['null_value'])}, "
            f"auto_detect = false, null_padding = true, strict_mode = false, parallel = false{hive})"
        )
    elif table.format == "json":
        layout = "auto" if settings["multiline"] else "newline_delimited"
        reader = f"read_json({paths}, columns = {_struct(data)}, format = {sql_literal(layout)}{hive})"
    else:
        # Spark reads a column that a file lacks (one added in a later schema version) as NULL.
        # UNION ALL BY NAME with an empty typed row set does the same, even when no file has it.
        files_by_name = f"SELECT * FROM read_parquet({paths}, union_by_name = true{hive})"
        reader = f"({_empty_sql(data)} UNION ALL BY NAME {files_by_name})"
    selections = ", ".join(
        f"CAST({sql_identifier(column.name)} AS {duckdb_type(column.type)}) AS {sql_identifier(column.name)}"
        for column in schema
    )
    return f"SELECT {selections} FROM {reader}"


def _struct(columns: list[Column]) -> str:
    pairs = ", ".join(
        f"{sql_literal(column.name)}: {sql_literal(duckdb_type(column.type))}" for column in columns
    )
    return "{" + pairs + "}"


def _hive_arguments(table: Table) -> str:
    if not table.partition_keys:
        return ", hive_partitioning = false"
    return f", hive_partitioning = true, hive_types = {_struct(table.partition_keys)}"


def _empty_sql(schema: Schema) -> str:
    selections = ", ".join(
        f"CAST(NULL AS {duckdb_type(column.type)}) AS {sql_identifier(column.name)}" for column in schema
    )
    return f"SELECT {selections} WHERE false"


def _bool(value) -> str:
    return "true" if value else "false"


def sampled_sql(query: str, job, node_id: str, limit: int | None) -> str:
    """Wrap a source's query to read its first rows, or the seeded sample the job sets for it."""
    if not limit:
        return query
    sampling = job.sampling_of(node_id)
    if sampling.method == "random":
        return (
            f"SELECT * FROM ({query}) USING SAMPLE reservoir({int(limit)} ROWS) "
            f"REPEATABLE ({int(sampling.seed)})"
        )
    return f"{query} LIMIT {int(limit)}"


def _node_table(node) -> Table:
    try:
        return catalog_table(node)
    except NodeError as error:
        raise PreviewError(error.message) from None


# --- partitions --------------------------------------------------------------------------------


def table_partitions(table: Table) -> tuple[list[Partition], bool]:
    """Return a partitioned table's partitions and whether the catalog listed them.

    Without partitions in the catalog, the `key=value` folders under the location are used.
    """
    listed = load_partitions(table)
    if listed:
        return listed, True
    keys = [column.name for column in table.partition_keys]
    return partition_folders(table.location, keys), False


def matching_partitions(call, table: Table, partitions: list[Partition], predicate: str) -> list[Partition]:
    """Return the partitions whose values satisfy the predicate, evaluated in the sandbox."""
    if not predicate or not partitions:
        return list(partitions)
    keys = [Column(column.name, column.type) for column in table.partition_keys]
    values = {"partition_index": pa.array(range(len(partitions)), pa.int64())}
    for key in keys:
        texts = [_partition_value(partition, key.name) for partition in partitions]
        values[key.name] = pa.array(texts, pa.string())
    casts = ", ".join(
        f"CAST({sql_identifier(key.name)} AS {duckdb_type(key.type)}) AS {sql_identifier(key.name)}"
        for key in keys
    )
    condition = expression_to_duckdb(predicate, keys)
    sql = (
        f"SELECT partition_index FROM (SELECT partition_index, {casts} FROM {PARTITION_VIEW}) "
        f"WHERE {condition} ORDER BY partition_index"
    )
    chosen = call.execute(sql, {PARTITION_VIEW: pa.table(values)}).column("partition_index").to_pylist()
    return [partitions[index] for index in chosen]


def _partition_value(partition: Partition, key: str) -> str | None:
    for name, value in partition.values.items():
        if name.lower() == key.lower():
            return None if value == NULL_PARTITION_VALUE else value
    return None


# --- source.catalog ----------------------------------------------------------------------------


def lower_source_catalog(node, inputs, call, preview) -> pa.Table:
    """Read the files of the table's matching partitions, sampled as a file source is."""
    job = call.job
    table = _node_table(node)
    predicate = str(node.params.get("partition_predicate") or "").strip()
    files = _source_files(node, table, predicate, call, preview)
    sampling = job.sampling_of(node.id)
    sql = sampled_sql(scan_sql(table, files, preview.schema), job, node.id, job.sample_rows)
    # A seeded reservoir sample is repeatable only on one thread.
    result = call.execute(sql, {}, files=True, threads=1 if sampling.method == "random" else None)
    _note_options(node, table, preview)
    _note_predicate(node, table, predicate, preview)
    _note_sample(node, table, job, result.num_rows, preview)
    return result


def _note_predicate(node, table: Table, predicate: str, preview) -> None:
    """Mark the node approximate where DuckDB may choose other partitions than Spark would."""
    if not predicate:
        return
    keys = [Column(column.name, column.type) for column in table.partition_keys]
    for reason in approximation_reasons(parse_expression(predicate), keys):
        text = f"{node.label}: {reason}"
        if text not in preview.approximations:
            preview.approximations.append(text)


def _source_files(node, table: Table, predicate: str, call, preview) -> list[str]:
    if not table.partition_keys:
        return _unpartitioned_files(table)
    partitions, listed = table_partitions(table)
    chosen = matching_partitions(call, table, partitions, predicate)
    files, empty = _partition_files(chosen)
    preview.notes.append(_partitions_note(node, table, partitions, chosen, listed, predicate))
    if empty:
        preview.notes.append(
            f"{node.label}: {len(empty)} matching partitions have no files and were skipped, "
            f"for example {partition_spec(empty[0])}"
        )
    return files


def _unpartitioned_files(table: Table) -> list[str]:
    files = data_files(table.location)
    if not files:
        raise PreviewError(
            f"table {table.full_name} has no data files at {table.location}; write the table "
            "or fix its location in the catalog"
        )
    return files


def _partition_files(partitions: list[Partition]) -> tuple[list[str], list[Partition]]:
    """Return the data files of the partitions, and the partitions that have none."""
    files, empty = [], []
    for partition in partitions:
        found = data_files(partition.location)
        files.extend(found)
        if not found:
            empty.append(partition)
    return files, empty


def _partitions_note(node, table: Table, partitions, chosen, listed: bool, predicate: str) -> str:
    names = [partition_spec(partition) for partition in chosen[:NOTED_PARTITIONS]]
    if len(chosen) > NOTED_PARTITIONS:
        names.append(f"and {len(chosen) - NOTED_PARTITIONS} more")
    where = "listed in the catalog" if listed else "found under the location (the catalog lists none)"
    condition = f" matching {predicate}" if predicate else ""
    listing = f": {', '.join(names)}" if names else ""
    return (
        f"{node.label}: read {len(chosen)} of {len(partitions)} partitions of {table.full_name} "
        f"{where}{condition}{listing}"
    )


def _note_options(node, table: Table, preview) -> None:
    ignored = ignored_options(table)
    if not ignored:
        return
    reason = (
        f"{node.label}: options {', '.join(ignored)} of {table.full_name} are passed to Spark "
        "but not applied by the preview"
    )
    if reason not in preview.approximations:
        preview.approximations.append(reason)


def _note_sample(node, table: Table, job, rows: int, preview) -> None:
    preview.sources[node.id] = rows
    sampling = job.sampling_of(node.id)
    if rows < job.sample_rows:
        preview.notes.append(f"{node.label}: all {rows} rows read (fewer than the sample size)")
    elif sampling.method == "random":
        preview.sampled = True
        preview.notes.append(f"{node.label}: random sample of {rows} rows (seed {sampling.seed})")
    else:
        preview.sampled = True
        preview.notes.append(f"{node.label}: first {rows} rows of {table.full_name} (a sample)")


def matching_rows(node, schema: Schema, driving: pa.Table, pairs, limit: int, call) -> pa.Table:
    """Read at most `limit` rows of the node's table whose keys match a driving row.

    Only the files of the partitions that the node's predicate selects are read, as for its
    sample. `pairs` contains (driving column, this node's column) names.
    """
    table = _node_table(node)
    predicate = str(node.params.get("partition_predicate") or "").strip()
    if table.partition_keys:
        partitions, _ = table_partitions(table)
        files, _ = _partition_files(matching_partitions(call, table, partitions, predicate))
    else:
        files = _unpartitioned_files(table)
    condition = " AND ".join(
        f"d.{sql_identifier(driving_column)} = m.{sql_identifier(matched_column)}"
        for driving_column, matched_column in pairs
    )
    sql = (
        f"SELECT * FROM ({scan_sql(table, files, schema)}) AS m "
        f"WHERE EXISTS (SELECT 1 FROM driving AS d WHERE {condition}) LIMIT {int(limit)}"
    )
    return call.execute(sql, {"driving": driving}, files=True, threads=1)


# --- transform.lookup --------------------------------------------------------------------------


def lower_lookup(node, inputs, call, preview) -> pa.Table:
    """Left-join the input's rows to the lookup table's rows whose keys match them."""
    table = _node_table(node)
    upstream = inputs["in"]
    try:
        pairs = lookup_keys(node, upstream.schema, table)
        added = lookup_columns(node, upstream.schema, table)
    except NodeError as error:
        raise PreviewError(error.message) from None
    matched = _matching_lookup_rows(node, table, pairs, added, upstream.table, call, preview)
    selections = [f"i.{sql_identifier(column.name)}" for column in upstream.schema]
    selections += [f"m.{sql_identifier(column.name)}" for column in added]
    condition = " AND ".join(
        f"i.{sql_identifier(input_column.name)} = m.{sql_identifier(lookup_column.name)}"
        for input_column, lookup_column in pairs
    )
    sql = f"SELECT {', '.join(selections)} FROM in_in AS i LEFT JOIN {LOOKUP_VIEW} AS m ON {condition}"
    return call.execute(sql, {"in_in": upstream.table, LOOKUP_VIEW: matched})


def _matching_lookup_rows(node, table: Table, pairs, added, driving: pa.Table, call, preview) -> pa.Table:
    """Read the lookup rows whose keys appear in the input's rows, at most a bounded number."""
    needed: list[Column] = []
    for column in [lookup for _, lookup in pairs] + list(added):
        if all(column.name.lower() != other.name.lower() for other in needed):
            needed.append(Column(column.name, column.type))
    limit = call.job.sample_rows * MATCHED_ROWS_FACTOR
    condition = " AND ".join(
        f"d.{sql_identifier(input_column.name)} = m.{sql_identifier(lookup_column.name)}"
        for input_column, lookup_column in pairs
    )
    scan = scan_sql(table, data_files(table.location), needed)
    sql = (
        f"SELECT * FROM ({scan}) AS m WHERE EXISTS (SELECT 1 FROM driving AS d WHERE {condition}) "
        f"LIMIT {int(limit) + 1}"
    )
    rows = call.execute(sql, {"driving": driving}, files=True, threads=1)
    if rows.num_rows > limit:
        rows = rows.slice(0, limit)
        reason = (
            f"{node.label}: more than {limit} rows of {table.full_name} match the input's keys; "
            "the preview joined the first of them only"
        )
        preview.approximations.append(reason)
    preview.sources[node.id] = rows.num_rows
    preview.notes.append(
        f"{node.label}: {rows.num_rows} rows of {table.full_name} whose keys match the input's rows"
    )
    return rows


# --- target.catalog ----------------------------------------------------------------------------


def lower_target_catalog(node, inputs, call, preview) -> pa.Table:
    table = existing_table(node)
    path = substitute_parameters(target_path(node, table), call.job.parameter_defaults())
    full_name = f"{node.params.get('database')}.{node.params.get('table')}"
    update = node.params.get("update_catalog", "create_update_schema")
    if update == "none":
        after = f"the Data Catalog is not updated ({'table exists' if table else 'no table yet'})"
    elif table is None:
        after = f"then creates table {full_name} in the Data Catalog"
    elif update == "keep_schema_add_partitions":
        after = f"then adds new partitions to {full_name}, keeping its schema"
    else:
        after = f"then updates the schema of {full_name} and adds new partitions"
    preview.notes.append(
        f"{node.label}: preview only; a run writes {node.params.get('format', 'parquet')} to {path} "
        f"(mode {node.params.get('mode', 'append')}), {after}"
    )
    return inputs["in"].table


# --- the preview cache -------------------------------------------------------------------------


def cache_material(node) -> dict:
    """Return what a catalog node's preview depends on beyond its parameters: the table and its files."""
    try:
        table = load_table(str(node.params.get("database") or ""), str(node.params.get("table") or ""))
    except CatalogError as error:
        return {"catalog_error": str(error)}
    material = {
        "table": [table.revision, table.location, table.format, table.options],
        "schema": [[column.name, column.type] for column in table.schema],
        "files": [_stamp(name) for name in data_files(table.location)],
    }
    if table.partition_keys:
        material["partitions"] = [[p.values, p.location] for p in load_partitions(table)]
    return material


def _stamp(name: str) -> tuple[str, int, int]:
    status = os.stat(name)
    return (name, status.st_size, status.st_mtime_ns)
