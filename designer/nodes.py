"""Node types: ports, typed parameters and the output-schema rule of each, declared once.

The backends (codegen.pyspark and codegen.duckdb_preview) lower each node type; a test
checks that every type registered here has a lowering in both.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlglot import exp

from codegen import infer
from codegen.expressions import check_expression, parse_query, to_duckdb
from designer.errors import ExpressionError, did_you_mean
from designer.schema import (
    FRACTIONAL_TYPES,
    INTEGRAL_TYPES,
    Column,
    Schema,
    column_names,
    find_column,
    is_numeric,
    normalize_type,
)


class NodeError(Exception):
    """A problem with one parameter of one node, raised by an output-schema rule."""

    def __init__(self, parameter: str | None, message: str):
        super().__init__(message)
        self.parameter = parameter
        self.message = message


@dataclass(frozen=True)
class Param:
    """A node parameter: its kind decides both the form widget and the type check."""

    name: str
    kind: str
    label: str
    required: bool = False
    default: Any = None
    choices: tuple[str, ...] = ()
    help: str = ""
    formats: tuple[str, ...] = ()  # for file nodes: the formats this option applies to


PARAM_KINDS = {
    "string": str,
    "text": str,
    "expression": str,
    "query": str,
    "bool": bool,
    "int": int,
    "choice": str,
    "columns": list,
    "schema": list,
    "mappings": list,
    "join_keys": list,
    "aggregations": list,
    "connection": str,  # the name of a connection in the catalog
    "catalog_database": str,  # a database of the data catalog
    "catalog_table": str,  # a table of the database named by the node's `database` parameter
    "partition_predicate": str,  # a Spark SQL condition over a catalog table's partition columns
    "lookup_keys": list,  # pairs {"input": column, "lookup": column}
    "lookup_columns": list,  # columns of the lookup table
}


@dataclass(frozen=True)
class NodeType:
    """A node type as the palette, the forms, validation and the backends see it."""

    type: str
    label: str
    category: str  # "source", "transform" or "target"
    description: str
    params: tuple[Param, ...]
    output_schema: Callable[[Any, dict[str, Schema]], Schema]
    ports: tuple[str, ...] = ()
    dynamic_ports: bool = False
    default_params: dict[str, Any] = field(default_factory=dict)

    def param(self, name: str) -> Param:
        for param in self.params:
            if param.name == name:
                return param
        raise KeyError(name)

    def ports_of(self, node) -> tuple[str, ...]:
        if self.dynamic_ports:
            return tuple(sorted(node.inputs))
        return self.ports

    def initial_params(self) -> dict[str, Any]:
        """Return every parameter with its default, in declaration order, for a new node."""
        params = {
            param.name: _empty_value(param) if param.default is None else param.default
            for param in self.params
        }
        params.update(self.default_params)
        return copy.deepcopy(params)


def _empty_value(param: Param):
    return [] if PARAM_KINDS[param.kind] is list else ""


# --- helpers shared by the rules -------------------------------------------------------------


def _require_column(schema: Schema, name: str, parameter: str) -> Column:
    column = find_column(schema, name)
    if column is None:
        raise NodeError(
            parameter,
            f"unknown column {name!r}.{did_you_mean(name, column_names(schema))} "
            f"Available columns: {', '.join(column_names(schema)) or '(none)'}.",
        )
    return column


def _expression(schema: Schema, text: str, parameter: str):
    try:
        return check_expression(text, schema)
    except ExpressionError as error:
        raise NodeError(parameter, f"{error} in {text!r}") from None


def _check_unique_names(names: list[str], parameter: str) -> None:
    seen: dict[str, str] = {}
    for name in names:
        if name.lower() in seen:
            raise NodeError(
                parameter,
                f"column {name!r} appears twice (Spark compares names case-insensitively, "
                f"so {seen[name.lower()]!r} and {name!r} collide); give each a unique name",
            )
        seen[name.lower()] = name


# --- output-schema rules ---------------------------------------------------------------------


def _source_file_schema(node, inputs: dict[str, Schema]) -> Schema:
    columns = node.params.get("columns") or []
    if not columns:
        raise NodeError("columns", "the source has no schema; press 'Infer schema' or add columns")
    schema: Schema = []
    for position, item in enumerate(columns):
        if not isinstance(item, dict) or not item.get("name"):
            raise NodeError("columns", f"column {position + 1} has no name")
        try:
            schema.append(Column(str(item["name"]), normalize_type(str(item.get("type", "")))))
        except ValueError as error:
            raise NodeError("columns", f"column {item['name']!r}: {error}") from None
    _check_unique_names(column_names(schema), "columns")
    return schema


def kept_mappings(mappings: list[dict], schema: Schema) -> list[tuple[Column, Column]]:
    """Return (input column, output column) for each column a Change Schema node keeps.

    Raises NodeError for an unknown source column or type. The output name and type default
    to the input's.
    """
    kept = []
    for item in mappings:
        column = _require_column(schema, str(item.get("source", "")), "mappings")
        if item.get("drop"):
            continue
        target = str(item.get("target") or column.name)
        try:
            target_type = normalize_type(str(item.get("type") or column.type))
        except ValueError as error:
            raise NodeError("mappings", f"column {column.name!r}: {error}") from None
        kept.append((column, Column(target, target_type)))
    return kept


def _change_schema_schema(node, inputs: dict[str, Schema]) -> Schema:
    output = [target for _, target in kept_mappings(node.params.get("mappings") or [], inputs["in"])]
    if not output:
        raise NodeError("mappings", "every column is dropped; keep at least one column")
    _check_unique_names(column_names(output), "mappings")
    return output


def _filter_schema(node, inputs: dict[str, Schema]) -> Schema:
    schema = inputs["in"]
    tree = _expression(schema, node.params.get("condition", ""), "condition")
    result_type = _duckdb_type(tree, schema, "condition")
    if result_type != "boolean":
        raise NodeError(
            "condition",
            f"the condition gives {result_type}, not boolean; compare it, for example "
            f"{node.params.get('condition')} IS NOT NULL",
        )
    return list(schema)


def _derived_column_schema(node, inputs: dict[str, Schema]) -> Schema:
    schema = inputs["in"]
    name = str(node.params.get("column", "")).strip()
    if not name:
        raise NodeError("column", "the new column needs a name")
    tree = _expression(schema, node.params.get("expression", ""), "expression")
    new_column = Column(name, _duckdb_type(tree, schema, "expression"))
    existing = find_column(schema, name)
    if existing is None:
        return [*schema, new_column]
    return [new_column if column is existing else column for column in schema]


def _duckdb_type(tree, schema: Schema, parameter: str) -> str:
    try:
        return infer.expression_type(to_duckdb(tree, schema), schema)
    except ExpressionError as error:
        raise NodeError(parameter, str(error)) from None


JOIN_TYPES = ("inner", "left", "right", "full", "left_semi", "left_anti")


def join_output_columns(left: Schema, right: Schema, join_type: str, prefix: str):
    """Return (left columns, [(right column, output name)]) for a join's output.

    A right column whose name collides with a left one, compared case-insensitively as Spark
    does, gets the prefix, keys included, so no value is lost in an outer join.
    """
    if join_type in ("left_semi", "left_anti"):
        return list(left), []
    taken = {column.name.lower() for column in left}
    renamed = []
    for column in right:
        name = column.name
        if name.lower() in taken:
            name = f"{prefix}{name}"
        renamed.append((column, name))
        taken.add(name.lower())
    return list(left), renamed


def _join_schema(node, inputs: dict[str, Schema]) -> Schema:
    left, right = inputs["left"], inputs["right"]
    join_type = node.params.get("join_type", "inner")
    keys = node.params.get("keys") or []
    if not keys:
        raise NodeError("keys", "a join needs at least one key pair (left column = right column)")
    for pair in keys:
        left_column = _require_column(left, str(pair.get("left", "")), "keys")
        right_column = _require_column(right, str(pair.get("right", "")), "keys")
        if is_numeric(left_column.type) != is_numeric(right_column.type):
            raise NodeError(
                "keys",
                f"key {left_column.name} ({left_column.type}) = {right_column.name} "
                f"({right_column.type}) compares a number with a non-number; "
                "cast one side with a Change Schema node first",
            )
    prefix = str(node.params.get("right_prefix", "right_"))
    left_columns, right_columns = join_output_columns(left, right, join_type, prefix)
    output = left_columns + [Column(name, column.type) for column, name in right_columns]
    _check_unique_names(column_names(output), "right_prefix")
    return output


AGGREGATE_FUNCTIONS = (
    "count",
    "count_distinct",
    "sum",
    "avg",
    "min",
    "max",
    "first",
    "last",
    "stddev",
    "variance",
)
NUMERIC_ONLY = ("sum", "avg", "stddev", "variance")


def aggregate_type(function: str, column: Column | None) -> str:
    """Return Spark's result type of an aggregate function over a column."""
    if function in ("count", "count_distinct"):
        return "bigint"
    if function in ("stddev", "variance"):
        return "double"
    assert column is not None
    if function == "sum":
        if column.type in INTEGRAL_TYPES:
            return "bigint"
        if column.type in FRACTIONAL_TYPES:
            return "double"
        precision, scale = _decimal_parts(column.type)
        return f"decimal({min(38, precision + 10)},{scale})"
    if function == "avg":
        if column.type.startswith("decimal"):
            precision, scale = _decimal_parts(column.type)
            return f"decimal({min(38, precision + 4)},{min(38, scale + 4)})"
        return "double"
    return column.type


