"""Schedules and conditional triggers: due times, missed-run policies, trigger evaluation over
recorded runs, the Schedules tab, and the real `sparkcanvas scheduler` process with spark-submit.

The fast tests start runs through the real run manager with a stand-in spark-submit, a small
Python script that exits 0 or 1, so their runs are recorded as real runs are.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from streamlit.testing.v1 import AppTest

from designer import runs, scheduler_runs
from designer.errors import JobFormatError
from designer.model import Job, JobParameter, Schedule, Trigger, job_to_json, load_job, save_job
from designer.scheduler import Scheduler
from designer.scheduler_state import SchedulerState
from designer.schedules import (
    FinishedRun,
    check_cron,
    check_time_zone,
    due_times,
    next_run_times,
    plan_schedule,
    trigger_fires,
)
from tests.jobs import node, people

ROOT = Path(__file__).resolve().parents[1]
SPARKCANVAS = Path(sys.executable).parent / "sparkcanvas"
GRACE = timedelta(seconds=60)
RUN_WAIT_SECONDS = 60
APP_TIMEOUT = 60


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# --- jobs and a stand-in spark-submit --------------------------------------------------------

STAND_IN_SPARK_SUBMIT = """\
#!{python}
# Stands in for spark-submit: exits 1 when the --input parameter names a missing file, else 0.
import os, sys

