"""The run store: SQLite rows shared by processes, admission, cancel requests and the repair of
runs whose supervising process ended. Real SQLite files and real processes, no Spark."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from designer import run_store
from designer.errors import RunError
from designer.run_store import Attempt, RunRecord, RunStore, open_store


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "home"
    monkeypatch.setenv("SPARKCANVAS_HOME", str(folder))
    monkeypatch.delenv("SPARKCANVAS_RUNS_DB", raising=False)
    monkeypatch.delenv("SPARKCANVAS_CATALOG", raising=False)
    return folder


@pytest.fixture
def store(home) -> RunStore:
    return open_store()


def make_record(run_id: str, status: str = run_store.SUCCEEDED, job: str = "sales", **values) -> RunRecord:
    folder = Path("/tmp/sparkcanvas-test-runs") / run_id
    record = RunRecord(
        run_id=run_id,
        job_name=job,
        job_path=f"/jobs/{job}.job.json",
        status=status,
        master="local[*]",
        parameters={"day": "2026-01-02"},
        log_path=str(folder / "log.txt"),
        script_path=str(folder / "script.py"),
        queued_at="2026-01-02T03:04:05.000+00:00",
        host=run_store.host_name(),
        supervisor_pid=os.getpid(),
        supervisor_started=run_store.process_started(os.getpid()),
    )
    for name, value in values.items():
        setattr(record, name, value)
    return record


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


# --- rows ------------------------------------------------------------------------------------


def test_history_survives_reopening(home, store):
    record = make_record(
        "20260102T030405000Z-aaaaaa",
        targets=[{"node_id": "w", "path": "/o", "rows": 3}],
        warnings=["catalog not updated"],
        ended_at="2026-01-02T03:05:00.000+00:00",
        exit_code=0,
    )
    store.insert(record)
    store.save_attempt(record.run_id, Attempt(1, run_store.SUCCEEDED, record.log_path, "a", "b", 0))

    reopened = RunStore(home / "runs.db").get(record.run_id)

    assert reopened == record
    assert reopened.attempts == [Attempt(1, "succeeded", record.log_path, "a", "b", 0)]
    other_process = subprocess.run(
        [sys.executable, "-c", "from designer import runs; print(runs.load_run('20260102').targets)"],
        capture_output=True,
        text=True,
        timeout=60,
        env=os.environ,
    )
    assert other_process.stdout.strip() == "[{'node_id': 'w', 'path': '/o', 'rows': 3}]", other_process.stderr


def test_get_by_prefix(store):
    store.insert(make_record("20260102T030405000Z-aaaaaa"))
    store.insert(make_record("20260102T030406000Z-bbbbbb"))

    assert store.get("20260102T030406").run_id == "20260102T030406000Z-bbbbbb"
    with pytest.raises(RunError, match="ambiguous"):
        store.get("20260102T0304")
    with pytest.raises(RunError, match=r"run '2099' not found in .*runs\.db"):
        store.get("2099")
    with pytest.raises(RunError, match="not found"):
        store.get("2026%")


def test_list_filters_and_order(store):
    store.insert(make_record("20260102T030405000Z-aaaaaa", job="sales"))
    store.insert(make_record("20260102T030406000Z-bbbbbb", job="taxi", status=run_store.RUNNING))
    store.insert(make_record("20260102T030407000Z-cccccc", job="sales"))

    assert [r.run_id[-6:] for r in store.list_runs()] == ["cccccc", "bbbbbb", "aaaaaa"]
    assert [r.run_id[-6:] for r in store.list_runs(job_name="sales")] == ["cccccc", "aaaaaa"]
    assert [r.run_id[-6:] for r in store.list_runs(limit=1)] == ["cccccc"]
    assert [r.run_id[-6:] for r in store.list_runs(statuses=run_store.ACTIVE_STATUSES)] == ["bbbbbb"]


def test_finished_since(store):
    store.insert(make_record("20260102T030405000Z-aaaaaa", ended_at="2026-01-02T03:10:00.000+00:00"))
    store.insert(make_record("20260102T030406000Z-bbbbbb", ended_at="2026-01-02T03:05:00.000+00:00"))
    store.insert(make_record("20260102T030407000Z-cccccc", status=run_store.RUNNING))

    since = store.finished_since(datetime(2026, 1, 2, 3, 0, tzinfo=UTC))
    assert [record.run_id[-6:] for record in since] == ["bbbbbb", "aaaaaa"]
    assert [r.run_id[-6:] for r in store.finished_since("2026-01-02T04:05:00+01:00")] == ["aaaaaa"]
    with pytest.raises(RunError, match="has no time zone"):
        store.finished_since(datetime(2026, 1, 2))


def test_request_cancel(store):
    store.insert(make_record("20260102T030405000Z-aaaaaa", status=run_store.QUEUED))
    store.insert(make_record("20260102T030406000Z-bbbbbb", status=run_store.RUNNING))

    queued = store.request_cancel("20260102T030405000Z-aaaaaa", "stop")
    running = store.request_cancel("20260102T030406000Z-bbbbbb", "stop")

    assert (queued.status, queued.error, queued.cancel_requested) == ("cancelled", "stop", True)
    assert queued.ended_at is not None
    assert (running.status, running.cancel_requested) == ("running", True)
    with pytest.raises(RunError, match=r"has already ended \(cancelled\)"):
        store.request_cancel(queued.run_id, "stop")


def test_end_attempt_cancel_wins_over_retry(store):
    record = make_record("20260102T030405000Z-aaaaaa", status=run_store.RUNNING, cancel_requested=True)
    store.insert(record)
    attempt = Attempt(1, run_store.FAILED, record.log_path, "s", "e", 1, "boom")

    ended = store.end_attempt(
        record.run_id, attempt, {"status": "failed"}, {"status": "queued", "attempt": 2}
    )

    assert (ended.status, ended.attempt) == ("failed", 1)
    assert ended.attempts == [attempt]


# --- admission -------------------------------------------------------------------------------

ADMIT_SCRIPT = """
import sys, time
from designer.run_store import RunStore
start = float(sys.argv[3])
time.sleep(max(0.0, start - time.time()))
store, admitted = RunStore(sys.argv[1]), None
for _ in range(50):  # polls for 5 s, as a supervisor polls while its run is queued
    admitted = store.try_admit(sys.argv[2], 2)
    if admitted:
        break
    time.sleep(0.1)
