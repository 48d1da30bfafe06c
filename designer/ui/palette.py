"""The node palette: every node type, grouped by category as in Glue Studio's "Add nodes" menu."""

from __future__ import annotations

import streamlit as st

from designer.model import Job
from designer.nodes import NODE_TYPES
from designer.ui import graph, state

CATEGORIES = (("source", "Sources"), ("transform", "Transforms"), ("target", "Targets"))


def render(job: Job) -> None:
    st.header("Add nodes")
    selected = state.selected_id()
    if selected:
        st.caption(f"A new node connects to the selected node, {job.node(selected).label!r}, when it can.")
    for category, title in CATEGORIES:
        st.subheader(title)
        for type_name, node_type in NODE_TYPES.items():
            if node_type.category == category:
                _button(job, type_name, selected)


def _button(job: Job, type_name: str, selected: str | None) -> None:
    node_type = NODE_TYPES[type_name]
    if st.button(node_type.label, key=f"palette:{type_name}", help=node_type.description, width="stretch"):
        node = graph.add_node(job, type_name, selected)
        state.select(node.id)
        st.rerun()
