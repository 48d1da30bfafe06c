"""The run manager: real spark-submit runs of the example job, and a stand-in spark-submit
for the bookkeeping (failures, cancellation, lost processes) that needs no Spark."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import pytest

from designer import runs
from designer.errors import JobValidationError, RunError
from designer.model import load_job
from tests.conftest import EXAMPLE_JOB, TAXI_FIGURES

SPARK_RUN_TIMEOUT = 300  # seconds; a local run of the example job takes about 11 s


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """Point $SPARKCANVAS_HOME at an empty folder."""
    folder = tmp_path / "home"
    monkeypatch.setenv("SPARKCANVAS_HOME", str(folder))
    return folder


@pytest.fixture
def job():
    return load_job(EXAMPLE_JOB)


def read_figures(path: Path) -> dict[str, tuple[int, float]]:
    rows = duckdb.sql(
        f"SELECT borough, trip_count, total_amount FROM read_parquet('{path}/*.parquet')"
    ).fetchall()
    return {borough: (count, round(amount, 2)) for borough, count, amount in rows}


# --- real runs with spark-submit -------------------------------------------------------------


@pytest.mark.spark
def test_cli_run_writes_parquet(home, tmp_path):
    output = tmp_path / "revenue"
    environment = {**os.environ, "SPARKCANVAS_HOME": str(home), "SPARK_LOCAL_IP": "127.0.0.1"}
    completed = subprocess.run(
        [
            Path(sys.executable).parent / "sparkcanvas", "run", EXAMPLE_JOB,
            "--master", "local[2]", "--param", f"output_path={output}",
        ],
        capture_output=True, text=True, timeout=SPARK_RUN_TIMEOUT, env=environment,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "Running node write_revenue" in completed.stderr
    summary = completed.stdout.strip().splitlines()
    assert len(summary) == 1
    assert " succeeded in " in summary[0]
    assert f"write_revenue wrote 5 rows to {output}" in summary[0]

    assert read_figures(output) == TAXI_FIGURES

    # This process did not start the run, so reading it back is what a restarted designer reads.
    [record] = runs.list_runs()
    assert record.status == runs.SUCCEEDED
    assert record.exit_code == 0
    assert record.master == "local[2]"
    assert record.parameters == {"output_path": str(output)}
    assert record.targets == [{"node_id": "write_revenue", "path": str(output), "rows": 5}]
    assert record.error is None
    assert record.duration > 0
    assert Path(record.log_path) == home / "runs" / record.run_id / "log.txt"
    assert Path(record.script_path).read_text(encoding="utf-8").startswith('"""')
    assert runs.load_run(record.run_id) == record
    assert runs.list_runs(job_name="another_job") == []


@pytest.mark.spark
def test_failed_run_names_node(home, job, tmp_path):
    job.node("zones").params["path"] = str(tmp_path / "missing_zones.csv")
    lines: list[str] = []

    record = runs.run_job(
        job, EXAMPLE_JOB, master="local[1]",
        params={"output_path": str(tmp_path / "out")}, on_line=lines.append,
    )

    assert record.status == runs.FAILED
    assert record.exit_code != 0
    assert record.error.startswith("node zones (Zones) failed: [PATH_NOT_FOUND]")
    assert "missing_zones.csv" in record.error
    assert "\n" not in record.error
    assert record.targets == []
    assert any("Running node zones" in line for line in lines)
    assert runs.load_run(record.run_id).error == record.error


# --- a stand-in spark-submit -----------------------------------------------------------------

FAKE_SPARK_SUBMIT = """\
#!{python}
# Stands in for spark-submit: logs like the generated script, then behaves as FAKE_MODE selects.
import os, sys, time

print("argv", " ".join(sys.argv[1:]))
print("PYSPARK_PYTHON", os.environ.get("PYSPARK_PYTHON"))
print("SPARK_LOCAL_IP", os.environ.get("SPARK_LOCAL_IP"), flush=True)
mode = os.environ.get("FAKE_MODE", "succeed")
if mode == "crash-before-nodes":
    print("Error: Could not find or load main class")
    sys.exit(2)
print("INFO sparkcanvas.job: Running node trips", flush=True)
if mode == "sleep":
    time.sleep(60)
if mode == "raise":
    try:
        raise KeyError("inner")
    except KeyError:
        raise ValueError("boom in trips")
print("INFO sparkcanvas.job: Running node write_revenue")
print("INFO sparkcanvas.job: Node write_revenue wrote 5 rows to /tmp/out dir")
"""