print("admitted" if admitted else "waiting")
"""


def test_admission_across_processes(home, store):
    ids = [f"20260102T03040{index}000Z-aaaaaa" for index in range(5)]
    for run_id in ids:
        store.insert(make_record(run_id, status=run_store.QUEUED))
    start = time.time() + 3
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", ADMIT_SCRIPT, str(store.path), run_id, str(start)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for run_id in reversed(ids)
    ]
    outputs = {
        run_id: process.communicate(timeout=60)[0].strip()
        for run_id, process in zip(reversed(ids), processes, strict=True)
    }

    assert [outputs[run_id] for run_id in ids] == ["admitted", "admitted", "waiting", "waiting", "waiting"]
    running = store.list_runs(statuses=(run_store.RUNNING,))
    assert sorted(record.run_id for record in running) == ids[:2]


def test_retry_delay_does_not_block_queue(store):
    later = "2999-01-01T00:00:00.000+00:00"
    store.insert(make_record("20260102T030401000Z-aaaaaa", status=run_store.QUEUED, next_attempt_at=later))
    store.insert(make_record("20260102T030402000Z-bbbbbb", status=run_store.QUEUED))

    assert store.try_admit("20260102T030401000Z-aaaaaa", 1) is None
    assert store.try_admit("20260102T030402000Z-bbbbbb", 1).status == run_store.RUNNING


# --- repair ----------------------------------------------------------------------------------


def test_repair_marks_orphans_failed(home, store, tmp_path):
    log = tmp_path / "log.txt"
    log.write_text("Running node w\nNode w wrote 3 rows to /tmp/x\n", encoding="utf-8")
    dead_supervisor = dead_pid()
    store.insert(
        make_record(
            "20260102T030401000Z-aaaaaa",
            status=run_store.RUNNING,
            supervisor_pid=dead_supervisor,
            supervisor_started=None,
            log_path=str(log),
        )
    )
    store.insert(
        make_record(
            "20260102T030402000Z-bbbbbb",
            status=run_store.QUEUED,
            supervisor_pid=dead_supervisor,
            supervisor_started=None,
        )
    )
    store.insert(make_record("20260102T030403000Z-cccccc", status=run_store.RUNNING))
    store.insert(
        make_record(
            "20260102T030404000Z-dddddd",
            status=run_store.RUNNING,
            supervisor_pid=dead_supervisor,
            host="another-host",
        )
    )
    store.save_attempt("20260102T030401000Z-aaaaaa", Attempt(1, run_store.RUNNING, str(log), "s"))

    statuses = {record.run_id[-6:]: record for record in open_store().list_runs()}

    assert statuses["aaaaaa"].status == "failed"
    assert statuses["aaaaaa"].error == "the process that supervised this run ended before it finished"
    assert statuses["aaaaaa"].targets == [{"node_id": "w", "path": "/tmp/x", "rows": 3}]
    assert store.attempts("20260102T030401000Z-aaaaaa")[0].status == "failed"
    assert statuses["bbbbbb"].status == "failed"
    assert statuses["cccccc"].status == "running"  # this process is its supervisor
    assert statuses["dddddd"].status == "running"  # another host's processes cannot be checked here


def test_repair_sees_reused_pid(store):
    store.insert(make_record("20260102T030401000Z-aaaaaa", status=run_store.RUNNING, supervisor_started="1"))
    assert [record.status for record in store.repair_stale()] == ["failed"]


def test_repair_stops_orphaned_process_group(store):
    orphan = subprocess.Popen(["sleep", "60"], start_new_session=True)
    try:
        store.insert(
            make_record(
                "20260102T030401000Z-aaaaaa",
                status=run_store.RUNNING,
                supervisor_pid=dead_pid(),
                supervisor_started=None,
                pid=orphan.pid,
                pid_started=run_store.process_started(orphan.pid),
            )
        )
        open_store()
        assert orphan.wait(timeout=10) == -15
    finally:
        orphan.kill()
        orphan.wait()


# --- files -----------------------------------------------------------------------------------


def test_imports_run_files_once(home):
    for run_id, text in (("20260102T030405000Z-aaaaaa", None), ("20260102T030406000Z-bbbbbb", "{")):
        folder = home / "runs" / run_id
        folder.mkdir(parents=True)
        record = {
            "run_id": run_id,
            "job_name": "sales",
            "job_path": "/j",
            "status": "succeeded",
            "started_at": "2026-01-02T03:04:05.000+00:00",
            "master": "local[*]",
            "parameters": {},
            "log_path": str(folder / "log.txt"),
            "script_path": str(folder / "script.py"),
        }
        (folder / "run.json").write_text(text or json.dumps(record), encoding="utf-8")

    [record] = open_store().list_runs()

    assert record.run_id == "20260102T030405000Z-aaaaaa"
    assert record.queued_at == record.started_at
    (home / "runs" / record.run_id / "run.json").unlink()
    assert len(open_store().list_runs()) == 1


def test_db_path_choices(home, monkeypatch, tmp_path):
    assert run_store.runs_db_path() == home / "runs.db"
    monkeypatch.setenv("SPARKCANVAS_CATALOG", str(tmp_path / "shared" / "catalog.db"))
    assert run_store.runs_db_path() == tmp_path / "shared" / "runs.db"
    monkeypatch.setenv("SPARKCANVAS_RUNS_DB", str(tmp_path / "elsewhere.db"))
    assert run_store.runs_db_path() == tmp_path / "elsewhere.db"


def test_unwritable_store_is_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("", encoding="utf-8")
    with pytest.raises(RunError, match="cannot open the run store"):
        open_store(blocker / "runs.db")


def test_status_labels():
    assert run_store.status_label("timed_out") == "timed out"
    assert make_record("x", status="timed_out").status_label == "timed out"
    assert make_record("x", status="failed").status_label == "failed"