def _decimal_parts(type_name: str) -> tuple[int, int]:
    precision, scale = type_name[len("decimal(") : -1].split(",")
    return int(precision), int(scale)


def _aggregate_schema(node, inputs: dict[str, Schema]) -> Schema:
    schema = inputs["in"]
    output = [_require_column(schema, str(name), "group_by") for name in node.params.get("group_by") or []]
    aggregations = node.params.get("aggregations") or []
    if not aggregations and not output:
        raise NodeError("aggregations", "add a group-by column or an aggregation")
    for item in aggregations:
        function = item.get("function")
        if function not in AGGREGATE_FUNCTIONS:
            raise NodeError(
                "aggregations",
                f"unknown function {function!r}; use one of {', '.join(AGGREGATE_FUNCTIONS)}",
            )
        column_name = str(item.get("column") or "*")
        column = None
        if column_name == "*":
            if function != "count":
                raise NodeError("aggregations", f"{function} needs a column, not '*'")
        else:
            column = _require_column(schema, column_name, "aggregations")
            if function in NUMERIC_ONLY and not is_numeric(column.type):
                raise NodeError(
                    "aggregations",
                    f"{function}({column.name}) needs a numeric column, and {column.name} is "
                    f"{column.type}; cast it with a Change Schema node first",
                )
        name = str(item.get("name") or default_aggregate_name(function, column_name))
        output.append(Column(name, aggregate_type(function, column)))
    _check_unique_names(column_names(output), "aggregations")
    return output


