"""Rewrites of sqlglot trees so that DuckDB gives the rows Spark 4 gives (ANSI mode on).

`apply_rules` walks a parsed Spark SQL tree bottom-up and replaces each node for which a
rule exists. Most rules build their DuckDB replacement from a small DuckDB SQL template,
so the rewrite reads as the SQL it produces. The behaviours were checked against Spark 4.3.0
and DuckDB 2.0.1 by the cases in tests/fidelity_cases/.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

import sqlglot
from sqlglot import exp

from designer.schema import FRACTIONAL_TYPES, INTEGRAL_TYPES, Schema, find_column

INTEGRAL_DUCKDB = {"TINYINT", "SMALLINT", "INT", "INTEGER", "BIGINT"}
DATE = exp.DataType.build("DATE")
TIMESTAMP_TYPES = {exp.DataType.Type.TIMESTAMP, exp.DataType.Type.TIMESTAMPLTZ}
# Java's toUpperCase expands these to several letters, but DuckDB maps ß to ẞ and keeps ligatures.
UPPER_EXPANSIONS = {
    "ß": "SS",
    "ﬀ": "FF",
    "ﬁ": "FI",
    "ﬂ": "FL",
    "ﬃ": "FFI",
    "ﬄ": "FFL",
    "ﬅ": "ST",
    "ﬆ": "ST",
}
TRUNC_UNITS = {
    "year": "year",
    "yyyy": "year",
    "yy": "year",
    "quarter": "quarter",
    "month": "month",
    "mon": "month",
    "mm": "month",
    "week": "week",
}
DEFAULT_TIMESTAMP_PATTERN = "yyyy-MM-dd HH:mm:ss"
DECIMAL_TYPE = re.compile(r"^decimal\((\d+),\s*(\d+)\)$")
INTEGRAL_RANGES = {
    "tinyint": (-(2**7), 2**7 - 1),
    "smallint": (-(2**15), 2**15 - 1),
    "int": (-(2**31), 2**31 - 1),
    "bigint": (-(2**63), 2**63 - 1),
}


def apply_rules(tree: exp.Expression, schema: Schema) -> exp.Expression:
    """Return a copy of the tree with every Spark rule applied, children before parents."""
    return _bottom_up(tree.copy(), schema)


def _bottom_up(node: exp.Expression, schema: Schema) -> exp.Expression:
    for key, value in list(node.args.items()):
        if isinstance(value, exp.Expression):
            node.set(key, _bottom_up(value, schema))
        elif isinstance(value, list):
            node.set(
                key,
                [_bottom_up(item, schema) if isinstance(item, exp.Expression) else item for item in value],
            )
    rule = _rule_for(node)
    return rule(node, schema) if rule else node


def _rule_for(node: exp.Expression) -> Callable | None:
    if isinstance(node, exp.Anonymous):
        return ANONYMOUS_RULES.get(node.name.lower())
    return NODE_RULES.get(type(node))


# --- templates ---------------------------------------------------------------------------------


@lru_cache(maxsize=256)
def _parsed_template(sql: str) -> exp.Expression:
    return sqlglot.parse_one(sql, read="duckdb")


def template(sql: str, **arguments: exp.Expression) -> exp.Expression:
    """Build a DuckDB expression from SQL in which `_name` stands for the argument `name`."""
    tree = _parsed_template(sql).copy()
    for column in list(tree.find_all(exp.Column)):
        if column.name.startswith("_") and column.name[1:] in arguments and not column.table:
            column.replace(arguments[column.name[1:]].copy())
    return tree


def _spark_error(error_class: str, message: str, value: exp.Expression | None = None) -> exp.Expression:
    """Build error('[CLASS] message'), with `{}` in the message replaced by the value's text."""
    if value is None:
        return exp.func("error", exp.Literal.string(f"[{error_class}] {message}"))
    before, _, after = message.partition("{}")
    text = exp.DPipe(
        this=exp.DPipe(
            this=exp.Literal.string(f"[{error_class}] {before}"),
            expression=exp.Cast(this=value.copy(), to=exp.DataType.build("VARCHAR")),
        ),
        expression=exp.Literal.string(after),
    )
    return exp.func("error", text)


def _guarded(condition: exp.Expression, error: exp.Expression, value: exp.Expression) -> exp.Expression:
    return exp.Case(ifs=[exp.If(this=condition, true=error)], default=value)


# --- types -------------------------------------------------------------------------------------