@pytest.fixture
def fake_submit(tmp_path, monkeypatch) -> Path:
    script = tmp_path / "spark-submit"
    script.write_text(FAKE_SPARK_SUBMIT.format(python=sys.executable), encoding="utf-8")
    script.chmod(0o755)
    monkeypatch.setattr(runs, "find_spark_submit", lambda: str(script))
    monkeypatch.delenv("SPARK_LOCAL_IP", raising=False)
    return script


def test_run_records_targets(home, job, fake_submit):
    lines: list[str] = []
    record = runs.run_job(job, EXAMPLE_JOB, master="local[2]", on_line=lines.append)

    assert record.status == runs.SUCCEEDED
    assert record.targets == [{"node_id": "write_revenue", "path": "/tmp/out dir", "rows": 5}]
    assert lines[-1] == "INFO sparkcanvas.job: Node write_revenue wrote 5 rows to /tmp/out dir"
    on_disk = json.loads((home / "runs" / record.run_id / "run.json").read_text())
    assert on_disk["status"] == "succeeded"
    assert on_disk["ended_at"] == record.ended_at


def test_run_command_and_environment(home, job, fake_submit):
    record = runs.run_job(job, EXAMPLE_JOB, master="local[2]", params={"output_path": "out x"})
    log = runs.read_log_tail(record)

    spark_options = "--master local[2] --conf spark.ui.showConsoleProgress=false"
    assert f"argv {spark_options} {record.script_path} --output_path out x" in log
    assert f"PYSPARK_PYTHON {sys.executable}" in log
    assert "SPARK_LOCAL_IP 127.0.0.1" in log
    assert record.parameters == {"output_path": "out x"}
    assert record.working_dir == os.getcwd()


def test_run_defaults_fill_parameters(home, job, fake_submit):
    record = runs.run_job(job, EXAMPLE_JOB)
    assert record.parameters == {"output_path": "output/taxi_revenue_by_borough"}
    assert record.master == "local[*]"


def test_cluster_master_keeps_bind_address(home, job, fake_submit):
    record = runs.run_job(job, EXAMPLE_JOB, master="spark://127.0.0.1:7077")
    assert "SPARK_LOCAL_IP None" in runs.read_log_tail(record)


def test_failure_names_last_node(home, job, fake_submit, monkeypatch):
    monkeypatch.setenv("FAKE_MODE", "raise")
    record = runs.run_job(job, EXAMPLE_JOB)

    assert record.status == runs.FAILED
    assert record.exit_code == 1
    assert record.error == "node trips (Trips) failed: ValueError: boom in trips"
    assert record.targets == []


def test_failure_before_any_node(home, job, fake_submit, monkeypatch):
    monkeypatch.setenv("FAKE_MODE", "crash-before-nodes")
    record = runs.run_job(job, EXAMPLE_JOB)

    assert record.status == runs.FAILED
    assert record.exit_code == 2
    assert record.error == (
        "the run failed before any node started: "
        "Error: Could not find or load main class (exit code 2)"
    )


def test_cancel_stops_run(home, job, fake_submit, monkeypatch):
    monkeypatch.setenv("FAKE_MODE", "sleep")
    handle = runs.start_run(job, EXAMPLE_JOB)
    deadline = time.monotonic() + 30
    while "Running node trips" not in runs.read_log_tail(handle.record):
        assert time.monotonic() < deadline, "the stand-in never started"
        time.sleep(0.05)
    assert handle.poll() == runs.RUNNING

    handle.cancel()
    record = handle.wait(timeout=30)

    assert record.status == runs.FAILED
    assert record.error == runs.CANCELLED_ERROR
    assert handle.poll() == runs.FAILED


