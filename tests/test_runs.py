"""The run manager: real spark-submit runs of small jobs (success, failure, retry, cancel,
timeout, queueing, a killed supervisor, progress), and a stand-in spark-submit for the
bookkeeping that needs no Spark."""

from __future__ import annotations

import logging
import os
import pty
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import duckdb
import pytest

from designer import runs
from designer.errors import JobFormatError, JobValidationError, RunError
from designer.model import Node, job_from_dict, job_to_dict, load_job, save_job
from designer.nodes import NODE_TYPES
from designer.run_store import RunStore, process_alive, runs_db_path
from tests.conftest import ASSETS, EXAMPLE_JOB, TAXI_FIGURES
from tests.run_helpers import (
    SPARKCANVAS,
    slow_job,
    subprocess_environment,
    wait_for,
    write_fake_spark_submit,
)

SPARK_RUN_TIMEOUT = 300  # seconds; a local run of the example job takes about 11 s on an idle machine
ZONES = ASSETS / "data" / "nyc_taxi" / "taxi_zone_lookup.csv"


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """Point $SPARKCANVAS_HOME at an empty folder."""
    folder = tmp_path / "home"
    monkeypatch.setenv("SPARKCANVAS_HOME", str(folder))
    monkeypatch.delenv("SPARKCANVAS_RUNS_DB", raising=False)
    monkeypatch.delenv("SPARKCANVAS_CATALOG", raising=False)
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
    assert record.trigger == "cli"
    assert record.attempt == 1
    assert record.ui_port is not None
    assert runs.load_run(record.run_id) == record
    assert [attempt.status for attempt in runs.load_run(record.run_id).attempts] == ["succeeded"]
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
    assert [attempt.status for attempt in record.attempts] == ["failed"]




@pytest.mark.spark
def test_retry_after_input_appears(home, job, tmp_path):
    zones = tmp_path / "later" / "zones.csv"
    job.node("zones").params["path"] = str(zones)
    job.run.retries = 1
    job.run.retry_delay_seconds = 3
    output = tmp_path / "out"

    handle = runs.start_run(job, EXAMPLE_JOB, master="local[1]", params={"output_path": str(output)})
    waiting = wait_for(
        lambda: (record := runs.load_run(handle.run_id)).attempt == 2 and record,
        SPARK_RUN_TIMEOUT, "the first attempt to fail",
    )
    zones.parent.mkdir()
    shutil.copy(ZONES, zones)
    record = handle.wait(timeout=SPARK_RUN_TIMEOUT)

    assert waiting.status in (runs.QUEUED, runs.RUNNING)
    assert waiting.attempts[0].status == runs.FAILED
    assert "[PATH_NOT_FOUND]" in waiting.attempts[0].error
    assert record.status == runs.SUCCEEDED, record.error
    assert record.error is None
    assert (record.attempt, record.max_attempts) == (2, 2)
    assert [attempt.status for attempt in record.attempts] == ["failed", "succeeded"]
    assert Path(record.log_path).name == "log-2.txt"
    assert "PATH_NOT_FOUND" in (record.folder / "log.txt").read_text(encoding="utf-8")
    assert record.targets == [{"node_id": "write_revenue", "path": str(output), "rows": 5}]
    assert read_figures(output) == TAXI_FIGURES