def operand_type(node: exp.Expression, schema: Schema) -> str | None:
    """Return the Spark type of a column, literal or cast, or None where it takes inference."""
    if isinstance(node, exp.Paren):
        return operand_type(node.this, schema)
    if isinstance(node, exp.Neg):
        return operand_type(node.this, schema)
    if isinstance(node, exp.Literal):
        return _literal_type(node)
    if isinstance(node, exp.Column) and not node.table:
        column = find_column(schema, node.name)
        return column.type if column else None
    if isinstance(node, exp.Cast):
        return node.to.sql(dialect="spark").lower()
    return None


def _literal_type(node: exp.Literal) -> str:
    """Return Spark's type of a literal: 1 is an int, 1.5 a decimal, 1e3 a double."""
    text = node.name.lower()
    if node.is_string:
        return "string"
    if "e" in text:
        return "double"
    if "." in text:
        return "decimal"
    return "int" if abs(int(text)) <= 2**31 else "bigint"


def _is_fractional(type_name: str | None) -> bool:
    return type_name is not None and (type_name in FRACTIONAL_TYPES or type_name.startswith("decimal"))


def _is_numeric(type_name: str | None) -> bool:
    return type_name is not None and (type_name in INTEGRAL_TYPES or _is_fractional(type_name))


def _is_timestamp(type_name: str | None) -> bool:
    return type_name is not None and type_name.startswith("timestamp")


# --- casts -------------------------------------------------------------------------------------


def strict_cast(node: exp.Cast, schema: Schema) -> exp.Expression:
    """Spark's CAST raises on invalid input and on overflow (ANSI) and truncates fractions toward zero."""
    if node.args.get("safe") and isinstance(node, exp.TryCast):
        return node
    operand, target = node.this, _spark_target(node.to)
    source = operand_type(operand, schema)
    if isinstance(operand, exp.Literal) and operand.is_string:
        return exp.Cast(this=operand, to=target)  # DuckDB rejects a malformed literal, in its own words
    target_duckdb = target.sql(dialect="duckdb").upper()
    spark_name = target.sql(dialect="spark").upper()
    if _is_timestamp(source) and target_duckdb in ("TEXT", "VARCHAR"):
        return timestamp_text(operand)
    if source == "string" and target_duckdb in INTEGRAL_DUCKDB:
        return _string_to_integer(operand, target, spark_name)
    if source == "string" and target_duckdb not in ("TEXT", "VARCHAR"):
        return _cast_or_raise(operand, target, "CAST_INVALID_INPUT", _malformed(spark_name, "STRING"))
    if target_duckdb in INTEGRAL_DUCKDB and _is_fractional(source):
        operand = exp.func("trunc", operand)
    if _is_numeric(source) and target_duckdb in INTEGRAL_DUCKDB:
        message = 'The value {} cannot be cast to "' + spark_name + '" due to an overflow.'
        return _cast_or_raise(operand, target, "CAST_OVERFLOW", message)
    if _is_numeric(source) and target_duckdb.startswith("DECIMAL"):
        message = "{} cannot be represented as " + target.sql(dialect="spark") + "."
        return _cast_or_raise(operand, target, "NUMERIC_VALUE_OUT_OF_RANGE", message)
    return exp.Cast(this=operand, to=target)


def _spark_target(to: exp.DataType) -> exp.DataType:
    """Spark's TIMESTAMP is an instant (TIMESTAMP_LTZ): a string with an offset is converted, not cut."""
    if to.this in TIMESTAMP_TYPES:
        return exp.DataType.build("TIMESTAMPTZ")
    return to


def _malformed(spark_name: str, source: str) -> str:
    # The {} stays in the message: _spark_error puts the value there at run time.
    return (
        f'The value \'{{}}\' of the type "{source}" cannot be cast to "{spark_name}" because it is malformed.'
    )


def _cast_or_raise(operand, target, error_class: str, message: str) -> exp.Expression:
    failed = template("_x IS NOT NULL AND TRY_CAST(_x AS INT) IS NULL", x=operand)
    failed.find(exp.TryCast).set("to", target.copy())
    cast = exp.Cast(this=operand.copy(), to=target.copy())
    return _guarded(failed, _spark_error(error_class, message, operand), cast)


def _string_to_integer(operand, target, spark_name: str) -> exp.Expression:
    """Spark accepts only an optionally signed run of digits, with surrounding blanks, as an integer."""
    failed = template(
        "_x IS NOT NULL AND (NOT regexp_matches(_x, '^\\s*[+-]?[0-9]+\\s*$') "
        "OR TRY_CAST(trim(_x) AS INT) IS NULL)",
        x=operand,
    )
    failed.find(exp.TryCast).set("to", target.copy())
    cast = exp.Cast(this=exp.func("trim", operand.copy()), to=target.copy())
    error = _spark_error("CAST_INVALID_INPUT", _malformed(spark_name, "STRING"), operand)
    return _guarded(failed, error, cast)


