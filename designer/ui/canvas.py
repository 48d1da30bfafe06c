"""The canvas adapter: the Job drawn as a streamlit-flow graph, and canvas events read back.

streamlit-flow 1.6.1 keeps its own copy of the graph in the browser. It takes Python's graph
when the component mounts (a new key), or when the state's timestamp is newer than its own
last event. This adapter keeps the timestamp fixed for a key, so the key carries a version
number that goes up whenever the drawn graph (nodes, labels, badges, edges) changes.
Each canvas event returns the browser's whole graph. `read_event` compares it with the
Job, and `apply_event` turns the differences into Job edits.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import streamlit as st
from streamlit_flow import streamlit_flow
from streamlit_flow.elements import StreamlitFlowEdge, StreamlitFlowNode
from streamlit_flow.state import StreamlitFlowState

from designer.model import Job, Node
from designer.nodes import NODE_TYPES
from designer.ui import graph, state

logger = logging.getLogger(__name__)

CANVAS_HEIGHT = 560
KEY_PREFIX = "canvas_"
VERSION = "canvas_version"
SIGNATURE = "canvas_signature"
STAMP = "canvas_stamp"
LAST_EVENT = "canvas_last_event"
FLOW_TYPES = {"source": "input", "target": "output", "transform": "default"}
BADGES = {
    "error": '<span style="color:#d62728;font-weight:600">⚠ error</span>',
    "approximate": '<span style="color:#b8860b;font-weight:600">≈ approximate</span>',
}
MOVE_TOLERANCE = 0.5


@dataclass
class CanvasEvent:
    """The differences between the browser's graph and the Job after one canvas event."""

    deleted_nodes: list[str] = field(default_factory=list)
    deleted_edges: list[tuple[str, str]] = field(default_factory=list)  # (node id, port)
    new_edges: list[tuple[str, str]] = field(default_factory=list)  # (upstream id, node id)
    moved: dict[str, dict[str, float]] = field(default_factory=dict)
    selected_id: str | None = None


def edge_id(upstream_id: str, node_id: str, port: str) -> str:
    return f"{upstream_id}->{node_id}:{port}"


def job_edges(job: Job) -> dict[str, tuple[str, str, str]]:
    """Return every edge of the job by its canvas id, as (upstream id, node id, port)."""
    edges = {}
    for node in job.nodes:
        for port, upstream in sorted(node.inputs.items()):
            if job.has_node(upstream):
                edges[edge_id(upstream, node.id, port)] = (upstream, node.id, port)
    return edges


def node_content(node: Node, badge: str | None) -> str:
    """Return a node's Markdown: its name, its type label and a badge for an error or an
    approximate preview."""
    node_type = NODE_TYPES.get(node.type)
    type_label = node_type.label if node_type else f"unknown type {node.type}"
    content = f"**{node.label}**\n\n{type_label}"
    if badge:
        content += f"\n\n{BADGES[badge]}"
    return content


def flow_type(node: Node) -> str:
    node_type = NODE_TYPES.get(node.type)
    return FLOW_TYPES[node_type.category] if node_type else "default"


def build_nodes(job: Job, badges: dict[str, str]) -> list[StreamlitFlowNode]:
    nodes = []
    for position, node in enumerate(job.nodes):
        place = job.layout.get(node.id) or {"x": 0.0, "y": position * graph.NODE_SPACING_Y}
        nodes.append(
            StreamlitFlowNode(
                id=node.id,
                pos=(float(place["x"]), float(place["y"])),
                data={"content": node_content(node, badges.get(node.id))},
                node_type=flow_type(node),
                source_position="right",
                target_position="left",
                draggable=True,
                selectable=True,
                connectable=True,
                deletable=True,
                style={"width": "190px"},
            )
        )
    return nodes


def build_edges(job: Job) -> list[StreamlitFlowEdge]:
    edges = []
    for identifier, (upstream, node_id, port) in job_edges(job).items():
        label = "" if port == "in" else port
        edges.append(
            StreamlitFlowEdge(
                id=identifier,
                source=upstream,
                target=node_id,
                label=label,
                label_show_bg=bool(label),
                deletable=True,
                focusable=True,
                marker_end={"type": "arrowclosed"},
            )
        )
    return edges


def signature(job: Job, badges: dict[str, str]) -> tuple:
    """Return what the canvas draws apart from positions, which the browser owns."""
    nodes = tuple((node.id, flow_type(node), node_content(node, badges.get(node.id))) for node in job.nodes)
    return nodes, tuple(sorted(job_edges(job)))


# --- reading events ---------------------------------------------------------------------------