arguments = sys.argv[1:]
value = arguments[arguments.index("--input") + 1] if "--input" in arguments else ""
print("INFO sparkcanvas.job: Running node people", flush=True)
sys.exit(0 if os.path.exists(value) else 1)
"""


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """Point $SPARKCANVAS_HOME and the run store at empty places of this test."""
    folder = tmp_path / "home"
    monkeypatch.setenv("SPARKCANVAS_HOME", str(folder))
    monkeypatch.setenv("SPARKCANVAS_RUNS_DB", str(folder / "runs.db"))
    return folder


@pytest.fixture
def stand_in(tmp_path, monkeypatch) -> Path:
    script = tmp_path / "spark-submit"
    script.write_text(STAND_IN_SPARK_SUBMIT.format(python=sys.executable), encoding="utf-8")
    script.chmod(0o755)
    monkeypatch.setattr(runs, "find_spark_submit", lambda: str(script))
    return script


@pytest.fixture
def jobs_folder(tmp_path) -> Path:
    folder = tmp_path / "jobs"
    folder.mkdir()
    return folder


def tiny_job(name: str, output: Path, schedule: Schedule | None = None, triggers=()) -> Job:
    """Return a job that copies people.csv to Parquet; its --input parameter names the CSV file."""
    source = people()
    source.params["path"] = "${input}"
    target = node("write_people", "target.file", {"in": "people"}, path=str(output / name), format="parquet")
    return Job(
        name=name,
        parameters=[JobParameter("input", "tests/data/people.csv")],
        nodes=[source, target],
        schedule=schedule,
        triggers=list(triggers),
    )


def write_job(folder: Path, job: Job) -> Path:
    path = folder / f"{job.name}.job.json"
    save_job(job, path)
    return path


def run_and_wait(folder: Path, name: str, succeed: bool = True):
    """Run a job of the folder through the run manager and return its finished record."""
    path = folder / f"{name}.job.json"
    params = {} if succeed else {"input": "tests/data/missing.csv"}
    record = runs.start_run(load_job(path), path, params=params).wait(RUN_WAIT_SECONDS)
    assert record.status == (runs.SUCCEEDED if succeed else runs.FAILED), record.error
    return record


def wait_for_handles(scheduler: Scheduler) -> list:
    records = [handle.wait(RUN_WAIT_SECONDS) for handle in scheduler.handles.values()]
    scheduler.handles.clear()
    return records


def new_scheduler(folder: Path, home: Path) -> Scheduler:
    return Scheduler([folder], poll_seconds=1, state=SchedulerState(home / "runs.db"))


# --- checks of the job file ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cron", "expected"),
    [
        ("*/15 * * * *", None),
        ("0 2 * * mon-fri", None),
        ("61 * * * *", "higher than the maximum value (59)"),
        ("* * *", "expected 5"),
        ("0 2 * * 1-5", "as a number ('1-5'); write day names instead"),
        ("0 0 31 2 *", "never matches a date"),
    ],
)
def test_check_cron(cron, expected):
    problem = check_cron("nightly", cron)
    if expected is None:
        assert problem is None
    else:
        assert problem.startswith(f"job 'nightly': schedule.cron {cron!r}")
        assert expected in problem


def test_check_time_zone():
    assert check_time_zone("nightly", "Europe/Paris") is None
    problem = check_time_zone("nightly", "Paris")
    assert problem == (
        "job 'nightly': schedule.time_zone 'Paris' is not an IANA time zone name; "
        "use one such as UTC, Europe/Paris or America/New_York"
    )


def test_job_without_schedule_omits_keys(tmp_path):
    job = tiny_job("plain", tmp_path)
    data = json.loads(job_to_json(job))
    assert "schedule" not in data
    assert "triggers" not in data


def test_schedule_round_trip(tmp_path):
    schedule = Schedule(
        "0 2 * * *", "Europe/Paris", paused=True, missed_runs="skip", parameters={"input": "x"}
    )
    trigger = Trigger(["a", "b"], on="failed", require="any", parameters={"input": "y"})
    job = tiny_job("nightly", tmp_path, schedule, [trigger])
    path = write_job(tmp_path, job)
    loaded = load_job(path)
    assert loaded.schedule == schedule
    assert loaded.triggers == [trigger]
    assert json.loads(path.read_text())["schedule"]["missed_runs"] == "skip"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"schedule": {"cron": "0 25 * * *"}}, "job 'nightly': schedule.cron '0 25 * * *' is invalid"),
        (
            {"schedule": {"cron": "0 2 * * *", "time_zone": "Mars/Olympus"}},
            "schedule.time_zone 'Mars/Olympus'",
        ),
        ({"schedule": {"cron": "0 2 * * *", "missed_runs": "later"}}, "at schedule/missed_runs"),
        ({"triggers": [{"after": ["nightly"]}]}, "triggers[0].after names the job itself"),
        ({"triggers": [{"after": []}]}, "at triggers/0/after"),
        ({"triggers": [{"after": ["a"], "on": "stopped"}]}, "at triggers/0/on"),
    ],
)
def test_bad_schedule_rejected_on_load(tmp_path, change, message):
    data = json.loads(job_to_json(tiny_job("nightly", tmp_path)))
    data.update(change)
    path = tmp_path / "nightly.job.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(JobFormatError) as error:
        load_job(path)
    assert message in str(error.value)


# --- due times and the missed-run policy -----------------------------------------------------


def test_next_runs_in_time_zone():
    schedule = Schedule("30 2 * * mon-fri", "America/New_York")
    times = next_run_times(schedule, utc("2026-06-05T12:00:00"))  # a Friday
    assert [moment.isoformat() for moment in times] == [
        "2026-06-08T02:30:00-04:00",
        "2026-06-09T02:30:00-04:00",
        "2026-06-10T02:30:00-04:00",
        "2026-06-11T02:30:00-04:00",
        "2026-06-12T02:30:00-04:00",
    ]
    assert times[0].tzinfo == ZoneInfo("America/New_York")


def test_due_times_between():
    schedule = Schedule("*/15 * * * *")
    due = due_times(schedule, utc("2026-01-01T10:00:00"), utc("2026-01-01T11:05:00"))
    assert [moment.strftime("%H:%M") for moment in due] == ["10:15", "10:30", "10:45", "11:00"]


def test_due_times_long_downtime_capped():
    schedule = Schedule("* * * * *")
    due = due_times(schedule, utc("2026-01-01T00:00:00"), utc("2026-01-04T00:00:30"), limit=100)
    assert len(due) == 101
    assert due[-1] == utc("2026-01-04T00:00:00")


@pytest.mark.parametrize(
    ("paused", "policy", "last_fire", "now", "start", "reason", "missed", "skipped"),
    [
        # A new schedule: nothing is due before now.
        (False, "run_once", None, "2026-01-02T10:00:10", False, "", 0, False),
        # Nothing due since the last fire.
        (False, "run_once", "2026-01-02T02:00:00", "2026-01-02T10:00:00", False, "", 0, False),
        # Due 10 s ago: on time.
        (False, "skip", "2026-01-01T02:00:00", "2026-01-02T02:00:10", True, "on time", 0, False),
        # Down for three fire times.
        (False, "run_once", "2025-12-30T02:00:00", "2026-01-02T10:00:00", True, "missed", 3, False),
        (False, "skip", "2025-12-30T02:00:00", "2026-01-02T10:00:00", False, "", 3, True),
        # Down for two fire times, back just after a third: the on-time run covers them.
        (False, "skip", "2025-12-30T02:00:00", "2026-01-02T02:00:05", True, "on time", 2, True),
        # Paused: nothing starts, even on time.
        (True, "run_once", "2026-01-01T02:00:00", "2026-01-02T02:00:10", False, "", 0, True),
    ],
)
def test_plan_schedule(paused, policy, last_fire, now, start, reason, missed, skipped):
    schedule = Schedule("0 2 * * *", paused=paused, missed_runs=policy)
    plan = plan_schedule(schedule, utc(last_fire) if last_fire else None, utc(now), GRACE)
    assert plan.start is start
    assert plan.reason == reason
    assert len(plan.missed) == missed
    assert plan.skipped is skipped


def test_plan_advances_last_fire():
    schedule = Schedule("0 2 * * *", missed_runs="skip")
    plan = plan_schedule(schedule, utc("2025-12-30T02:00:00"), utc("2026-01-02T10:00:00"), GRACE)
    assert plan.last_fire == utc("2026-01-02T02:00:00")
    new = plan_schedule(schedule, None, utc("2026-01-02T10:00:00"), GRACE)
    assert new.last_fire == utc("2026-01-02T10:00:00")


# --- trigger evaluation ----------------------------------------------------------------------


def finished(job_name: str, status: str, minute: int) -> FinishedRun:
    return FinishedRun(f"{job_name}-{minute}", job_name, status, utc(f"2026-01-01T10:{minute:02d}:00"))


@pytest.mark.parametrize(
    ("require", "on", "history", "new_run", "fires"),
    [
        ("all", "succeeded", [("a", "succeeded", 1)], ("b", "succeeded", 2), True),
        ("all", "succeeded", [("a", "failed", 1)], ("b", "succeeded", 2), False),
        ("all", "succeeded", [], ("b", "succeeded", 2), False),
        # A run from before the trigger last fired does not count.
        ("all", "succeeded", [("a", "succeeded", 0)], ("b", "succeeded", 2), False),
        ("any", "succeeded", [], ("b", "succeeded", 2), True),
        ("any", "succeeded", [], ("b", "failed", 2), False),
        ("any", "failed", [], ("b", "failed", 2), True),
        ("any", "failed", [], ("b", "timed_out", 2), True),
        ("any", "failed", [], ("b", "cancelled", 2), False),
        ("all", "any", [("a", "failed", 1)], ("b", "succeeded", 2), True),
        ("any", "any", [], ("b", "cancelled", 2), True),
        # A job the trigger does not watch.
        ("any", "any", [], ("c", "succeeded", 2), False),
    ],
)
def test_trigger_fires(require, on, history, new_run, fires):
    trigger = Trigger(["a", "b"], on=on, require=require)
    past = [finished(*run) for run in history]
    last_fired = utc("2026-01-01T10:00:30")
    assert trigger_fires(trigger, last_fired, finished(*new_run), past) is fires


# --- the scheduler against recorded runs -----------------------------------------------------


@pytest.mark.parametrize(
    ("require", "on", "outcomes", "expected_runs"),
    [
        ("all", "succeeded", [("a", True), ("b", True)], 1),
        ("all", "succeeded", [("a", True), ("b", False)], 0),
        ("any", "succeeded", [("a", True), ("b", False)], 1),
        ("any", "failed", [("a", True), ("b", False)], 1),
        ("all", "any", [("a", True), ("b", False)], 1),
        ("any", "any", [("a", True), ("b", False)], 2),
        # "all" needs a new run of each watched job after it fires.
        ("all", "succeeded", [("a", True), ("b", True), ("a", True)], 1),
        ("all", "succeeded", [("a", True), ("b", True), ("a", True), ("b", True)], 2),
    ],
)
def test_scheduler_fires_triggers(
    home, stand_in, jobs_folder, tmp_path, require, on, outcomes, expected_runs
):
    for name in ("a", "b"):
        write_job(jobs_folder, tiny_job(name, tmp_path))
    trigger = Trigger(["a", "b"], on=on, require=require, parameters={"input": "tests/data/orders.csv"})
    write_job(jobs_folder, tiny_job("after_ab", tmp_path, triggers=[trigger]))
    scheduler = new_scheduler(jobs_folder, home)
    scheduler.tick()  # the first look: triggers start their history now

    for name, succeed in outcomes:
        run_and_wait(jobs_folder, name, succeed)
        scheduler.tick()
    wait_for_handles(scheduler)

    started = runs.list_runs("after_ab")
    assert len(started) == expected_runs
    for record in started:
        assert record.parameters["input"] == "tests/data/orders.csv"
        assert record.trigger in ("trigger:a", "trigger:b")


def test_runs_before_trigger_ignored(home, stand_in, jobs_folder, tmp_path):
    write_job(jobs_folder, tiny_job("a", tmp_path))
    write_job(jobs_folder, tiny_job("after_a", tmp_path, triggers=[Trigger(["a"])]))
    run_and_wait(jobs_folder, "a")
    scheduler = new_scheduler(jobs_folder, home)
    scheduler.tick()
    scheduler.tick()
    assert scheduler.handles == {}


def test_trigger_state_survives_restart(home, stand_in, jobs_folder, tmp_path):
    write_job(jobs_folder, tiny_job("a", tmp_path))
    write_job(jobs_folder, tiny_job("after_a", tmp_path, triggers=[Trigger(["a"])]))
    new_scheduler(jobs_folder, home).tick()
    run_and_wait(jobs_folder, "a")  # ends while no scheduler runs

    restarted = new_scheduler(jobs_folder, home)
    restarted.tick()
    assert len(wait_for_handles(restarted)) == 1
    again = new_scheduler(jobs_folder, home)
    again.tick()
    assert again.handles == {}


@pytest.mark.parametrize(
    ("policy", "expected_runs", "logged"),
    [
        ("run_once", 1, "running once now (missed_runs: run_once)"),
        ("skip", 0, "skipped (missed_runs: skip)"),
    ],
)
def test_scheduler_missed_runs(home, stand_in, jobs_folder, tmp_path, caplog, policy, expected_runs, logged):
    now = datetime.now(UTC)
    hour = (now.hour + 12) % 24  # far from now, so no fire time is on time
    schedule = Schedule(f"0 {hour} * * *", missed_runs=policy)
    write_job(jobs_folder, tiny_job("daily", tmp_path, schedule))
    state = SchedulerState(home / "runs.db")
    state.set_last_fire("daily", now - timedelta(days=3))  # the scheduler was down for three days

    scheduler = Scheduler([jobs_folder], poll_seconds=1, state=state)
    with caplog.at_level(logging.INFO, logger="designer.scheduler"):
        scheduler.tick()
    assert len(wait_for_handles(scheduler)) == expected_runs
    assert "job daily: missed 3 scheduled run(s)" in caplog.text
    assert logged in caplog.text
    assert state.last_fire("daily") > now - timedelta(days=1)

    scheduler.tick()
    assert scheduler.handles == {}


def test_scheduler_reloads_and_pauses(home, stand_in, jobs_folder, tmp_path, caplog):
    path = write_job(jobs_folder, tiny_job("daily", tmp_path, Schedule("0 2 * * *")))
    (jobs_folder / "broken.job.json").write_text("{", encoding="utf-8")
    state = SchedulerState(home / "runs.db")
    scheduler = Scheduler([jobs_folder], poll_seconds=1, state=state)
    with caplog.at_level(logging.INFO, logger="designer.scheduler"):
        scheduler.tick()
    assert "cannot load job file" in caplog.text
    assert "broken.job.json" in caplog.text
    assert state.last_fire("daily") is not None

    job = load_job(path)
    job.schedule.paused = True
    state.set_last_fire("daily", datetime.now(UTC) - timedelta(days=3))
    save_job(job, path)
    with caplog.at_level(logging.INFO, logger="designer.scheduler"):
        scheduler.tick()
    assert scheduler.handles == {}
    assert "because the schedule is paused" in caplog.text


def test_finished_since_reads_run_store(home, stand_in, jobs_folder, tmp_path):
    write_job(jobs_folder, tiny_job("a", tmp_path))
    before = datetime.now(UTC) - timedelta(seconds=1)
    ok = run_and_wait(jobs_folder, "a")
    bad = run_and_wait(jobs_folder, "a", succeed=False)
    found = scheduler_runs.finished_since(before)
    assert [(run.run_id, run.status) for run in found] == [(ok.run_id, "succeeded"), (bad.run_id, "failed")]
    assert scheduler_runs.finished_since(found[-1].ended_at) == []


# --- the Schedules tab -----------------------------------------------------------------------


@pytest.fixture
def app(jobs_folder, home, tmp_path, monkeypatch) -> AppTest:
    write_job(jobs_folder, tiny_job("nightly", tmp_path, Schedule("0 2 * * *", "Europe/Paris")))
    write_job(jobs_folder, tiny_job("after_nightly", tmp_path, triggers=[Trigger(["nightly"])]))
    write_job(jobs_folder, tiny_job("plain", tmp_path))
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("SPARKCANVAS_JOBS_DIR", str(jobs_folder))
    monkeypatch.setenv("SPARKCANVAS_JOB", str(jobs_folder / "nightly.job.json"))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=APP_TIMEOUT)
    at.run()
    assert not at.exception, [item.message for item in at.exception]
    return at


def tab_key(at: AppTest, *parts: str) -> str:
    return ":".join([str(at.session_state["job_token"]), "schedules", *parts])


def test_tab_shows_next_runs(app):
    texts = [item.value for item in app.markdown]
    assert "**Next runs** (Europe/Paris)" in texts
    [listing] = [text for text in texts if text.startswith("- ")]
    lines = listing.splitlines()
    assert len(lines) == 5
    assert all(" 02:00 CE" in line for line in lines)  # CET or CEST


def test_tab_lists_folder_schedules(app):
    [table] = [table for table in app.dataframe if "triggers" in table.value.columns]
    rows = table.value.to_dict("records")
    assert [row["job"] for row in rows] == ["after_nightly", "nightly"]
    assert rows[0]["triggers"] == "after nightly succeeded"
    assert rows[1]["schedule"] == "0 2 * * * (Europe/Paris)"
    assert rows[1]["status"] == "active"


def test_tab_rejects_bad_cron(app):
    app.text_input(key=tab_key(app, "cron")).set_value("0 2 * * 1").run()
    assert "as a number ('1')" in app.error[0].value
    assert app.session_state["job"].schedule.cron == "0 2 * * *"
    app.text_input(key=tab_key(app, "cron")).set_value("*/30 * * * *").run()
    assert app.session_state["job"].schedule.cron == "*/30 * * * *"


def test_tab_pause_writes_file(app, jobs_folder):
    app.button(key=tab_key(app, "pause")).click().run()
    assert not app.exception
    assert load_job(jobs_folder / "nightly.job.json").schedule.paused is True
    assert app.session_state["job"].schedule.paused is True
    assert "Paused: the scheduler starts no run until you resume it." in [item.value for item in app.caption]
    app.button(key=tab_key(app, "pause")).click().run()
    assert load_job(jobs_folder / "nightly.job.json").schedule.paused is False


def test_tab_adds_trigger_and_schedule(app):
    app.toggle(key=tab_key(app, "enabled")).set_value(False).run()
    assert app.session_state["job"].schedule is None
    app.button(key=tab_key(app, "add_trigger")).click().run()
    [trigger] = app.session_state["job"].triggers
    assert trigger.after == ["after_nightly"]
    [require] = [box for box in app.selectbox if box.label == "Require"]
    require.set_value("any").run()
    assert app.session_state["job"].triggers[0].require == "any"


# --- the real scheduler process with spark-submit --------------------------------------------


def start_scheduler(folder: Path, log: Path, environment: dict) -> subprocess.Popen:
    with open(log, "ab") as stream:
        return subprocess.Popen(
            [SPARKCANVAS, "scheduler", "--jobs", str(folder), "--poll", "2"],
            stdout=stream,
            stderr=subprocess.STDOUT,
            env=environment,
            cwd=ROOT,
        )


def stop_scheduler(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=120) == 0


def wait_until(condition, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(2)
    raise AssertionError(f"timed out after {seconds} s waiting for {what}")


def finished_runs(job_name: str) -> list:
    return [record for record in runs.list_runs(job_name) if record.status != runs.RUNNING]


@pytest.mark.spark
def test_scheduler_process_end_to_end(home, jobs_folder, tmp_path):
    """One scheduler process runs every case at once, because the every-minute job needs minutes."""
    output = tmp_path / "output"
    now = datetime.now(UTC)
    far_hour = (now.hour + 12) % 24
    write_job(jobs_folder, tiny_job("every_minute", output, Schedule("* * * * *")))
    write_job(jobs_folder, tiny_job("upstream", output))
    write_job(jobs_folder, tiny_job("downstream", output, triggers=[Trigger(["upstream"])]))
    write_job(
        jobs_folder, tiny_job("catch_up", output, Schedule(f"0 {far_hour} * * *", missed_runs="run_once"))
    )
    write_job(jobs_folder, tiny_job("skipped", output, Schedule(f"0 {far_hour} * * *", missed_runs="skip")))
    state = SchedulerState(home / "runs.db")
    for name in ("catch_up", "skipped"):
        state.set_last_fire(name, now - timedelta(days=2))  # as if the scheduler had been down two days
    environment = {**os.environ, "SPARK_LOCAL_IP": "127.0.0.1"}
    log = tmp_path / "scheduler.log"
    started = time.monotonic()
    process = start_scheduler(jobs_folder, log, environment)
    try:
        # A run started elsewhere: the command line, while the scheduler watches.
        wait_until(lambda: "scheduler started" in log.read_text(), 60, "the scheduler to start")
        upstream = subprocess.run(
            [SPARKCANVAS, "run", str(jobs_folder / "upstream.job.json"), "-q"],
            capture_output=True,
            text=True,
            timeout=300,
            env=environment,
            cwd=ROOT,
        )
        assert upstream.returncode == 0, upstream.stderr[-2000:]
        [downstream] = wait_until(lambda: finished_runs("downstream"), 120, "the triggered run")
        assert downstream.status == runs.SUCCEEDED, downstream.error
        assert downstream.started_at > runs.list_runs("upstream")[0].ended_at

        failed = subprocess.run(
            [
                SPARKCANVAS,
                "run",
                str(jobs_folder / "upstream.job.json"),
                "-q",
                "--param",
                "input=missing.csv",
            ],
            capture_output=True,
            text=True,
            timeout=300,
            env=environment,
            cwd=ROOT,
        )
        assert failed.returncode == 1

        [catch_up] = wait_until(lambda: finished_runs("catch_up"), 120, "the catch-up run")
        assert catch_up.status == runs.SUCCEEDED, catch_up.error
        minutes = wait_until(
            lambda: len(finished_runs("every_minute")) >= 2 or None, 200, "two scheduled runs"
        )
        assert minutes
        assert time.monotonic() - started < 200
        time.sleep(5)  # two polls after the failed upstream run
    finally:
        stop_scheduler(process)

    text = log.read_text()
    assert "job catch_up: missed 2 scheduled run(s)" in text
    assert "running once now (missed_runs: run_once)" in text
    assert "job skipped: missed 2 scheduled run(s)" in text
    assert "skipped (missed_runs: skip)" in text
    assert f"job downstream: started run {downstream.run_id} for trigger: run" in text
    assert "scheduler stopped" in text
    assert runs.list_runs("skipped") == []
    assert len(runs.list_runs("downstream")) == 1
    assert all(record.status == runs.SUCCEEDED for record in finished_runs("every_minute")[-2:])
    history = {record.run_id: record.status for record in runs.list_runs() if record.status != runs.RUNNING}

    # Pause the every-minute job, then restart: the history is kept and nothing fires again.
    every_minute = load_job(jobs_folder / "every_minute.job.json")
    every_minute.schedule.paused = True
    save_job(every_minute, jobs_folder / "every_minute.job.json")
    process = start_scheduler(jobs_folder, log, environment)
    try:
        wait_until(lambda: log.read_text().count("scheduler started") == 2, 60, "the restart")
        time.sleep(6)
    finally:
        stop_scheduler(process)
    after = {record.run_id: record.status for record in runs.list_runs()}
    assert {run_id: after[run_id] for run_id in history} == history
    assert len(runs.list_runs("downstream")) == 1
    assert len(runs.list_runs("catch_up")) == 1
    assert set(after) == set(history)
