"""DuckDB preview of the PostgreSQL nodes: a bounded sample read through psycopg.

The sample is registered in DuckDB and cast to the node's schema, so downstream nodes see
the same types as with a file source. A target adds a note on what a run would write.
"""

from __future__ import annotations

import time

import pyarrow as pa

from catalog.errors import CatalogError
from codegen.quoting import sql_identifier
from codegen.types import duckdb_type
from designer.errors import PreviewError
from designer.jdbc_nodes import node_connection, skipped_target_check, source_relation, stored_schema
from designer.nodes import NodeError
from designer.schema import Column, find_column

SAMPLE_VIEW = "jdbc_sample"


def lower_source_jdbc(node, inputs, call, preview) -> pa.Table:
    """Read the first rows of the node's table or query, at most the job's sample size."""
    from catalog.postgres import PostgresConnectError, read_sample

    job = call.job
    table, query = source_relation(node)
    try:
        conn = node_connection(node)
        sample = read_sample(
            conn,
            table=table,
            query=query,
            limit=job.sample_rows,
            time_zone=job.session_time_zone,
            timeout_seconds=max(0.1, call.deadline - time.monotonic()),
        )
    except NodeError as error:
        raise PreviewError(error.message) from None
    except PostgresConnectError as error:
        raise PreviewError(
            f"{node.label}: the preview reads sample rows from the PostgreSQL server, which failed: {error}. "
            "Validate, export and run do not need the server when the node has a stored schema"
        ) from None
    except CatalogError as error:
        raise PreviewError(str(error)) from None
    _check_stored_schema(node, preview, sample, table)
    columns = ", ".join(
        f"CAST({sql_identifier(column.name)} AS {duckdb_type(column.type)}) AS {sql_identifier(column.name)}"
        for column in preview.schema
    )
    result = call.execute(f"SELECT {columns} FROM {SAMPLE_VIEW}", {SAMPLE_VIEW: sample})
    _note_sample(node, job, preview, result.num_rows, table)
    return result


def _check_stored_schema(node, preview, sample: pa.Table, table: str | None) -> None:
    """Raise PreviewError when a stored column is gone from the server; note the server's new columns."""
    if stored_schema(node) is None:
        return
    relation = f"table {table}" if table else "the query"
    server_columns = [Column(name, "") for name in sample.column_names]
    gone = [column.name for column in preview.schema if find_column(server_columns, column.name) is None]
    if gone:
        raise PreviewError(
            f"node {node.id!r} ({node.label}): the stored schema has column(s) "
            f"{', '.join(repr(name) for name in gone)} that {relation} no longer returns; its columns are "
            f"{', '.join(sample.column_names)}. Press 'Read schema' on the node to store the current schema"
        )
    added = [name for name in sample.column_names if find_column(preview.schema, name) is None]
    if added:
        preview.notes.append(
            f"{node.label}: {relation} has column(s) {', '.join(added)} that the stored schema lacks; a run "
            "reads them too. Press 'Read schema' to store them"
        )


def _note_sample(node, job, preview, rows: int, table: str | None) -> None:
    relation = f"table {table}" if table else "the query"
    preview.sources[node.id] = rows
    if rows < job.sample_rows:
        preview.notes.append(f"{node.label}: all {rows} rows of {relation} (fewer than the sample size)")
        return
    preview.sampled = True
    preview.notes.append(
        f"{node.label}: a sample, the first {rows} rows of {relation} in the order PostgreSQL returns them"
    )
    if job.sampling_of(node.id).method == "random":
        preview.notes.append(
            f"{node.label}: random sampling is not available for PostgreSQL; first rows read"
        )


def lower_target_jdbc(node, inputs, call, preview) -> pa.Table:
    mode = node.params.get("mode") or "append"
    preview.notes.append(
        f"{node.label}: preview only; a run writes to table {node.params.get('table')} through "
        f"connection {node.params.get('connection')} (mode {mode})"
    )
    unchecked = skipped_target_check(node)
    if unchecked:
        preview.notes.append(f"{node.label}: {unchecked}")
    return inputs["in"].table


# --- rows matching a join's keys ---------------------------------------------------------------

DRIVING_KEYS_VIEW = "driving_keys"


class KeyMatchUnavailable(PreviewError):
    """A join key that the preview cannot look up in PostgreSQL, so the join uses the sample."""


def matching_rows(node, schema, driving: pa.Table, pairs, limit: int, call) -> pa.Table:
    """Read at most `limit` rows of the node's table or query whose keys match a driving row.

    `pairs` contains (driving column, this node's column) names. The distinct driving keys are
    cast to this node's column types in DuckDB, then bound as parameters of one PostgreSQL query.
    """
    from catalog.postgres import KeyValues, PostgresKeyTypeError, read_matching_rows

    driving_keys = _driving_keys(schema, driving, pairs, call)
    if driving_keys.num_rows == 0:
        return call.execute(_empty_sql(schema), {})
    keys = [
        KeyValues(matched, driving_keys.column(index).to_pylist()) for index, (_, matched) in enumerate(pairs)
    ]
    table, query = source_relation(node)
    try:
        rows = read_matching_rows(
            node_connection(node),
            table=table,
            query=query,
            keys=keys,
            limit=limit,
            time_zone=call.job.session_time_zone,
            timeout_seconds=max(0.1, call.deadline - time.monotonic()),
        )
    except NodeError as error:
        raise PreviewError(error.message) from None
    except PostgresKeyTypeError as error:
        raise KeyMatchUnavailable(str(error)) from None
    except CatalogError as error:
        raise PreviewError(str(error)) from None
    return call.execute(f"SELECT {_casts(schema)} FROM {SAMPLE_VIEW}", {SAMPLE_VIEW: rows})


def _driving_keys(schema, driving: pa.Table, pairs, call) -> pa.Table:
    """Return the distinct keys of the driving rows with no NULL part, in this node's column types."""
    selections, conditions = [], []
    for index, (driving_column, matched_column) in enumerate(pairs):
        target = duckdb_type(find_column(schema, matched_column).type)
        selections.append(f"TRY_CAST({sql_identifier(driving_column)} AS {target}) AS k{index}")
        conditions.append(f"k{index} IS NOT NULL")
    sql = (
        f"SELECT * FROM (SELECT DISTINCT {', '.join(selections)} FROM {DRIVING_KEYS_VIEW}) "
        f"WHERE {' AND '.join(conditions)}"
    )
    return call.execute(sql, {DRIVING_KEYS_VIEW: driving})


def _casts(schema) -> str:
    return ", ".join(
        f"CAST({sql_identifier(column.name)} AS {duckdb_type(column.type)}) AS {sql_identifier(column.name)}"
        for column in schema
    )


def _empty_sql(schema) -> str:
    selections = ", ".join(
        f"CAST(NULL AS {duckdb_type(column.type)}) AS {sql_identifier(column.name)}" for column in schema
    )
    return f"SELECT {selections} WHERE false"
