"""The one place where user-typed strings become code: Python literals, SQL identifiers and
SQL string literals. Every emitter calls these and nothing else."""

from __future__ import annotations

import re

IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
PARAMETER_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def py_str(value: str) -> str:
    """Quote a string as a Python literal, preferring double quotes as ruff's formatter does."""
    text = repr(str(value))
    if text.startswith("'") and '"' not in value:
        text = '"' + text[1:-1].replace("\\'", "'") + '"'
    return text


def py_template(value: str, parameters: dict[str, str], namespace: str = "args") -> str:
    """Quote a string that may reference job parameters as ${name}.

    A plain string becomes a literal; a string with references becomes an f-string over
    `args.<name>`, with every other character escaped so nothing else is interpolated.
    """
    if not PARAMETER_REFERENCE.search(value):
        return py_str(value)
    whole = PARAMETER_REFERENCE.fullmatch(value)
    if whole:
        if whole.group(1) not in parameters:
            raise KeyError(whole.group(1))
        return f"{namespace}.{whole.group(1)}"
    parts: list[str] = []
    position = 0
    for match in PARAMETER_REFERENCE.finditer(value):
        literal = value[position : match.start()]
        parts.append(_escape_fstring_text(literal))
        name = match.group(1)
        if name not in parameters:
            raise KeyError(name)
        parts.append("{" + f"{namespace}.{name}" + "}")
        position = match.end()
    parts.append(_escape_fstring_text(value[position:]))
    return "f" + py_str("".join(parts))


def py_text_block(value: str, indent: str) -> str:
    """Quote multi-line text, such as a SQL query, as adjacent literals, one per line.

    Python joins adjacent literals, so the value is exact and each line of it stays readable.
    """
    lines = str(value).splitlines(keepends=True)
    if len(lines) <= 1:
        return py_str(value)
    return f"\n{indent}".join(py_str(line) for line in lines)


def py_column(name: str) -> str:
    """Quote a column name for the DataFrame API, backticked unless it is a plain identifier.

    Plain strings such as "a.b" would be read by Spark as a field of a struct column.
    """
    if IDENTIFIER.match(name):
        return py_str(name)
    return py_str(spark_identifier(name))


def _escape_fstring_text(text: str) -> str:
    return text.replace("{", "{{").replace("}", "}}")


def substitute_parameters(value: str, values: dict[str, str]) -> str:
    """Replace ${name} references by their values, as the generated script does at run time."""

    def replace(match: re.Match) -> str:
        name = match.group(1)
        if name not in values:
            raise KeyError(name)
        return values[name]

    return PARAMETER_REFERENCE.sub(replace, value)


def sql_identifier(name: str) -> str:
    """Quote a column or table name for DuckDB and ANSI SQL: "name", with " doubled."""
    return '"' + str(name).replace('"', '""') + '"'


def spark_identifier(name: str) -> str:
    """Quote a column or table name for Spark SQL: `name`, with ` doubled."""
    return "`" + str(name).replace("`", "``") + "`"


def sql_literal(value: str) -> str:
    """Quote a string as a SQL string literal for DuckDB: 'value', with ' doubled."""
    return "'" + str(value).replace("'", "''") + "'"


def spark_ddl_chunks(columns, width: int = 72) -> list[str]:
    """Split a Spark DDL column list ("`a` int, `b` string") into pieces of about `width` characters."""
    fields = [f"{spark_identifier(column.name)} {column.type}" for column in columns]
    chunks: list[str] = []
    current = ""
    for position, field in enumerate(fields):
        piece = field + (", " if position < len(fields) - 1 else "")
        if current and len(current) + len(piece) > width:
            chunks.append(current)
            current = ""
        current += piece
    chunks.append(current)
    return chunks
