"""Job validation: structure, parameters and schema propagation, reporting every problem."""

from __future__ import annotations

import graphlib
from dataclasses import dataclass, field

from codegen.quoting import PARAMETER_REFERENCE
from designer.errors import JobValidationError, Problem, did_you_mean
from designer.model import IDENTIFIER_PATTERN, Job, Node
from designer.nodes import NODE_TYPES, PARAM_KINDS, NodeError, NodeType
from designer.schema import Schema


@dataclass
class Validation:
    """The outcome of validating a job: every problem, and each valid node's output schema."""

    problems: list[Problem] = field(default_factory=list)
    schemas: dict[str, Schema] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def problems_of(self, node_id: str) -> list[Problem]:
        return [problem for problem in self.problems if problem.node_id == node_id]

    def raise_if_invalid(self) -> None:
        if self.problems:
            raise JobValidationError(self.problems)


def validate(job: Job) -> Validation:
    """Check a job and propagate schemas through every node whose inputs are valid."""
    result = Validation()
    by_id = _check_ids(job, result)
    for node in job.nodes:
        node_type = NODE_TYPES.get(node.type)
        if node_type is None:
            result.problems.append(
                Problem(
                    f"unknown node type {node.type!r}.{did_you_mean(node.type, list(NODE_TYPES))}",
                    node.id,
                )
            )
            continue
        _check_ports(node, node_type, by_id, result)
        _check_params(node, node_type, job, result)
    _check_sampling(job, by_id, result)
    order = _topological_order(job, by_id, result)
    result.order = order
    _propagate_schemas(job, order, by_id, result)
    return result


def topological_order(job: Job) -> list[str]:
    """Return node ids in a deterministic topological order (ready nodes sorted by id)."""
    sorter = graphlib.TopologicalSorter()
    for node in job.nodes:
        sorter.add(node.id, *[up for up in node.inputs.values() if job.has_node(up)])
    sorter.prepare()
    order: list[str] = []
    while sorter.is_active():
        ready = sorted(sorter.get_ready())
        order.extend(ready)
        sorter.done(*ready)
    return order


def _check_ids(job: Job, result: Validation) -> dict[str, Node]:
    by_id: dict[str, Node] = {}
    for node in job.nodes:
        if not IDENTIFIER_PATTERN.match(node.id):
            result.problems.append(
                Problem(
                    f"node id {node.id!r} is not a valid identifier; use letters, digits and "
                    "underscores, starting with a letter",
                    node.id,
                )
            )
        if node.id in by_id:
            result.problems.append(
                Problem(f"duplicate node id {node.id!r}; every node needs its own id", node.id)
            )
            continue
        by_id[node.id] = node
    return by_id


def _check_ports(node: Node, node_type: NodeType, by_id: dict[str, Node], result: Validation) -> None:
    if node_type.dynamic_ports:
        if not node.inputs:
            result.problems.append(
                Problem("the query has no inputs; connect at least one node", node.id, "inputs")
            )
        for port in node.inputs:
            if not IDENTIFIER_PATTERN.match(port):
                result.problems.append(
                    Problem(
                        f"input alias {port!r} is not a valid table name; use letters, digits "
                        "and underscores",
                        node.id,
                        "inputs",
                    )
                )
    else:
        for port in node_type.ports:
            if port not in node.inputs:
                result.problems.append(
                    Problem(f"missing input port {port!r}; connect a node to it", node.id, "inputs")
                )
        for port in node.inputs:
            if port not in node_type.ports:
                expected = ", ".join(repr(p) for p in node_type.ports) or "no inputs"
                result.problems.append(
                    Problem(
                        f"unknown input port {port!r}; {node_type.label} takes {expected}",
                        node.id,
                        "inputs",
                    )
                )
    for port, upstream in node.inputs.items():
        if upstream not in by_id:
            result.problems.append(
                Problem(
                    f"input {port!r} names node {upstream!r}, which does not exist."
                    f"{did_you_mean(upstream, list(by_id))}",
                    node.id,
                    "inputs",
                )
            )


