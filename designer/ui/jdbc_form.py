"""The PostgreSQL source's schema controls: the 'Read schema' button and the automatic fill.

The stored schema belongs to one connection and table or query. The form remembers, per node,
the relation it last saw, so a changed table or query reads the schema again, and a stale
schema is cleared when the server cannot be reached then.
"""

from __future__ import annotations

import logging

import streamlit as st

from designer.jdbc_nodes import SCHEMA_PARAM, read_source_schema
from designer.model import Node
from designer.nodes import NodeError
from designer.schema import schema_to_params
from designer.ui import state
from designer.ui.feedback import guard

logger = logging.getLogger(__name__)


def schema_controls(node: Node) -> None:
    """Draw the 'Read schema' button, and fill or refresh the stored schema when the relation changes."""
    key = ":".join([str(state.token()), node.id, "schema_relation"])
    relation = _relation(node)
    if st.button("Read schema", key=f"{key}:read", help="Read the columns from the server and store them"):
        with guard("Reading the schema", node.id, SCHEMA_PARAM):
            _read(node, refresh=True)
        st.session_state[key] = relation
        return
    previous = st.session_state.get(key)
    st.session_state[key] = relation
    if previous is not None and previous != relation:
        _refresh_after_change(node)
    elif not node.params.get(SCHEMA_PARAM):
        _fill_when_reachable(node)


def _relation(node: Node) -> tuple[str, str, str]:
    return tuple(str(node.params.get(name) or "").strip() for name in ("connection", "table", "query"))


def _read(node: Node, *, refresh: bool) -> None:
    try:
        schema = read_source_schema(node, refresh=refresh)
    except NodeError as error:
        st.error(
            f"Reading the schema failed (node {node.id!r}, parameter {error.parameter!r}): {error.message}"
        )
        return
    node.params[SCHEMA_PARAM] = schema_to_params(schema)
    logger.info("node %s: stored %d columns read from the server", node.id, len(schema))


def _refresh_after_change(node: Node) -> None:
    """Read the schema of a changed table or query; clear the old one when the server fails."""
    try:
        schema = read_source_schema(node)
    except NodeError:
        if node.params.get(SCHEMA_PARAM):
            node.params[SCHEMA_PARAM] = []
            logger.info("node %s: cleared the stored schema of the previous table or query", node.id)
        return
    node.params[SCHEMA_PARAM] = schema_to_params(schema)
    logger.info("node %s: stored %d columns of the new table or query", node.id, len(schema))


def _fill_when_reachable(node: Node) -> None:
    """Store the schema the first time the server returns it. Validation shows why a read failed."""
    try:
        schema = read_source_schema(node)
    except NodeError:
        return
    node.params[SCHEMA_PARAM] = schema_to_params(schema)
    logger.info("node %s: stored %d columns read from the server", node.id, len(schema))
