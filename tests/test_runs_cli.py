"""`sparkcanvas runs` (list, show, cancel) and the run options of `sparkcanvas run`.

Runs are rows written to a real run store; `run` uses a stand-in spark-submit. Real
spark-submit runs of the command line are in tests/test_runs.py.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from designer import cli, run_store, runs
from designer.run_store import Attempt, RunRecord, open_store
from tests.conftest import EXAMPLE_JOB
from tests.run_helpers import write_fake_spark_submit


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "home"
    monkeypatch.setenv("SPARKCANVAS_HOME", str(folder))
    monkeypatch.delenv("SPARKCANVAS_RUNS_DB", raising=False)
    monkeypatch.delenv("SPARKCANVAS_CATALOG", raising=False)
    return folder


def call(capsys, *argv) -> tuple[int, str, str]:
    status = cli.main([str(part) for part in argv])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("sparkcanvas: error: ")
    return lines[0]


def store_run(home: Path, run_id: str, status: str, job: str = "sales", **values) -> RunRecord:
    folder = home / "runs" / run_id
    folder.mkdir(parents=True)
    log = folder / "log.txt"
    log.write_text("first line\nRunning node write\nlast line\n", encoding="utf-8")
    record = RunRecord(
        run_id=run_id,
        job_name=job,
        job_path=f"/jobs/{job}.job.json",
        status=status,
        master="local[2]",
        parameters={"day": "2026-01-02"},
        log_path=str(log),
        script_path=str(folder / "script.py"),
        queued_at="2026-01-02T03:04:05.000+00:00",
        started_at="2026-01-02T03:04:05.000+00:00",
        host=run_store.host_name(),
        supervisor_pid=os.getpid(),
        supervisor_started=run_store.process_started(os.getpid()),
    )
    if status in run_store.FINAL_STATUSES:
        record.ended_at = "2026-01-02T03:04:17.500+00:00"
    for name, value in values.items():
        setattr(record, name, value)
    store = open_store()
    store.insert(record)
    store.save_attempt(run_id, Attempt(1, status, str(log), record.started_at, record.ended_at))
    return record


@pytest.fixture
def stored(home) -> list[RunRecord]:
    return [
        store_run(
            home,
            "20260102T030401000Z-aaaaaa",
            "succeeded",
            targets=[{"node_id": "write", "path": "/o", "rows": 7}],
        ),
        store_run(
            home,
            "20260102T030402000Z-bbbbbb",
            "timed_out",
            job="taxi",
            trigger="schedule",
            error="the run timed out after 1 minutes and was stopped",
        ),
        store_run(home, "20260102T030403000Z-cccccc", "queued", job="sales"),
    ]


def test_runs_table(capsys, stored):
    status, out, err = call(capsys, "runs")

    lines = out.splitlines()
    assert status == 0, err
    assert lines[0].split(" | ")[:3] == ["run                       ", "job  ", "status   "]
    assert [line.split(" | ")[0] for line in lines[2:]] == [
        "20260102T030403000Z-cccccc",
        "20260102T030402000Z-bbbbbb",
        "20260102T030401000Z-aaaaaa",
    ]
    assert "timed out" in lines[3]
    assert "schedule" in lines[3]
    assert "12.5" in lines[4]
    assert [cell.strip() for cell in lines[4].split("|")][7] == "7"


def test_runs_json_job_and_limit(capsys, stored):
    status, out, _ = call(capsys, "runs", "--job", "sales", "--limit", "1", "--format", "json")

    [record] = json.loads(out)
    assert status == 0
    assert record["run_id"] == "20260102T030403000Z-cccccc"
    assert record["status"] == "queued"
    assert record["parameters"] == {"day": "2026-01-02"}


def test_runs_empty(capsys, home):
    status, out, err = call(capsys, "runs", "--job", "nothing")
    assert status == 0
    assert out == ""
    assert err.startswith("no runs of job 'nothing' in ")


def test_runs_show(capsys, stored):
    status, out, err = call(capsys, "runs", "show", "20260102T030402")

    assert status == 0, err
    assert "run: 20260102T030402000Z-bbbbbb" in out
    assert "status: timed out" in out
    assert "error: the run timed out after 1 minutes" in out
    assert "parameters: --day 2026-01-02" in out
    assert "attempt 1: timed out, started 2026-01-02T03:04:05.000+00:00" in out
    assert out.endswith("first line\nRunning node write\nlast line\n")


def test_runs_show_last_lines_json(capsys, stored):
    status, out, _ = call(
        capsys, "runs", "show", "20260102T030401000Z-aaaaaa", "--lines", "1", "--format", "json"
    )
    record = json.loads(out)
    assert status == 0
    assert record["log"] == "last line\n"
    assert record["targets"] == [{"node_id": "write", "path": "/o", "rows": 7}]
    assert record["attempts"][0]["status"] == "succeeded"


def test_runs_show_zero_lines_omits_log(capsys, stored):
    status, out, err = call(capsys, "runs", "show", "20260102T030402", "--lines", "0")

    assert status == 0, err
    assert "status: timed out" in out
    assert "--- log of attempt" not in out
    assert "the log is empty" not in out


def test_runs_show_unknown(capsys, stored):
    status, out, err = call(capsys, "runs", "show", "2099")
    assert status == 1
    assert out == ""
    assert "run '2099' not found" in one_error_line(err)


def test_runs_cancel_queued(capsys, stored):
    status, out, err = call(capsys, "runs", "cancel", "20260102T030403")
    assert status == 0, err
    assert out == "run 20260102T030403000Z-cccccc cancelled\n"
    assert runs.load_run("20260102T030403000Z-cccccc").status == "cancelled"


def test_runs_cancel_finished(capsys, stored):
    status, _, err = call(capsys, "runs", "cancel", "20260102T030401000Z-aaaaaa")
    assert status == 1
    assert "has already ended (succeeded)" in one_error_line(err)


def test_runs_cancel_unanswered(capsys, stored, home):
    store_run(home, "20260102T030404000Z-dddddd", "running")  # this process supervises nothing
    status, _, err = call(capsys, "runs", "cancel", "20260102T030404", "--wait", "0.5")
    assert status == 1
    line = one_error_line(err)
    assert "was asked to stop but is still running after 0.5 s" in line
    assert "sparkcanvas runs show 20260102T030404000Z-dddddd" in line


def test_run_options_rejected(capsys):
    with pytest.raises(SystemExit) as error:
        cli.main(["run", str(EXAMPLE_JOB), "--timeout", "-1"])
    assert error.value.code == 2
    assert "invalid number '-1': use 0 or more" in capsys.readouterr().err


def test_run_retries_and_timeout(capsys, home, tmp_path, monkeypatch):
    script = write_fake_spark_submit(tmp_path)
    monkeypatch.setattr(runs, "find_spark_submit", lambda: str(script))
    monkeypatch.setenv("FAKE_MODE", "raise")
    data = json.loads(EXAMPLE_JOB.read_text(encoding="utf-8"))
    data["run"] = {"retry_delay_seconds": 0}
    job_path = tmp_path / "retrying.job.json"
    job_path.write_text(json.dumps(data), encoding="utf-8")

    status, out, err = call(capsys, "run", job_path, "--retries", "1", "--timeout", "5", "-q")

    [record] = runs.list_runs()
    assert status == 1
    assert out.startswith(f"run {record.run_id} failed in ")
    assert "node trips (Trips) failed: ValueError: boom in trips" in one_error_line(err)
    assert [attempt.status for attempt in runs.load_run(record.run_id).attempts] == ["failed", "failed"]
    assert record.trigger == "cli"