def test_wait_timeout_raises(home, job, fake_submit, monkeypatch):
    monkeypatch.setenv("FAKE_MODE", "sleep")
    handle = runs.start_run(job, EXAMPLE_JOB)
    try:
        with pytest.raises(RunError, match="still running after 0.1 s"):
            handle.wait(timeout=0.1)
    finally:
        handle.cancel()
        handle.wait(timeout=30)


def test_list_runs_newest_first(home, job, fake_submit):
    first = runs.run_job(job, EXAMPLE_JOB)
    second = runs.run_job(job, EXAMPLE_JOB)

    assert [record.run_id for record in runs.list_runs()] == [second.run_id, first.run_id]
    assert [record.run_id for record in runs.list_runs(job.name)] == [second.run_id, first.run_id]
    assert runs.list_runs("another_job") == []
    assert second.run_id > first.run_id


# --- checks before launch --------------------------------------------------------------------


def test_invalid_job_not_started(home, job, fake_submit):
    job.node("revenue_by_borough").params["group_by"] = ["borogh"]
    with pytest.raises(JobValidationError) as error:
        runs.start_run(job, EXAMPLE_JOB)
    assert error.value.problems[0].node_id == "revenue_by_borough"
    assert not (home / "runs").exists()


def test_unknown_parameter_names_valid_ones(home, job, fake_submit):
    with pytest.raises(RunError, match=r"unknown parameter 'outpt'.*takes output_path"):
        runs.start_run(job, EXAMPLE_JOB, params={"outpt": "x"})


def test_missing_java(home, job, fake_submit, monkeypatch, tmp_path):
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(RunError, match="Java not found"):
        runs.start_run(job, EXAMPLE_JOB)


def test_missing_spark_submit(home, job, monkeypatch, tmp_path):
    monkeypatch.setattr(runs.Path, "is_file", lambda path: False)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(RunError, match="spark-submit not found"):
        runs.find_spark_submit()


# --- records after a restart -----------------------------------------------------------------


def write_running_record(home: Path, run_id: str, pid: int | None) -> Path:
    folder = home / "runs" / run_id
    folder.mkdir(parents=True)
    (folder / "log.txt").write_text(
        "Running node trips\nNode write_revenue wrote 3 rows to /tmp/x\n", encoding="utf-8"
    )
    record = runs.RunRecord(
        run_id=run_id, job_name="taxi_revenue_by_borough", job_path=str(EXAMPLE_JOB),
        status=runs.RUNNING, started_at="2026-01-02T03:04:05.000+00:00", master="local[*]",
        parameters={}, log_path=str(folder / "log.txt"), script_path=str(folder / "script.py"),
        pid=pid,
    )
    (folder / "run.json").write_text(record.to_json(), encoding="utf-8")
    return folder


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_stale_running_record_marked_failed(home):
    folder = write_running_record(home, "20260102T030405000Z-aaaaaa", dead_pid())

    [record] = runs.list_runs()

    assert record.status == runs.FAILED
    assert record.error == "the run's process ended without recording a result"
    assert record.ended_at is not None
    assert record.targets == [{"node_id": "write_revenue", "path": "/tmp/x", "rows": 3}]
    on_disk = json.loads((folder / "run.json").read_text())
    assert on_disk["status"] == "failed"
    assert on_disk["error"] == record.error


def test_stale_record_without_pid(home):
    write_running_record(home, "20260102T030405000Z-bbbbbb", None)
    assert runs.load_run("20260102T030405000Z-bbbbbb").status == runs.FAILED


def test_live_running_record_kept(home):
    write_running_record(home, "20260102T030405000Z-cccccc", os.getpid())
    record = runs.load_run("20260102T030405000Z-cccccc")
    assert record.status == runs.RUNNING
    assert record.duration > 0


def test_load_run_unknown_id(home):
    with pytest.raises(RunError, match="run '20990101T000000000Z-000000' not found"):
        runs.load_run("20990101T000000000Z-000000")
    with pytest.raises(RunError, match="invalid run id"):
        runs.load_run("../elsewhere")


