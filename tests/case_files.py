"""Fidelity cases kept as data: load them from tests/fidelity_cases/*.json, build a job for
each, run it on the preview or on Spark, and bring the rows to a JSON form both compare in.

A case names its input tables under `tables` (alias -> table). An inline table has
`columns` (pairs of name and Spark type) and `rows`; it is written to a Parquet file with
that schema. A file table has `path` (relative to the project root) or `generate` (the name
of a generator in GENERATED_FILES), a `format`, `columns` and reader `options`. A case then
has at most one of `expression` (a derived column named `result`), `filter`, `query` (a
transform.sql node over the aliases) or `job` (nodes as in a job file). A case with none of
them checks the source itself.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import duckdb

from codegen.duckdb_preview import PreviewEngine
from codegen.expressions import empty_table_sql
from codegen.quoting import sql_identifier, sql_literal
from designer.model import Job, Node
from designer.nodes import NODE_TYPES
from designer.schema import normalize_type
from tests.fidelity import spark_rows

CASES_FOLDER = Path(__file__).resolve().parent / "fidelity_cases"
RESULT_NODE = "result"
CASE_KINDS = ("expression", "filter", "query", "job")


@dataclass
class Outcome:
    """What one engine gave for a case: rows in JSON form, or the error message."""

    rows: list | None = None
    error: str | None = None


def load_cases(folder: Path = CASES_FOLDER) -> list[dict]:
    """Return every case of every family file, in file order, with unique ids."""
    cases: list[dict] = []
    seen: set[str] = set()
    for path in sorted(folder.glob("*.json")):
        for case in json.loads(path.read_text(encoding="utf-8")):
            if case["id"] in seen:
                raise ValueError(f"case id {case['id']!r} appears twice; the second is in {path.name}")
            seen.add(case["id"])
            cases.append({**case, "file": path.name})
    return cases


# --- input tables ------------------------------------------------------------------------------


def _write_inline_table(table: dict, folder: Path) -> Path:
    """Write an inline table to Parquet with its declared types; the same table gives the same file."""
    digest = hashlib.sha256(json.dumps(table, sort_keys=True).encode()).hexdigest()[:16]
    path = folder / f"table_{digest}.parquet"
    if path.exists():
        return path
    schema = [_column(name, type_name) for name, type_name in table["columns"]]
    connection = duckdb.connect(":memory:")
    try:
        connection.execute("SET TimeZone = 'UTC'")
        connection.execute(empty_table_sql("input", schema))
        if table["rows"]:
            placeholders = ", ".join("?" for _ in schema)
            connection.executemany(
                f"INSERT INTO {sql_identifier('input')} VALUES ({placeholders})", table["rows"]
            )
        connection.execute(f"COPY {sql_identifier('input')} TO {sql_literal(str(path))} (FORMAT parquet)")
    finally:
        connection.close()
    return path


def _column(name: str, type_name: str):
    from designer.schema import Column

    return Column(name, normalize_type(type_name))


def _late_quoted_delimiter(path: Path) -> None:
    """20,000 plain rows, then a quoted value with the delimiter in it: a sniffer would miss it."""
    lines = ["id,name,amount"]
    lines += [f"{number},name{number},{number % 100}" for number in range(1, 20_001)]
    lines.append('20001,"Smith, John",7')
    lines.append('20002,"a ""quoted"", value",8')
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


GENERATED_FILES = {"late_quoted_delimiter.csv": _late_quoted_delimiter}


def _file_path(table: dict, folder: Path) -> Path:
    if "path" in table:
        return Path(table["path"])
    path = folder / table["generate"]
    if not path.exists():
        GENERATED_FILES[table["generate"]](path)
    return path


def source_node(alias: str, table: dict, folder: Path) -> Node:
    """Return a file source that reads one of a case's tables."""
    columns = [{"name": name, "type": type_name} for name, type_name in table["columns"]]
    if "rows" in table:
        params = {"path": str(_write_inline_table(table, folder)), "format": "parquet"}
    else:
        params = {"path": str(_file_path(table, folder)), "format": table.get("format", "csv")}
        params.update(table.get("options", {}))
    return _node(alias, "source.file", {}, {**params, "columns": columns})


def _node(node_id: str, node_type: str, inputs: dict, params: dict) -> Node:
    values = NODE_TYPES[node_type].initial_params()
    values.update(params)
    return Node(node_id, node_type, node_id, dict(inputs), values)


# --- jobs --------------------------------------------------------------------------------------


def case_job(case: dict, folder: Path) -> tuple[Job, str]:
    """Return the job of a case and the id of the node whose rows it checks."""
    nodes = [source_node(alias, table, folder) for alias, table in case["tables"].items()]
    first = next(iter(case["tables"]))
    if "expression" in case:
        params = {"column": RESULT_NODE, "expression": case["expression"]}
        nodes.append(_node(RESULT_NODE, "transform.derived_column", {"in": first}, params))
    elif "filter" in case:
        nodes.append(_node(RESULT_NODE, "transform.filter", {"in": first}, {"condition": case["filter"]}))
    elif "query" in case:
        inputs = {alias: alias for alias in case["tables"]}
        nodes.append(_node(RESULT_NODE, "transform.sql", inputs, {"query": case["query"]}))
    elif "job" in case:
        for item in case["job"]:
            nodes.append(_node(item["id"], item["type"], item.get("inputs", {}), item.get("params", {})))
    result = nodes[-1].id
    return Job(name="fidelity_case", nodes=nodes, sample_rows=100_000), result