def timestamp_text(operand: exp.Expression) -> exp.Expression:
    """Spark prints a timestamp without an offset and with its fraction's trailing zeros cut."""
    return template(
        "strftime(_x, '%Y-%m-%d %H:%M:%S') || CASE WHEN microsecond(_x) % 1000000 = 0 THEN '' "
        "ELSE rtrim('.' || lpad(CAST(microsecond(_x) % 1000000 AS VARCHAR), 6, '0'), '0') END",
        x=operand,
    )


# --- arithmetic --------------------------------------------------------------------------------


def checked_division(node: exp.Div, schema: Schema) -> exp.Expression:
    """Spark 4 raises DIVIDE_BY_ZERO where sqlglot's DuckDB output would give NULL."""
    guard = _zero_guard(
        node.expression,
        "DIVIDE_BY_ZERO",
        "Division by zero. Use try_divide to tolerate a zero divisor and return NULL instead.",
    )
    quotient = exp.Div(this=node.this, expression=guard, typed=node.args.get("typed"), safe=False)
    result_type = decimal_quotient_type(
        operand_type(node.this, schema), operand_type(node.expression, schema)
    )
    if result_type is None:
        return quotient
    return exp.Cast(this=quotient, to=exp.DataType.build(f"DECIMAL({result_type[0]}, {result_type[1]})"))


def decimal_quotient_type(left: str | None, right: str | None) -> tuple[int, int] | None:
    """Return Spark's decimal(p, s) for a decimal divided by a decimal, or None for other types.

    NOTE: DuckDB divides decimals as DOUBLE, so the rounded result can differ from Spark's
    in quotients with more than about 15 significant digits.
    """
    left_match, right_match = DECIMAL_TYPE.match(left or ""), DECIMAL_TYPE.match(right or "")
    if not (left_match and right_match):
        return None
    p1, s1 = map(int, left_match.groups())
    p2, s2 = map(int, right_match.groups())
    scale = max(6, s1 + p2 + 1)
    precision = p1 - s1 + s2 + scale
    if precision > 38:
        integer_digits = precision - scale
        scale = max(38 - integer_digits, min(scale, 6))
        precision = 38
    return precision, scale


def checked_integer_division(node: exp.IntDiv, schema: Schema) -> exp.Expression:
    """Spark's `div` raises DIVIDE_BY_ZERO, but DuckDB's message names no Spark error class."""
    guard = _zero_guard(
        node.expression,
        "DIVIDE_BY_ZERO",
        "Division by zero. Use try_divide to tolerate a zero divisor and return NULL instead.",
    )
    return exp.IntDiv(this=node.this, expression=guard)


def checked_remainder(node: exp.Mod, schema: Schema) -> exp.Expression:
    """Spark 4 raises REMAINDER_BY_ZERO for `%` and mod(), but sqlglot's output gives NULL."""
    guard = _zero_guard(
        node.expression,
        "REMAINDER_BY_ZERO",
        "Remainder by zero. Use try_mod to tolerate a zero divisor and return NULL instead.",
    )
    return exp.Mod(this=node.this, expression=guard)


def checked_integer_arithmetic(node: exp.Binary, schema: Schema) -> exp.Expression:
    """Spark raises ARITHMETIC_OVERFLOW (BINARY_ARITHMETIC_OVERFLOW below int) when +, - or * overflows."""
    left, right = operand_type(node.this, schema), operand_type(node.expression, schema)
    if left not in INTEGRAL_TYPES or right not in INTEGRAL_TYPES:
        return node
    result = max(left, right, key=INTEGRAL_TYPES.index)
    low, high = INTEGRAL_RANGES[result]
    wide = type(node)(
        this=exp.Cast(this=node.this.copy(), to=exp.DataType.build("HUGEINT")),
        expression=exp.Cast(this=node.expression.copy(), to=exp.DataType.build("HUGEINT")),
    )
    outside = template(f"_w NOT BETWEEN {low} AND {high}", w=wide)
    error_class = "ARITHMETIC_OVERFLOW" if result in ("int", "bigint") else "BINARY_ARITHMETIC_OVERFLOW"
    error = _spark_error(error_class, "{} caused overflow.", wide)
    return _guarded(outside, error, node)


def checked_negation(node: exp.Expression, schema: Schema) -> exp.Expression:
    """Spark raises ARITHMETIC_OVERFLOW for -x and abs(x) at the integer type's minimum."""
    type_name = operand_type(node.this, schema)
    if type_name not in INTEGRAL_TYPES or isinstance(node.this, exp.Literal):
        return node
    low = INTEGRAL_RANGES[type_name][0]
    at_minimum = template(f"_x = {low}", x=node.this)
    return _guarded(at_minimum, _spark_error("ARITHMETIC_OVERFLOW", "overflow."), node)