def read_event(job: Job, flow: StreamlitFlowState) -> CanvasEvent:
    """Compare the graph the canvas returned with the Job."""
    event = CanvasEvent()
    returned_ids = {node.id for node in flow.nodes}
    event.deleted_nodes = [node.id for node in job.nodes if node.id not in returned_ids]
    returned_edges = {edge.id: edge for edge in flow.edges}
    for identifier, (upstream, node_id, port) in job_edges(job).items():
        removed_with_node = upstream in event.deleted_nodes or node_id in event.deleted_nodes
        if identifier not in returned_edges and not removed_with_node:
            event.deleted_edges.append((node_id, port))
    known = job_edges(job)
    event.new_edges = [(edge.source, edge.target) for edge in flow.edges if edge.id not in known]
    event.moved = _moved(job, flow)
    if flow.selected_id and job.has_node(flow.selected_id):
        event.selected_id = flow.selected_id
    return event


def _moved(job: Job, flow: StreamlitFlowState) -> dict[str, dict[str, float]]:
    moved = {}
    for node in flow.nodes:
        if not job.has_node(node.id):
            continue
        x, y = float(node.position.get("x", 0.0)), float(node.position.get("y", 0.0))
        old = job.layout.get(node.id)
        if old is None or abs(old["x"] - x) > MOVE_TOLERANCE or abs(old["y"] - y) > MOVE_TOLERANCE:
            moved[node.id] = {"x": round(x, 1), "y": round(y, 1)}
    return moved


def apply_event(job: Job, event: CanvasEvent) -> list[str]:
    """Apply a canvas event to the Job and return a message for each rejected connection."""
    for node_id in event.deleted_nodes:
        graph.delete_node(job, node_id)
    for node_id, port in event.deleted_edges:
        graph.disconnect(job, node_id, port)
    rejected = []
    for upstream, node_id in event.new_edges:
        message = _connect(job, upstream, node_id)
        if message:
            rejected.append(message)
    for node_id, position in event.moved.items():
        if job.has_node(node_id):
            job.layout[node_id] = position
    return rejected


def _connect(job: Job, upstream: str, node_id: str) -> str | None:
    if not (job.has_node(upstream) and job.has_node(node_id)):
        return f"connection {upstream!r} to {node_id!r} ignored: one of the nodes no longer exists"
    if upstream == node_id:
        return f"connection from {upstream!r} to itself rejected: a node cannot read its own output"
    try:
        graph.connect(job, upstream, node_id)
    except graph.ConnectionRejectedError as error:
        return f"Connection rejected: {error}"
    return None


# --- the component ----------------------------------------------------------------------------


def canvas_key() -> str:
    return f"{KEY_PREFIX}{st.session_state.get(VERSION, 0)}"


def redraw() -> None:
    """Give the canvas a new key, so the browser draws the Job again on the next run."""
    st.session_state[VERSION] = st.session_state.get(VERSION, 0) + 1
    st.session_state[STAMP] = int(time.time() * 1000)


def _sync_version(job: Job, badges: dict[str, str]) -> None:
    current = signature(job, badges)
    if st.session_state.get(SIGNATURE) != current or STAMP not in st.session_state:
        st.session_state[SIGNATURE] = current
        redraw()


def render(job: Job, badges: dict[str, str]) -> bool:
    """Draw the canvas, apply the event it returned, and return True if the Job changed.

    `badges` maps a node id to "error" or "approximate".
    """
    _sync_version(job, badges)
    flow_state = StreamlitFlowState(
        nodes=build_nodes(job, badges),
        edges=build_edges(job),
        timestamp=st.session_state[STAMP],
    )
    returned = streamlit_flow(
        canvas_key(),
        flow_state,
        height=CANVAS_HEIGHT,
        fit_view=True,
        show_controls=True,
        show_minimap=False,
        allow_new_edges=True,
        get_node_on_click=True,
        enable_node_menu=True,
        enable_edge_menu=True,
        hide_watermark=True,
    )
    return _handle(job, returned)


def _handle(job: Job, returned: StreamlitFlowState) -> bool:
    stamp = returned.timestamp
    if stamp == st.session_state[STAMP] or stamp == st.session_state.get(LAST_EVENT):
        return False
    st.session_state[LAST_EVENT] = stamp
    event = read_event(job, returned)
    if event.selected_id:
        state.select(event.selected_id)
    rejected = apply_event(job, event)
    for message in rejected:
        state.notify("warning", message)
    if rejected:
        redraw()
    changed = bool(event.deleted_nodes or event.deleted_edges or event.new_edges or rejected)
    logger.debug("canvas event %s: %s", stamp, event)
    return changed or bool(event.moved)