def run_preview(case: dict, folder: Path) -> Outcome:
    the_job, result = case_job(case, folder)
    preview = PreviewEngine().preview(the_job, result)
    if not preview.ok:
        return Outcome(error=preview.error)
    rows = [list(row.values()) for row in preview.table.to_pylist()]
    return Outcome(rows=json_rows(rows))


def run_spark(spark, case: dict, folder: Path) -> Outcome:
    the_job, result = case_job(case, folder)
    try:
        _, rows = spark_rows(spark, the_job, result)
    except Exception as error:  # Py4J and PySpark raise several unrelated types
        return Outcome(error=str(error))
    return Outcome(rows=json_rows(rows))


class SparkOutcomes:
    """Spark's outcome of each case, computed on first request and shared by the tests.

    Expression cases over the same tables that expect rows run as one job: one derived
    column node per case, chained, so Spark reads the table and plans once per group.
    A group that fails runs again case by case.
    """

    def __init__(self, spark, cases: list[dict], folder: Path):
        self.spark = spark
        self.folder = folder
        self.outcomes: dict[str, Outcome] = {}
        self.groups: dict[str, list[dict]] = {}
        for case in cases:
            if "expression" in case and "expected" in case:
                self.groups.setdefault(_tables_key(case), []).append(case)

    def get(self, case: dict) -> Outcome:
        if case["id"] not in self.outcomes:
            group = self.groups.get(_tables_key(case), []) if "expected" in case else []
            if case in group and len(group) > 1:
                self.outcomes.update(run_spark_group(self.spark, group, self.folder))
            else:
                self.outcomes[case["id"]] = run_spark(self.spark, case, self.folder)
        return self.outcomes[case["id"]]


def _tables_key(case: dict) -> str:
    return json.dumps(case["tables"], sort_keys=True)


def run_spark_group(spark, cases: list[dict], folder: Path) -> dict[str, Outcome]:
    """Run expression cases over the same tables as one job, or one by one if that job fails."""
    nodes = [source_node(alias, table, folder) for alias, table in cases[0]["tables"].items()]
    upstream = nodes[0].id
    for position, case in enumerate(cases):
        node_id = f"result_{position}"
        params = {"column": node_id, "expression": case["expression"]}
        nodes.append(_node(node_id, "transform.derived_column", {"in": upstream}, params))
        upstream = node_id
    width = len(next(iter(cases[0]["tables"].values()))["columns"])
    try:
        _, rows = spark_rows(spark, Job(name="fidelity_group", nodes=nodes, sample_rows=100_000), upstream)
    except Exception:  # one case raised: find out which by running each alone
        return {case["id"]: run_spark(spark, case, folder) for case in cases}
    return {
        case["id"]: Outcome(rows=json_rows([row[:width] + (row[width + position],) for row in rows]))
        for position, case in enumerate(cases)
    }


# --- comparison --------------------------------------------------------------------------------


def json_value(value):
    """Return a value in the form the case files store: ISO text for dates, text for decimals."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return float(f"{value:.10g}")
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if hasattr(value, "asDict"):  # a PySpark Row, which is also a tuple
        return {key: json_value(item) for key, item in value.asDict().items()}
    if isinstance(value, dict):
        return {key: json_value(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_value(item) for item in value]
    if isinstance(value, (bytes, bytearray)):
        return value.hex()
    raise TypeError(f"no JSON form for {type(value).__name__} value {value!r}")


def json_rows(rows) -> list[list]:
    return [[json_value(value) for value in row] for row in rows]


def comparable(rows: list[list], ordered: bool) -> list[list]:
    """Return rows in a canonical order unless the case checks the order itself."""
    if ordered:
        return rows
    return sorted(rows, key=lambda row: json.dumps(row, sort_keys=True))


def check_outcome(case: dict, outcome: Outcome, engine: str) -> None:
    """Assert that one engine's outcome is the case's expected rows or error."""
    if "expected_error" in case:
        wanted = (
            case["expected_error"] if engine == "spark" else case.get("preview_error", case["expected_error"])
        )
        assert outcome.error is not None, (
            f"{engine} returned rows {outcome.rows}, expected an error with {wanted!r}"
        )
        assert wanted in outcome.error, f"{engine} error lacks {wanted!r}: {outcome.error}"
        return
    assert outcome.error is None, f"{engine} failed: {outcome.error}"
    ordered = bool(case.get("ordered"))
    # Comparing JSON text keeps 1 and 1.0 apart, as a user reading the preview would.
    actual = json.dumps(comparable(outcome.rows, ordered), ensure_ascii=False)
    expected = json.dumps(comparable(case["expected"], ordered), ensure_ascii=False)
    assert actual == expected