def _check_params(node: Node, node_type: NodeType, job: Job, result: Validation) -> None:
    known = {param.name for param in node_type.params}
    for name in node.params:
        if name not in known:
            result.problems.append(
                Problem(f"unknown parameter {name!r}.{did_you_mean(name, sorted(known))}", node.id, name)
            )
    parameter_names = set(job.parameter_defaults())
    for param in node_type.params:
        value = node.params.get(param.name)
        if value is None or value == "" or value == []:
            if param.required:
                result.problems.append(
                    Problem(
                        f"missing required parameter {param.name!r} ({param.label})",
                        node.id,
                        param.name,
                    )
                )
            continue
        expected = PARAM_KINDS[param.kind]
        if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
            result.problems.append(
                Problem(
                    f"{param.name} must be a {expected.__name__}, not {type(value).__name__} ({value!r})",
                    node.id,
                    param.name,
                )
            )
            continue
        if param.choices and value not in param.choices:
            result.problems.append(
                Problem(
                    f"{value!r} is not a valid {param.label.lower()}; use one of "
                    f"{', '.join(param.choices)}.{did_you_mean(value, list(param.choices))}",
                    node.id,
                    param.name,
                )
            )
        if param.kind == "string":
            _check_parameter_references(node, param.name, value, parameter_names, result)


def _check_parameter_references(node, name, value, parameter_names, result) -> None:
    for match in PARAMETER_REFERENCE.finditer(value):
        if match.group(1) not in parameter_names:
            result.problems.append(
                Problem(
                    f"${{{match.group(1)}}} names no job parameter; add it under Job details "
                    f"or fix the name.{did_you_mean(match.group(1), sorted(parameter_names))}",
                    node.id,
                    name,
                )
            )


def _check_sampling(job: Job, by_id: dict[str, Node], result: Validation) -> None:
    for node_id in job.sampling:
        node = by_id.get(node_id)
        if node is None or not node.type.startswith("source."):
            result.problems.append(
                Problem(
                    f"preview sampling names {node_id!r}, which is not a source node; remove the "
                    f"entry or name a source.{did_you_mean(node_id, [n.id for n in job.nodes])}",
                    None,
                    "preview.sampling",
                )
            )


def _topological_order(job: Job, by_id: dict[str, Node], result: Validation) -> list[str]:
    try:
        return topological_order(job)
    except graphlib.CycleError as error:
        cycle = error.args[1]
        path = " -> ".join(cycle)
        result.problems.append(
            Problem(
                f"the graph has a cycle: {path}; remove one of these connections",
                cycle[0],
                "inputs",
            )
        )
        return _order_outside_cycles(job)


def _order_outside_cycles(job: Job) -> list[str]:
    """Return, in topological order, the nodes that neither sit in a cycle nor read from one."""
    pending = {node.id: {up for up in node.inputs.values() if job.has_node(up)} for node in job.nodes}
    order: list[str] = []
    while True:
        ready = sorted(node_id for node_id, upstream in pending.items() if upstream <= set(order))
        if not ready:
            return order
        order.extend(ready)
        for node_id in ready:
            del pending[node_id]


def _propagate_schemas(job: Job, order: list[str], by_id: dict[str, Node], result: Validation) -> None:
    failed = {problem.node_id for problem in result.problems}
    for node_id in order:
        node = by_id.get(node_id)
        if node is None or node_id in failed:
            continue
        if any(upstream not in result.schemas for upstream in node.inputs.values()):
            continue
        inputs = {port: result.schemas[upstream] for port, upstream in node.inputs.items()}
        try:
            result.schemas[node_id] = NODE_TYPES[node.type].output_schema(node, inputs)
        except NodeError as error:
            result.problems.append(Problem(error.message, node_id, error.parameter))