def integral_rounding(node: exp.Expression, schema: Schema) -> exp.Expression:
    """Spark's floor and ceil of a number without scale give a BIGINT, but DuckDB keeps a DOUBLE."""
    if node.args.get("decimals") is not None or (operand_type(node.this, schema) or "").startswith("decimal"):
        return node
    return exp.Cast(this=node, to=exp.DataType.build("BIGINT"))


def double_sign(node: exp.Sign, schema: Schema) -> exp.Expression:
    """Spark's signum always returns a DOUBLE."""
    return exp.Cast(this=node, to=exp.DataType.build("DOUBLE"))


def positive_modulo(node: exp.Anonymous, schema: Schema) -> exp.Expression:
    """Spark's pmod(a, b) is a % b, or (a % b + b) % b when a % b < 0, but DuckDB has no pmod."""
    dividend, divisor = node.expressions
    guard = _zero_guard(
        divisor,
        "REMAINDER_BY_ZERO",
        "Remainder by zero. Use try_mod to tolerate a zero divisor and return NULL instead.",
    )
    return template("CASE WHEN _a % _b < 0 THEN ((_a % _b) + _b) % _b ELSE _a % _b END", a=dividend, b=guard)


def _zero_guard(divisor: exp.Expression, error_class: str, message: str) -> exp.Expression:
    denominator = exp.Paren(this=divisor.copy())
    is_zero = exp.EQ(this=denominator.copy(), expression=exp.Literal.number(0))
    return exp.Paren(this=_guarded(is_zero, _spark_error(error_class, message), denominator))


def null_logarithm(node: exp.Expression, schema: Schema) -> exp.Expression:
    """Spark's ln, log10, log2 and log(b, x) return NULL for x <= 0, where DuckDB gives -inf or NaN."""
    argument = node.expression if isinstance(node, exp.Log) and node.expression else node.this
    return exp.Case(
        ifs=[exp.If(this=exp.LTE(this=argument.copy(), expression=exp.Literal.number(0)), true=exp.Null())],
        default=node,
    )


def banker_round(node: exp.Anonymous, schema: Schema) -> exp.Expression:
    """Spark's bround rounds half to even, but DuckDB calls that round_even."""
    arguments = list(node.expressions)
    if len(arguments) == 1:
        arguments.append(exp.Literal.number(0))
    return exp.func("round_even", *arguments)


# --- strings -----------------------------------------------------------------------------------


def full_upper(node: exp.Upper, schema: Schema) -> exp.Expression:
    """Java's toUpperCase maps ß to SS and ligatures such as ﬁ to FI, but DuckDB keeps one letter."""
    argument = node.this
    for letter, expansion in UPPER_EXPANSIONS.items():
        argument = exp.func("replace", argument, exp.Literal.string(letter), exp.Literal.string(expansion))
    return exp.Upper(this=argument)


def final_sigma_lower(node: exp.Lower, schema: Schema) -> exp.Expression:
    """Java's toLowerCase turns a word-final capital sigma into ς, but DuckDB always gives σ."""
    marked = template("regexp_replace(_x, '(\\pL)Σ(\\PL|$)', '\\1ς\\2', 'g')", x=node.this)
    return exp.Lower(this=marked)


def code_point_reverse(node: exp.Reverse, schema: Schema) -> exp.Expression:
    """Spark reverses code points, but DuckDB keeps a letter and its combining accents together."""
    return template("array_to_string(list_reverse(regexp_extract_all(_x, '(?s).')), '')", x=node.this)


def byte_length(node: exp.Anonymous, schema: Schema) -> exp.Expression:
    """Spark's octet_length counts UTF-8 bytes, but DuckDB's strlen does the same for text."""
    return exp.func("strlen", node.expressions[0])


def locate_from(node: exp.StrPosition, schema: Schema) -> exp.Expression:
    """Spark's locate(sub, s, pos) returns 0 for pos < 1, but sqlglot's output searches from the start."""
    position = node.args.get("position")
    if position is None:
        return node
    too_small = exp.LT(this=position.copy(), expression=exp.Literal.number(1))
    return exp.Case(ifs=[exp.If(this=too_small, true=exp.Literal.number(0))], default=node)


