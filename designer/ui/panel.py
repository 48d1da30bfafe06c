"""The side panel of the selected node: name, inputs, properties, output schema and data preview."""

from __future__ import annotations

import logging

import streamlit as st

from codegen.duckdb_preview import NodePreview
from designer.model import SAMPLING_METHODS, Job, Node, Sampling
from designer.nodes import NODE_TYPES, NodeType
from designer.schema import Schema
from designer.ui import forms, graph, state
from designer.ui.feedback import guard
from designer.validation import Validation

logger = logging.getLogger(__name__)

NOT_CONNECTED = "(not connected)"
SAMPLING_LABELS = {"first": "First rows", "random": "Random sample"}
PREVIEW_HEIGHT = 300  # pixels, for previews longer than AUTO_HEIGHT_ROWS
AUTO_HEIGHT_ROWS = 8


def render(job: Job, node_id: str | None, validation: Validation, previews: dict[str, NodePreview]) -> None:
    if node_id is None:
        st.info(
            "Select a node on the canvas to see its properties, schema and data, "
            "or add one from the palette in the sidebar."
        )
        return
    node = job.node(node_id)
    node_type = NODE_TYPES.get(node.type)
    if node_type is None:
        st.error(f"Node {node.id!r} has unknown type {node.type!r}; delete it or fix the job file.")
        _delete_button(job, node)
        return
    _header(job, node, node_type)
    inputs = _input_schemas(node, validation)
    properties, schema_tab, data_tab = st.tabs(["Properties", "Output schema", "Data preview"])
    with properties:
        _ports(job, node, node_type, validation)
        forms.render_params(job, node, inputs, validation)
        _other_problems(node, node_type, validation)
    with schema_tab:
        _schema(node, validation, previews.get(node.id))
    with data_tab:
        _preview(job, node, previews.get(node.id))


def _header(job: Job, node: Node, node_type: NodeType) -> None:
    st.subheader(node.label)
    st.caption(f"{node_type.label} · id `{node.id}` · {node_type.description}")
    name = st.text_input("Name", node.name, key=forms.widget_key(node, "name"))
    if name != node.name:
        node.name = name
    _delete_button(job, node)


def _delete_button(job: Job, node: Node) -> None:
    key = forms.widget_key(node, "delete")
    if st.button("Delete node", key=key, type="secondary", icon=":material/delete:"):
        graph.delete_node(job, node.id)
        state.select(None)
        st.rerun()


def _input_schemas(node: Node, validation: Validation) -> dict[str, Schema]:
    return {
        port: validation.schemas[upstream]
        for port, upstream in node.inputs.items()
        if upstream in validation.schemas
    }


# --- input ports --------------------------------------------------------------------------------


def _ports(job: Job, node: Node, node_type: NodeType, validation: Validation) -> None:
    if node_type.dynamic_ports:
        _aliases(job, node)
    elif node_type.ports:
        _fixed_ports(job, node, node_type)
    for problem in validation.problems_of(node.id):
        if problem.parameter == "inputs":
            st.error(f"Inputs: {problem.message}")


def candidates(job: Job, node: Node) -> list[str]:
    """Return the nodes that may feed `node`: they have an output and `node` does not feed them."""
    return [
        other.id
        for other in job.nodes
        if other.id != node.id and graph.has_output(other) and not graph.is_ancestor(job, node.id, other.id)
    ]


def _fixed_ports(job: Job, node: Node, node_type: NodeType) -> None:
    options = [NOT_CONNECTED, *candidates(job, node)]
    columns = st.columns(len(node_type.ports))
    for column, port in zip(columns, node_type.ports, strict=True):
        current = node.inputs.get(port, NOT_CONNECTED)
        port_options = options if current in options else [*options, current]
        with column:
            # The key names the current upstream, because the canvas also changes ports: a
            # widget kept from an earlier run would otherwise undo a connection drawn there.
            chosen = st.selectbox(
                f"Input '{port}'",
                port_options,
                index=port_options.index(current),
                key=forms.widget_key(node, "port", port, current),
            )
        _set_port(node, port, chosen)
    if node.type == "transform.join" and st.button("Swap left and right", key=forms.widget_key(node, "swap")):
        _swap(node)


def _set_port(node: Node, port: str, chosen: str) -> None:
    if chosen == NOT_CONNECTED:
        node.inputs.pop(port, None)
    else:
        node.inputs[port] = chosen


def _swap(node: Node) -> None:
    left, right = node.inputs.get("left"), node.inputs.get("right")
    node.inputs = {port: up for port, up in (("left", right), ("right", left)) if up is not None}
    keys = node.params.get("keys") or []
    node.params["keys"] = [
        {"left": item.get("right", ""), "right": item.get("left", "")}
        for item in keys
        if isinstance(item, dict)
    ]
    logger.info("node %s: swapped left and right inputs", node.id)
    st.rerun()