@pytest.mark.spark
def test_slow_runs_queue_cancel_timeout(home, tmp_path, caplog):
    """One slow run shows progress and is cancelled from another process, while a second run
    of the same job waits for it and then times out, and a third one is skipped."""
    caplog.set_level(logging.INFO, logger="designer.runs")
    slow = slow_job(tmp_path, rows=600)
    path = tmp_path / "slow.job.json"
    save_job(slow, path)
    waiting_job = slow.copy()
    waiting_job.run.timeout_minutes = 0.25
    skipping_job = slow.copy()
    skipping_job.run.when_busy = "skip"

    first = runs.start_run(slow, path, master="local[1]")
    second = runs.start_run(waiting_job, path, master="local[1]", trigger="schedule")
    skipped = runs.start_run(skipping_job, path, master="local[1]")

    assert skipped.wait(timeout=0).status == runs.CANCELLED
    assert skipped.record.error.startswith("skipped: job 'slow_job' already has 2 run(s) queued or running")
    assert "run.max_concurrent_runs is 1" in skipped.record.error

    progress = wait_for(
        lambda: active_progress(first.run_id), SPARK_RUN_TIMEOUT, "progress of the slow run",
    )
    assert progress.stages_total >= 1
    assert progress.stages_done < progress.stages_total
    assert progress.tasks_total >= 1
    assert progress.tasks_active == 1
    assert progress.active_stages
    assert second.poll() == runs.QUEUED

    cancelled = subprocess.run(
        [SPARKCANVAS, "runs", "cancel", first.run_id], capture_output=True, text=True,
        timeout=120, env=subprocess_environment(home),
    )
    assert cancelled.returncode == 0, cancelled.stderr
    assert cancelled.stdout.strip() == f"run {first.run_id} cancelled"
    record = first.wait(timeout=60)
    assert record.status == runs.CANCELLED
    assert record.error == runs.CANCELLED_ERROR
    assert record.exit_code != 0
    wait_for(lambda: not process_alive(record.pid, record.pid_started), 60, "spark-submit to stop")

    timed_out = second.wait(timeout=SPARK_RUN_TIMEOUT)
    assert timed_out.status == runs.TIMED_OUT
    assert timed_out.status_label == "timed out"
    assert timed_out.error == "the run timed out after 0.25 minutes and was stopped"
    assert timed_out.trigger == "schedule"
    assert timed_out.duration >= 15
    assert timed_out.started_at > record.ended_at[:19]
    assert not list((tmp_path / "slow_job_output").glob("*.parquet"))

    statuses = {item.run_id: item.status for item in runs.list_runs("slow_job")}
    assert statuses == {
        first.run_id: runs.CANCELLED, second.run_id: runs.TIMED_OUT, skipped.run_id: runs.CANCELLED,
    }
    messages = [message for message in caplog.messages if first.run_id in message]
    assert any("attempt 1 of 1 started" in message for message in messages)
    assert any("ended cancelled" in message for message in messages)


def active_progress(run_id: str) -> runs.Progress | None:
    """Return the run's progress once a task is running, else None."""
    progress = runs.run_progress(runs.load_run(run_id))
    return progress if progress is not None and progress.tasks_active else None


@pytest.mark.spark
def test_killed_supervisor_marks_run_failed(home, tmp_path):
    """`sparkcanvas run` on a terminal prints progress; killing it leaves a run that the next
    process to open the store marks failed."""
    path = tmp_path / "slow.job.json"
    save_job(slow_job(tmp_path, rows=600), path)
    terminal, terminal_side = pty.openpty()
    supervisor = subprocess.Popen(
        [SPARKCANVAS, "run", path, "--master", "local[1]", "-q"],
        stdin=subprocess.DEVNULL, stdout=terminal_side, stderr=terminal_side,
        env=subprocess_environment(home),
    )
    os.close(terminal_side)
    output = TerminalOutput(terminal)
    try:
        running = wait_for(
            lambda: [item for item in runs.list_runs() if item.status == runs.RUNNING and item.pid],
            120, "the run to start",
        )[0]
        wait_for(lambda: "progress: stages " in output.text(), SPARK_RUN_TIMEOUT, "progress on the terminal")
    finally:
        supervisor.send_signal(signal.SIGKILL)
        supervisor.wait(timeout=30)
        output.close()

    [record] = runs.list_runs()

    assert running.supervisor_pid == supervisor.pid
    assert record.status == runs.FAILED
    assert record.error == "the process that supervised this run ended before it finished"
    assert record.ended_at is not None
    assert [attempt.status for attempt in runs.load_run(record.run_id).attempts] == ["failed"]
    stopped = lambda: not process_alive(running.pid, running.pid_started)  # noqa: E731
    wait_for(stopped, 60, "the orphaned spark-submit to stop")