def regex_split(node: exp.RegexpSplit, schema: Schema) -> exp.Expression:
    """Spark's split takes a regex and a limit (at most `limit` parts, the last holding the rest)."""
    text, pattern, limit = node.this, node.expression, node.args.get("limit")
    parts = template("CASE WHEN _s = '' THEN [''] ELSE str_split_regex(_s, _p) END", s=text, p=pattern)
    if limit is None:
        return parts
    if not (isinstance(limit, exp.Literal) and not limit.is_string) and not _is_negative_literal(limit):
        return parts  # approximation_reasons reports a limit that is not a literal
    count = int(limit.name) if isinstance(limit, exp.Literal) else -1
    if count <= 0:
        return parts
    marked = text.copy()
    for _ in range(count - 1):
        # Without the 'g' option DuckDB replaces the first match only: mark the first limit - 1.
        replace_first = [marked, pattern.copy(), exp.func("chr", exp.Literal.number(0))]
        marked = exp.Anonymous(this="regexp_replace", expressions=replace_first)
    return template("CASE WHEN _s = '' THEN [''] ELSE string_split(_m, chr(0)) END", s=text, m=marked)


def _is_negative_literal(node: exp.Expression) -> bool:
    return isinstance(node, exp.Neg) and isinstance(node.this, exp.Literal)


def java_replacement(node: exp.RegexpReplace, schema: Schema) -> exp.Expression:
    """Spark's regexp_replace refers to groups as $1 and escapes with \\; RE2 uses \\1 and \\\\."""
    replacement = node.args.get("replacement")
    if isinstance(replacement, exp.Literal) and replacement.is_string:
        node.set("replacement", exp.Literal.string(translate_replacement(replacement.name)))
    return node


def translate_replacement(text: str) -> str:
    """Translate a java.util.regex replacement string into RE2's rewrite syntax."""
    result, index = [], 0
    while index < len(text):
        character = text[index]
        if character == "\\" and index + 1 < len(text):
            escaped = text[index + 1]
            result.append("\\\\" if escaped == "\\" else escaped)
            index += 2
        elif character == "$" and index + 1 < len(text) and text[index + 1].isdigit():
            result.append("\\" + text[index + 1])
            index += 2
        else:
            result.append("\\\\" if character == "\\" else character)
            index += 1
    return "".join(result)


def substring_index(node: exp.SubstringIndex, schema: Schema) -> exp.Expression:
    """Spark's substring_index(s, delim, n) keeps text before the n-th delimiter (after it, for n < 0)."""
    return template(
        "CASE WHEN _d = '' OR _n = 0 THEN '' "
        "WHEN _n > 0 THEN array_to_string(string_split(_s, _d)[1:_n], _d) "
        "ELSE array_to_string(string_split(_s, _d)[_n:], _d) END",
        s=node.this,
        d=node.args["delimiter"],
        n=node.args["count"],
    )


def format_number(node: exp.Anonymous, schema: Schema) -> exp.Expression:
    """Spark's format_number(x, d) groups thousands with commas and keeps d decimals."""
    value, decimals = node.expressions
    if not (isinstance(decimals, exp.Literal) and not decimals.is_string):
        return node
    fmt_pattern = "{:,.%df}".replace("%d", str(int(decimals.name)))
    return exp.func("format", exp.Literal.string(fmt_pattern), value)


def printf_format(node: exp.Format, schema: Schema) -> exp.Expression:
    """Spark's format_string is printf-style, which DuckDB names printf."""
    return exp.func("printf", node.this, *node.expressions)


# --- dates and times ---------------------------------------------------------------------------


def sunday_first_weekday(node: exp.DayOfWeek, schema: Schema) -> exp.Expression:
    """Spark's dayofweek counts Sunday as 1 and Saturday as 7, but DuckDB's counts Sunday as 0."""
    return exp.Paren(this=exp.Add(this=node, expression=exp.Literal.number(1)))


def monday_zero_weekday(node: exp.Anonymous, schema: Schema) -> exp.Expression:
    """Spark's weekday counts Monday as 0 and Sunday as 6."""
    return template("(isodow(CAST(_d AS DATE)) - 1)", d=node.expressions[0])


def date_result(node: exp.Expression, schema: Schema) -> exp.Expression:
    """Spark's date_add, date_sub and add_months return a DATE; DATE + INTERVAL is a TIMESTAMP in DuckDB."""
    return exp.Cast(this=node, to=DATE.copy())


def date_truncation(node: exp.DateTrunc, schema: Schema) -> exp.Expression:
    """Spark's trunc(date, unit) accepts 'MM', 'mon', 'yy' and returns a DATE."""
    unit = node.args.get("unit")
    name = TRUNC_UNITS.get(unit.name.lower()) if isinstance(unit, exp.Literal) else None
    if name is None:
        return node
    return template(f"CAST(date_trunc('{name}', CAST(_d AS DATE)) AS DATE)", d=node.this)