def _aliases(job: Job, node: Node) -> None:
    st.markdown("**Inputs**", help="Each input is a table in the query, named by its alias.")
    rows = [{"alias": alias, "node": upstream} for alias, upstream in sorted(node.inputs.items())]
    allowed = candidates(job, node)
    options = allowed + [row["node"] for row in rows if row["node"] not in allowed]
    edited = forms.edit_rows(
        rows,
        ["alias", "node"],
        forms.widget_key(node, "aliases"),
        column_config={
            "alias": st.column_config.TextColumn("Table alias"),
            "node": st.column_config.SelectboxColumn("Node", options=options),
        },
    )
    aliases = [str(row["alias"]) for row in edited]
    duplicates = sorted({alias for alias in aliases if aliases.count(alias) > 1})
    if duplicates:
        st.error(
            f"Node {node.id!r}, parameter 'inputs': alias {duplicates[0]!r} is used twice; "
            "give each input its own alias. The change was not applied."
        )
        return
    node.inputs = {str(row["alias"]) or str(row["node"]): str(row["node"]) for row in edited if row["node"]}


def _other_problems(node: Node, node_type: NodeType, validation: Validation) -> None:
    """Show problems that name no parameter the form draws, such as unknown parameters."""
    drawn = {param.name for param in node_type.params} | {"inputs"}
    for problem in validation.problems_of(node.id):
        if problem.parameter not in drawn:
            st.error(problem.message)


# --- schema and data ------------------------------------------------------------------------------


def _schema(node: Node, validation: Validation, preview: NodePreview | None) -> None:
    schema = validation.schemas.get(node.id) or (preview.schema if preview else [])
    if not schema:
        st.warning(f"Node {node.id!r} has no output schema until its problems are fixed.")
        return
    st.dataframe(
        [{"name": column.name, "type": column.type} for column in schema],
        hide_index=True,
        width="stretch",
    )


def _preview(job: Job, node: Node, preview: NodePreview | None) -> None:
    if node.type.startswith("source."):
        _sampling(job, node)
    if preview is None:
        st.warning(f"No preview for node {node.id!r}; the errors above say why.")
        return
    if preview.error:
        st.error(f"Preview of node {node.id!r} failed: {preview.error}")
        _spark_check(job, node)
        return
    timing = "cached" if preview.cached else f"{preview.seconds * 1000:.0f} ms"
    rows = "1 row" if preview.row_count == 1 else f"{preview.row_count} rows"
    st.caption(f"{rows} · {timing}")
    for note in preview.notes:
        st.caption(f"ℹ {note}")
    for reason in preview.approximations:
        st.warning(f"Approximate: {reason}", icon=":material/warning:")
    _spark_check(job, node)
    with guard("Showing the preview", node.id):
        height = "auto" if preview.row_count <= AUTO_HEIGHT_ROWS else PREVIEW_HEIGHT
        st.dataframe(preview.table, hide_index=True, height=height, width="stretch")


def _sampling(job: Job, node: Node) -> None:
    """Let the user pick the preview's sample of a source: its first rows or a seeded random sample."""
    current = job.sampling_of(node.id)
    left, right = st.columns([2, 1])
    method = left.selectbox(
        "Preview sample", SAMPLING_METHODS, index=SAMPLING_METHODS.index(current.method),
        format_func=lambda name: SAMPLING_LABELS[name], key=forms.widget_key(node, "sampling"),
        help=f"The preview reads {job.sample_rows} rows of this source. "
        "The sample size is under Job details.",
    )
    seed = right.number_input(
        "Seed", min_value=0, value=current.seed, step=1, key=forms.widget_key(node, "seed"),
        disabled=method != "random",
    )
    chosen = Sampling(method, int(seed))
    if chosen == current:
        return
    if chosen == Sampling():
        job.sampling.pop(node.id, None)
    else:
        job.sampling[node.id] = chosen
    st.rerun()


# --- check against Spark --------------------------------------------------------------------------


def _spark_check(job: Job, node: Node) -> None:
    """Offer a check of the node on local Spark over the same sample, and show its last result."""
    from designer.spark_check import check_node

    key = forms.widget_key(node, "check_spark")
    results = st.session_state.setdefault("spark_checks", {})
    if st.button(
        "Check against Spark",
        key=key,
        icon=":material/fact_check:",
        help="Run this node's PySpark on local Spark over the preview's sample "
        "and compare the rows. The first check starts Spark, which takes a few seconds.",
    ):
        with st.spinner("Running the node on local Spark..."), guard("Checking against Spark", node.id):
            results[node.id] = (job_fingerprint(job), check_node(job, node.id, state.engine()))
    stored = results.get(node.id)
    if stored is None:
        return
    fingerprint, check = stored
    if fingerprint != job_fingerprint(job):
        st.caption("The job changed since the last check against Spark; check again.")
        return
    _show_check(check)


def _show_check(check) -> None:
    if check.matches:
        st.success(f"{check.summary()} ({check.seconds:.1f} s)")
        return
    st.error(f"{check.summary()} ({check.seconds:.1f} s)")
    for label, rows in (
        ("Rows only in Spark", check.only_in_spark),
        ("Rows only in the preview", check.only_in_preview),
    ):
        if rows:
            st.caption(label)
            st.dataframe(
                [dict(zip(check.spark_columns or check.columns, row, strict=False)) for row in rows],
                hide_index=True,
                width="stretch",
            )


def job_fingerprint(job: Job) -> str:
    from designer.model import job_to_json

    return job_to_json(job)
