"""Constructs whose preview may differ from Spark, each with a reason the user can read.

The designer shows each reason on the node as "approximate: <reason>". A construct is listed
here when codegen.spark_rules has no rewrite that matches Spark for every input.
"""

from __future__ import annotations

import re

from sqlglot import exp

from codegen.spark_rules import operand_type, spark_pattern_to_strftime
from designer.schema import Schema

# java.util.regex features that RE2, DuckDB's regex engine, rejects or reads differently.
JAVA_ONLY_REGEX = re.compile(r"\(\?<?[=!]|\(\?>|\\[1-9]|[*+?}][+]|\\[pP]\{(?:Is|In|java)")
REGEX_FUNCTIONS = (
    exp.RegexpReplace,
    exp.RegexpExtract,
    exp.RegexpExtractAll,
    exp.RegexpLike,
    exp.RegexpSplit,
)
PATTERN_FUNCTIONS = (exp.TimeToStr, exp.StrToTime, exp.StrToUnix, exp.UnixToStr, exp.TsOrDsToDate)


def approximation_reasons(tree: exp.Expression, schema: Schema | None = None) -> list[str]:
    """Return one reason per construct in an expression or query that the preview cannot match.

    With the input schema, reasons that depend on a column's type (decimal division and
    averages) are found too. For a query, pass the columns of all its inputs as one list.
    """
    reasons: list[str] = []
    for node in tree.walk():
        for reason in _reasons_for(node, schema or []):
            if reason not in reasons:
                reasons.append(reason)
    return reasons


def _reasons_for(node: exp.Expression, schema: Schema) -> list[str]:
    reasons = []
    if isinstance(node, REGEX_FUNCTIONS):
        reasons += _regex_reasons(node)
    if isinstance(node, PATTERN_FUNCTIONS):
        reasons += _pattern_reasons(node)
    if isinstance(node, exp.Div) and _both_decimal(node, schema):
        reasons.append(
            "decimal division: the preview divides in DOUBLE and rounds to Spark's result scale, "
            "so quotients with more than about 15 significant digits can differ in the last digits"
        )
    if isinstance(node, exp.Avg) and _is_decimal(operand_type(node.this, schema)):
        reasons.append(
            "avg of a decimal column: the preview gives a DOUBLE where Spark gives a decimal "
            "with 4 more digits of scale"
        )
    if isinstance(node, exp.RegexpSplit) and _non_literal_limit(node):
        reasons.append("split with a limit that is not a number literal: the preview ignores the limit")
    return reasons


def _regex_reasons(node: exp.Expression) -> list[str]:
    reasons = []
    pattern = node.expression
    if isinstance(pattern, exp.Literal) and pattern.is_string and JAVA_ONLY_REGEX.search(pattern.name):
        reasons.append(
            f"regular expression {pattern.name!r} uses lookaround, back-references, possessive "
            "quantifiers or Java character classes, which DuckDB's RE2 engine does not support"
        )
    replacement = node.args.get("replacement")
    if isinstance(node, exp.RegexpReplace) and not (
        isinstance(replacement, exp.Literal) and replacement.is_string
    ):
        reasons.append(
            "regexp_replace with a replacement that is not a string literal: the preview cannot "
            "translate Java's $1 group references in it"
        )
    return reasons


def _pattern_reasons(node: exp.Expression) -> list[str]:
    pattern = node.args.get("format")
    if pattern is None:
        return []
    if not (isinstance(pattern, exp.Literal) and pattern.is_string):
        return [
            f"{_function_name(node)} with a pattern that is not a string literal: the preview "
            "cannot translate Spark's pattern letters to DuckDB's"
        ]
    if spark_pattern_to_strftime(pattern.name) is None:
        return [
            f"datetime pattern {pattern.name!r}: a letter in it (such as a zone, era, quarter or "
            "week letter) has no DuckDB equivalent, so the preview uses sqlglot's translation"
        ]
    return []


def _function_name(node: exp.Expression) -> str:
    names = {
        exp.TimeToStr: "date_format",
        exp.StrToTime: "to_timestamp",
        exp.StrToUnix: "unix_timestamp",
        exp.UnixToStr: "from_unixtime",
        exp.TsOrDsToDate: "to_date",
    }
    return names.get(type(node), node.key)


def _non_literal_limit(node: exp.RegexpSplit) -> bool:
    limit = node.args.get("limit")
    if limit is None:
        return False
    if isinstance(limit, exp.Neg):
        limit = limit.this
    return not (isinstance(limit, exp.Literal) and not limit.is_string)


def _both_decimal(node: exp.Div, schema: Schema) -> bool:
    left, right = operand_type(node.this, schema), operand_type(node.expression, schema)
    return _is_decimal(left) and _is_decimal(right)


def _is_decimal(type_name: str | None) -> bool:
    return type_name is not None and type_name.startswith("decimal")