class TerminalOutput:
    """Collects what a child process writes to a pseudo-terminal, in a background thread."""

    def __init__(self, descriptor: int):
        self._descriptor = descriptor
        self._chunks: list[bytes] = []
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while True:
            try:
                chunk = os.read(self._descriptor, 4096)
            except OSError:  # the child closed its side
                return
            if not chunk:
                return
            self._chunks.append(chunk)

    def text(self) -> str:
        return b"".join(self._chunks).decode("utf-8", errors="replace")

    def close(self) -> None:
        self._thread.join(timeout=10)
        os.close(self._descriptor)


# --- a stand-in spark-submit -----------------------------------------------------------------


@pytest.fixture
def fake_submit(tmp_path, monkeypatch) -> Path:
    script = write_fake_spark_submit(tmp_path)
    monkeypatch.setattr(runs, "find_spark_submit", lambda: str(script))
    monkeypatch.delenv("SPARK_LOCAL_IP", raising=False)
    return script


def test_run_records_targets(home, job, fake_submit):
    lines: list[str] = []
    record = runs.run_job(job, EXAMPLE_JOB, master="local[2]", on_line=lines.append)

    assert record.status == runs.SUCCEEDED
    assert record.targets == [{"node_id": "write_revenue", "path": "/tmp/out dir", "rows": 5}]
    assert lines[-1] == "INFO sparkcanvas.job: Node write_revenue wrote 5 rows to /tmp/out dir"
    stored = RunStore(runs_db_path()).get(record.run_id)
    assert stored.status == "succeeded"
    assert stored.ended_at == record.ended_at
    assert runs_db_path() == home / "runs.db"


def test_run_command_and_environment(home, job, fake_submit):
    record = runs.run_job(job, EXAMPLE_JOB, master="local[2]", params={"output_path": "out x"})
    log = runs.read_log_tail(record)

    spark_options = (
        "--master local[2] --conf spark.ui.showConsoleProgress=false "
        f"--conf spark.sparkcanvas.runId={record.run_id} --conf spark.ui.port={record.ui_port} "
        "--conf spark.driver.host=127.0.0.1 --conf spark.driver.bindAddress=127.0.0.1"
    )
    assert f"argv {spark_options} {record.script_path} --output_path out x" in log
    assert f"PYSPARK_PYTHON {sys.executable}" in log
    assert "SPARK_LOCAL_IP 127.0.0.1" in log
    assert record.parameters == {"output_path": "out x"}
    assert record.working_dir == os.getcwd()
    assert record.trigger == "cli"


def test_run_defaults_fill_parameters(home, job, fake_submit):
    record = runs.run_job(job, EXAMPLE_JOB)
    assert record.parameters == {"output_path": "output/taxi_revenue_by_borough"}
    assert record.master == "local[*]"


def test_job_run_master_is_default(home, job, fake_submit):
    job.run.master = "local[3]"
    record = runs.run_job(job, EXAMPLE_JOB)
    assert record.master == "local[3]"
    assert "--master local[3] " in runs.read_log_tail(record)


def test_cluster_master_keeps_bind_address(home, job, fake_submit):
    record = runs.run_job(job, EXAMPLE_JOB, master="spark://127.0.0.1:7077")
    log = runs.read_log_tail(record)
    assert "SPARK_LOCAL_IP None" in log
    assert "spark.driver.host" not in log


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


def test_retries_record_each_attempt(home, job, fake_submit, monkeypatch, caplog):
    monkeypatch.setenv("FAKE_MODE", "raise")
    caplog.set_level(logging.INFO, logger="designer.runs")
    job.run.retries = 2
    job.run.retry_delay_seconds = 0
    lines: list[str] = []

    record = runs.run_job(job, EXAMPLE_JOB, on_line=lines.append)

    assert record.status == runs.FAILED
    assert (record.attempt, record.max_attempts) == (3, 3)
    assert [attempt.status for attempt in record.attempts] == ["failed", "failed", "failed"]
    logs = [Path(attempt.log_path).name for attempt in record.attempts]
    assert logs == ["log.txt", "log-2.txt", "log-3.txt"]
    assert record.error == "node trips (Trips) failed: ValueError: boom in trips"
    assert sum("Running node trips" in line for line in lines) == 3
    retries = [message for message in caplog.messages if "retry at" in message]
    assert len(retries) == 2
    assert all(record.run_id in message and job.name in message for message in retries)


