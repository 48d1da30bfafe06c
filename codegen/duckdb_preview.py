"""The DuckDB preview: each node lowered to DuckDB SQL over its inputs' sampled rows.

Sources are read by one connection that may touch files. Every other node runs in a
connection with external access off, over Arrow tables registered as views, so an
expression or SQL node cannot read or write a file. Results are cached per node under a
hash of its parameters, its inputs' hashes and its source files' size and modification
time, so editing one node recomputes it and its downstream nodes only.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field

import duckdb
import pyarrow as pa

from codegen import duckdb_preview_catalog, duckdb_preview_jdbc
from codegen.approximations import approximation_reasons
from codegen.expressions import expression_to_duckdb, parse_expression, parse_query, to_duckdb
from codegen.quoting import spark_identifier, sql_identifier, sql_literal, substitute_parameters
from codegen.types import duckdb_type
from designer.errors import PreviewError
from designer.model import Job, Node
from designer.nodes import NODE_TYPES, join_output_columns, kept_mappings
from designer.schema import Schema, find_column
from designer.validation import Validation, validate

DUCKDB_CONFIG = {"autoload_known_extensions": False, "autoinstall_known_extensions": False}
# Spark sorts NULLs first ascending and last descending; DuckDB's default is NULLs last.
NULL_ORDER = "nulls_first_on_asc_last_on_desc"
DEFAULT_CACHE_BYTES = 512 * 1024 * 1024
# A join over a sampled source fetches the other side's matching rows, at most this many
# times the sample size.
MATCHED_ROWS_FACTOR = 10
BLOCKED = "no preview until"


@dataclass
class NodePreview:
    """A node's preview: its output schema and sample rows, or the error that stopped it."""

    node_id: str
    schema: Schema = field(default_factory=list)
    table: pa.Table | None = None
    error: str | None = None
    notes: list[str] = field(default_factory=list)
    # Why the rows may differ from Spark's, for this node and those it reads from.
    approximations: list[str] = field(default_factory=list)
    sources: dict[str, int] = field(default_factory=dict)  # source node id -> rows read
    sampled: bool = False  # a source of this node read a sample rather than every row
    # A join's rows fetched by key for one port, in place of that input's sample.
    matched_inputs: dict[str, pa.Table] = field(default_factory=dict)
    seconds: float = 0.0
    cached: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def row_count(self) -> int:
        return self.table.num_rows if self.table is not None else 0


