"""Spark SQL expressions: parsing and column checks with sqlglot, and translation to DuckDB
with Spark 4's semantics (ANSI mode on) where sqlglot's DuckDB output differs."""

from __future__ import annotations

import re
from functools import lru_cache

import sqlglot
from sqlglot import exp
from sqlglot.dialects.spark import Spark
from sqlglot.errors import ParseError, TokenError

from codegen.approximations import approximation_reasons
from codegen.quoting import sql_identifier
from codegen.spark_rules import apply_rules
from codegen.types import duckdb_type
from designer.errors import ExpressionError, did_you_mean
from designer.schema import Schema, find_column

__all__ = [
    "approximation_reasons",
    "check_columns",
    "check_expression",
    "empty_table_sql",
    "expression_to_duckdb",
    "parse_expression",
    "parse_query",
    "referenced_columns",
    "to_duckdb",
]


class SparkPatterns(Spark):
    """Spark SQL that keeps datetime patterns ('yyyy-MM-dd') as written.

    sqlglot's Spark dialect turns patterns into strftime codes while parsing and drops the
    letters it has no code for (SSS, quoted text). codegen.spark_rules translates them itself.
    """

    TIME_MAPPING: dict[str, str] = {}


@lru_cache(maxsize=512)
def _parse(text: str, kind: str) -> exp.Expression:
    if kind == "query":
        return sqlglot.parse_one(text, read=SparkPatterns)
    return sqlglot.parse_one(f"SELECT {text}", read=SparkPatterns).expressions[0]


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
        description = _readable_parse_error(first.get("description", str(error)), first.get("highlight"))
        raise ExpressionError(f"syntax error{where}: {description}") from None
    except TokenError:
        raise ExpressionError(
            "syntax error: the text has an unclosed quote or comment, or a character Spark SQL "
            "does not accept"
        ) from None


def _readable_parse_error(description: str, near: str | None) -> str:
    """Turn sqlglot's description of a parse error into words that name no parser class."""
    if description.startswith("Required keyword"):
        return f"the expression is incomplete after {near!r}" if near else "the expression is incomplete"
    description = re.sub(r"\s*(for|of)? ?<class '[^']+'>", "", description)
    return f"{description} near {near!r}" if near else description


def referenced_columns(tree: exp.Expression) -> list[str]:
    """Return the column names an expression reads, in order of first use.

    In `a.b` the column is `a`: an expression has no tables, so Spark reads `b` as a field of
    the struct column `a`.
    """
    names: list[str] = []
    for column in tree.find_all(exp.Column):
        parts = [part.name for part in column.parts]
        name = parts[0] if parts else column.name
        if name and name not in names:
            names.append(name)
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
    """Return DuckDB SQL for a Spark SQL expression or query, with Spark 4's semantics.

    The rewrites are in codegen.spark_rules; what they cannot match is listed by
    approximation_reasons.
    """
    return apply_rules(tree, schema).sql(dialect="duckdb")


def expression_to_duckdb(text: str, schema: Schema) -> str:
    return to_duckdb(check_expression(text, schema), schema)


def empty_table_sql(table: str, schema: Schema) -> str:
    """Return a CREATE TABLE statement for an empty DuckDB table with a Spark schema."""
    columns = ", ".join(f"{sql_identifier(column.name)} {duckdb_type(column.type)}" for column in schema)
    return f"CREATE OR REPLACE TEMP TABLE {sql_identifier(table)} ({columns})"