def test_retries_override_from_caller(home, job, fake_submit, monkeypatch):
    monkeypatch.setenv("FAKE_MODE", "raise")
    job.run.retries = 5
    job.run.retry_delay_seconds = 0
    record = runs.run_job(job, EXAMPLE_JOB, retries=0)
    assert len(record.attempts) == 1


def test_timeout_stops_attempt(home, job, fake_submit, monkeypatch):
    monkeypatch.setenv("FAKE_MODE", "sleep")
    job.run.retries = 3  # a timed-out attempt is not retried
    record = runs.run_job(job, EXAMPLE_JOB, timeout_minutes=0.01)

    assert record.status == runs.TIMED_OUT
    assert record.error == "the run timed out after 0.01 minutes and was stopped"
    assert len(record.attempts) == 1
    assert record.duration < 30


def test_cancel_stops_run(home, job, fake_submit, monkeypatch):
    monkeypatch.setenv("FAKE_MODE", "sleep")
    handle = runs.start_run(job, EXAMPLE_JOB)
    wait_for(lambda: "Running node trips" in runs.read_log_tail(handle.record), 30, "the stand-in to start")
    assert handle.poll() == runs.RUNNING

    handle.cancel()
    record = handle.wait(timeout=30)

    assert record.status == runs.CANCELLED
    assert record.error == runs.CANCELLED_ERROR
    assert handle.poll() == runs.CANCELLED
    with pytest.raises(RunError, match=r"has already ended \(cancelled\)"):
        runs.cancel_run(record.run_id)


def test_queued_run_waits_then_cancels(home, job, fake_submit, monkeypatch):
    monkeypatch.setenv("FAKE_MODE", "sleep")
    first = runs.start_run(job, EXAMPLE_JOB)
    second = runs.start_run(job, EXAMPLE_JOB)
    wait_for(lambda: first.poll() == runs.RUNNING, 30, "the first run to start")
    assert second.poll() == runs.QUEUED

    record = runs.cancel_run(second.run_id)

    assert record.status == runs.CANCELLED
    assert second.wait(timeout=10).status == runs.CANCELLED
    assert second.record.started_at is None
    assert first.poll() == runs.RUNNING
    assert runs.cancel_run(first.run_id).status == runs.CANCELLED


def test_two_concurrent_runs_allowed(home, job, fake_submit, monkeypatch):
    monkeypatch.setenv("FAKE_MODE", "sleep")
    job.run.max_concurrent_runs = 2
    handles = [runs.start_run(job, EXAMPLE_JOB) for _ in range(3)]
    wait_for(lambda: handles[1].poll() == runs.RUNNING, 30, "the second run to start")
    assert handles[0].poll() == runs.RUNNING
    assert handles[2].poll() == runs.QUEUED
    for handle in handles:
        runs.cancel_run(handle.run_id)
    assert [handle.wait(timeout=30).status for handle in handles] == [runs.CANCELLED] * 3


def test_wait_timeout_raises(home, job, fake_submit, monkeypatch):
    monkeypatch.setenv("FAKE_MODE", "sleep")
    handle = runs.start_run(job, EXAMPLE_JOB)
    try:
        with pytest.raises(RunError, match=r"still (queued|running) after 0.1 s"):
            handle.wait(timeout=0.1)
    finally:
        handle.cancel()
        handle.wait(timeout=30)


def test_list_runs_newest_first(home, job, fake_submit):
    first = runs.run_job(job, EXAMPLE_JOB)
    second = runs.run_job(job, EXAMPLE_JOB)

    assert [record.run_id for record in runs.list_runs()] == [second.run_id, first.run_id]
    assert [record.run_id for record in runs.list_runs(job.name)] == [second.run_id, first.run_id]
    assert [record.run_id for record in runs.list_runs(limit=1)] == [second.run_id]
    assert runs.list_runs("another_job") == []
    assert second.run_id > first.run_id
    assert [record.run_id for record in runs.finished_since(first.ended_at)] == [second.run_id]


