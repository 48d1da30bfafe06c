"""Benchmark of the DuckDB preview against local Spark and hand-written DuckDB SQL.

Run from the repository root:

    python -m benchmarks.preview [--rows N] [--repeats K] [--output BENCHMARKS.md]

It generates trip-like Parquet data (seeded, cached between runs) and builds a six-node
job: source, filter, derived column, join to a zones table, aggregate, target. It prints
each measure as one JSON object per line and ends with a line of ratios. With --output it
rewrites its own section of that Markdown file.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb

from benchmarks import children, report
from benchmarks.data import DEFAULT_SEED, DataFiles, default_data_folder, ensure_big_source, ensure_data
from codegen.duckdb_preview import DUCKDB_CONFIG, PreviewEngine, infer_file_schema, source_file_sql
from codegen.pyspark import node_blocks, variable_name
from designer.model import DEFAULT_SAMPLE_ROWS, Job, Node, job_to_dict
from designer.nodes import NODE_TYPES
from designer.schema import schema_to_params
from designer.validation import validate

log = logging.getLogger(__name__)

DEFAULT_ROWS = 1_000_000
DEFAULT_REPEATS = 10
TARGET_NODE = "write_summary"
FILTER_NODE = "long_trips"
AGGREGATE_NODE = "by_borough"
FILTER_CONDITION = "distance > 0.5 AND payment <> 'dispute'"
EDITED_FILTER_CONDITION = "distance > 1.0 AND payment <> 'dispute'"
WARM_DEFINITION = (
    "before the timed runs, one untimed preview of the same job ran in this process, so "
    "the Parquet files are in the OS file cache and DuckDB, pyarrow and sqlglot are loaded; "
    "each timed run uses a new PreviewEngine, so no node result is cached"
)
# The same computation as the job, written by hand as one DuckDB query.
HAND_WRITTEN_SQL = """
SELECT z.borough, t.payment,
       count(*) AS trips,
       sum(t.fare) AS total_fare,
       avg(t.fare / t.distance) AS avg_fare_per_mile
FROM read_parquet({trips}) AS t
JOIN read_parquet({zones}) AS z ON t.zone_id = z.zone_id
WHERE t.distance > 0.5 AND t.payment <> 'dispute'
GROUP BY z.borough, t.payment
"""
# Spawning through sh gives the measured process a fresh rusage record: Linux carries the
# parent's RSS peak into ru_maxrss across exec, and the benchmark process is large.
FRESH_RUSAGE_PREFIX = ["/bin/sh", "-c", '"$0" "$@"; exit $?']


@dataclass
class Settings:
    """Command-line settings of one benchmark run."""

    rows: int = DEFAULT_ROWS
    repeats: int = DEFAULT_REPEATS
    seed: int = DEFAULT_SEED
    data_folder: Path | None = None
    big_source_gb: float | None = None
    spark: bool = True
    output: Path | None = None
    command: str = ""


# --- the job ---------------------------------------------------------------------------------


def build_job(files: DataFiles | None, sample_rows: int, trips: Path | None = None) -> Job:
    """Build the benchmark job over the trips and zones files, previewing `sample_rows` rows."""
    trips_path = trips or files.trips
    nodes = [
        _source("trips", trips_path),
        _source("zones", files.zones),
        _node("long_trips", "transform.filter", {"in": "trips"}, condition=FILTER_CONDITION),
        _node(
            "priced",
            "transform.derived_column",
            {"in": "long_trips"},
            column="fare_per_mile",
            expression="fare / distance",
        ),
        _node(
            "with_zones",
            "transform.join",
            {"left": "priced", "right": "zones"},
            join_type="inner",
            keys=[{"left": "zone_id", "right": "zone_id"}],
        ),
        _node(
            AGGREGATE_NODE,
            "transform.aggregate",
            {"in": "with_zones"},
            group_by=["borough", "payment"],
            aggregations=[
                {"function": "count", "column": "*", "name": "trips"},
                {"function": "sum", "column": "fare", "name": "total_fare"},
                {"function": "avg", "column": "fare_per_mile", "name": "avg_fare_per_mile"},
            ],
        ),
        _node(TARGET_NODE, "target.file", {"in": AGGREGATE_NODE}, path="output/benchmark_summary"),
    ]
    return Job(name="preview_benchmark", sample_rows=sample_rows, nodes=nodes)


def _node(node_id: str, node_type: str, inputs: dict, **params) -> Node:
    values = NODE_TYPES[node_type].initial_params()
    values.update(params)
    return Node(node_id, node_type, node_id.replace("_", " ").capitalize(), inputs, values)


def _source(node_id: str, path: Path) -> Node:
    columns = schema_to_params(infer_file_schema(str(path), "parquet"))
    return _node(node_id, "source.file", {}, path=str(path), format="parquet", columns=columns)


def edit_filter(job: Job) -> Job:
    """Return a copy of the job with the filter's threshold raised."""
    edited = job.copy()
    edited.node(FILTER_NODE).params["condition"] = EDITED_FILTER_CONDITION
    return edited