class PreviewEngine:
    """Computes and caches node previews for any number of jobs."""

    def __init__(self, cache_bytes: int = DEFAULT_CACHE_BYTES):
        self.cache_bytes = cache_bytes
        self._cache: OrderedDict[str, NodePreview] = OrderedDict()
        self.computed: list[str] = []  # node ids computed, not served from the cache
        self._databases = _Databases()

    @property
    def cached_bytes(self) -> int:
        return sum(preview.table.nbytes for preview in self._cache.values())

    def preview(self, job: Job, node_id: str, validation: Validation | None = None) -> NodePreview:
        """Return the preview of one node, computing only what the cache lacks."""
        validation = validation or validate(job)
        if not job.has_node(node_id):
            raise PreviewError(
                f"node {node_id!r} not found; the job has {', '.join(n.id for n in job.nodes)}"
            )
        call = _PreviewCall(job, validation, self._databases)
        for current in _ancestors_in_order(job, node_id, validation):
            self._node(call, job.node(current))
        if node_id not in call.results:
            return NodePreview(
                node_id, error="no preview: the node is in a cycle or reads from one; remove a connection"
            )
        return call.results[node_id]

    def preview_all(self, job: Job, validation: Validation | None = None) -> dict[str, NodePreview]:
        validation = validation or validate(job)
        call = _PreviewCall(job, validation, self._databases)
        for node_id in validation.order or [node.id for node in job.nodes]:
            self._node(call, job.node(node_id))
        return call.results

    def _node(self, call: _PreviewCall, node: Node) -> None:
        call.results[node.id] = self._compute(call, node)

    def _compute(self, call: _PreviewCall, node: Node) -> NodePreview:
        job, validation, keys = call.job, call.validation, call.keys
        problems = validation.problems_of(node.id)
        if problems:
            keys[node.id] = "invalid"
            return NodePreview(node.id, error="; ".join(p.message for p in problems))
        upstream_failed = [up for up in node.inputs.values() if keys.get(up) in (None, "invalid", "failed")]
        if upstream_failed or node.id not in validation.schemas:
            keys[node.id] = "failed"
            return NodePreview(node.id, error=_blocked_by(call, upstream_failed))

        key = _cache_key(job, node, keys)
        keys[node.id] = key
        if key in self._cache:
            self._cache.move_to_end(key)
            cached = self._cache[key]
            return NodePreview(**{**cached.__dict__, "cached": True})

        inputs = {port: call.results[up] for port, up in node.inputs.items()}
        started = time.perf_counter()
        preview = NodePreview(node.id, schema=validation.schemas[node.id])
        for upstream in inputs.values():
            preview.sources.update(upstream.sources)
            preview.sampled = preview.sampled or upstream.sampled
            preview.notes.extend(note for note in upstream.notes if note not in preview.notes)
            preview.approximations.extend(
                reason for reason in upstream.approximations if reason not in preview.approximations
            )
        try:
            lower = LOWERINGS[node.type]
            preview.table = lower(node, inputs, call, preview)
        except duckdb.InterruptException:
            preview.error = (
                f"the preview took longer than its time limit of {job.time_limit_seconds:g} s "
                "and was cancelled; lower the sample size or raise the time limit under Job details"
            )
        except duckdb.OutOfMemoryException:
            preview.error = (
                f"the preview needed more than its memory limit of {job.memory_limit_mb} MB; "
                "lower the sample size or raise the memory limit under Job details"
            )
        except (duckdb.Error, PreviewError, OSError) as error:
            preview.error = _clean_error(error)
        preview.seconds = time.perf_counter() - started
        self.computed.append(node.id)
        if preview.ok:
            self._remember(key, preview)
        else:
            keys[node.id] = "failed"
        return preview

    def _remember(self, key: str, preview: NodePreview) -> None:
        """Cache a result, evicting the least recently used ones beyond the byte budget."""
        self._cache[key] = preview
        total = self.cached_bytes
        while total > self.cache_bytes and len(self._cache) > 1:
            _, evicted = self._cache.popitem(last=False)
            total -= evicted.table.nbytes

    def clear(self) -> None:
        self._cache.clear()

    def close(self) -> None:
        """Close the DuckDB databases the engine keeps open; the next preview opens new ones."""
        self._databases.close()


def _blocked_by(call: _PreviewCall, upstream_failed: list[str]) -> str:
    """Explain why a node has no preview, naming the upstream node that failed and its error."""
    for upstream in upstream_failed:
        result = call.results.get(upstream)
        if result is None or result.error is None:
            continue
        if result.error.startswith(BLOCKED):
            return result.error
        return f"{BLOCKED} {upstream} is fixed: {result.error}"
    names = ", ".join(upstream_failed) or "an input"
    return f"{BLOCKED} {names} is fixed"


def _ancestors_in_order(job: Job, node_id: str, validation: Validation) -> list[str]:
    needed: set[str] = set()
    stack = [node_id]
    while stack:
        current = stack.pop()
        if current in needed or not job.has_node(current):
            continue
        needed.add(current)
        stack.extend(job.node(current).inputs.values())
    order = validation.order or sorted(needed)
    return [item for item in order if item in needed]