def test_catalog_failure_is_warning(home, job, fake_submit, tmp_path):
    params = NODE_TYPES["target.catalog"].initial_params()
    params.update(database="sales", table="revenue", path=str(tmp_path / "nothing_written"))
    job.nodes.append(Node("to_catalog", "target.catalog", "To catalog", {"in": "revenue_by_borough"}, params))

    record = runs.run_job(job, EXAMPLE_JOB)

    assert record.status == runs.SUCCEEDED
    assert len(record.warnings) == 1
    assert record.warnings[0].startswith("the data was written, but updating the catalog failed: ")
    assert runs.load_run(record.run_id).warnings == record.warnings


# --- run settings in the job file ------------------------------------------------------------


def test_run_settings_round_trip(job):
    assert "run" not in job_to_dict(job)
    job.run.retries = 2
    job.run.when_busy = "skip"

    data = job_to_dict(job)

    assert data["run"] == {
        "timeout_minutes": 0, "retries": 2, "retry_delay_seconds": 60,
        "max_concurrent_runs": 1, "when_busy": "skip", "master": "local[*]",
    }
    assert job_from_dict(data).run == job.run


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"when_busy": "later"}, "at run/when_busy: 'later' is not one of ['wait', 'skip']"),
        ({"retries": -1}, "at run/retries: -1 is less than the minimum of 0"),
        ({"max_concurrent_runs": 0}, "at run/max_concurrent_runs: 0 is less than the minimum of 1"),
        ({"timeout": 5}, "at run: Additional properties are not allowed ('timeout' was unexpected)"),
    ],
)
def test_run_settings_rejected(job, settings, message):
    data = job_to_dict(job)
    data["run"] = settings
    with pytest.raises(JobFormatError) as error:
        job_from_dict(data, source="bad.job.json")
    assert message in str(error.value)


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


def test_negative_overrides_rejected(home, job, fake_submit):
    with pytest.raises(RunError, match="invalid timeout -1 minutes"):
        runs.start_run(job, EXAMPLE_JOB, timeout_minutes=-1)
    with pytest.raises(RunError, match="invalid number of retries -2"):
        runs.start_run(job, EXAMPLE_JOB, retries=-2)


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


def test_load_run_unknown_id(home):
    with pytest.raises(RunError, match="run '20990101T000000000Z-000000' not found"):
        runs.load_run("20990101T000000000Z-000000")
    with pytest.raises(RunError, match="invalid run id"):
        runs.load_run(" ")


def test_runs_home_default(monkeypatch):
    monkeypatch.delenv("SPARKCANVAS_HOME", raising=False)
    assert runs.runs_home() == Path.home() / ".sparkcanvas" / "runs"


# --- progress --------------------------------------------------------------------------------


def test_progress_counts_jobs_and_stages():
    jobs = [
        {"status": "SUCCEEDED", "stageIds": [0, 1], "numTasks": 8, "numCompletedTasks": 6,
         "numSkippedTasks": 2, "numCompletedStages": 1, "numSkippedStages": 1},
        {"status": "RUNNING", "stageIds": [2, 3], "numTasks": 10, "numCompletedTasks": 3,
         "numActiveTasks": 2, "numFailedTasks": 1, "numCompletedStages": 0, "numActiveStages": 1},
    ]
    progress = runs._progress(jobs, [{"name": "save at script.py:40"}])

    assert (progress.jobs_total, progress.jobs_done) == (2, 1)
    assert (progress.stages_total, progress.stages_done, progress.stages_active) == (4, 2, 1)
    assert (progress.tasks_total, progress.tasks_done, progress.tasks_active) == (18, 11, 2)
    assert progress.summary() == "stages 2/4, tasks 11/18 (2 running), 1 failed"
    assert progress.active_stages == ("save at script.py:40",)


def test_progress_none_without_driver(home, job, fake_submit):
    record = runs.run_job(job, EXAMPLE_JOB)
    assert runs.run_progress(record) is None
    record.status = runs.RUNNING
    record.ui_port = runs.free_port()  # nothing listens there
    assert runs.run_progress(record) is None


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