def edit_aggregate(job: Job) -> Job:
    """Return a copy of the job whose aggregate takes the maximum fare per mile, not the mean."""
    edited = job.copy()
    aggregations = edited.node(AGGREGATE_NODE).params["aggregations"]
    aggregations[2] = {"function": "max", "column": "fare_per_mile", "name": "max_fare_per_mile"}
    return edited


EDITS = {
    "filter": (edit_filter, ["long_trips", "priced", "with_zones", AGGREGATE_NODE, TARGET_NODE]),
    "aggregate": (edit_aggregate, [AGGREGATE_NODE, TARGET_NODE]),
}


# --- timing helpers --------------------------------------------------------------------------


def summarize(samples_ms: list[float]) -> dict:
    """Return the median, the 90th percentile and the minimum of timings in milliseconds.

    The minimum is the run least slowed by other processes on the machine.
    """
    ordered = sorted(samples_ms)
    p90 = statistics.quantiles(ordered, n=10, method="inclusive")[8] if len(ordered) > 1 else ordered[0]
    return {
        "median_ms": round(statistics.median(ordered), 2),
        "p90_ms": round(p90, 2),
        "min_ms": round(ordered[0], 2),
        "repeats": len(ordered),
    }


def _elapsed_ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000


def preview_target(engine: PreviewEngine, job: Job):
    """Preview the job's last node with `engine`, raising if the preview failed."""
    preview = engine.preview(job, TARGET_NODE)
    if not preview.ok:
        raise RuntimeError(f"preview of {TARGET_NODE} failed: {preview.error}")
    return preview


# --- preview measures ------------------------------------------------------------------------


def measure_warm_preview(job: Job, repeats: int) -> dict:
    """Time the last node's preview, each run with a new engine and nothing cached."""
    preview_target(PreviewEngine(), job)
    samples = []
    for _ in range(repeats):
        engine = PreviewEngine()
        started = time.perf_counter()
        preview = preview_target(engine, job)
        samples.append(_elapsed_ms(started))
    return {
        "measure": "warm_preview",
        "sample_rows": job.sample_rows,
        **summarize(samples),
        "source_rows": preview.sources,
        "result_rows": preview.row_count,
        "definition": WARM_DEFINITION,
    }


def measure_edit(job: Job, repeats: int, edit_name: str) -> dict:
    """Time a re-preview after editing one node, with the engine's cache from the unedited job."""
    edit, expected = EDITS[edit_name]
    edited = edit(job)
    samples = []
    computed: list[str] = []
    for _ in range(repeats):
        engine = PreviewEngine()
        preview_target(engine, job)
        engine.computed.clear()
        started = time.perf_counter()
        preview_target(engine, edited)
        samples.append(_elapsed_ms(started))
        computed = list(engine.computed)
        if computed != expected:
            raise RuntimeError(f"editing the {edit_name} recomputed {computed}; expected {expected}")
    return {
        "measure": f"edit_{edit_name}",
        "sample_rows": job.sample_rows,
        **summarize(samples),
        "recomputed": computed,
    }


