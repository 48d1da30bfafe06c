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
from designer.jdbc_nodes import node_connection, source_relation
from designer.nodes import NodeError

SAMPLE_VIEW = "jdbc_sample"


def lower_source_jdbc(node, inputs, call, preview) -> pa.Table:
    """Read the first rows of the node's table or query, at most the job's sample size."""
    from catalog.postgres import read_sample

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
    except CatalogError as error:
        raise PreviewError(str(error)) from None
    columns = ", ".join(
        f"CAST({sql_identifier(column.name)} AS {duckdb_type(column.type)}) AS {sql_identifier(column.name)}"
        for column in preview.schema
    )
    result = call.execute(f"SELECT {columns} FROM {SAMPLE_VIEW}", {SAMPLE_VIEW: sample})
    _note_sample(node, job, preview, result.num_rows, table)
    return result


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
    return inputs["in"].table
