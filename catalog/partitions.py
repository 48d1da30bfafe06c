"""Hive-style partition folders (`key=value`) and their column types, inferred as Spark 4 infers them.

Spark's partition discovery (PartitioningUtils.inferPartitionColumnValue, with
spark.sql.sources.partitionColumnTypeInference.enabled, the default) tries each value as int,
then bigint, then a decimal without fraction digits, then double, then timestamp
(`yyyy-MM-dd HH:mm:ss[.S]`), then date (`yyyy-MM-dd`), and falls back to string. The types of
one column's values are then merged: mixing double with bigint or decimal gives string, and so
does any pair without a common wider type. tests/test_catalog_crawler.py checks these rules
against a real Spark read.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from designer.schema import INTEGRAL_TYPES

DEFAULT_PARTITION_NAME = "__HIVE_DEFAULT_PARTITION__"
INT_RANGE = (-(2**31), 2**31 - 1)
BIGINT_RANGE = (-(2**63), 2**63 - 1)
MAX_DECIMAL_PRECISION = 38

SEGMENT = re.compile(r"^([^=]+)=(.*)$")
JAVA_INTEGER = re.compile(r"^[+-]?[0-9]+$")
# The decimal forms of Java's Double.parseDouble, which also trims whitespace and accepts a
# trailing type letter: `1.5`, `.5`, `5.`, `1e3`, `1.5d`, `NaN`, `-Infinity`.
JAVA_DOUBLE = re.compile(r"^[+-]?(NaN|Infinity|(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?[fFdD]?)$")
ESCAPED_CHARACTER = re.compile(r"%([0-9A-Fa-f]{2})")
TIMESTAMP = re.compile(r"^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})(\.\d)?$")
DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")


def parse_segment(name: str) -> tuple[str, str] | None:
    """Split a folder name `key=value` into its unescaped key and its value as written, or return None."""
    match = SEGMENT.match(name)
    if match is None:
        return None
    return unescape_path_name(match.group(1)), match.group(2)


def unescape_path_name(text: str) -> str:
    """Decode Spark's `%XX` escapes in a partition folder name, such as `%3A` for `:`."""
    return ESCAPED_CHARACTER.sub(lambda match: chr(int(match.group(1), 16)), text)


def infer_value_type(raw: str) -> str | None:
    """Return the Spark type of one partition value as written in its folder name.

    Returns None for the default (NULL) partition. Like Spark, only the timestamp check
    decodes `%XX` escapes first.
    """
    if raw == DEFAULT_PARTITION_NAME:
        return None
    if JAVA_INTEGER.match(raw):
        return _integer_type(int(raw))
    decimal = _integral_decimal(raw)
    if decimal is not None:
        return decimal
    if JAVA_DOUBLE.match(raw.strip(" \t\n\r\f\v\0")):
        return "double"
    if _is_timestamp(unescape_path_name(raw)):
        return "timestamp"
    if _is_date(raw):
        return "date"
    return "string"


def infer_column_type(raws: list[str]) -> str:
    """Return the Spark type of a partition column from all of its folder values."""
    merged: str | None = None
    for raw in raws:
        value_type = infer_value_type(raw)
        if value_type is None:
            continue
        merged = value_type if merged is None else wider_partition_type(merged, value_type)
    # NOTE: Spark 4.3 types a column whose values are all the default partition as `void`; the
    # catalog records string, which reads the same NULL values.
    return merged or "string"


def wider_partition_type(left: str, right: str) -> str:
    """Merge two partition value types as Spark's findWiderTypeForPartitionColumn does."""
    if left == right:
        return left
    pair = {left, right}
    if "double" in pair and (pair & {"bigint"} or any(t.startswith("decimal") for t in pair)):
        return "string"
    if pair <= {*INTEGRAL_TYPES, "double"}:
        return _wider_numeric(left, right)
    if any(t.startswith("decimal") for t in pair) and pair <= {"int", "bigint"} | _decimals(pair):
        return _wider_decimal(left, right)
    if pair == {"date", "timestamp"}:
        return "timestamp"
    return "string"


def _integer_type(value: int) -> str:
    if INT_RANGE[0] <= value <= INT_RANGE[1]:
        return "int"
    if BIGINT_RANGE[0] <= value <= BIGINT_RANGE[1]:
        return "bigint"
    digits = len(str(abs(value)))
    return f"decimal({digits},0)" if digits <= MAX_DECIMAL_PRECISION else "double"


def _integral_decimal(raw: str) -> str | None:
    """Type a value that Java's BigDecimal reads with no fraction digits, such as `1e3`."""
    if not re.match(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$", raw):
        return None
    try:
        value = Decimal(raw)
    except InvalidOperation:
        return None
    if value.as_tuple().exponent >= 0:
        digits = len(str(abs(int(value))))
        return f"decimal({digits},0)" if digits <= MAX_DECIMAL_PRECISION else None
    return None


def _is_timestamp(raw: str) -> bool:
    match = TIMESTAMP.match(raw)
    if match is None:
        return False
    year, month, day, hour, minute, second = (int(part) for part in match.groups()[:6])
    try:
        datetime(year, month, day, hour, minute, second)
    except ValueError:
        return False
    return True


def _is_date(raw: str) -> bool:
    match = DATE.match(raw)
    if match is None:
        return False
    try:
        date(*(int(part) for part in match.groups()))
    except ValueError:
        return False
    return True


def _decimals(types: set[str]) -> set[str]:
    return {t for t in types if t.startswith("decimal")}


def _wider_numeric(left: str, right: str) -> str:
    order = [*INTEGRAL_TYPES, "double"]
    return max(left, right, key=order.index)


def _wider_decimal(left: str, right: str) -> str:
    """Return the decimal that can represent both types, as Spark's DecimalPrecision.widerDecimalType does."""
    integer_digits = max(_decimal_digits(left)[0], _decimal_digits(right)[0])
    scale = max(_decimal_digits(left)[1], _decimal_digits(right)[1])
    precision = min(integer_digits + scale, MAX_DECIMAL_PRECISION)
    return f"decimal({precision},{scale})"


def _decimal_digits(type_name: str) -> tuple[int, int]:
    """Return (integer digits, scale) of a decimal type or of the decimal that represents an integer type."""
    if type_name == "int":
        return 10, 0
    if type_name == "bigint":
        return 20, 0
    precision, scale = (int(part) for part in re.findall(r"\d+", type_name))
    return precision - scale, scale