def measure_breakdown(job: Job, repeats: int) -> dict:
    """Split a cold-cache preview into validation, per-node work and DuckDB connection setup."""
    validate_samples, total_samples = [], []
    node_samples: dict[str, list[float]] = {}
    for _ in range(repeats):
        started = time.perf_counter()
        validation = validate(job)
        validate_samples.append(_elapsed_ms(started))
        results = PreviewEngine().preview_all(job, validation)
        total_samples.append(_elapsed_ms(started))
        for node_id, result in results.items():
            node_samples.setdefault(node_id, []).append(result.seconds * 1000)
    nodes_ms = {node_id: round(statistics.median(values), 2) for node_id, values in node_samples.items()}
    total_ms = statistics.median(total_samples)
    validate_ms = statistics.median(validate_samples)
    return {
        "measure": "preview_breakdown",
        "sample_rows": job.sample_rows,
        "total_ms": round(total_ms, 2),
        "validate_ms": round(validate_ms, 2),
        "nodes_ms": nodes_ms,
        "other_ms": round(total_ms - validate_ms - sum(nodes_ms.values()), 2),
        "new_database_ms": _median_ms(_open_new_database, repeats),
        "cursor_ms": _median_ms(_open_cursor, repeats, digits=3),
        "databases_per_preview": sum(1 for node in job.nodes if not node.type.startswith("target.")),
        **measure_source_query(job, validation, repeats),
    }


def measure_source_query(job: Job, validation, repeats: int) -> dict:
    """Time the trips source's preview query alone, with and without DuckDB's late materialization.

    DuckDB 2.0.1 plans `LIMIT n` over Parquet as a second scan joined on row numbers and
    sorted, which is slow when n is large. The second figure shows what that plan costs.
    """
    node = job.node("trips")
    sql = source_file_sql(node, job, validation.schemas["trips"], job.sample_rows)

    def run(settings: list[str]) -> Callable[[], object]:
        def query() -> None:
            connection = duckdb.connect(":memory:", config=DUCKDB_CONFIG)
            for setting in ["SET threads = 1", *settings]:
                connection.execute(setting)
            connection.sql(sql).to_arrow_table()
            connection.close()

        return query

    return {
        "trips_query_ms": _median_ms(run([]), repeats),
        "trips_query_without_late_materialization_ms": _median_ms(
            run(["SET disabled_optimizers = 'late_materialization'"]), repeats
        ),
    }


def _median_ms(function: Callable[[], object], repeats: int, digits: int = 2) -> float:
    samples = []
    for _ in range(max(repeats, 3)):
        started = time.perf_counter()
        function()
        samples.append(_elapsed_ms(started))
    return round(statistics.median(samples), digits)


def _open_new_database() -> None:
    """Open and close a new in-memory database, as the preview does for each node."""
    duckdb.connect(":memory:", config=DUCKDB_CONFIG).close()


_SHARED_DATABASE: duckdb.DuckDBPyConnection | None = None


def _open_cursor() -> None:
    """Open and close one more connection to an already open database."""
    global _SHARED_DATABASE
    if _SHARED_DATABASE is None:
        _SHARED_DATABASE = duckdb.connect(":memory:", config=DUCKDB_CONFIG)
    _SHARED_DATABASE.cursor().close()


# --- baselines -------------------------------------------------------------------------------


def hand_written_sql(files: DataFiles) -> str:
    return HAND_WRITTEN_SQL.format(trips=_sql_string(files.trips), zones=_sql_string(files.zones))


