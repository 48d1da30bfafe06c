"""Spark settings for a run (`run.spark_conf`, `sparkcanvas run --conf`) and a persistent metastore.

A target's `spark_table` registers the written folder in Spark's catalog. Spark's default
in-memory catalog drops the table when the run's session ends. With
spark.sql.catalogImplementation=hive, the pip pyspark package keeps it in a local Derby
metastore, so a second Spark process can query it. The test here runs both processes for real.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from designer.cli import main
from designer.errors import JobFormatError, RunError
from designer.model import Job, RunSettings, job_from_dict, job_to_dict, save_job
from designer.runs import checked_spark_conf, find_spark_submit, spark_submit_command
from tests.conftest import ASSETS
from tests.jobs import node

SPARKCANVAS = str(Path(sys.executable).parent / "sparkcanvas")
RUN_TIMEOUT_SECONDS = 300
HIVE = {"spark.sql.catalogImplementation": "hive"}
ZONE_COLUMNS = [
    {"name": "LocationID", "type": "int"},
    {"name": "Borough", "type": "string"},
    {"name": "Zone", "type": "string"},
    {"name": "service_zone", "type": "string"},
]
QUERY_SCRIPT = """
import json
from pyspark.sql import SparkSession

spark = SparkSession.builder.appName("metastore-reader").getOrCreate()
tables = [table.name for table in spark.catalog.listTables("lake")]
rows = spark.sql("SELECT Borough, count(*) AS zones FROM lake.zones GROUP BY Borough").collect()
partitions = [row[0] for row in spark.sql("SHOW PARTITIONS lake.zones").collect()]
result = {"tables": tables, "rows": {row[0]: row[1] for row in rows}, "partitions": partitions}
print("RESULT " + json.dumps(result))
"""


def zones_job(output: Path, spark_conf: dict[str, str] | None = None) -> Job:
    zones = node(
        "zones",
        "source.file",
        path=str(ASSETS / "data" / "sales_catalog" / "zones.csv"),
        columns=ZONE_COLUMNS,
    )
    write = node(
        "write_zones",
        "target.file",
        {"in": "zones"},
        path=str(output),
        format="parquet",
        mode="overwrite",
        partition_by=["Borough"],
        spark_table="lake.zones",
    )
    return Job(name="zones_to_lake", nodes=[zones, write], run=RunSettings(spark_conf=dict(spark_conf or {})))


# --- the job file and the spark-submit command -------------------------------------------------------


def test_spark_conf_left_out_when_empty(tmp_path):
    data = job_to_dict(zones_job(tmp_path / "out"))
    assert "run" not in data

    retried = zones_job(tmp_path / "out")
    retried.run.retries = 2
    assert "spark_conf" not in job_to_dict(retried)["run"]


def test_spark_conf_round_trips_sorted(tmp_path):
    conf = {"spark.sql.shuffle.partitions": "4", **HIVE}
    data = job_to_dict(zones_job(tmp_path / "out", conf))

    assert list(data["run"]["spark_conf"]) == [
        "spark.sql.catalogImplementation",
        "spark.sql.shuffle.partitions",
    ]
    assert job_from_dict(json.loads(json.dumps(data))).run.spark_conf == conf


@pytest.mark.parametrize("key", ["sql.shuffle.partitions", "spark.a b", "spark.a=b", ""])
def test_job_file_rejects_invalid_spark_conf_key(tmp_path, key):
    data = job_to_dict(zones_job(tmp_path / "out", {"spark.ok": "1"}))
    data["run"]["spark_conf"] = {key: "1"}

    with pytest.raises(JobFormatError, match="spark_conf"):
        job_from_dict(data)


def test_job_file_rejects_non_string_value(tmp_path):
    data = job_to_dict(zones_job(tmp_path / "out", {"spark.ok": "1"}))
    data["run"]["spark_conf"] = {"spark.sql.shuffle.partitions": 4}

    with pytest.raises(JobFormatError, match="spark_conf"):
        job_from_dict(data)


def test_command_passes_each_setting():
    command = spark_submit_command("spark-submit", "local[2]", Path("job.py"), {}, conf=HIVE)
    position = command.index("spark.sql.catalogImplementation=hive")

    assert command[position - 1] == "--conf"
    assert position < command.index("job.py")


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("spark.ui.port", "the runner sets it"),
        ("spark.sparkcanvas.runId", "the runner sets it"),
        ("catalogImplementation", "starts with 'spark.'"),
    ],
)
def test_runner_rejects_spark_conf_key(key, message):
    with pytest.raises(RunError, match=message):
        checked_spark_conf({key: "1"})


def test_cli_rejects_conf_without_equals(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "job.json", "--conf", "spark.sql.catalogImplementation"])

    assert exit_info.value.code == 2
    assert "write it as KEY=VALUE" in capsys.readouterr().err


def test_cli_reports_invalid_conf_key(tmp_path, sparkcanvas_home, capsys):
    job_path = tmp_path / "zones.job.json"
    save_job(zones_job(tmp_path / "out"), job_path)

    status = main(["run", str(job_path), "--conf", "spark.ui.port=4050", "-q"])

    assert status == 1
    assert "'spark.ui.port'" in capsys.readouterr().err


# --- a table that a second Spark process can query -----------------------------------------------------


@pytest.mark.spark
def test_second_spark_process_sees_table(tmp_path, sparkcanvas_home):
    """The job file sets Hive's catalog, and the command line puts its Derby metastore in one folder."""
    run_folder, query_folder, metastore = tmp_path / "run", tmp_path / "query", tmp_path / "metastore"
    run_folder.mkdir()
    query_folder.mkdir()
    job_path = run_folder / "zones.job.json"
    save_job(zones_job(tmp_path / "lake" / "zones", HIVE), job_path)
    metastore_conf = [
        f"spark.hadoop.javax.jdo.option.ConnectionURL=jdbc:derby:;databaseName={metastore}/metastore_db;create=true",
        f"spark.sql.warehouse.dir={metastore}/warehouse",
    ]
    environment = {**os.environ, "SPARK_LOCAL_IP": "127.0.0.1", "PYSPARK_PYTHON": sys.executable}

    run = subprocess.run(
        [SPARKCANVAS, "run", str(job_path), "--master", "local[2]", "-q"]
        + [argument for setting in metastore_conf for argument in ("--conf", setting)],
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_SECONDS,
        env=environment,
        cwd=run_folder,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert (metastore / "metastore_db").is_dir()
    assert not (run_folder / "metastore_db").exists()

    script = query_folder / "query.py"
    script.write_text(QUERY_SCRIPT, encoding="utf-8")
    query = subprocess.run(
        [find_spark_submit(), "--master", "local[2]", "--conf", "spark.sql.catalogImplementation=hive"]
        + ["--conf", metastore_conf[0], str(script)],
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_SECONDS,
        env=environment,
        cwd=query_folder,
    )
    assert query.returncode == 0, query.stderr[-3000:]
    [line] = [line for line in query.stdout.splitlines() if line.startswith("RESULT ")]
    result = json.loads(line.removeprefix("RESULT "))

    assert result["tables"] == ["zones"]
    assert result["rows"]["Manhattan"] == 69
    assert sum(result["rows"].values()) == 265
    assert "Borough=Queens" in result["partitions"]