def _cache_key(job: Job, node: Node, keys: dict[str, str]) -> str:
    material = {
        "type": node.type,
        "label": node.label,  # the preview's notes name the node
        "params": node.params,
        "inputs": {port: keys[up] for port, up in sorted(node.inputs.items())},
        "sample_rows": job.sample_rows,
        "time_zone": job.session_time_zone,
    }
    if node.type.startswith("source."):
        path = substitute_parameters(str(node.params.get("path", "")), job.parameter_defaults())
        material["path"] = path
        material["files"] = _file_stamps(path)
        material["sampling"] = job.sampling_of(node.id).__dict__
    if node.type in duckdb_preview_catalog.CATALOG_NODE_TYPES:
        material["catalog"] = duckdb_preview_catalog.cache_material(node)
    text = json.dumps(material, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _file_stamps(path: str) -> list[tuple[str, int, int]]:
    files = sorted(glob.glob(path)) if glob.has_magic(path) else [path]
    stamps = []
    for name in files:
        if os.path.isdir(name):
            children = sorted(glob.glob(os.path.join(name, "**", "*"), recursive=True))
            stamps.extend(_stamp(child) for child in children if os.path.isfile(child))
        elif os.path.exists(name):
            stamps.append(_stamp(name))
    return stamps


def _stamp(name: str) -> tuple[str, int, int]:
    status = os.stat(name)
    return (name, status.st_size, status.st_mtime_ns)


def _clean_error(error: Exception) -> str:
    """Return the informative head of an error: DuckDB's CSV errors need their first three lines."""
    lines = [line.strip() for line in str(error).strip().splitlines() if line.strip()]
    if not lines:
        return type(error).__name__
    if lines[0].startswith("Invalid Input Error: CSV Error"):
        return "; ".join(lines[:3])
    return lines[0]


def _connection(job: Job, *, files: bool, threads: int | None = None) -> duckdb.DuckDBPyConnection:
    """Open a DuckDB database with Spark's session settings and the job's limits.

    The settings are global, so every cursor of the database shares them. Without `files`
    the database cannot read or write any file, and its settings are locked, so a query
    cannot turn file access back on.
    """
    connection = duckdb.connect(":memory:", config=DUCKDB_CONFIG)
    connection.execute(f"SET GLOBAL TimeZone = {sql_literal(job.session_time_zone)}")
    connection.execute(f"SET GLOBAL default_null_order = {sql_literal(NULL_ORDER)}")
    connection.execute(f"SET GLOBAL memory_limit = '{int(job.memory_limit_mb)}MB'")
    # DuckDB 2.0.1 plans LIMIT over Parquet as a second scan joined on row numbers, which is about
    # three times slower for a large sample. Results are the same without that rewrite.
    connection.execute("SET GLOBAL disabled_optimizers = 'late_materialization'")
    if threads:
        connection.execute(f"SET GLOBAL threads = {int(threads)}")
    if not files:
        connection.execute("SET GLOBAL enable_external_access = false")
        connection.execute("SET GLOBAL lock_configuration = true")
    return connection


class _Databases:
    """Open DuckDB databases kept for reuse, one per set of settings; each query gets a cursor."""

    def __init__(self) -> None:
        self._open: dict[tuple, duckdb.DuckDBPyConnection] = {}
        self._lock = threading.Lock()

    def cursor(self, job: Job, *, files: bool, threads: int | None) -> duckdb.DuckDBPyConnection:
        key = (files, threads, job.session_time_zone, job.memory_limit_mb)
        with self._lock:
            if key not in self._open:
                self._open[key] = _connection(job, files=files, threads=threads)
            return self._open[key].cursor()

    def close(self) -> None:
        with self._lock:
            for database in self._open.values():
                database.close()
            self._open.clear()


@dataclass
class _PreviewCall:
    """One preview request: its job, its results so far and its deadline."""

    job: Job
    validation: Validation
    databases: _Databases
    keys: dict[str, str] = field(default_factory=dict)
    results: dict[str, NodePreview] = field(default_factory=dict)
    deadline: float = 0.0

    def __post_init__(self) -> None:
        self.deadline = time.monotonic() + self.job.time_limit_seconds

    def execute(
        self, sql: str, tables: dict[str, pa.Table], *, files: bool = False, threads: int | None = None
    ) -> pa.Table:
        """Run SQL with each table registered under its name, interrupted at the deadline."""
        connection = self.databases.cursor(self.job, files=files, threads=threads)
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            connection.close()
            raise duckdb.InterruptException("time limit reached before the node started")
        timer = threading.Timer(remaining, connection.interrupt)
        timer.start()
        try:
            for name, table in tables.items():
                connection.register(name, table)
            return connection.sql(sql).to_arrow_table()
        finally:
            timer.cancel()
            connection.close()


def _run(call: _PreviewCall, sql: str, inputs: dict[str, NodePreview]) -> pa.Table:
    """Run SQL in a sandboxed connection where each input is a view named after its port."""
    return call.execute(sql, {f"in_{port}": upstream.table for port, upstream in inputs.items()})


# --- sources ---------------------------------------------------------------------------------


def source_file_sql(node: Node, job: Job, schema: Schema, limit: int | None) -> str:
    """Return the DuckDB query that reads a file source with its explicit schema.

    With a limit the query reads the first rows, or a seeded random sample when the job's
    sampling for this source requests one.
    """
    query = _source_scan_sql(node, job, schema)
    if not limit:
        return query
    sampling = job.sampling_of(node.id)
    if sampling.method == "random":
        return (
            f"SELECT * FROM ({query}) USING SAMPLE reservoir({int(limit)} ROWS) "
            f"REPEATABLE ({int(sampling.seed)})"
        )
    return f"{query} LIMIT {int(limit)}"


def _source_scan_sql(node: Node, job: Job, schema: Schema) -> str:
    params = {**NODE_TYPES["source.file"].initial_params(), **node.params}
    path = substitute_parameters(str(params["path"]), job.parameter_defaults())
    columns = (
        "{"
        + ", ".join(
            f"{sql_literal(column.name)}: {sql_literal(duckdb_type(column.type))}" for column in schema
        )
        + "}"
    )
    file_format = params["format"]
    if file_format == "csv":
        reader = (
            f"read_csv({sql_literal(path)}, columns = {columns}, header = {_bool(params['header'])}, "
            f"delim = {sql_literal(params['delimiter'])}, quote = {sql_literal(params['quote'])}, "
            f"escape = {sql_literal(params['escape'])}, nullstr = {sql_literal(params['null_value'])}, "
            "auto_detect = false, null_padding = true, strict_mode = false, parallel = false)"
        )
    elif file_format == "json":
        layout = "auto" if params["multiline"] else "newline_delimited"
        reader = f"read_json({sql_literal(path)}, columns = {columns}, format = {sql_literal(layout)})"
    else:
        names = ", ".join(
            f"CAST({name} AS {duckdb_type(column.type)}) AS {name}"
            for column, name in ((column, sql_identifier(column.name)) for column in schema)
        )
        return f"SELECT {names} FROM read_parquet({sql_literal(path)})"
    return f"SELECT * FROM {reader}"


def _bool(value) -> str:
    return "true" if value else "false"


def infer_file_schema(path: str, file_format: str, options: dict | None = None) -> Schema:
    """Infer a file source's schema with DuckDB's readers, in Spark type names."""
    from codegen.types import spark_type
    from designer.schema import Column

    options = options or {}
    if file_format == "csv":
        reader = (
            f"read_csv({sql_literal(path)}, header = {_bool(options.get('header', True))}, "
            f"delim = {sql_literal(options.get('delimiter', ','))}, "
            f"quote = {sql_literal(options.get('quote', chr(34)))}, "
            f"escape = {sql_literal(options.get('escape', chr(34)))}, "
            f"nullstr = {sql_literal(options.get('null_value', ''))}, null_padding = true)"
        )
    elif file_format == "json":
        layout = "auto" if options.get("multiline") else "newline_delimited"
        reader = f"read_json({sql_literal(path)}, format = {sql_literal(layout)})"
    elif file_format == "parquet":
        reader = f"read_parquet({sql_literal(path)})"
    else:
        raise PreviewError(f"unknown format {file_format!r}; use csv, json or parquet")
    connection = duckdb.connect(":memory:", config=DUCKDB_CONFIG)
    try:
        rows = connection.execute(f"DESCRIBE SELECT * FROM {reader}").fetchall()
    except duckdb.Error as error:
        raise PreviewError(f"cannot infer the schema of {path}: {_clean_error(error)}") from None
    finally:
        connection.close()
    return [Column(row[0], spark_type(row[1])) for row in rows]


def _lower_source_file(node: Node, inputs, call: _PreviewCall, preview: NodePreview) -> pa.Table:
    job = call.job
    path = substitute_parameters(str(node.params.get("path", "")), job.parameter_defaults())
    if not _file_stamps(path):
        raise PreviewError(f"no file matches path {path!r}; check the path, relative to {os.getcwd()}")
    sampling = job.sampling_of(node.id)
    sql = source_file_sql(node, job, preview.schema, job.sample_rows)
    # A seeded reservoir sample is repeatable only on one thread.
    table = call.execute(sql, {}, files=True, threads=1 if sampling.method == "random" else None)
    preview.sources[node.id] = table.num_rows
    if table.num_rows < job.sample_rows:
        preview.notes.append(f"{node.label}: all {table.num_rows} rows (fewer than the sample size)")
    elif sampling.method == "random":
        preview.sampled = True
        preview.notes.append(f"{node.label}: random sample of {table.num_rows} rows (seed {sampling.seed})")
    else:
        preview.sampled = True
        preview.notes.append(f"{node.label}: first {table.num_rows} rows (a sample)")
    return table


# --- transforms ------------------------------------------------------------------------------


def _lower_change_schema(node: Node, inputs, call: _PreviewCall, preview: NodePreview) -> pa.Table:
    schema = inputs["in"].schema
    selections = []
    for column, target in kept_mappings(node.params["mappings"], schema):
        spark_sql = f"CAST({spark_identifier(column.name)} AS {target.type})"
        selections.append(f"{expression_to_duckdb(spark_sql, schema)} AS {sql_identifier(target.name)}")
    return _run(call, f"SELECT {', '.join(selections)} FROM in_in", inputs)


def _approximate(node: Node, preview: NodePreview, tree, schema: Schema) -> None:
    for reason in approximation_reasons(tree, schema):
        text = f"{node.label}: {reason}"
        if text not in preview.approximations:
            preview.approximations.append(text)


def _lower_filter(node: Node, inputs, call: _PreviewCall, preview: NodePreview) -> pa.Table:
    schema = inputs["in"].schema
    _approximate(node, preview, parse_expression(node.params["condition"]), schema)
    condition = expression_to_duckdb(node.params["condition"], schema)
    return _run(call, f"SELECT * FROM in_in WHERE {condition}", inputs)


def _lower_derived_column(node: Node, inputs, call: _PreviewCall, preview: NodePreview) -> pa.Table:
    schema = inputs["in"].schema
    _approximate(node, preview, parse_expression(node.params["expression"]), schema)
    value = expression_to_duckdb(node.params["expression"], schema)
    existing = find_column(schema, node.params["column"])
    if existing is None:
        sql = f"SELECT *, {value} AS {sql_identifier(node.params['column'])} FROM in_in"
    else:
        sql = f"SELECT * REPLACE ({value} AS {sql_identifier(existing.name)}) FROM in_in"
        if existing.name != node.params["column"]:
            renamed = f"{sql_identifier(existing.name)} AS {sql_identifier(node.params['column'])}"
            sql = f"SELECT * RENAME ({renamed}) FROM ({sql})"
    return _run(call, sql, inputs)


def _lower_join(node: Node, inputs, call: _PreviewCall, preview: NodePreview) -> pa.Table:
    inputs = _with_matching_rows(node, inputs, call, preview)
    left, right = inputs["left"].schema, inputs["right"].schema
    join_type = node.params.get("join_type", "inner")
    condition = " AND ".join(
        f"l.{sql_identifier(find_column(left, pair['left']).name)} = "
        f"r.{sql_identifier(find_column(right, pair['right']).name)}"
        for pair in node.params["keys"]
    )
    if join_type == "left_semi":
        sql = f"SELECT l.* FROM in_left AS l WHERE EXISTS (SELECT 1 FROM in_right AS r WHERE {condition})"
    elif join_type == "left_anti":
        sql = f"SELECT l.* FROM in_left AS l WHERE NOT EXISTS (SELECT 1 FROM in_right AS r WHERE {condition})"
    else:
        prefix = node.params.get("right_prefix", "right_")
        left_columns, right_columns = join_output_columns(left, right, join_type, prefix)
        selections = [f"l.{sql_identifier(column.name)}" for column in left_columns]
        selections += [
            f"r.{sql_identifier(column.name)} AS {sql_identifier(name)}" for column, name in right_columns
        ]
        keyword = {"inner": "INNER", "left": "LEFT", "right": "RIGHT", "full": "FULL"}[join_type]
        sql = f"SELECT {', '.join(selections)} FROM in_left AS l {keyword} JOIN in_right AS r ON {condition}"
    return _run(call, sql, inputs)


def _with_matching_rows(node: Node, inputs, call: _PreviewCall, preview: NodePreview) -> dict:
    """Across a join, keep one side's sample and fetch the other side's rows whose keys match.

    The left side drives, or the right one for a right join. The other side is read again
    when it is a file, catalog or PostgreSQL source that read only a sample, so a joined
    preview is not empty by accident. Past the MATCHED_ROWS_FACTOR cap the node is approximate.
    """
    driving, matched = ("right", "left") if node.params.get("join_type") == "right" else ("left", "right")
    matched_id = node.inputs[matched]
    matched_node = call.job.node(matched_id)
    upstream = inputs[matched]
    read_matching = MATCHED_ROW_READERS.get(matched_node.type)
    if read_matching is None or not upstream.sampled:
        return inputs
    driving_schema = inputs[driving].schema
    pairs = [
        (
            find_column(driving_schema, pair[driving]).name,
            find_column(upstream.schema, pair[matched]).name,
        )
        for pair in node.params["keys"]
    ]
    limit = call.job.sample_rows * MATCHED_ROWS_FACTOR
    try:
        table = read_matching(matched_node, upstream.schema, inputs[driving].table, pairs, limit + 1, call)
    except duckdb_preview_jdbc.KeyMatchUnavailable as error:
        _add_approximation(preview, f"{node.label}: {error}; the preview joined the two samples")
        return inputs
    if table.num_rows > limit:
        table = table.slice(0, limit)
        _add_approximation(
            preview,
            f"{node.label}: more than {limit} rows of {matched_node.label} match the {driving} side's "
            "sample; the preview joined the first of them only",
        )
    preview.sources[matched_id] = table.num_rows
    preview.notes.append(
        f"{node.label}: {table.num_rows} rows of {matched_node.label} whose keys match the "
        f"{driving} side's sample (at most {limit})"
    )
    if node.params.get("join_type") == "full":
        _add_approximation(
            preview,
            f"{node.label}: a full join keeps the rows of {matched_node.label} that match nothing, but the "
            f"preview read only those whose keys match the {driving} side's sample",
        )
    preview.matched_inputs[matched] = table
    return {**inputs, matched: NodePreview(matched_id, schema=upstream.schema, table=table)}


def _matching_file_rows(node: Node, schema: Schema, driving: pa.Table, pairs, limit: int, call) -> pa.Table:
    """Read at most `limit` rows of a file source whose keys match a driving row."""
    condition = " AND ".join(
        f"d.{sql_identifier(driving_key)} = m.{sql_identifier(matched_key)}"
        for driving_key, matched_key in pairs
    )
    sql = (
        f"SELECT * FROM ({_source_scan_sql(node, call.job, schema)}) AS m "
        f"WHERE EXISTS (SELECT 1 FROM driving AS d WHERE {condition}) LIMIT {int(limit)}"
    )
    return call.execute(sql, {"driving": driving}, files=True, threads=1)


def _add_approximation(preview: NodePreview, reason: str) -> None:
    if reason not in preview.approximations:
        preview.approximations.append(reason)


# Per source type: read the rows whose keys match the driving side's rows, given
# (node, its schema, the driving rows, (driving column, its column) pairs, a row limit, the call).
MATCHED_ROW_READERS = {
    "source.file": _matching_file_rows,
    "source.catalog": duckdb_preview_catalog.matching_rows,
    "source.jdbc": duckdb_preview_jdbc.matching_rows,
}


AGGREGATE_SQL = {
    "count": "COUNT({})",
    "count_distinct": "COUNT(DISTINCT {})",
    "sum": "SUM({})",
    "avg": "AVG({})",
    "min": "MIN({})",
    "max": "MAX({})",
    "first": "FIRST({})",
    "last": "LAST({})",
    "stddev": "STDDEV_SAMP({})",
    "variance": "VAR_SAMP({})",
}


def _lower_aggregate(node: Node, inputs, call: _PreviewCall, preview: NodePreview) -> pa.Table:
    schema = inputs["in"].schema
    group_by = [sql_identifier(find_column(schema, name).name) for name in node.params.get("group_by") or []]
    output = preview.schema[len(group_by) :]
    selections = list(group_by)
    for item, column in zip(node.params["aggregations"], output, strict=True):
        argument = (
            "*"
            if (item.get("column") or "*") == "*"
            else sql_identifier(find_column(schema, item["column"]).name)
        )
        aggregate = AGGREGATE_SQL[item["function"]].format(argument)
        # Spark's result types (bigint sums, decimal widths) are in the node's output schema.
        selections.append(f"CAST({aggregate} AS {duckdb_type(column.type)}) AS {sql_identifier(column.name)}")
        if item["function"] in ("first", "last"):
            reason = (
                f"{node.label}: {item['function']}() depends on row order, which Spark does not guarantee"
            )
            if reason not in preview.approximations:
                preview.approximations.append(reason)
    sql = f"SELECT {', '.join(selections)} FROM in_in"
    if group_by:
        sql += f" GROUP BY {', '.join(group_by)}"
    return _run(call, sql, inputs)


def _lower_sql(node: Node, inputs, call: _PreviewCall, preview: NodePreview) -> pa.Table:
    tree = parse_query(node.params["query"])
    columns_in = [column for upstream in inputs.values() for column in upstream.schema]
    _approximate(node, preview, tree, columns_in)
    # Cast each column to the type of the node's schema, so integer sums stay BIGINT as in Spark.
    columns = ", ".join(
        f"CAST({sql_identifier(column.name)} AS {duckdb_type(column.type)}) AS {sql_identifier(column.name)}"
        for column in preview.schema
    )
    tables = {alias: upstream.table for alias, upstream in inputs.items()}
    return call.execute(f"SELECT {columns} FROM ({to_duckdb(tree, columns_in)})", tables)


def _lower_target_file(node: Node, inputs, call: _PreviewCall, preview: NodePreview) -> pa.Table:
    path = substitute_parameters(str(node.params.get("path", "")), call.job.parameter_defaults())
    preview.notes.append(
        f"{node.label}: preview only; a run writes {node.params.get('format', 'parquet')} "
        f"to {path} (mode {node.params.get('mode', 'overwrite')})"
    )
    return inputs["in"].table


LOWERINGS = {
    "source.file": _lower_source_file,
    "transform.change_schema": _lower_change_schema,
    "transform.filter": _lower_filter,
    "transform.derived_column": _lower_derived_column,
    "transform.join": _lower_join,
    "transform.aggregate": _lower_aggregate,
    "transform.sql": _lower_sql,
    "target.file": _lower_target_file,
    "source.catalog": duckdb_preview_catalog.lower_source_catalog,
    "transform.lookup": duckdb_preview_catalog.lower_lookup,
    "target.catalog": duckdb_preview_catalog.lower_target_catalog,
    "source.jdbc": duckdb_preview_jdbc.lower_source_jdbc,
    "target.jdbc": duckdb_preview_jdbc.lower_target_jdbc,
}