def test_list_runs_skips_unreadable_record(home):
    folder = home / "runs" / "20260102T030405000Z-dddddd"
    folder.mkdir(parents=True)
    (folder / "run.json").write_text("{", encoding="utf-8")
    assert runs.list_runs() == []


def test_runs_home_default(monkeypatch):
    monkeypatch.delenv("SPARKCANVAS_HOME", raising=False)
    assert runs.runs_home() == Path.home() / ".sparkcanvas" / "runs"


# --- reading the log -------------------------------------------------------------------------


def test_exception_line_of_last_traceback():
    spark_error = (
        "[UNRESOLVED_COLUMN.WITH_SUGGESTION] A column `x` cannot be resolved. SQLSTATE: 42703"
    )
    log = textwrap.dedent(f"""\
        Running node trips
        Traceback (most recent call last):
          File "a.py", line 1, in <module>
        KeyError: 'first'
        Running node write_revenue
        Traceback (most recent call last):
          File "script.py", line 9, in run
            df.write.save(path)
        pyspark.errors.exceptions.captured.AnalysisException: {spark_error}
        JVM stacktrace:
        org.apache.spark.sql.AnalysisException: ...
        26/01/01 12:00:00 INFO ShutdownHookManager: Shutdown hook called
        """)
    assert runs.last_started_node(log) == "write_revenue"
    assert runs.exception_line(log) == spark_error


def test_exception_line_keeps_python_type():
    log = "Traceback (most recent call last):\n  File \"s.py\", line 1\nbuiltins.OSError: disk full\n"
    assert runs.exception_line(log) == "OSError: disk full"
    assert runs.exception_line("no traceback here\n") is None


def test_read_log_tail_lines(home, job, fake_submit):
    record = runs.run_job(job, EXAMPLE_JOB)
    tail = runs.read_log_tail(record, lines=2)
    assert tail.splitlines() == [
        "INFO sparkcanvas.job: Running node write_revenue",
        "INFO sparkcanvas.job: Node write_revenue wrote 5 rows to /tmp/out dir",
    ]


def test_failure_before_any_node_shows_java_cause():
    log = (
        "Traceback (most recent call last):\n"
        '  File "script.py", line 80, in main\n'
        "py4j.protocol.Py4JJavaError: An error occurred while calling "
        "None.org.apache.spark.api.java.JavaSparkContext.\n"
        ": org.apache.spark.SparkException: Asked to run locally with 0 threads\n"
        "\tat org.apache.spark.SparkContext$.createTaskScheduler(SparkContext.scala:3300)\n"
    )
    job = load_job(EXAMPLE_JOB)
    error = runs.describe_failure(job, log, 1)
    assert error.startswith("the run failed before any node started: Py4JJavaError")
    assert error.endswith("(SparkException: Asked to run locally with 0 threads)")


@pytest.mark.spark
def test_sales_run_writes_partitioned_csv_and_json(home, tmp_path):
    sales_path = EXAMPLE_JOB.parent / "sales_by_category.job.json"
    sales = load_job(sales_path)

    record = runs.run_job(sales, sales_path, master="local[2]", params={"output_root": str(tmp_path)})

    assert record.status == runs.SUCCEEDED, record.error
    written = {target["node_id"]: target["rows"] for target in record.targets}
    assert written == {"write_monthly": 76, "write_totals": 4}
    partitions = sorted(path.name for path in (tmp_path / "monthly").glob("category=*"))
    assert partitions == ["category=drink", "category=grocery", "category=kitchen", "category=office"]
    assert list((tmp_path / "monthly" / "category=drink").glob("*.csv.gz"))
    totals = duckdb.sql(f"SELECT sum(orders) FROM read_json('{tmp_path}/category_totals/*.json')").fetchall()
    monthly = duckdb.sql(
        f"SELECT sum(orders) FROM read_csv('{tmp_path}/monthly/*/*.csv.gz', hive_partitioning = true)"
    ).fetchall()
    assert totals == monthly