def months_between(node: exp.MonthsBetween, schema: Schema) -> exp.Expression:
    """Spark divides by 31-day months, adds whole seconds of the time of day, and rounds to 8 digits."""
    later, earlier = node.this, node.expression
    return template(
        "CASE WHEN day(_a) = day(_b) OR (_a::DATE = last_day(_a::DATE) AND _b::DATE = last_day(_b::DATE)) "
        "THEN CAST((year(_a) * 12 + month(_a)) - (year(_b) * 12 + month(_b)) AS DOUBLE) "
        "ELSE round((year(_a) * 12 + month(_a)) - (year(_b) * 12 + month(_b)) "
        "+ ((day(_a) - day(_b)) * 86400 + floor(epoch(_a::TIMESTAMP) - epoch(_a::DATE::TIMESTAMP)) "
        "- floor(epoch(_b::TIMESTAMP) - epoch(_b::DATE::TIMESTAMP))) / (31 * 86400.0), 8) END",
        a=_as_timestamp(later, schema),
        b=_as_timestamp(earlier, schema),
    )


def _as_timestamp(node: exp.Expression, schema: Schema) -> exp.Expression:
    if _is_timestamp(operand_type(node, schema)) or isinstance(node, exp.Cast):
        return node
    return exp.Cast(this=node, to=exp.DataType.build("TIMESTAMPTZ"))


def strict_to_date(node: exp.TsOrDsToDate, schema: Schema) -> exp.Expression:
    """Spark's to_date raises CAST_INVALID_INPUT, or CANNOT_PARSE_TIMESTAMP with a pattern (ANSI)."""
    pattern = node.args.get("format")
    if pattern is None:
        return strict_cast(exp.Cast(this=node.this, to=DATE.copy()), schema)
    parsed = _parse_with_pattern(node.this, pattern)
    if parsed is None:
        return node
    return exp.Cast(this=parsed, to=DATE.copy())


def strict_to_timestamp(node: exp.StrToTime, schema: Schema) -> exp.Expression:
    """Spark's to_timestamp(s, pattern) parses in the session time zone and raises on a mismatch."""
    parsed = _parse_with_pattern(node.this, node.args.get("format"))
    return exp.Cast(this=parsed, to=exp.DataType.build("TIMESTAMPTZ")) if parsed is not None else node


def unix_seconds(node: exp.StrToUnix, schema: Schema) -> exp.Expression:
    """Spark's unix_timestamp gives whole seconds as a BIGINT, from a timestamp or parsed text."""
    if _is_timestamp(operand_type(node.this, schema)) or operand_type(node.this, schema) == "date":
        instant = exp.Cast(this=node.this, to=exp.DataType.build("TIMESTAMPTZ"))
    else:
        instant = _parse_with_pattern(node.this, node.args.get("format"))
        if instant is None:
            return node
    return template("CAST(floor(epoch(_t)) AS BIGINT)", t=instant)


def format_datetime(node: exp.TimeToStr, schema: Schema) -> exp.Expression:
    """Spark's date_format takes Java DateTimeFormatter letters, but DuckDB's strftime takes % codes."""
    pattern = _strftime_pattern(node.args.get("format"))
    if pattern is None:
        return node
    value = node.this.this if isinstance(node.this, exp.TimeStrToTime) else node.this
    return exp.func(
        "strftime", exp.Cast(this=value, to=exp.DataType.build("TIMESTAMPTZ")), exp.Literal.string(pattern)
    )


def format_unix_seconds(node: exp.UnixToStr, schema: Schema) -> exp.Expression:
    """Spark's from_unixtime formats seconds since the epoch in the session time zone."""
    pattern = _strftime_pattern(node.args.get("format"))
    if pattern is None:
        return node
    return exp.func("strftime", exp.func("to_timestamp", node.this), exp.Literal.string(pattern))


def timestamp_from_seconds(node: exp.Anonymous, schema: Schema) -> exp.Expression:
    """Spark's timestamp_seconds is DuckDB's to_timestamp."""
    return exp.func("to_timestamp", node.expressions[0])


def from_utc(node: exp.AtTimeZone, schema: Schema) -> exp.Expression:
    """Spark's from_utc_timestamp reads the wall clock as UTC and shows it in the given zone."""
    return template(
        "CAST(timezone(_z, timezone('UTC', CAST(_t AS TIMESTAMP))) AS TIMESTAMPTZ)",
        z=node.args["zone"],
        t=_wall_clock_source(node.this),
    )


