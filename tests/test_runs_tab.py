"""The Runs tab through Streamlit's AppTest: history from the run store, active runs with
progress, log and Cancel, and the job's run settings.

Active runs use a stand-in spark-submit that sleeps. A real Spark run from the tab is in
tests/test_app.py, and progress from a live Spark driver is in tests/test_runs.py.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from designer import run_store, runs
from designer.run_store import Attempt, RunRecord, open_store
from tests.conftest import EXAMPLE_JOB, ROOT
from tests.run_helpers import wait_for, write_fake_spark_submit

TIMEOUT = 60
JOB_NAME = "taxi_revenue_by_borough"


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "jobs"
    folder.mkdir()
    shutil.copy(EXAMPLE_JOB, folder / EXAMPLE_JOB.name)
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("SPARKCANVAS_JOBS_DIR", str(folder))
    monkeypatch.setenv("SPARKCANVAS_JOB", str(folder / EXAMPLE_JOB.name))
    monkeypatch.setenv("SPARKCANVAS_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("SPARKCANVAS_RUNS_DB", raising=False)
    monkeypatch.delenv("SPARKCANVAS_CATALOG", raising=False)
    return tmp_path / "home"


@pytest.fixture
def sleeping_submit(tmp_path, monkeypatch) -> Path:
    script = write_fake_spark_submit(tmp_path)
    monkeypatch.setattr(runs, "find_spark_submit", lambda: str(script))
    monkeypatch.setenv("FAKE_MODE", "sleep")
    return script


def start_app() -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT).run()
    assert not at.exception, [item.message for item in at.exception]
    return at


def history(at: AppTest):
    return next(frame.value for frame in at.dataframe if "run" in frame.value.columns)


def texts(elements) -> str:
    return "\n".join(str(element.value) for element in elements)


def store_run(home: Path, run_id: str, status: str, **values) -> RunRecord:
    folder = home / "runs" / run_id
    folder.mkdir(parents=True)
    (folder / "log.txt").write_text("first attempt\n", encoding="utf-8")
    (folder / "log-2.txt").write_text("second attempt: the end\n", encoding="utf-8")
    record = RunRecord(
        run_id=run_id, job_name=JOB_NAME, job_path=str(EXAMPLE_JOB), status=status, master="local[*]",
        parameters={}, log_path=str(folder / "log-2.txt"), script_path=str(folder / "script.py"),
        queued_at="2026-01-02T03:04:05.000+00:00", started_at="2026-01-02T03:04:05.000+00:00",
        ended_at="2026-01-02T03:04:17.500+00:00", attempt=2, max_attempts=2, host=run_store.host_name(),
    )
    for name, value in values.items():
        setattr(record, name, value)
    store = open_store()
    store.insert(record)
    store.save_attempt(run_id, Attempt(1, "failed", str(folder / "log.txt"), "s1", "e1", 1, "boom"))
    store.save_attempt(run_id, Attempt(2, status, record.log_path, "s2", "e2", 143, record.error))
    return record


def test_history_from_store(home):
    store_run(home, "20260102T030401000Z-aaaaaa", "succeeded", warnings=["the catalog was not updated"])
    store_run(
        home, "20260102T030402000Z-bbbbbb", "timed_out", trigger="schedule",
        error="the run timed out after 1 minutes and was stopped",
    )

    at = start_app()

    table = history(at)
    assert table["status"].tolist() == ["timed out", "succeeded"]
    assert table["trigger"].tolist() == ["schedule", "manual"]
    assert table["attempts"].tolist() == [2, 2]
    assert table["duration (s)"].tolist() == [12.5, 12.5]
    assert "the run timed out after 1 minutes" in texts(at.error)
    assert "second attempt: the end" in texts(at.code)
    attempts = next(frame.value for frame in at.dataframe if "attempt" in frame.value.columns)
    assert attempts["status"].tolist() == ["failed", "timed out"]
    assert not [button for button in at.button if button.key and button.key.startswith("run_cancel:")]

    at.selectbox(key="run_viewed_choice:20260102T030402000Z-bbbbbb").set_value(
        "20260102T030401000Z-aaaaaa"
    ).run()
    assert "the catalog was not updated" in texts(at.warning)


def test_active_run_cancel_button(home, sleeping_submit):
    handle = runs.start_run(runs_job(), EXAMPLE_JOB, trigger="cli")
    wait_for(lambda: "Running node trips" in runs.read_log_tail(handle.record), 30, "the stand-in to start")

    at = start_app()

    assert "Active runs" in texts(at.subheader)
    assert f"run `{handle.run_id}`" in texts(at.markdown)
    assert "Waiting for the Spark driver to report progress" in texts(at.caption)
    assert "Running node trips" in texts(at.code)
    at.button(key=f"run_cancel:{handle.run_id}").click().run()
    assert not at.exception, [item.message for item in at.exception]
    record = handle.wait(timeout=30)
    at.run()

    assert record.status == runs.CANCELLED
    assert "Active runs" not in texts(at.subheader)
    assert history(at)["status"].tolist() == ["cancelled"]
    assert runs.CANCELLED_ERROR in texts(at.warning)


def test_progress_bars(home, sleeping_submit, monkeypatch):
    # Stands in for the Spark driver's REST API, which tests/test_runs.py reads from a real run.
    progress = runs.Progress(1, 0, 3, 1, 1, 12, 4, 2, 1, ("save at script.py:40",))
    monkeypatch.setattr(runs, "run_progress", lambda record: progress)
    handle = runs.start_run(runs_job(), EXAMPLE_JOB)
    wait_for(lambda: handle.poll() == runs.RUNNING, 30, "the stand-in to start")
    try:
        at = start_app()
        bars = [(bar.value, bar.proto.text) for bar in at.get("progress")]
        assert bars == [
            (33, "Stages: 1 of 3 done"),
            (33, "Tasks: 4 of 12 done, 2 running, 1 failed"),
        ]
        assert "Active stage: save at script.py:40" in texts(at.caption)
    finally:
        runs.cancel_run(handle.run_id)


def test_run_settings_edit_job(home):
    at = start_app()
    token = at.session_state["job_token"]
    at.number_input(key=f"{token}:run_settings:retries").set_value(2).run()
    at.selectbox(key=f"{token}:run_settings:when_busy").set_value("skip").run()

    settings = at.session_state["job"].run
    assert (settings.retries, settings.when_busy) == (2, "skip")
    assert settings.timeout_minutes == 0


def test_skipped_run_from_app(home, sleeping_submit):
    busy = runs.start_run(runs_job(), EXAMPLE_JOB)
    try:
        at = start_app()
        token = at.session_state["job_token"]
        at.selectbox(key=f"{token}:run_settings:when_busy").set_value("skip").run()
        at.button(key="run_start").click().run()

        skipped = at.session_state["run_handle"].record
        assert skipped.status == runs.CANCELLED
        assert skipped.error.startswith("skipped: job 'taxi_revenue_by_borough' already has 1 run(s)")
        assert any("was skipped" in message for message in texts(at.warning).splitlines())
    finally:
        runs.cancel_run(busy.run_id)


def runs_job():
    from designer.model import load_job

    return load_job(EXAMPLE_JOB)
