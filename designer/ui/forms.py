"""Property forms: one widget per parameter kind, writing the value back into `node.params`.

Widget keys start with the job token and the node id, so opening another job or selecting
another node builds fresh widgets from the stored parameters. Table editors also carry a
digest of the rows they were built from: once an edit is stored, the next run builds a new
editor from the stored rows, so the editor and the node never disagree.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from typing import Any

import pandas as pd
import streamlit as st

from codegen.duckdb_preview import infer_file_schema
from codegen.expressions import parse_expression, parse_query
from codegen.quoting import substitute_parameters
from designer.errors import ExpressionError
from designer.model import Job, Node
from designer.nodes import AGGREGATE_FUNCTIONS, NODE_TYPES, Param
from designer.schema import Column, Schema, column_names, find_column, schema_to_params
from designer.ui import jdbc_form, state
from designer.ui.feedback import guard
from designer.validation import Validation

logger = logging.getLogger(__name__)

SOURCE_OPTIONS = ("header", "delimiter", "quote", "escape", "null_value", "multiline")


def widget_key(node: Node, *parts: str) -> str:
    return ":".join([str(state.token()), node.id, *parts])


def render_params(job: Job, node: Node, inputs: dict[str, Schema], validation: Validation) -> None:
    """Draw a widget for each parameter of the node's type that applies to its current settings."""
    node_type = NODE_TYPES[node.type]
    for param in node_type.params:
        if param.formats and node.params.get("format", "csv") not in param.formats:
            continue
        with guard("Editing a parameter", node.id, param.name, node.params.get(param.name)):
            RENDERERS[param.kind](job, node, param, inputs)
        _show_problems(node, param, validation)
        _show_syntax_error(node, param, inputs)


def _show_problems(node: Node, param: Param, validation: Validation) -> None:
    for problem in validation.problems_of(node.id):
        if problem.parameter == param.name:
            st.error(f"{param.label}: {problem.message}")


def _show_syntax_error(node: Node, param: Param, inputs: dict[str, Schema]) -> None:
    """Check the syntax of an expression or query whose inputs are not valid yet.

    With valid inputs, validation already checks syntax and columns, so this adds nothing.
    """
    if param.kind not in ("expression", "query") or inputs:
        return
    text = str(node.params.get(param.name) or "")
    if not text.strip():
        return
    try:
        parse_expression(text) if param.kind == "expression" else parse_query(text)
    except ExpressionError as error:
        st.error(f"{param.label}: {error}")


def _store(node: Node, name: str, value: Any, shown: Any) -> None:
    """Store a widget's value if the user changed it from the value the widget was built with.

    Comparing with the shown value, not the stored one, keeps a job unchanged when a node is
    only looked at, even where the stored value is missing or has a different shape.
    """
    if value != shown:
        logger.debug("node %s: %s = %r", node.id, name, value)
        node.params[name] = value


# --- simple kinds -------------------------------------------------------------------------------


def _text(job: Job, node: Node, param: Param, inputs) -> None:
    current = str(node.params.get(param.name) or "")
    key = widget_key(node, param.name)
    if param.kind == "query":
        value = st.text_area(param.label, current, key=key, help=param.help, height=160)
    elif param.kind == "text":
        value = st.text_area(param.label, current, key=key, help=param.help)
    else:
        value = st.text_input(param.label, current, key=key, help=param.help)
    _store(node, param.name, value, current)


def _bool(job: Job, node: Node, param: Param, inputs) -> None:
    current = bool(node.params.get(param.name))
    value = st.checkbox(param.label, current, key=widget_key(node, param.name), help=param.help)
    _store(node, param.name, value, current)


def _int(job: Job, node: Node, param: Param, inputs) -> None:
    current = node.params.get(param.name)
    start = current if isinstance(current, int) and not isinstance(current, bool) else 0
    key = widget_key(node, param.name)
    value = st.number_input(param.label, value=start, step=1, key=key, help=param.help)
    _store(node, param.name, int(value), start)


def _choice(job: Job, node: Node, param: Param, inputs) -> None:
    current = node.params.get(param.name, param.default)
    options = list(param.choices)
    if current not in options:
        options.append(current)  # An invalid stored value stays visible, and validation reports it.
    value = st.selectbox(
        param.label, options, index=options.index(current), key=widget_key(node, param.name), help=param.help
    )
    _store(node, param.name, value, current)


