"""Graph edits the designer makes on a job: add a node, connect two nodes, free a port.

These functions change the Job only and do not use Streamlit. The rules for which port a
new connection takes and which connections are rejected can so be tested directly.
"""

from __future__ import annotations

import logging

from designer.errors import SparkCanvasError
from designer.model import Job, Node
from designer.nodes import NODE_TYPES

logger = logging.getLogger(__name__)

NODE_SPACING_X = 280.0
NODE_SPACING_Y = 120.0


class ConnectionRejectedError(SparkCanvasError):
    """A connection the job cannot take: a cycle, a target as upstream, or no free port."""


def has_output(node: Node) -> bool:
    node_type = NODE_TYPES.get(node.type)
    return node_type is not None and node_type.category != "target"


def takes_inputs(node: Node) -> bool:
    node_type = NODE_TYPES.get(node.type)
    return node_type is not None and (node_type.dynamic_ports or bool(node_type.ports))


def free_port(job: Job, upstream_id: str, node: Node) -> str | None:
    """Return the port a new connection from `upstream_id` takes on `node`, or None if none is free.

    Fixed ports fill in declaration order, so a join's first connection is `left`. A SQL
    node names the new input after the upstream id, numbered if that alias is taken.
    """
    node_type = NODE_TYPES.get(node.type)
    if node_type is None:
        return None
    if node_type.dynamic_ports:
        return _free_alias(node, upstream_id)
    for port in node_type.ports:
        if port not in node.inputs:
            return port
    return None


def _free_alias(node: Node, upstream_id: str) -> str:
    alias, number = upstream_id, 2
    while alias in node.inputs:
        alias = f"{upstream_id}_{number}"
        number += 1
    return alias


def is_ancestor(job: Job, candidate: str, node_id: str) -> bool:
    """Return True if `candidate` is `node_id` or feeds it, directly or through other nodes."""
    seen: set[str] = set()
    stack = [node_id]
    while stack:
        current = stack.pop()
        if current == candidate:
            return True
        if current in seen or not job.has_node(current):
            continue
        seen.add(current)
        stack.extend(job.node(current).inputs.values())
    return False


def connect(job: Job, upstream_id: str, node_id: str) -> str:
    """Connect `upstream_id` to a free input port of `node_id` and return the port name.

    Raises ConnectionRejectedError, with the reason and the fix, when the connection would
    read from a target, feed a source, fill no free port, or close a cycle.
    """
    upstream, node = job.node(upstream_id), job.node(node_id)
    if not has_output(upstream):
        raise ConnectionRejectedError(
            f"{upstream.label!r} is a target and has no output. Connect from a source or transform."
        )
    if not takes_inputs(node):
        raise ConnectionRejectedError(
            f"{node.label!r} is a source and takes no input. Connect it to a transform or target."
        )
    if is_ancestor(job, node_id, upstream_id):
        raise ConnectionRejectedError(
            f"connecting {upstream.label!r} to {node.label!r} would close a cycle, "
            "because it already feeds it. A job must flow one way."
        )
    port = free_port(job, upstream_id, node)
    if port is None:
        ports = ", ".join(NODE_TYPES[node.type].ports)
        raise ConnectionRejectedError(
            f"{node.label!r} already has every input port connected ({ports}). "
            "Delete an edge first, or choose the upstream node in its properties."
        )
    node.inputs[port] = upstream_id
    logger.info("connected %s to %s.%s", upstream_id, node_id, port)
    return port


def add_node(job: Job, type_name: str, selected_id: str | None) -> Node:
    """Add a node of a type with its initial parameters, connected to the selected node when valid."""
    node_type = NODE_TYPES[type_name]
    node = Node(
        id=job.new_node_id(node_type.label),
        type=type_name,
        name=_free_name(job, node_type.label),
        params=node_type.initial_params(),
    )
    job.nodes.append(node)
    job.layout[node.id] = _position_for(job, selected_id)
    if selected_id and job.has_node(selected_id):
        _connect_if_valid(job, selected_id, node.id)
    logger.info("added node %s (%s)", node.id, type_name)
    return node


def _connect_if_valid(job: Job, upstream_id: str, node_id: str) -> None:
    try:
        connect(job, upstream_id, node_id)
    except ConnectionRejectedError as error:
        logger.info("new node %s left unconnected: %s", node_id, error)


def _free_name(job: Job, label: str) -> str:
    names = {node.name for node in job.nodes}
    name, number = label, 2
    while name in names:
        name = f"{label} {number}"
        number += 1
    return name


def _position_for(job: Job, selected_id: str | None) -> dict[str, float]:
    """Place a new node right of the selected node, or below every other node."""
    if selected_id and selected_id in job.layout:
        anchor = job.layout[selected_id]
        position = {"x": anchor["x"] + NODE_SPACING_X, "y": anchor["y"]}
    elif job.layout:
        lowest = max(pos["y"] for pos in job.layout.values())
        position = {"x": 0.0, "y": lowest + NODE_SPACING_Y}
    else:
        position = {"x": 0.0, "y": 0.0}
    while _occupied(job, position):
        position = {"x": position["x"], "y": position["y"] + NODE_SPACING_Y}
    return position


def _occupied(job: Job, position: dict[str, float]) -> bool:
    return any(
        abs(pos["x"] - position["x"]) < NODE_SPACING_X / 2
        and abs(pos["y"] - position["y"]) < NODE_SPACING_Y / 2
        for pos in job.layout.values()
    )


def disconnect(job: Job, node_id: str, port: str) -> None:
    node = job.node(node_id)
    upstream = node.inputs.pop(port, None)
    logger.info("disconnected %s from %s.%s", upstream, node_id, port)


def delete_node(job: Job, node_id: str) -> None:
    job.remove_node(node_id)
    logger.info("deleted node %s", node_id)
