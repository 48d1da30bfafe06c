"""The one place where user-typed strings become code: Python literals, SQL identifiers and
SQL string literals. Every emitter calls these and nothing else."""

from __future__ import annotations

import re

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