def default_aggregate_name(function: str, column: str) -> str:
    if column == "*":
        return function
    return f"{function}_{column}"


def _sql_schema(node, inputs: dict[str, Schema]) -> Schema:
    text = node.params.get("query", "")
    try:
        tree = parse_query(text)
    except ExpressionError as error:
        raise NodeError("query", str(error)) from None
    aliases = {alias.lower() for alias in inputs}
    ctes = {cte.alias.lower() for cte in tree.find_all(exp.CTE)}
    for table in tree.find_all(exp.Table):
        if isinstance(table.this, exp.Func):
            continue  # a table-valued function such as range(10) reads no input
        name = table.name.lower()
        if name not in aliases and name not in ctes:
            raise NodeError(
                "query",
                f"the query reads table {table.name!r}, which is not an input;"
                f"{did_you_mean(table.name, list(inputs))} Connect a node under that alias, "
                f"or use one of: {', '.join(sorted(inputs)) or '(no inputs yet)'}",
            )
    try:
        columns = infer.describe_select(to_duckdb(tree, []), inputs)
    except ExpressionError as error:
        raise NodeError("query", str(error)) from None
    _check_unique_names(column_names(columns), "query")
    return columns


def _target_file_schema(node, inputs: dict[str, Schema]) -> Schema:
    schema = inputs["in"]
    for name in node.params.get("partition_by") or []:
        _require_column(schema, str(name), "partition_by")
    if len(node.params.get("partition_by") or []) >= len(schema):
        raise NodeError("partition_by", "partitioning by every column leaves no data columns to write")
    compression = node.params.get("compression", "default")
    allowed = TARGET_COMPRESSION[node.params.get("format", "parquet")]
    if compression not in allowed:
        raise NodeError(
            "compression",
            f"{compression!r} is not available for {node.params.get('format')}; "
            f"use one of {', '.join(allowed)}",
        )
    from designer.catalog_nodes import check_spark_table

    check_spark_table(node)
    return list(schema)