def to_utc(node: exp.FromTimeZone, schema: Schema) -> exp.Expression:
    """Spark's to_utc_timestamp reads the wall clock in the given zone and shows it in UTC."""
    return template(
        "CAST(timezone('UTC', timezone(_z, CAST(_t AS TIMESTAMP))) AS TIMESTAMPTZ)",
        z=node.args["zone"],
        t=_wall_clock_source(node.this),
    )


def _wall_clock_source(node: exp.Expression) -> exp.Expression:
    """Drop sqlglot's CAST(x AS TIMESTAMP), which would keep the value's UTC wall clock."""
    inner = node.this if isinstance(node, exp.Cast) else node
    return exp.Cast(this=inner, to=exp.DataType.build("TIMESTAMPTZ"))


def _parse_with_pattern(value: exp.Expression, pattern: exp.Expression | None) -> exp.Expression | None:
    """Parse text with a Spark pattern, raising CANNOT_PARSE_TIMESTAMP as Spark does on a mismatch."""
    codes = (
        _strftime_pattern(pattern)
        if pattern is not None
        else _strftime_pattern(exp.Literal.string(DEFAULT_TIMESTAMP_PATTERN))
    )
    if codes is None:
        return None
    failed = template("_s IS NOT NULL AND try_strptime(_s, _f) IS NULL", s=value, f=exp.Literal.string(codes))
    error = _spark_error(
        "CANNOT_PARSE_TIMESTAMP",
        "Text '{}' could not be parsed. Use try_to_timestamp to return NULL instead.",
        value,
    )
    return _guarded(failed, error, exp.func("strptime", value.copy(), exp.Literal.string(codes)))


def _strftime_pattern(pattern: exp.Expression | None) -> str | None:
    if not (isinstance(pattern, exp.Literal) and pattern.is_string):
        return None
    return spark_pattern_to_strftime(pattern.name)


# Letters of Spark's datetime patterns, by letter and run length, as DuckDB strftime codes.
PATTERN_CODES = {
    "y": {1: "%Y", 2: "%y", 3: "%Y", 4: "%Y"},
    "M": {1: "%-m", 2: "%m", 3: "%b", 4: "%B"},
    "L": {1: "%-m", 2: "%m", 3: "%b", 4: "%B"},
    "d": {1: "%-d", 2: "%d"},
    "D": {1: "%-j", 3: "%j"},
    "E": {1: "%a", 2: "%a", 3: "%a", 4: "%A"},
    "a": {1: "%p"},
    "H": {1: "%-H", 2: "%H"},
    "h": {1: "%-I", 2: "%I"},
    "m": {1: "%-M", 2: "%M"},
    "s": {1: "%-S", 2: "%S"},
    "S": {3: "%g", 6: "%f", 9: "%n"},
}
PATTERN_RUN = re.compile(r"'(?:[^']|'')*'|([A-Za-z])\1*|.", re.DOTALL)


def spark_pattern_to_strftime(pattern: str) -> str | None:
    """Translate a Spark datetime pattern to strftime codes, or None if a letter has no code."""
    codes = []
    for match in PATTERN_RUN.finditer(pattern):
        piece = match.group(0)
        if piece.startswith("'"):
            text = "'" if piece == "''" else piece[1:-1].replace("''", "'")
            codes.append(text.replace("%", "%%"))
        elif piece[0].isalpha():
            code = PATTERN_CODES.get(piece[0], {}).get(len(piece))
            if code is None:
                return None
            codes.append(code)
        else:
            codes.append(piece.replace("%", "%%"))
    return "".join(codes)


# --- arrays and aggregates ---------------------------------------------------------------------


def checked_element_at(node: exp.Bracket, schema: Schema) -> exp.Expression:
    """Spark 4 raises INVALID_ARRAY_INDEX(_IN_ELEMENT_AT) for an index past the end (ANSI)."""
    if len(node.expressions) != 1 or node.args.get("safe"):
        return node
    index = node.expressions[0]
    if isinstance(index, exp.Literal) and index.is_string:
        return node  # a map key or struct field, not an array index
    zero_based = node.args.get("offset") != 1
    error_class = "INVALID_ARRAY_INDEX" if zero_based else "INVALID_ARRAY_INDEX_IN_ELEMENT_AT"
    position = exp.Add(this=index.copy(), expression=exp.Literal.number(1)) if zero_based else index.copy()
    outside = template(
        "_a IS NOT NULL AND _i IS NOT NULL AND (abs(_i) > len(_a) OR _i = 0 OR _i < 0 AND _z)",
        a=node.this,
        i=position,
        z=exp.Boolean(this=zero_based),
    )
    error = _spark_error(error_class, "The index {} is out of bounds.", index)
    return _guarded(outside, error, node)


