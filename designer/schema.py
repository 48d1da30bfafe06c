"""Column schemas in Spark's type names, the vocabulary of job files and generated scripts."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sqlglot import exp
from sqlglot.errors import ParseError

SIMPLE_TYPES = (
    "string",
    "boolean",
    "tinyint",
    "smallint",
    "int",
    "bigint",
    "float",
    "double",
    "date",
    "timestamp",
    "binary",
)
INTEGRAL_TYPES = ("tinyint", "smallint", "int", "bigint")
FRACTIONAL_TYPES = ("float", "double")
TYPE_ALIASES = {
    "integer": "int",
    "long": "bigint",
    "short": "smallint",
    "byte": "tinyint",
    "real": "float",
    "str": "string",
    "bool": "boolean",
    "timestamp_ltz": "timestamp",
    "text": "string",
    "varchar": "string",
    "int128": "decimal(38,0)",
}
DECIMAL_PATTERN = re.compile(r"^decimal\(\s*(\d+)\s*,\s*(\d+)\s*\)$")


def normalize_type(type_name: str) -> str:
    """Return the canonical Spark name of a type, or raise ValueError naming the valid ones."""
    text = type_name.strip().lower()
    text = TYPE_ALIASES.get(text, text)
    if text in SIMPLE_TYPES:
        return text
    if text == "decimal":
        return "decimal(10,0)"
    match = DECIMAL_PATTERN.match(text)
    if match:
        precision, scale = int(match.group(1)), int(match.group(2))
        if 1 <= precision <= 38 and scale <= precision:
            return f"decimal({precision},{scale})"
    if text.startswith(("array", "struct", "map")):
        try:
            return render_type(exp.DataType.build(type_name, dialect="spark"))
        except (ParseError, ValueError):
            pass
    valid = ", ".join(SIMPLE_TYPES)
    raise ValueError(
        f"unknown type {type_name!r}; use one of {valid}, decimal(P,S), array<T>, "
        "map<K,V> or struct<name:T,...>"
    )


def render_type(data_type: exp.DataType) -> str:
    """Return the canonical Spark name of a parsed type: lower case, field names as written."""
    kind = data_type.this
    if kind == exp.DataType.Type.ARRAY:
        return f"array<{render_type(data_type.expressions[0])}>"
    if kind == exp.DataType.Type.MAP:
        key, value = data_type.expressions
        return f"map<{render_type(key)},{render_type(value)}>"
    if kind == exp.DataType.Type.STRUCT:
        fields = []
        for field_definition in data_type.expressions:
            name = field_definition.name
            if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", name):
                name = "`" + name.replace("`", "``") + "`"
            fields.append(f"{name}:{render_type(field_definition.args['kind'])}")
        return f"struct<{','.join(fields)}>"
    return normalize_type(data_type.sql(dialect="spark"))


def is_numeric(type_name: str) -> bool:
    return (
        type_name in INTEGRAL_TYPES
        or type_name in FRACTIONAL_TYPES
        or type_name.startswith("decimal")
    )


@dataclass(frozen=True)
class Column:
    """One column of a node's output: its name, its Spark type and an optional description."""

    name: str
    type: str
    # The data catalog's column description. It is documentation, not schema, so two columns
    # with the same name and type compare equal whatever their comments.
    comment: str = field(default="", compare=False)


Schema = list[Column]


def column_names(schema: Schema) -> list[str]:
    return [column.name for column in schema]


def find_column(schema: Schema, name: str) -> Column | None:
    """Find a column as Spark resolves names by default: case-insensitively."""
    for column in schema:
        if column.name == name:
            return column
    lowered = name.lower()
    for column in schema:
        if column.name.lower() == lowered:
            return column
    return None


def schema_from_params(columns: list[dict]) -> Schema:
    return [Column(str(item["name"]), normalize_type(str(item["type"]))) for item in columns]


def schema_to_params(schema: Schema) -> list[dict]:
    return [{"name": column.name, "type": column.type} for column in schema]