def _source_catalog_schema(node, inputs: dict[str, Schema]) -> Schema:
    from designer.catalog_nodes import source_catalog_schema

    return source_catalog_schema(node)


def _lookup_schema(node, inputs: dict[str, Schema]) -> Schema:
    from designer.catalog_nodes import lookup_schema

    return lookup_schema(node, inputs["in"])


def _target_catalog_schema(node, inputs: dict[str, Schema]) -> Schema:
    from designer.catalog_nodes import target_catalog_schema

    return target_catalog_schema(node, inputs["in"])


def _source_jdbc_schema(node, inputs: dict[str, Schema]) -> Schema:
    from designer.jdbc_nodes import source_jdbc_schema

    return source_jdbc_schema(node)


def _target_jdbc_schema(node, inputs: dict[str, Schema]) -> Schema:
    from designer.jdbc_nodes import target_jdbc_schema

    return target_jdbc_schema(node, inputs["in"])


TARGET_COMPRESSION = {
    "parquet": ("default", "none", "snappy", "gzip", "zstd", "lz4"),
    "csv": ("default", "none", "gzip", "bzip2", "deflate"),
    "json": ("default", "none", "gzip", "bzip2", "deflate"),
}


# --- the registry ----------------------------------------------------------------------------

SPARK_TABLE_PARAM = Param(
    "spark_table",
    "string",
    "Register in Spark's catalog as",
    help="DATABASE.TABLE, optional. After writing, the script creates the database and an "
    "external table over the written folder, so other Spark jobs and SQL users can query it.",
)
CATALOG_TABLE_PARAMS = (
    Param("database", "catalog_database", "Database", required=True, help="A database of the Data Catalog."),
    Param("table", "catalog_table", "Table", required=True, help="A table of that database."),
)
CATALOG_NODE_TYPES = (
    NodeType(
        type="source.catalog",
        label="Data Catalog table",
        category="source",
        description="Reads a table of the Data Catalog: its files, format, options and schema.",
        params=(
            *CATALOG_TABLE_PARAMS,
            Param(
                "partition_predicate",
                "partition_predicate",
                "Partition predicate",
                help="Optional. A Spark SQL condition over the table's partition columns, for "
                "example year = 2024 AND month >= 6; only the matching partitions are read.",
            ),
        ),
        output_schema=_source_catalog_schema,
    ),
    NodeType(
        type="transform.lookup",
        label="Lookup",
        category="transform",
        description="Adds columns of a Data Catalog table to each row whose keys match (a left join). "
        "A row that matches several lookup rows appears once per match.",
        params=(
            *CATALOG_TABLE_PARAMS,
            Param(
                "keys",
                "lookup_keys",
                "Keys",
                required=True,
                help="Pairs of an input column and a lookup table column that must be equal.",
            ),
            Param(
                "columns",
                "lookup_columns",
                "Columns to add",
                required=True,
                help="Columns of the lookup table to add; a name the input has already is an error.",
            ),
        ),
        output_schema=_lookup_schema,
        ports=("in",),
    ),
    NodeType(
        type="target.catalog",
        label="Data Catalog table",
        category="target",
        description="Writes files for a Data Catalog table; after a successful run the catalog "
        "records the table, its schema and new partitions. A preview never writes.",
        params=(
            Param(
                "database",
                "catalog_database",
                "Database",
                required=True,
                help="A database of the Data Catalog; a run creates it when missing.",
            ),
            Param(
                "table",
                "catalog_table",
                "Table",
                required=True,
                help="A table of that database, or the name of a new table.",
            ),
            Param(
                "path",
                "string",
                "Path",
                help="Where a new table's files go; empty: the existing table's location, or "
                "warehouse/DATABASE/TABLE. ${name} inserts a job parameter.",
            ),
            Param("format", "choice", "Format", default="parquet", choices=("parquet", "csv", "json")),
            Param("mode", "choice", "Mode", default="append", choices=("append", "overwrite")),
            Param("partition_keys", "columns", "Partition keys", default=[]),
            Param(
                "update_catalog",
                "choice",
                "Update the Data Catalog",
                default="create_update_schema",
                choices=("none", "create_update_schema", "keep_schema_add_partitions"),
                help="none: do not update the Data Catalog. create_update_schema: create the table, "
                "and on later runs update its schema and add new partitions. "
                "keep_schema_add_partitions: create the table, and on later runs keep its schema "
                "and add new partitions.",
            ),
            SPARK_TABLE_PARAM,
        ),
        output_schema=_target_catalog_schema,
        ports=("in",),
    ),
)