def _columns(job: Job, node: Node, param: Param, inputs) -> None:
    current = [str(name) for name in node.params.get(param.name) or []]
    available = column_names(inputs.get("in", []))
    options = available + [name for name in current if name not in available]
    value = st.multiselect(
        param.label, options, default=current, key=widget_key(node, param.name), help=param.help
    )
    _store(node, param.name, list(value), current)


# --- table kinds --------------------------------------------------------------------------------


def _digest(rows: list[dict]) -> str:
    text = json.dumps(rows, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _clean(value: Any, default: Any = "") -> Any:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return default
    return value


def edit_rows(
    rows: list[dict], columns: list[str], key: str, *, column_config: dict | None = None,
    num_rows: str = "dynamic", disabled: list[str] | None = None,
) -> list[dict]:
    """Show rows in st.data_editor and return the edited rows, without rows left all blank."""
    frame = pd.DataFrame(rows, columns=columns)
    edited = st.data_editor(
        frame,
        key=f"{key}:{_digest(rows)}",
        column_config=column_config,
        num_rows=num_rows,
        disabled=disabled or False,
        hide_index=True,
        width="stretch",
    )
    records = []
    for record in edited.to_dict("records"):
        cleaned = {name: _clean(record.get(name)) for name in columns}
        if any(value not in ("", False) for value in cleaned.values()):
            records.append(cleaned)
    return records


def _schema(job: Job, node: Node, param: Param, inputs) -> None:
    st.markdown(f"**{param.label}**", help=param.help)
    if node.type == "source.file":
        _infer_button(job, node)
    if node.type == "source.jdbc":
        jdbc_form.schema_controls(node)
    current = [
        {"name": str(item.get("name", "")), "type": str(item.get("type", ""))}
        for item in node.params.get(param.name) or []
        if isinstance(item, dict)
    ]
    rows = edit_rows(current, ["name", "type"], widget_key(node, param.name))
    columns = [{"name": str(row["name"]), "type": str(row["type"])} for row in rows]
    _store(node, param.name, columns, current)


def _infer_button(job: Job, node: Node) -> None:
    clicked = st.button(
        "Infer schema", key=widget_key(node, "infer"), help="Read the file and store its columns"
    )
    if not clicked:
        return
    raw_path = str(node.params.get("path") or "")
    with guard("Inferring the schema", node.id, "path", raw_path):
        path = _resolve_path(job, node, raw_path)
        if path is None:
            return
        options = {name: node.params[name] for name in SOURCE_OPTIONS if name in node.params}
        schema = infer_file_schema(path, str(node.params.get("format", "csv")), options)
        node.params["columns"] = schema_to_params(schema)
        logger.info("node %s: inferred %d columns from %s", node.id, len(schema), path)


def _resolve_path(job: Job, node: Node, raw_path: str) -> str | None:
    if not raw_path.strip():
        st.error(f"Node {node.id!r}: parameter 'path' is empty; enter a file path or glob first.")
        return None
    try:
        return substitute_parameters(raw_path, job.parameter_defaults())
    except KeyError as error:
        st.error(
            f"Node {node.id!r}, parameter 'path', value {raw_path!r}: ${{{error.args[0]}}} names "
            "no job parameter; add it under Job details."
        )
        return None


def _mappings(job: Job, node: Node, param: Param, inputs) -> None:
    schema = inputs.get("in")
    current = [item for item in node.params.get(param.name) or [] if isinstance(item, dict)]
    if schema and not current:
        # Glue's ApplyMapping starts from the parent's schema, and so does a new Change Schema node.
        current = node.params[param.name] = default_mappings(schema)
    st.markdown(f"**{param.label}**", help=param.help)
    rows = mapping_rows(current, schema or [])
    edited = edit_rows(
        rows,
        ["source", "keep", "target", "type"],
        widget_key(node, param.name),
        column_config={
            "source": st.column_config.TextColumn("Input column"),
            "keep": st.column_config.CheckboxColumn("Keep"),
            "target": st.column_config.TextColumn("Output name"),
            "type": st.column_config.TextColumn(
                "Type", help="A Spark type such as bigint, double or decimal(10,2)"
            ),
        },
        num_rows="fixed" if schema else "dynamic",
        disabled=["source"] if schema else None,
    )
    if edited != rows:
        _store(node, param.name, [_mapping_from_row(row) for row in edited if row["source"]], current)


def default_mappings(schema: Schema) -> list[dict]:
    return [{"source": c.name, "target": c.name, "type": c.type, "drop": False} for c in schema]


def mapping_rows(mappings: list[dict], schema: Schema) -> list[dict]:
    """Return one row per input column, then a row for each mapping of a column the input lacks."""
    rows, used = [], set()
    for column in schema:
        item = _mapping_of(mappings, column)
        if item is None:
            rows.append({"source": column.name, "keep": False, "target": column.name, "type": column.type})
            continue
        used.add(id(item))
        rows.append(_row_from_mapping(item))
    rows.extend(_row_from_mapping(item) for item in mappings if id(item) not in used)
    return rows


def _mapping_of(mappings: list[dict], column: Column) -> dict | None:
    """Find the mapping of an input column, matching names case-insensitively as Spark does."""
    for item in mappings:
        if find_column([column], str(item.get("source", ""))) is not None:
            return item
    return None


def _row_from_mapping(item: dict) -> dict:
    return {
        "source": str(item.get("source", "")),
        "keep": not item.get("drop", False),
        "target": str(item.get("target") or ""),
        "type": str(item.get("type") or ""),
    }


def _mapping_from_row(row: dict) -> dict:
    return {
        "source": str(row["source"]),
        "target": str(row["target"] or row["source"]),
        "type": str(row["type"]),
        "drop": not bool(row["keep"]),
    }


def _join_keys(job: Job, node: Node, param: Param, inputs) -> None:
    st.markdown(f"**{param.label}**", help=param.help)
    current = [
        {"left": str(item.get("left", "")), "right": str(item.get("right", ""))}
        for item in node.params.get(param.name) or []
        if isinstance(item, dict)
    ]
    left = _options(inputs.get("left", []), [row["left"] for row in current])
    right = _options(inputs.get("right", []), [row["right"] for row in current])
    rows = edit_rows(
        current,
        ["left", "right"],
        widget_key(node, param.name),
        column_config={
            "left": st.column_config.SelectboxColumn(
                f"Left column ({node.inputs.get('left', 'not connected')})", options=left
            ),
            "right": st.column_config.SelectboxColumn(
                f"Right column ({node.inputs.get('right', 'not connected')})", options=right
            ),
        },
    )
    _store(node, param.name, rows, current)


def _options(schema: Schema, current: list[str]) -> list[str]:
    names = column_names(schema)
    return names + [name for name in current if name and name not in names]


def _aggregations(job: Job, node: Node, param: Param, inputs) -> None:
    st.markdown(f"**{param.label}**", help=param.help)
    current = [
        {"function": str(item.get("function", "")), "column": str(item.get("column") or "*"),
         "name": str(item.get("name") or "")}
        for item in node.params.get(param.name) or []
        if isinstance(item, dict)
    ]
    columns = _options(inputs.get("in", []), [row["column"] for row in current if row["column"] != "*"])
    functions = list(AGGREGATE_FUNCTIONS) + [
        row["function"] for row in current if row["function"] and row["function"] not in AGGREGATE_FUNCTIONS
    ]
    rows = edit_rows(
        current,
        ["function", "column", "name"],
        widget_key(node, param.name),
        column_config={
            "function": st.column_config.SelectboxColumn("Function", options=functions),
            "column": st.column_config.SelectboxColumn("Column", options=["*", *columns]),
            "name": st.column_config.TextColumn("Output name", help="Empty: function_column"),
        },
    )
    if rows != current:
        _store(node, param.name, [_aggregation_from_row(row) for row in rows], current)


def _aggregation_from_row(row: dict) -> dict:
    item = {"function": str(row["function"]), "column": str(row["column"] or "*")}
    if row["name"]:
        item["name"] = str(row["name"])
    return item


def _connection(job: Job, node: Node, param: Param, inputs) -> None:
    """Draw a select box of the catalog's connections; a stored name the catalog lacks stays visible."""
    from catalog.store import open_catalog

    current = str(node.params.get(param.name) or "")
    names = [conn.name for conn in open_catalog().list_connections()]
    options = names + ([current] if current not in names else [])
    if not names:
        st.info("The catalog has no connections yet; add one with `sparkcanvas connection add`.")
    value = st.selectbox(
        param.label,
        options,
        index=options.index(current),
        key=widget_key(node, param.name),
        help=param.help,
        format_func=lambda name: name or "(choose a connection)",
    )
    _store(node, param.name, value, current)


# --- Data Catalog kinds ----------------------------------------------------------------------------


def _catalog_choice(node: Node, param: Param, options: list[str], current: str) -> None:
    """Draw a select box of catalog names; a target may also type the name of a new one."""
    is_target = node.type.startswith("target.")
    if current and current not in options:
        options = [*options, current]  # a stored name the catalog lacks stays visible
    value = st.selectbox(
        param.label,
        options,
        index=options.index(current) if current else None,
        key=widget_key(node, param.name),
        help=param.help,
        placeholder="Choose or type a new name" if is_target else "Choose",
        accept_new_options=is_target,
    )
    _store(node, param.name, value or "", current)


def _catalog_database(job: Job, node: Node, param: Param, inputs) -> None:
    from catalog.store import open_catalog

    current = str(node.params.get(param.name) or "")
    databases = open_catalog().list_databases()
    if not databases and not node.type.startswith("target."):
        st.info("The Data Catalog has no databases yet; crawl a folder into it first.")
    _catalog_choice(node, param, databases, current)


def _catalog_table(job: Job, node: Node, param: Param, inputs) -> None:
    _catalog_choice(node, param, _table_names(node), str(node.params.get(param.name) or ""))


def _table_names(node: Node) -> list[str]:
    from catalog.errors import CatalogError
    from catalog.store import open_catalog

    database = str(node.params.get("database") or "")
    if not database:
        return []
    try:
        return [table.name for table in open_catalog().list_tables(database)]
    except CatalogError:
        return []  # a database the catalog lacks: validation reports it on the node


def _node_table(node: Node):
    """Return the catalog table the node names, or None while it names none."""
    from catalog.errors import CatalogError
    from catalog.reading import load_table

    try:
        return load_table(str(node.params.get("database") or ""), str(node.params.get("table") or ""))
    except CatalogError:
        return None


def _partition_predicate(job: Job, node: Node, param: Param, inputs) -> None:
    table = _node_table(node)
    keys = ", ".join(f"{column.name} ({column.type})" for column in table.partition_keys) if table else ""
    help_text = f"{param.help} Partition columns: {keys or '(none)'}." if table else param.help
    current = str(node.params.get(param.name) or "")
    value = st.text_input(param.label, current, key=widget_key(node, param.name), help=help_text)
    _store(node, param.name, value, current)


def _lookup_keys(job: Job, node: Node, param: Param, inputs) -> None:
    st.markdown(f"**{param.label}**", help=param.help)
    current = [
        {"input": str(item.get("input", "")), "lookup": str(item.get("lookup", ""))}
        for item in node.params.get(param.name) or []
        if isinstance(item, dict)
    ]
    table = _node_table(node)
    lookup_schema = [Column(column.name, column.type) for column in table.schema] if table else []
    rows = edit_rows(
        current,
        ["input", "lookup"],
        widget_key(node, param.name),
        column_config={
            "input": st.column_config.SelectboxColumn(
                "Input column", options=_options(inputs.get("in", []), [row["input"] for row in current])
            ),
            "lookup": st.column_config.SelectboxColumn(
                "Lookup column", options=_options(lookup_schema, [row["lookup"] for row in current])
            ),
        },
    )
    _store(node, param.name, rows, current)


def _lookup_columns(job: Job, node: Node, param: Param, inputs) -> None:
    current = [str(name) for name in node.params.get(param.name) or []]
    table = _node_table(node)
    available = [column.name for column in table.schema] if table else []
    options = available + [name for name in current if name not in available]
    value = st.multiselect(
        param.label, options, default=current, key=widget_key(node, param.name), help=param.help
    )
    _store(node, param.name, list(value), current)


RENDERERS = {
    "string": _text,
    "text": _text,
    "expression": _text,
    "query": _text,
    "bool": _bool,
    "int": _int,
    "choice": _choice,
    "columns": _columns,
    "schema": _schema,
    "mappings": _mappings,
    "join_keys": _join_keys,
    "aggregations": _aggregations,
    "connection": _connection,
    "catalog_database": _catalog_database,
    "catalog_table": _catalog_table,
    "partition_predicate": _partition_predicate,
    "lookup_keys": _lookup_keys,
    "lookup_columns": _lookup_columns,
}
