"""Small jobs built in code for the tests."""

from __future__ import annotations

from codegen.duckdb_preview import infer_file_schema
from designer.model import Job, JobParameter, Node
from designer.nodes import NODE_TYPES
from designer.schema import schema_to_params
from tests.conftest import TEST_DATA

PEOPLE_COLUMNS = [
    {"name": "id", "type": "bigint"},
    {"name": "name", "type": "string"},
    {"name": "city", "type": "string"},
    {"name": "score", "type": "double"},
    {"name": "joined", "type": "date"},
]
ORDERS_COLUMNS = [
    {"name": "order_id", "type": "int"},
    {"name": "person_id", "type": "bigint"},
    {"name": "amount", "type": "double"},
    {"name": "note", "type": "string"},
]


def node(node_id: str, node_type: str, inputs: dict | None = None, **params) -> Node:
    """Create a node with the type's default parameters, overridden by `params`."""
    values = NODE_TYPES[node_type].initial_params()
    values.update(params)
    return Node(node_id, node_type, node_id.replace("_", " ").capitalize(), inputs or {}, values)


def source(node_id: str, path: str, columns: list[dict] | None = None, **params) -> Node:
    file_format = params.get("format", "csv")
    if columns is None:
        columns = schema_to_params(infer_file_schema(str(path), file_format, params))
    return node(node_id, "source.file", path=str(path), columns=columns, **params)


def people() -> Node:
    return source("people", TEST_DATA / "people.csv", PEOPLE_COLUMNS)


def orders() -> Node:
    return source("orders", TEST_DATA / "orders.csv", ORDERS_COLUMNS)


def job(*nodes: Node, sample_rows: int = 100_000, parameters=()) -> Job:
    return Job(
        name="test_job",
        nodes=list(nodes),
        sample_rows=sample_rows,
        parameters=[JobParameter(name, default) for name, default in parameters],
    )
