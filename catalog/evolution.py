"""Schema evolution rules: which type changes widen, and how a crawled schema merges into a stored one."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from catalog.model import Column
from designer.schema import INTEGRAL_TYPES

# The decimal that can represent every value of an integral type, as Spark's DecimalType.forType gives it.
INTEGRAL_DECIMAL_DIGITS = {"tinyint": 3, "smallint": 5, "int": 10, "bigint": 20}
# Integral types whose every value a double represents exactly.
EXACT_IN_DOUBLE = ("tinyint", "smallint", "int")
DECIMAL = re.compile(r"^decimal\((\d+),(\d+)\)$")


def widens(old: str, new: str) -> bool:
    """Return whether type `new` can represent every value of type `old`, so a column may widen to it."""
    if old == new:
        return True
    if old in INTEGRAL_TYPES and new in INTEGRAL_TYPES:
        return INTEGRAL_TYPES.index(old) < INTEGRAL_TYPES.index(new)
    if new == "double":
        return old in EXACT_IN_DOUBLE or old == "float"
    if new.startswith("decimal"):
        return _decimal_holds(new, old)
    return old == "date" and new == "timestamp"


def common_type(left: str, right: str, *, allow_string: bool) -> str | None:
    """Return the type that two files' columns read as together, or None if they do not combine.

    Numbers combine as Spark's schema inference combines them. With allow_string (CSV and JSON,
    whose values Spark reads as text first), any other pair becomes string, as Spark infers it.
    """
    if widens(left, right):
        return right
    if widens(right, left):
        return left
    if _is_number(left) and _is_number(right):
        return "double"
    return "string" if allow_string else None


@dataclass
class SchemaMerge:
    """The result of merging a crawled schema into the stored one."""

    columns: list[Column]
    added: list[Column] = field(default_factory=list)
    widened: list[str] = field(default_factory=list)
    incompatible: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.added or self.widened)


def merge_schema(stored: list[Column], crawled: list[Column], kind: str = "column") -> SchemaMerge:
    """Merge crawled columns into stored ones: keep comments, append new columns, widen types.

    A stored column that the files no longer have, or a type that changed without widening, is
    listed in `incompatible` and left as stored. A crawled type narrower than the stored one
    keeps the stored type.
    """
    crawled_by_name = {column.name.lower(): column for column in crawled}
    stored_names = {column.name.lower() for column in stored}
    merge = SchemaMerge(columns=[])
    for column in stored:
        found = crawled_by_name.get(column.name.lower())
        merge.columns.append(_merge_column(merge, kind, column, found))
    for column in crawled:
        if column.name.lower() not in stored_names:
            merge.columns.append(column)
            merge.added.append(column)
    return merge


def _merge_column(merge: SchemaMerge, kind: str, stored: Column, found: Column | None) -> Column:
    if found is None:
        merge.incompatible.append(f"{kind} {stored.name} ({stored.type}) is missing from the files")
        return stored
    if found.type == stored.type or widens(found.type, stored.type):
        return stored
    if widens(stored.type, found.type):
        merge.widened.append(f"{kind} {stored.name} from {stored.type} to {found.type}")
        return Column(stored.name, found.type, stored.comment)
    merge.incompatible.append(
        f"{kind} {stored.name} changed type from {stored.type} to {found.type}, which does not widen"
    )
    return stored


def _is_number(type_name: str) -> bool:
    return type_name in (*INTEGRAL_TYPES, "float", "double") or DECIMAL.match(type_name) is not None


def _decimal_digits(type_name: str) -> tuple[int, int] | None:
    """Return (integer digits, scale) of a decimal or integral type, or None for other types."""
    if type_name in INTEGRAL_DECIMAL_DIGITS:
        return INTEGRAL_DECIMAL_DIGITS[type_name], 0
    match = DECIMAL.match(type_name)
    if match is None:
        return None
    precision, scale = int(match.group(1)), int(match.group(2))
    return precision - scale, scale


def _decimal_holds(decimal_type: str, other: str) -> bool:
    target = _decimal_digits(decimal_type)
    source = _decimal_digits(other)
    if target is None or source is None:
        return False
    return target[0] >= source[0] and target[1] >= source[1]