def ordered_distinct(node: exp.ArrayDistinct, schema: Schema) -> exp.Expression:
    """Spark's array_distinct keeps the first of each value, NULL too, in order. list_distinct does not."""
    return template("list_filter(_a, lambda x, i: list_position(_a, x) = i)", a=node.this)


def three_valued_contains(node: exp.ArrayContains, schema: Schema) -> exp.Expression:
    """Spark's array_contains gives NULL, not false, for an absent value in an array with a NULL."""
    return template(
        "CASE WHEN _a IS NULL OR _v IS NULL THEN NULL WHEN list_contains(_a, _v) THEN true "
        "WHEN len(list_filter(_a, lambda e: e IS NULL)) > 0 THEN NULL ELSE false END",
        a=node.this,
        v=node.expression,
    )


def explode_outer(node: exp.Expression, schema: Schema) -> exp.Expression:
    """Spark's explode_outer gives one NULL row for a NULL or empty array, but DuckDB lacks the function."""
    array = node.this if not isinstance(node, exp.Anonymous) else node.expressions[0]
    return template("unnest(CASE WHEN len(_a) > 0 THEN _a ELSE [NULL] END)", a=array)


def empty_collection(node: exp.Expression, schema: Schema) -> exp.Expression:
    """Spark's collect_list and collect_set give [] for a group of NULLs, where ARRAY_AGG gives NULL."""
    return exp.Coalesce(this=node, expressions=[exp.Array(expressions=[])])


def explicit_nulls_last(node: exp.Order, schema: Schema) -> exp.Expression:
    """Keep an explicit NULLS LAST on an ascending key, which sqlglot drops as DuckDB's default.

    The preview sets DuckDB's default NULL order to Spark's (first ascending), so the dropped
    clause would put NULLs first. A leading `key IS NULL` sort key keeps them last.
    """
    keys = []
    for ordered in node.expressions:
        if (
            isinstance(ordered, exp.Ordered)
            and not ordered.args.get("desc")
            and not ordered.args.get("nulls_first")
        ):
            keys.append(
                exp.Ordered(this=exp.Is(this=ordered.this.copy(), expression=exp.Null()), nulls_first=True)
            )
        keys.append(ordered)
    node.set("expressions", keys)
    return node


NODE_RULES: dict[type, Callable] = {
    exp.Cast: strict_cast,
    exp.TryCast: strict_cast,
    exp.Div: checked_division,
    exp.Add: checked_integer_arithmetic,
    exp.Sub: checked_integer_arithmetic,
    exp.Mul: checked_integer_arithmetic,
    exp.IntDiv: checked_integer_division,
    exp.Mod: checked_remainder,
    exp.Neg: checked_negation,
    exp.Abs: checked_negation,
    exp.Floor: integral_rounding,
    exp.Ceil: integral_rounding,
    exp.Sign: double_sign,
    exp.Ln: null_logarithm,
    exp.Log: null_logarithm,
    exp.Upper: full_upper,
    exp.Lower: final_sigma_lower,
    exp.Reverse: code_point_reverse,
    exp.StrPosition: locate_from,
    exp.RegexpSplit: regex_split,
    exp.RegexpReplace: java_replacement,
    exp.SubstringIndex: substring_index,
    exp.Format: printf_format,
    exp.DayOfWeek: sunday_first_weekday,
    exp.TsOrDsAdd: date_result,
    exp.AddMonths: date_result,
    exp.DateTrunc: date_truncation,
    exp.MonthsBetween: months_between,
    exp.TsOrDsToDate: strict_to_date,
    exp.StrToTime: strict_to_timestamp,
    exp.StrToUnix: unix_seconds,
    exp.TimeToStr: format_datetime,
    exp.UnixToStr: format_unix_seconds,
    exp.AtTimeZone: from_utc,
    exp.FromTimeZone: to_utc,
    exp.Bracket: checked_element_at,
    exp.ArrayContains: three_valued_contains,
    exp.ArrayDistinct: ordered_distinct,
    exp.ArrayAgg: empty_collection,
    exp.ArrayUniqueAgg: empty_collection,
    exp._ExplodeOuter: explode_outer,
    exp.Order: explicit_nulls_last,
}
ANONYMOUS_RULES: dict[str, Callable] = {
    "pmod": positive_modulo,
    "bround": banker_round,
    "octet_length": byte_length,
    "weekday": monday_zero_weekday,
    "format_number": format_number,
    "timestamp_seconds": timestamp_from_seconds,
    "explode_outer": explode_outer,
}
