"""Runs on a real standalone Spark cluster on 127.0.0.1 (a master and two workers), compared
with local runs of the same job."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from designer.model import load_job, save_job
from tests.conftest import ASSETS, EXAMPLE_JOB, TAXI_FIGURES
from tests.jobs import job, node, source

pytestmark = [pytest.mark.cluster, pytest.mark.spark]

SPARK_RUN_TIMEOUT = 600  # seconds, with room for a machine that other work also loads
TRIPS = ASSETS / "data" / "nyc_taxi" / "yellow_tripdata_2021-07_sample1000.csv"
ZONES = ASSETS / "data" / "nyc_taxi" / "taxi_zone_lookup.csv"
TRIP_FILES = 4  # copies of the trips sample, so the scan has one task per file


def sparkcanvas_run(job_path: Path, master: str, home: Path, *params: str) -> subprocess.CompletedProcess:
    """Run `sparkcanvas run` as a user would, with the driver listening on 127.0.0.1."""
    command = [Path(sys.executable).parent / "sparkcanvas", "run", str(job_path), "--master", master, "-q"]
    for param in params:
        command += ["--param", param]
    environment = {**os.environ, "SPARKCANVAS_HOME": str(home), "SPARK_LOCAL_IP": "127.0.0.1"}
    completed = subprocess.run(
        command, capture_output=True, text=True, timeout=SPARK_RUN_TIMEOUT, env=environment
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return completed


def parquet_rows(folder: Path, query: str) -> list[tuple]:
    """Run a DuckDB query over the Parquet files of a folder, which it names `result`."""
    connection = duckdb.connect()
    connection.execute(f"CREATE VIEW result AS SELECT * FROM read_parquet('{folder}/**/*.parquet')")
    return connection.execute(query).fetchall()


def test_example_job_matches_local_run(spark_cluster, sparkcanvas_home, tmp_path):
    on_cluster = tmp_path / "cluster"
    local = tmp_path / "local"
    sparkcanvas_run(EXAMPLE_JOB, spark_cluster.master_url, sparkcanvas_home, f"output_path={on_cluster}")
    sparkcanvas_run(EXAMPLE_JOB, "local[*]", sparkcanvas_home, f"output_path={local}")

    query = "SELECT borough, trip_count, round(total_amount, 2) FROM result ORDER BY borough"
    cluster_rows = parquet_rows(on_cluster, query)
    assert cluster_rows == parquet_rows(local, query)
    assert {borough: (count, amount) for borough, count, amount in cluster_rows} == TAXI_FIGURES
    assert spark_cluster.application_id("taxi_revenue_by_borough").startswith("app-")


def trips_by_service_zone(trips_folder: Path):
    """Trips inner-joined to their pickup zones, then counted and summed by service zone."""
    example = load_job(EXAMPLE_JOB)
    return job(
        source("trips", f"{trips_folder}/*.csv", example.node("trips").params["columns"]),
        source("zones", ZONES, example.node("zones").params["columns"]),
        node(
            "with_zones",
            "transform.join",
            {"left": "trips", "right": "zones"},
            join_type="inner",
            keys=[{"left": "PULocationID", "right": "location_id"}],
        ),
        node(
            "by_service_zone",
            "transform.aggregate",
            {"in": "with_zones"},
            group_by=["service_zone"],
            aggregations=[
                {"function": "count", "column": "*"},
                {"function": "sum", "column": "total_amount"},
            ],
        ),
        node("write_service_zones", "target.file", {"in": "by_service_zone"}, path="${output_path}"),
        parameters=[("output_path", "output/trips_by_service_zone")],
    )


def test_join_and_aggregate_on_both_workers(spark_cluster, sparkcanvas_home, tmp_path):
    trips_folder = tmp_path / "trips"
    trips_folder.mkdir()
    for index in range(TRIP_FILES):
        shutil.copy(TRIPS, trips_folder / f"part-{index}.csv")
    job_path = tmp_path / "trips_by_service_zone.job.json"
    by_service_zone = trips_by_service_zone(trips_folder)
    by_service_zone.name = "trips_by_service_zone"
    save_job(by_service_zone, job_path)

    on_cluster = tmp_path / "cluster"
    local = tmp_path / "local"
    sparkcanvas_run(job_path, spark_cluster.master_url, sparkcanvas_home, f"output_path={on_cluster}")
    sparkcanvas_run(job_path, "local[*]", sparkcanvas_home, f"output_path={local}")

    query = "SELECT service_zone, count, round(sum_total_amount, 2) FROM result ORDER BY 1"
    cluster_rows = parquet_rows(on_cluster, query)
    assert cluster_rows == parquet_rows(local, query)
    expected = duckdb.sql(
        f"""
        SELECT z.service_zone, count(*), round(sum(t.total_amount), 2)
        FROM read_csv('{trips_folder}/*.csv') AS t
        JOIN read_csv('{ZONES}') AS z ON t.PULocationID = z.location_id
        GROUP BY z.service_zone ORDER BY 1
        """
    ).fetchall()
    assert cluster_rows == expected

    logs = spark_cluster.executor_logs(spark_cluster.application_id("trips_by_service_zone"))
    for worker, log in logs.items():
        assert "Finished task" in log, f"worker {worker} ran no task"