CSV = ("csv",)
CSV_JSON = ("csv", "json")

NODE_TYPES: dict[str, NodeType] = {
    node_type.type: node_type
    for node_type in [
        NodeType(
            type="source.file",
            label="File source",
            category="source",
            description="Reads CSV, JSON or Parquet files from a path or glob.",
            params=(
                Param(
                    "path",
                    "string",
                    "Path or glob",
                    required=True,
                    help="A file, folder or glob; relative paths start at the working folder. "
                    "${name} inserts a job parameter.",
                ),
                Param("format", "choice", "Format", default="csv", choices=("csv", "json", "parquet")),
                Param("header", "bool", "First line is a header", default=True, formats=CSV),
                Param("delimiter", "string", "Delimiter", default=",", formats=CSV),
                Param("quote", "string", "Quote character", default='"', formats=CSV),
                Param("escape", "string", "Escape character", default='"', formats=CSV),
                Param(
                    "multiline",
                    "bool",
                    "Records span several lines",
                    default=False,
                    formats=CSV_JSON,
                    help="CSV: quoted values may hold line breaks. JSON: each file is one "
                    "document (an object or an array) rather than one object per line.",
                ),
                Param(
                    "null_value",
                    "string",
                    "Null value",
                    default="",
                    formats=CSV,
                    help="The text read as NULL. Empty fields are always NULL, as in Spark.",
                ),
                Param(
                    "columns",
                    "schema",
                    "Schema",
                    required=True,
                    help="Inferred once from the data; edit names and types as needed.",
                ),
            ),
            output_schema=_source_file_schema,
        ),
        NodeType(
            type="transform.change_schema",
            label="Change Schema",
            category="transform",
            description="Keeps or drops, renames and casts columns (Glue's ApplyMapping).",
            params=(
                Param(
                    "mappings",
                    "mappings",
                    "Columns",
                    required=True,
                    help="One row per input column: drop it, or keep it under a name and type.",
                ),
            ),
            output_schema=_change_schema_schema,
            ports=("in",),
        ),
        NodeType(
            type="transform.filter",
            label="Filter",
            category="transform",
            description="Keeps the rows for which a Spark SQL condition is true.",
            params=(
                Param(
                    "condition",
                    "expression",
                    "Condition",
                    required=True,
                    help="A Spark SQL boolean expression, for example total_amount > 0.",
                ),
            ),
            output_schema=_filter_schema,
            ports=("in",),
        ),
        NodeType(
            type="transform.derived_column",
            label="Derived Column",
            category="transform",
            description="Adds or replaces a column computed by a Spark SQL expression.",
            params=(
                Param("column", "string", "Column name", required=True),
                Param(
                    "expression",
                    "expression",
                    "Expression",
                    required=True,
                    help="A Spark SQL expression over the input columns.",
                ),
            ),
            output_schema=_derived_column_schema,
            ports=("in",),
        ),
        NodeType(
            type="transform.join",
            label="Join",
            category="transform",
            description="Joins two inputs on one or more key pairs.",
            params=(
                Param("join_type", "choice", "Join type", default="inner", choices=JOIN_TYPES),
                Param(
                    "keys",
                    "join_keys",
                    "Keys",
                    required=True,
                    help="Pairs of left and right columns that must be equal.",
                ),
                Param("right_prefix", "string", "Prefix for clashing right columns", default="right_"),
            ),
            output_schema=_join_schema,
            ports=("left", "right"),
        ),
        NodeType(
            type="transform.aggregate",
            label="Aggregate",
            category="transform",
            description="Groups rows and computes count, sum, average and other aggregates.",
            params=(
                Param("group_by", "columns", "Group by", default=[]),
                Param("aggregations", "aggregations", "Aggregations", required=True),
            ),
            output_schema=_aggregate_schema,
            ports=("in",),
        ),
        NodeType(
            type="transform.sql",
            label="SQL Query",
            category="transform",
            description="Runs a Spark SQL query over its inputs, each under a table alias.",
            params=(
                Param(
                    "query",
                    "query",
                    "Query",
                    required=True,
                    help="Spark SQL; each input is a table named after its alias.",
                ),
            ),
            output_schema=_sql_schema,
            dynamic_ports=True,
        ),
        NodeType(
            type="target.file",
            label="File target",
            category="target",
            description="Writes Parquet, CSV or JSON files. A preview never writes.",
            params=(
                Param(
                    "path",
                    "string",
                    "Path",
                    required=True,
                    help="The output folder; ${name} inserts a job parameter.",
                ),
                Param(
                    "format",
                    "choice",
                    "Format",
                    default="parquet",
                    choices=("parquet", "csv", "json"),
                ),
                Param(
                    "mode",
                    "choice",
                    "Mode",
                    default="overwrite",
                    choices=("overwrite", "append", "errorifexists", "ignore"),
                ),
                Param("partition_by", "columns", "Partition by", default=[]),
                Param(
                    "compression",
                    "choice",
                    "Compression",
                    default="default",
                    choices=tuple(dict.fromkeys(sum(TARGET_COMPRESSION.values(), ()))),
                ),
                SPARK_TABLE_PARAM,
            ),
            output_schema=_target_file_schema,
            ports=("in",),
        ),
        *CATALOG_NODE_TYPES,
        NodeType(
            type="source.jdbc",
            label="PostgreSQL",
            category="source",
            description="Reads a PostgreSQL table or query through a connection of the catalog. "
            "The preview reads the first rows only.",
            params=(
                Param(
                    "connection",
                    "connection",
                    "Connection",
                    required=True,
                    help="A connection of the catalog; add one with `sparkcanvas connection add`.",
                ),
                Param(
                    "table",
                    "string",
                    "Table",
                    help="TABLE or SCHEMA.TABLE, case-sensitive. Leave empty to read a query.",
                ),
                Param(
                    "query",
                    "query",
                    "Query",
                    help="A PostgreSQL SELECT statement, in place of a table; no trailing ';'.",
                ),
                Param(
                    "schema",
                    "schema",
                    "Schema",
                    help="Read from the server when the table or query is set, with 'Read schema'. "
                    "Validation, export and run use it without the server; the script reads with "
                    "these types. Empty: validation reads the schema from the server.",
                ),
                Param(
                    "partition_column",
                    "string",
                    "Partition column",
                    help="A numeric, date or timestamp column that splits the read into parallel "
                    "queries. Leave empty to read with one query.",
                ),
                Param("lower_bound", "string", "Lower bound", help="The partition column's low value."),
                Param("upper_bound", "string", "Upper bound", help="The partition column's high value."),
                Param(
                    "num_partitions",
                    "int",
                    "Number of partitions",
                    help="How many parallel queries read the table when a partition column is set.",
                ),
            ),
            output_schema=_source_jdbc_schema,
        ),
        NodeType(
            type="target.jdbc",
            label="PostgreSQL target",
            category="target",
            description="Writes to a PostgreSQL table through a connection of the catalog. "
            "A preview never writes.",
            params=(
                Param(
                    "connection",
                    "connection",
                    "Connection",
                    required=True,
                    help="A connection of the catalog; add one with `sparkcanvas connection add`.",
                ),
                Param(
                    "table",
                    "string",
                    "Table",
                    required=True,
                    help="TABLE or SCHEMA.TABLE, case-sensitive; a run creates it when missing.",
                ),
                Param(
                    "mode",
                    "choice",
                    "Mode",
                    default="append",
                    choices=("append", "overwrite"),
                    help="append adds rows. overwrite empties the table and keeps its definition.",
                ),
            ),
            output_schema=_target_jdbc_schema,
            ports=("in",),
        ),
    ]
}


def node_type(type_name: str) -> NodeType:
    return NODE_TYPES[type_name]