def _sql_string(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def measure_duckdb_sql(files: DataFiles, repeats: int, preview_rows: list[dict]) -> dict:
    """Time the hand-written query, each run in a new connection as the preview opens its own."""
    sql = hand_written_sql(files)
    samples = []
    for _ in range(repeats + 1):
        started = time.perf_counter()
        connection = duckdb.connect(":memory:", config=DUCKDB_CONFIG)
        table = connection.sql(sql).to_arrow_table()
        connection.close()
        samples.append(_elapsed_ms(started))
    return {
        "measure": "duckdb_sql",
        **summarize(samples[1:]),
        "result_rows": table.num_rows,
        "matches_preview": same_summary(table.to_pylist(), preview_rows),
        "definition": "the hand-written query in a new in-memory DuckDB connection per run, "
        "after one untimed run",
    }


def same_summary(rows: list[dict], other: list[dict]) -> bool:
    """Return whether two summaries have the same groups, counts and sums (sums to 1e-6)."""

    def keyed(items):
        return {(row["borough"], row["payment"]): row for row in items}

    left, right = keyed(rows), keyed(other)
    if left.keys() != right.keys():
        return False
    return all(
        left[key]["trips"] == right[key]["trips"]
        and abs(left[key]["total_fare"] - right[key]["total_fare"])
        <= 1e-6 * max(1.0, abs(left[key]["total_fare"]))
        for key in left
    )


def spark_code(job: Job) -> tuple[str, str]:
    """Return the job's PySpark blocks without the target, and the variable the target would write."""
    blocks = [block for block in node_blocks(job) if not job.node(block.node_id).type.startswith("target.")]
    code = "\n\n".join(block.code for block in blocks)
    return code, variable_name(job.node(TARGET_NODE).inputs["in"])


def measure_spark_cold(job: Job) -> dict:
    """Time a new Python process from its start until a new local session has collected the rows."""
    code, result = spark_code(job)
    spec = {
        "app_name": "preview-benchmark-cold",
        "time_zone": job.session_time_zone,
        "code": code,
        "result": result,
    }
    started = time.time()
    output = _run_child("spark-cold", spec)
    return {
        "measure": "spark_cold",
        "seconds": round(output["collected_at"] - started, 3),
        "median_ms": round((output["collected_at"] - started) * 1000, 1),
        "result_rows": output["rows"],
        "definition": "one run: a new Python process starts a local[*] SparkSession, runs the node "
        "blocks and collects, timed from before the process is spawned until the rows are collected",
    }


def measure_spark_warm(job: Job, repeats: int) -> dict:
    """Time the node blocks and collect() in one open session, after one untimed run."""
    from pyspark.sql import SparkSession

    code, result = spark_code(job)
    spark = children.spark_session(SparkSession.builder, "preview-benchmark-warm", job.session_time_zone)
    try:
        rows = children.run_blocks(spark, code, result)
        samples = []
        for _ in range(repeats):
            started = time.perf_counter()
            rows = children.run_blocks(spark, code, result)
            samples.append(_elapsed_ms(started))
    finally:
        spark.stop()
    return {
        "measure": "spark_warm",
        **summarize(samples),
        "result_rows": len(rows),
        "definition": "an open local[*] SparkSession that already ran the same blocks once; "
        "each run executes the node blocks and collects",
    }


def measure_peak_memory(job: Job, label: str) -> dict:
    """Preview the last node in a new process and return its RSS high-water mark."""
    spec = {"job": job_to_dict(job), "node": TARGET_NODE}
    output = _run_child("peak-memory", spec, fresh_rusage=True)
    return {
        "measure": "peak_memory",
        "source": label,
        "sample_rows": job.sample_rows,
        "peak_rss_mib": round(output["peak_rss_mib"], 1),
        "rss_after_imports_mib": round(output["rss_after_imports_mib"], 1),
        "vm_hwm_mib": None if output["vm_hwm_mib"] is None else round(output["vm_hwm_mib"], 1),
        "cached_arrow_mib": None
        if output["cached_arrow_mib"] is None
        else round(output["cached_arrow_mib"], 1),
        "source_rows": output["sources"],
        "preview_seconds": round(output["seconds"], 3),
    }


def _run_child(command: str, spec: dict, fresh_rusage: bool = False) -> dict:
    arguments = [sys.executable, "-m", "benchmarks.children", command]
    if fresh_rusage:
        arguments = FRESH_RUSAGE_PREFIX + arguments
    completed = subprocess.run(arguments, input=json.dumps(spec), capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        tail = completed.stderr.strip().splitlines()[-5:]
        raise RuntimeError(
            f"benchmarks.children {command} failed ({completed.returncode}): {' | '.join(tail)}"
        )
    return json.loads(completed.stdout.strip().splitlines()[-1])


# --- the run ---------------------------------------------------------------------------------


def ratios(records: list[dict], rows: int, spark: bool) -> dict:
    """Return the ratios line, from the measures whose preview reads all `rows` rows."""
    by_name = {record["measure"]: record for record in records if record.get("sample_rows") in (None, rows)}
    preview_ms = by_name["warm_preview"]["median_ms"]
    line = {
        "measure": "ratios",
        "spark_warm_over_preview": None,
        "spark_cold_over_preview": None,
        "preview_over_duckdb_sql": round(preview_ms / by_name["duckdb_sql"]["median_ms"], 2),
        "spark": "measured" if spark else "skipped",
    }
    if spark:
        line["spark_warm_over_preview"] = round(by_name["spark_warm"]["median_ms"] / preview_ms, 2)
        line["spark_cold_over_preview"] = round(by_name["spark_cold"]["median_ms"] / preview_ms, 2)
    return line


def run_benchmark(settings: Settings, emit: Callable[[dict], None]) -> list[dict]:
    """Run every measure, passing each record to `emit` as soon as it is measured."""
    records: list[dict] = []

    def record(item: dict) -> dict:
        records.append(item)
        emit(item)
        return item

    folder = settings.data_folder or default_data_folder()
    files = ensure_data(folder, settings.rows, settings.seed)
    record(
        {
            "measure": "data",
            "rows": files.rows,
            "seed": files.seed,
            "trips": str(files.trips),
            "zones": str(files.zones),
            # Other processes on the machine slow every measure; the load shows how busy it was.
            "load_average_at_start": round(os.getloadavg()[0], 2),
        }
    )

    full = build_job(files, sample_rows=settings.rows)
    small = build_job(files, sample_rows=DEFAULT_SAMPLE_ROWS)
    record(measure_warm_preview(full, settings.repeats))
    for edit_name in EDITS:
        record(measure_edit(full, settings.repeats, edit_name))
    record(measure_breakdown(full, settings.repeats))
    record(measure_warm_preview(small, settings.repeats))
    for edit_name in EDITS:
        record(measure_edit(small, settings.repeats, edit_name))

    preview_rows = preview_target(PreviewEngine(), full).table.to_pylist()
    record(measure_duckdb_sql(files, settings.repeats, preview_rows))
    if settings.spark:
        record(measure_spark_cold(full))
        record(measure_spark_warm(full, settings.repeats))
    record(measure_peak_memory(full, f"{settings.rows:,}-row Parquet"))
    if settings.big_source_gb:
        big = ensure_big_source(folder, settings.big_source_gb, settings.seed)
        label = f"{big.stat().st_size / 1024**3:.2f} GiB Parquet"
        record(measure_peak_memory(build_job(files, DEFAULT_SAMPLE_ROWS, trips=big), label))
        record(measure_peak_memory(build_job(files, settings.rows, trips=big), label))

    record(ratios(records, settings.rows, settings.spark))
    return records


def parse_args(argv: list[str] | None) -> Settings:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.preview", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rows", type=int, default=DEFAULT_ROWS, help="rows of generated trips (default %(default)s)"
    )
    parser.add_argument(
        "--repeats", type=int, default=DEFAULT_REPEATS, help="timed runs per measure (default %(default)s)"
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="seed of the generated data")
    parser.add_argument(
        "--data-dir", type=Path, help=f"folder for generated data (default {default_data_folder()})"
    )
    parser.add_argument(
        "--big-source-gb",
        type=float,
        help="also measure peak memory over a Parquet source of about this many GiB",
    )
    parser.add_argument("--no-spark", action="store_true", help="skip the Spark measures")
    parser.add_argument("--output", type=Path, help="Markdown file whose benchmark section is rewritten")

    arguments = parser.parse_args(argv)
    if arguments.rows < 1 or arguments.repeats < 1:
        parser.error("--rows and --repeats must be at least 1")
    if arguments.big_source_gb is not None and arguments.big_source_gb <= 0:
        parser.error("--big-source-gb must be greater than 0")

    return Settings(
        rows=arguments.rows,
        repeats=arguments.repeats,
        seed=arguments.seed,
        data_folder=arguments.data_dir,
        big_source_gb=arguments.big_source_gb,
        spark=not arguments.no_spark,
        output=arguments.output,
        command=" ".join(["python -m benchmarks.preview", *(argv if argv is not None else sys.argv[1:])]),
    )


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING)
    settings = parse_args(argv)
    records = run_benchmark(settings, emit=lambda item: print(json.dumps(item), flush=True))
    if settings.output:
        report.write_section(settings.output, report.render(records, settings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
