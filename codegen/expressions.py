"""Spark SQL expressions: parsing and column checks with sqlglot, and translation to DuckDB
with Spark 4's semantics (ANSI mode on) where sqlglot's DuckDB output differs."""

from __future__ import annotations

from functools import lru_cache

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from codegen.quoting import sql_identifier
from codegen.types import duckdb_type
from designer.errors import ExpressionError, did_you_mean
from designer.schema import INTEGRAL_TYPES, Schema, find_column

INTEGRAL_DUCKDB = {"TINYINT", "SMALLINT", "INT", "INTEGER", "BIGINT"}


@lru_cache(maxsize=512)
def _parse(text: str, kind: str) -> exp.Expression:
    if kind == "query":
        return sqlglot.parse_one(text, read="spark")
    return sqlglot.parse_one(f"SELECT {text}", read="spark").expressions[0]


def parse_expression(text: str) -> exp.Expression:
    """Parse one Spark SQL expression, raising ExpressionError with the position of a syntax error."""
    return _parse_checked(text, "expression")


def parse_query(text: str) -> exp.Expression:
    """Parse one Spark SQL query."""
    tree = _parse_checked(text, "query")
    if not isinstance(tree, exp.Query):
        raise ExpressionError("the SQL must be a single SELECT query")
    return tree


def _parse_checked(text: str, kind: str) -> exp.Expression:
    if not text or not text.strip():
        raise ExpressionError("the expression is empty")
    try:
        return _parse(text, kind).copy()
    except ParseError as error:
        first = error.errors[0] if error.errors else {}
        column = first.get("col")
        if kind == "expression" and first.get("line") == 1 and column is not None:
            column -= len("SELECT ")
        where = f" at line {first.get('line')}, column {column}" if first else ""
        description = first.get("description", str(error))
        raise ExpressionError(f"syntax error{where}: {description}") from None
    except TokenError as error:
        raise ExpressionError(f"syntax error: {error}") from None


def referenced_columns(tree: exp.Expression) -> list[str]:
    """Return the column names an expression reads, in order of first use."""
    names: list[str] = []
    for column in tree.find_all(exp.Column):
        if column.name and column.name not in names:
            names.append(column.name)
    return names


def check_columns(tree: exp.Expression, schema: Schema) -> None:
    """Raise ExpressionError for the first column that the input schema does not have."""
    available = [column.name for column in schema]
    for name in referenced_columns(tree):
        if find_column(schema, name) is None:
            raise ExpressionError(
                f"unknown column {name!r}.{did_you_mean(name, available)} "
                f"Available columns: {', '.join(available) or '(none)'}."
            )


def check_expression(text: str, schema: Schema) -> exp.Expression:
    tree = parse_expression(text)
    check_columns(tree, schema)
    return tree


def to_duckdb(tree: exp.Expression, schema: Schema) -> str:
    """Return DuckDB SQL for a Spark SQL expression or query, with Spark 4's semantics."""
    tree = tree.copy().transform(lambda node: _spark_rule(node, schema))
    return tree.sql(dialect="duckdb")


def expression_to_duckdb(text: str, schema: Schema) -> str:
    return to_duckdb(check_expression(text, schema), schema)


def _spark_rule(node: exp.Expression, schema: Schema) -> exp.Expression:
    """Rewrite one node where DuckDB would otherwise disagree with Spark 4 in ANSI mode."""
    if isinstance(node, exp.TryCast) and not node.args.get("safe"):
        return _strict_cast(node, schema)
    if isinstance(node, exp.Div):
        return _checked_division(node)
    return node


def _strict_cast(node: exp.TryCast, schema: Schema) -> exp.Expression:
    """Spark's CAST raises on invalid input (ANSI) and truncates fractions toward zero."""
    operand = node.this
    target = node.to.sql(dialect="duckdb").upper()
    if target in INTEGRAL_DUCKDB and _is_fractional(operand, schema):
        operand = exp.func("trunc", operand)
    return exp.Cast(this=operand, to=node.to)


def _is_fractional(operand: exp.Expression, schema: Schema) -> bool:
    if isinstance(operand, exp.Literal):
        return not operand.is_string and "." in operand.name
    if isinstance(operand, exp.Column):
        column = find_column(schema, operand.name)
        return column is not None and column.type not in INTEGRAL_TYPES and column.type != "string"
    return False


def _checked_division(node: exp.Div) -> exp.Expression:
    """Spark 4 raises DIVIDE_BY_ZERO where sqlglot's DuckDB output would give NULL."""
    denominator = exp.Paren(this=node.expression)
    guard = exp.Case(
        ifs=[
            exp.If(
                this=exp.EQ(this=denominator.copy(), expression=exp.Literal.number(0)),
                true=exp.func(
                    "error",
                    exp.Literal.string(
                        "[DIVIDE_BY_ZERO] Division by zero. Use try_divide to "
                        "tolerate a zero divisor and return NULL instead."
                    ),
                ),
            )
        ],
        default=denominator,
    )
    return exp.Div(this=node.this, expression=guard, typed=node.args.get("typed"), safe=False)


def empty_table_sql(table: str, schema: Schema) -> str:
    """Return a CREATE TABLE statement for an empty DuckDB table with a Spark schema."""
    columns = ", ".join(f"{sql_identifier(column.name)} {duckdb_type(column.type)}" for column in schema)
    return f"CREATE OR REPLACE TEMP TABLE {sql_identifier(table)} ({columns})"
