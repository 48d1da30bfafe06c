"""The run manager: run a job's PySpark script with spark-submit and keep a record of each run.

Runs are rows of the run store (designer.run_store, one SQLite file shared by the designer,
the `sparkcanvas` command and the scheduler). Each run's files live in
`$SPARKCANVAS_HOME/runs/<run_id>/` (default `~/.sparkcanvas`): `script.py` (the script that
ran) and one log per attempt, `log.txt` then `log-2.txt`, `log-3.txt` for retries.

The process that calls start_run supervises the run in a thread. The thread waits for a free
slot (the job's `run.max_concurrent_runs`) and launches spark-submit in its own process group.
It stops spark-submit on cancel or timeout, retries a failed attempt, and records each step. The record's
rows and error come from the lines the generated script logs: `Running node <id>` before
each node and `Node <id> wrote <n> rows to <path>` after each target write.
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from codegen.safe_write import RUN_ID_CONF
from designer import masters
from designer.errors import RunError, did_you_mean
from designer.model import SPARK_CONF_KEY_PATTERN, Job, RunSettings
from designer.run_store import (
    ACTIVE_STATUSES,
    CANCELLED,
    FAILED,
    FINAL_STATUSES,
    QUEUED,
    RUNNING,
    SUCCEEDED,
    SUPERVISOR_ENDED_ERROR,
    TIMED_OUT,
    Attempt,
    RunRecord,
    RunStore,
    host_name,
    now,
    open_store,
    parse_targets,
    process_started,
    runs_db_path,
    signal_process_group,
    sparkcanvas_home,
)
from designer.validation import validate

logger = logging.getLogger(__name__)

__all__ = [
    "ACTIVE_STATUSES",
    "CANCELLED",
    "FAILED",
    "FINAL_STATUSES",
    "QUEUED",
    "RUNNING",
    "SUCCEEDED",
    "SUPERVISOR_ENDED_ERROR",
    "TIMED_OUT",
    "Progress",
    "RunHandle",
    "RunRecord",
    "cancel_run",
    "finished_since",
    "list_runs",
    "load_run",
    "read_log_tail",
    "run_job",
    "run_progress",
    "runs_db_path",
    "start_run",
]

SCRIPT_FILE = "script.py"
LOG_FILE = "log.txt"
CANCELLED_ERROR = "the run was cancelled"

RUNNING_NODE = re.compile(r"Running node ([A-Za-z_][A-Za-z0-9_]*)")
TRACEBACK_START = "Traceback (most recent call last):"
# An exception message that starts with a Spark error class, such as [UNRESOLVED_COLUMN...].
SPARK_ERROR_CLASS = re.compile(r"^[\w.]+: (\[[A-Z_.]+\].*)$")
SPARK_UI_STARTED = re.compile(r"Successfully started service 'SparkUI' on port (\d+)")
# Spark settings that every run gets from the runner: the run id for safe writes, the UI port for progress.
RUNNER_SPARK_CONF = (RUN_ID_CONF, "spark.ui.port")

FOLLOW_INTERVAL = 0.2  # seconds between reads of a growing log file
WATCH_INTERVAL = 0.25  # seconds between checks of a running spark-submit
CANCEL_CHECK_INTERVAL = 0.5  # seconds between reads of the store for a cancel request
ADMIT_INTERVAL = 0.5  # seconds between tries of a queued run to get a slot
STOP_GRACE_SECONDS = 10  # after SIGTERM, spark-submit gets this long before SIGKILL
CANCEL_WAIT_SECONDS = 30  # cancel_run waits this long for the supervisor to record the end
PROGRESS_TIMEOUT_SECONDS = 1.0
PROGRESS_INTERVAL = 1.0

# The Spark driver's REST API is always read on this machine; a proxy from the environment
# must not carry the request elsewhere.
_local_http = urllib.request.build_opener(urllib.request.ProxyHandler({}))


# --- reading the store -----------------------------------------------------------------------


def runs_home() -> Path:
    """Return the folder that contains one subfolder of files per run: $SPARKCANVAS_HOME/runs."""
    return sparkcanvas_home() / "runs"


def new_run_id() -> str:
    """Return an id that sorts by creation time: UTC time to the millisecond plus 6 hex digits."""
    moment = datetime.now(UTC)
    return f"{moment:%Y%m%dT%H%M%S}{moment.microsecond // 1000:03d}Z-{secrets.token_hex(3)}"


def load_run(run_id: str) -> RunRecord:
    """Return one run, by its id or a unique prefix of it, with its attempts."""
    if not run_id or not run_id.strip():
        raise RunError("invalid run id ''; `sparkcanvas runs` lists the stored runs")
    return open_store().get(run_id.strip())


def list_runs(job_name: str | None = None, limit: int | None = None) -> list[RunRecord]:
    """Return the stored runs, newest first, optionally only those of one job."""
    return open_store().list_runs(job_name=job_name, limit=limit)


def finished_since(moment: datetime | str) -> list[RunRecord]:
    """Return the runs that ended after `moment` (an aware datetime or ISO text), oldest first."""
    return open_store().finished_since(moment)


def read_log_tail(record: RunRecord, lines: int = 200) -> str:
    """Return the last `lines` lines of the run's latest log, or '' when there is no log yet."""
    try:
        with open(record.log_path, encoding="utf-8", errors="replace") as stream:
            tail = stream.readlines()[-lines:] if lines > 0 else []
    except OSError:
        return ""
    return "".join(tail)


# --- reading the log -------------------------------------------------------------------------


def last_started_node(log: str) -> str | None:
    """Return the id in the last `Running node <id>` line, or None if no node started."""
    matches = RUNNING_NODE.findall(log)
    return matches[-1] if matches else None


def exception_line(log: str) -> str | None:
    """Return the exception line of the last Python traceback in the log, or None.

    A Spark error keeps only its message, which starts with the error class; any other
    exception keeps its short type name, as in `FileNotFoundError: ...`.
    """
    lines = log.splitlines()
    starts = [index for index, line in enumerate(lines) if line.startswith(TRACEBACK_START)]
    if not starts:
        return None
    following = lines[starts[-1] + 1 :]
    for position, line in enumerate(following):
        if line.strip() and not line[0].isspace():
            return _short_exception(line.strip()) + _java_cause(following[position + 1 :])
    return None


def _java_cause(lines: list[str]) -> str:
    """Return the Java exception below a Py4JJavaError line, such as `: SparkException: ...`."""
    for line in lines[:5]:
        if line.startswith(": "):
            return f" ({_short_exception(line[2:].strip())})"
    return ""


def _short_exception(line: str) -> str:
    spark_error = SPARK_ERROR_CLASS.match(line)
    if spark_error:
        return spark_error[1]
    name, separator, message = line.partition(": ")
    if separator and re.fullmatch(r"[\w.]+", name):
        return f"{name.rsplit('.', 1)[-1]}: {message}"
    return line


def failure_reason(log: str, exit_code: int | None) -> str:
    """Return why a run failed: the exception line, else the last log line, else the exit code."""
    reason = exception_line(log)
    if reason:
        return reason
    last_lines = [line.strip() for line in log.splitlines() if line.strip()]
    if last_lines:
        return f"{last_lines[-1]} (exit code {exit_code})"
    return f"spark-submit exited with code {exit_code} and wrote no log"


def describe_failure(job: Job, log: str, exit_code: int | None) -> str:
    """Return the one-line error of a failed run, naming the last node that started."""
    reason = failure_reason(log, exit_code)
    node_id = last_started_node(log)
    if node_id is None:
        return f"the run failed before any node started: {reason}"
    return f"{_node_label(job, node_id)} failed: {reason}"


def _node_label(job: Job, node_id: str) -> str:
    if job.has_node(node_id) and job.node(node_id).name not in ("", node_id):
        return f"node {node_id} ({job.node(node_id).name})"
    return f"node {node_id}"


# --- starting a run --------------------------------------------------------------------------


def resolve_parameters(job: Job, params: dict[str, str] | None) -> dict[str, str]:
    """Merge run-time values over the job's parameter defaults, rejecting unknown names."""
    values = job.parameter_defaults()
    for name, value in (params or {}).items():
        if name not in values:
            raise RunError(_unknown_parameter_message(job, name))
        values[name] = str(value)
    return values


def _unknown_parameter_message(job: Job, name: str) -> str:
    known = sorted(job.parameter_defaults())
    if not known:
        return f"unknown parameter {name!r}: job {job.name!r} takes no parameters"
    return (
        f"unknown parameter {name!r}: job {job.name!r} takes {', '.join(known)}.{did_you_mean(name, known)}"
    )


def check_master(master: str) -> str:
    """Return the master without surrounding spaces, or raise RunError naming the value and the fix."""
    return masters.check_master(master)


def find_spark_submit() -> str:
    """Return the spark-submit of the installed pyspark package, else the one on PATH."""
    try:
        import pyspark
    except ImportError:
        pyspark = None
    if pyspark is not None:
        candidate = Path(pyspark.__file__).parent / "bin" / "spark-submit"
        if candidate.is_file():
            return str(candidate)
    on_path = shutil.which("spark-submit")
    if on_path is None:
        raise RunError(
            "spark-submit not found: it is neither in the pyspark package nor on PATH; "
            "install pyspark into this Python environment (pip install pyspark)"
        )
    return on_path


def find_java() -> str:
    """Return the java that spark-submit will use: $JAVA_HOME/bin/java, else java on PATH."""
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / "java").is_file():
        return str(Path(java_home) / "bin" / "java")
    on_path = shutil.which("java")
    if on_path is None:
        raise RunError(
            "Java not found: Spark needs Java 17 or newer; install it and put java on PATH or set JAVA_HOME"
        )
    # NOTE: the version is not checked here; Java older than 17 fails in the run's log.
    return on_path


def emit_run_script(job: Job) -> str:
    try:
        from codegen.pyspark import emit_script
    except ImportError as exc:
        raise RunError(f"the PySpark emitter is not available: {exc}") from exc
    return emit_script(job)


def run_environment(master: str) -> dict[str, str]:
    """Return spark-submit's environment: this Python for the driver and the workers."""
    env = dict(os.environ)
    env["PYSPARK_PYTHON"] = sys.executable
    env["PYSPARK_DRIVER_PYTHON"] = sys.executable
    env["PYTHONUNBUFFERED"] = "1"
    if masters.is_local(master):
        # A local run needs no outside connections, so the driver and its web UI listen on
        # loopback only. A cluster run keeps Spark's default, which executors can reach.
        env.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    return env


def extra_jars(job: Job) -> list[str]:
    """Return the jars the job's nodes need on Spark's class path, such as a JDBC driver.

    catalog.postgres.spark_submit_jars decides which; without the catalog package there are none.
    """
    try:
        from catalog.postgres import spark_submit_jars
    except ImportError:
        return []
    jars = spark_submit_jars(job) or []
    if isinstance(jars, str | os.PathLike):
        jars = [jars]
    return [str(jar) for jar in jars]


def spark_submit_command(
    spark_submit: str,
    master: str,
    script: Path,
    values: dict[str, str],
    ui_port: int | None = None,
    jars: list[str] | tuple[str, ...] = (),
    run_id: str | None = None,
    conf: dict[str, str] | None = None,
) -> list[str]:
    command = [spark_submit, "--master", master, "--conf", "spark.ui.showConsoleProgress=false"]
    for key, value in (conf or {}).items():
        command += ["--conf", f"{key}={value}"]
    if run_id is not None:
        # Every attempt of a run passes the same id, so the script's safe write appends once.
        command += ["--conf", f"{RUN_ID_CONF}={run_id}"]
    if ui_port is not None:
        command += ["--conf", f"spark.ui.port={ui_port}"]
    if masters.is_local(master):
        # NOTE: only a local driver binds to loopback; a cluster's executors must reach the driver.
        command += ["--conf", "spark.driver.host=127.0.0.1", "--conf", "spark.driver.bindAddress=127.0.0.1"]
    if jars:
        command += ["--jars", ",".join(jars)]
    command.append(str(script))
    for name, value in values.items():
        command += [f"--{name}", value]
    return command


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free now, for the driver's web UI."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- starting a run --------------------------------------------------------------------------


@dataclass(frozen=True)
class RunPlan:
    """Everything a run needs that was checked before it was recorded."""

    job: Job
    settings: RunSettings
    values: dict[str, str]
    master: str
    spark_submit: str
    jars: list[str]


def start_run(
    job: Job,
    job_path: str | os.PathLike,
    master: str | None = None,
    params: dict[str, str] | None = None,
    trigger: str = "manual",
    *,
    timeout_minutes: float | None = None,
    retries: int | None = None,
    spark_conf: dict[str, str] | None = None,
) -> RunHandle:
    """Validate a job, record a run and supervise it in a background thread of this process.

    `master` defaults to the job's `run.master`; `timeout_minutes` and `retries` override the
    job's `run` settings for this run, and `spark_conf` adds to or overrides its `run.spark_conf`.
    The run waits (queued) or is skipped when the job already has `run.max_concurrent_runs`
    runs queued or running, as `run.when_busy` sets.
    Relative paths in the job resolve against the current working directory, as in the
    preview. Raises JobValidationError for an invalid job and RunError when the run cannot
    be started.
    """
    plan = _plan(job, master, params, timeout_minutes, retries, spark_conf)
    script = emit_run_script(job)
    store = open_store()
    record = _new_record(plan, job_path, trigger)
    Path(record.script_path).write_text(script, encoding="utf-8")
    _insert_or_skip(store, record, plan.settings)

    handle = RunHandle(plan, record, store)
    if record.status == CANCELLED:
        logger.warning("run %s of job %s skipped: %s", record.run_id, job.name, record.error)
        handle._done.set()
        return handle
    logger.info(
        "run %s of job %s queued (trigger %s, master %s)", record.run_id, job.name, trigger, plan.master
    )
    handle._start_supervisor()
    return handle


def _plan(job: Job, master, params, timeout_minutes, retries, spark_conf=None) -> RunPlan:
    validate(job).raise_if_invalid()
    settings = _settings(job, timeout_minutes, retries)
    settings.spark_conf = checked_spark_conf({**job.run.spark_conf, **(spark_conf or {})})
    master = check_master(master or settings.master)
    values = resolve_parameters(job, params)
    spark_submit = find_spark_submit()
    find_java()
    return RunPlan(job.copy(), settings, values, master, spark_submit, extra_jars(job))


def _settings(job: Job, timeout_minutes: float | None, retries: int | None) -> RunSettings:
    settings = RunSettings(**vars(job.run))
    if timeout_minutes is not None:
        if timeout_minutes < 0:
            raise RunError(f"invalid timeout {timeout_minutes} minutes; use 0 (no limit) or more")
        settings.timeout_minutes = timeout_minutes
    if retries is not None:
        if retries < 0:
            raise RunError(f"invalid number of retries {retries}; use 0 or more")
        settings.retries = retries
    return settings


def checked_spark_conf(conf: dict[str, str]) -> dict[str, str]:
    """Return the Spark settings of a run, or raise RunError for a key spark-submit would not apply."""
    for key in conf:
        if not re.match(SPARK_CONF_KEY_PATTERN, key):
            raise RunError(
                f"invalid Spark setting {key!r}: a key starts with 'spark.' and has no spaces or '=', "
                "for example spark.sql.catalogImplementation=hive"
            )
        if key in RUNNER_SPARK_CONF:
            raise RunError(f"invalid Spark setting {key!r}: the runner sets it for every run; remove it")
    return conf


def _new_record(plan: RunPlan, job_path, trigger: str) -> RunRecord:
    run_id = new_run_id()
    folder = runs_home() / run_id
    folder.mkdir(parents=True, exist_ok=False)
    return RunRecord(
        run_id=run_id,
        job_name=plan.job.name,
        job_path=str(Path(job_path).resolve()),
        status=QUEUED,
        master=plan.master,
        parameters=plan.values,
        log_path=str(folder / LOG_FILE),
        script_path=str(folder / SCRIPT_FILE),
        working_dir=os.getcwd(),
        trigger=trigger,
        max_attempts=plan.settings.retries + 1,
        queued_at=now(),
        host=host_name(),
        supervisor_pid=os.getpid(),
        supervisor_started=process_started(os.getpid()),
    )


def _insert_or_skip(store: RunStore, record: RunRecord, settings: RunSettings) -> None:
    """Insert the run as queued, or as cancelled when the job is busy and `when_busy` is skip."""
    with store.transaction() as connection:
        active = store.count_active(connection, record.job_name)
        if settings.when_busy == "skip" and active >= settings.max_concurrent_runs:
            record.status = CANCELLED
            record.ended_at = now()
            record.error = (
                f"skipped: job {record.job_name!r} already has {active} run(s) queued or running, "
                f"its maximum (run.max_concurrent_runs is {settings.max_concurrent_runs} and "
                "run.when_busy is skip)"
            )
        store.insert_in(connection, record)


# --- a run in progress -----------------------------------------------------------------------


@dataclass
class AttemptResult:
    """The outcome of one spark-submit launch: status, exit code, error and targets written."""

    status: str
    exit_code: int | None
    error: str | None
    targets: list[dict[str, Any]] = field(default_factory=list)


class RunHandle:
    """A run started by this process: its latest record and the thread that supervises it."""

    def __init__(self, plan: RunPlan, record: RunRecord, store: RunStore):
        self.plan = plan
        self.job = plan.job
        self.record = record
        self._store = store
        self._done = threading.Event()

    @property
    def run_id(self) -> str:
        return self.record.run_id

    def _start_supervisor(self) -> None:
        name = f"sparkcanvas-run-{self.run_id}"
        threading.Thread(target=self._supervise, name=name, daemon=True).start()

    def _refresh(self) -> RunRecord:
        self.record = self._store.get(self.run_id)
        return self.record

    # --- supervision ---

    def _supervise(self) -> None:
        try:
            while self._wait_for_slot():
                result = self._run_attempt()
                if not self._end_attempt(result):
                    break
        except Exception as exc:  # noqa: BLE001 -- a supervisor error must still end the record
            logger.exception("run %s of job %s: the supervisor failed", self.run_id, self.job.name)
            self._fail_unexpectedly(exc)
        finally:
            self._log_end()
            self._done.set()

    def _wait_for_slot(self) -> bool:
        """Wait until the run may start; False when it was cancelled while queued."""
        waited = 0.0
        while True:
            admitted = self._store.try_admit(self.run_id, self.plan.settings.max_concurrent_runs)
            if admitted is not None:
                self.record = admitted
                return True
            if self._refresh().status != QUEUED:
                return False
            if waited == 0.0 and self.record.next_attempt_at is None:
                logger.info("run %s of job %s waits for a free slot", self.run_id, self.job.name)
            if int(waited) % 5 == 0:
                self._store.repair_stale()  # a dead process's queued run must not block this one
            time.sleep(ADMIT_INTERVAL)
            waited += ADMIT_INTERVAL

    def _run_attempt(self) -> AttemptResult:
        record = self.record
        number = record.attempt
        log_path = attempt_log_path(record.folder, number)
        port = free_port()
        command = spark_submit_command(
            self.plan.spark_submit,
            self.plan.master,
            Path(record.script_path),
            self.plan.values,
            ui_port=port,
            jars=self.plan.jars,
            run_id=self.run_id,
            conf=self.plan.settings.spark_conf,
        )
        started = now()
        try:
            process = _launch(command, log_path, record.working_dir, run_environment(self.plan.master))
        except OSError as exc:
            error = f"cannot start spark-submit ({command[0]}): {exc.strerror or exc}"
            self._store.save_attempt(self.run_id, Attempt(number, FAILED, str(log_path), started, now()))
            return AttemptResult(FAILED, None, error)

        self.record = self._store.update(
            self.run_id,
            pid=process.pid,
            pid_started=process_started(process.pid),
            ui_port=port,
            log_path=str(log_path),
            started_at=record.started_at or started,
            exit_code=None,
            next_attempt_at=None,
        )
        self._store.save_attempt(self.run_id, Attempt(number, RUNNING, str(log_path), started))
        logger.info(
            "run %s of job %s: attempt %s of %s started on %s (pid %s, UI port %s)",
            self.run_id,
            self.job.name,
            number,
            record.max_attempts,
            self.plan.master,
            process.pid,
            port,
        )
        exit_code, stop_reason = self._watch(process)
        return self._result(exit_code, stop_reason)

    def _watch(self, process: subprocess.Popen) -> tuple[int, str | None]:
        """Wait for spark-submit to exit, stopping it on a cancel request or at the time limit."""
        limit = self.plan.settings.timeout_minutes * 60
        started = time.monotonic()
        last_check = started
        stop_reason: str | None = None
        stopped_at = 0.0
        while True:
            try:
                return process.wait(timeout=WATCH_INTERVAL), stop_reason
            except subprocess.TimeoutExpired:
                pass
            moment = time.monotonic()
            if stop_reason is None:
                if limit and moment - started >= limit:
                    stop_reason = TIMED_OUT
                elif moment - last_check >= CANCEL_CHECK_INTERVAL:
                    last_check = moment
                    stop_reason = CANCELLED if self._refresh().cancel_requested else None
                if stop_reason is not None:
                    stopped_at = moment
                    self._signal(process, signal.SIGTERM, stop_reason)
            elif stopped_at and moment - stopped_at >= STOP_GRACE_SECONDS:
                stopped_at = 0.0
                self._signal(process, signal.SIGKILL, stop_reason)

    def _signal(self, process: subprocess.Popen, signal_number: int, reason: str) -> None:
        logger.info(
            "run %s of job %s: sending %s to spark-submit (%s)",
            self.run_id,
            self.job.name,
            signal.Signals(signal_number).name,
            reason,
        )
        try:
            os.killpg(process.pid, signal_number)
        except ProcessLookupError:
            pass  # it ended on its own meanwhile

    def _result(self, exit_code: int, stop_reason: str | None) -> AttemptResult:
        log = _read_whole(self.record.log_path)
        targets = parse_targets(log)
        if stop_reason == CANCELLED or self._refresh().cancel_requested:
            return AttemptResult(CANCELLED, exit_code, CANCELLED_ERROR, targets)
        if stop_reason == TIMED_OUT:
            minutes = self.plan.settings.timeout_minutes
            error = f"the run timed out after {minutes:g} minutes and was stopped"
            return AttemptResult(TIMED_OUT, exit_code, error, targets)
        if exit_code == 0:
            return AttemptResult(SUCCEEDED, exit_code, None, targets)
        return AttemptResult(FAILED, exit_code, describe_failure(self.job, log, exit_code), targets)

    def _end_attempt(self, result: AttemptResult) -> bool:
        """Record the attempt's end; True when the run goes on with a retry."""
        record = self.record
        warnings = self._update_catalog() if result.status == SUCCEEDED else []
        attempt = Attempt(
            record.attempt,
            result.status,
            record.log_path,
            _attempt_start(record),
            now(),
            result.exit_code,
            result.error,
        )
        final = {
            "status": result.status,
            "ended_at": attempt.ended_at,
            "exit_code": result.exit_code,
            "targets": result.targets,
            "error": result.error,
            "warnings": record.warnings + warnings,
        }
        retry = self._retry_values(result) if result.status == FAILED else None
        self.record = self._store.end_attempt(self.run_id, attempt, final, retry)
        if self.record.status == QUEUED:
            logger.warning(
                "run %s of job %s: attempt %s failed, retry at %s: %s",
                self.run_id,
                self.job.name,
                record.attempt,
                self.record.next_attempt_at,
                result.error,
            )
            return True
        return False

    def _retry_values(self, result: AttemptResult) -> dict[str, Any] | None:
        record = self.record
        if record.attempt >= record.max_attempts:
            return None
        delay = self.plan.settings.retry_delay_seconds
        retry_at = (datetime.now(UTC) + timedelta(seconds=delay)).isoformat(timespec="milliseconds")
        return {
            "status": QUEUED,
            "attempt": record.attempt + 1,
            "next_attempt_at": retry_at,
            "exit_code": result.exit_code,
            "targets": result.targets,
            "pid": None,
            "pid_started": None,
            "error": f"attempt {record.attempt} of {record.max_attempts} failed, retrying in "
            f"{delay:g} s: {result.error}",
        }

    def _update_catalog(self) -> list[str]:
        """Update the SparkCanvas catalog for the job's catalog targets; return warnings."""
        if not any(node.type == "target.catalog" for node in self.job.nodes):
            return []
        try:
            from catalog.targets import update_catalog_after_run

            changes = update_catalog_after_run(self.job, self.plan.values) or []
        except Exception as exc:  # noqa: BLE001 -- the data is written; the run stays succeeded
            logger.warning(
                "run %s of job %s: updating the catalog failed: %s",
                self.run_id,
                self.job.name,
                exc,
                exc_info=True,
            )
            return [f"the data was written, but updating the catalog failed: {exc}"]
        for change in changes:
            logger.info("run %s of job %s: catalog: %s", self.run_id, self.job.name, change)
        return []

    def _fail_unexpectedly(self, exc: Exception) -> None:
        if self.record.pid is not None:
            signal_process_group(self.record.pid, self.record.pid_started, signal.SIGTERM)
        try:
            self.record = self._store.update(
                self.run_id, status=FAILED, ended_at=now(), error=f"the run's supervisor failed: {exc}"
            )
        except RunError:
            logger.exception("run %s: cannot record the supervisor's failure", self.run_id)

    def _log_end(self) -> None:
        record = self.record
        if record.status == SUCCEEDED:
            logger.info(
                "run %s of job %s succeeded in %.1f s", record.run_id, record.job_name, record.duration or 0.0
            )
        else:
            logger.warning(
                "run %s of job %s ended %s (exit code %s): %s",
                record.run_id,
                record.job_name,
                record.status_label,
                record.exit_code,
                record.error,
            )

    # --- for callers ---

    def poll(self) -> str:
        """Return the run's status now: queued, running or its final status."""
        if self._done.is_set():
            return self.record.status
        return self._refresh().status

    def wait(self, timeout: float | None = None) -> RunRecord:
        """Wait for the run to end and return its final record.

        Raises RunError if it is still going after `timeout` seconds.
        """
        if not self._done.wait(timeout):
            raise RunError(
                f"run {self.run_id} is still {self.poll()} after {timeout} s; wait longer or cancel it"
            )
        return self.record

    def cancel(self) -> None:
        """Ask the run to stop; the supervisor records it as cancelled."""
        if self._done.is_set():
            return
        try:
            cancel_run(self.run_id, wait=0)
        except RunError as exc:
            logger.info("run %s: %s", self.run_id, exc)


def _launch(command: list[str], log_path: Path, working_dir: str, env: dict[str, str]) -> subprocess.Popen:
    """Start spark-submit in its own process group, its output going to the attempt's log."""
    with open(log_path, "wb") as log:
        return subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=working_dir or None,
            start_new_session=True,
        )


def attempt_log_path(folder: Path, number: int) -> Path:
    """Return the log of attempt `number`: log.txt for the first, log-N.txt for a retry."""
    return folder / (LOG_FILE if number == 1 else f"log-{number}.txt")


def _attempt_start(record: RunRecord) -> str | None:
    for attempt in record.attempts:
        if attempt.attempt == record.attempt:
            return attempt.started_at
    return record.started_at


def _read_whole(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


# --- cancelling from any process -------------------------------------------------------------


def cancel_run(run_id: str, wait: float = CANCEL_WAIT_SECONDS) -> RunRecord:
    """Cancel a queued or running run, whichever process started it, and return its record.

    A queued run is recorded cancelled at once. For a running run this sends SIGTERM to its
    spark-submit process group and waits up to `wait` seconds for the supervisor to record
    `cancelled`. Raises RunError when the run has already ended.
    """
    store = open_store()
    record = store.request_cancel(load_run(run_id).run_id, CANCELLED_ERROR)
    logger.info("cancelling run %s of job %s (it was %s)", record.run_id, record.job_name, record.status)
    if record.status == RUNNING and record.host == host_name():
        signal_process_group(record.pid, record.pid_started, signal.SIGTERM)
    deadline = time.monotonic() + wait
    while record.status in ACTIVE_STATUSES and time.monotonic() < deadline:
        time.sleep(0.2)
        store.repair_stale()
        record = store.get(record.run_id)
    return record


# --- progress from the Spark driver ----------------------------------------------------------


@dataclass(frozen=True)
class Progress:
    """Stage and task counts of a running Spark application, over the jobs it has started."""

    jobs_total: int
    jobs_done: int
    stages_total: int
    stages_done: int
    stages_active: int
    tasks_total: int
    tasks_done: int
    tasks_active: int
    tasks_failed: int
    active_stages: tuple[str, ...] = ()

    @property
    def stage_fraction(self) -> float:
        return self.stages_done / self.stages_total if self.stages_total else 0.0

    @property
    def task_fraction(self) -> float:
        return self.tasks_done / self.tasks_total if self.tasks_total else 0.0

    def summary(self) -> str:
        """Return one line such as `stages 1/3, tasks 4/12 (2 running)`."""
        line = f"stages {self.stages_done}/{self.stages_total}, tasks {self.tasks_done}/{self.tasks_total}"
        if self.tasks_active:
            line += f" ({self.tasks_active} running)"
        if self.tasks_failed:
            line += f", {self.tasks_failed} failed"
        return line


def ui_port(record: RunRecord) -> int | None:
    """Return the port of the driver's web UI: the one Spark reports in the log, else the chosen one.

    Spark moves to the next port when the chosen one was taken in the meantime.
    """
    try:
        with open(record.log_path, encoding="utf-8", errors="replace") as stream:
            for _, line in zip(range(2000), stream, strict=False):
                match = SPARK_UI_STARTED.search(line)
                if match:
                    return int(match[1])
    except OSError:
        pass
    return record.ui_port


def run_progress(record: RunRecord) -> Progress | None:
    """Return the stage and task counts of a running run from its driver's REST API.

    Returns None when the run is not running or its driver does not respond yet (Spark starts
    its web UI a few seconds after spark-submit starts).
    """
    port = ui_port(record) if record.status == RUNNING else None
    if port is None:
        return None
    try:
        applications = _driver_api(port, "applications")
        if not applications:
            return None
        application = applications[0]["id"]
        jobs = _driver_api(port, f"applications/{application}/jobs")
        stages = _driver_api(port, f"applications/{application}/stages?status=active")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        logger.debug("no progress for run %s from port %s: %s", record.run_id, port, exc)
        return None
    return _progress(jobs, stages)


def _driver_api(port: int, path: str) -> Any:
    url = f"http://127.0.0.1:{port}/api/v1/{path}"
    with _local_http.open(url, timeout=PROGRESS_TIMEOUT_SECONDS) as response:
        return json.load(response)


def _progress(jobs: list[dict[str, Any]], stages: list[dict[str, Any]]) -> Progress:
    def total(key: str) -> int:
        return sum(int(job.get(key) or 0) for job in jobs)

    return Progress(
        jobs_total=len(jobs),
        jobs_done=sum(1 for job in jobs if job.get("status") == "SUCCEEDED"),
        stages_total=sum(len(job.get("stageIds") or []) for job in jobs),
        stages_done=total("numCompletedStages") + total("numSkippedStages"),
        stages_active=total("numActiveStages"),
        tasks_total=total("numTasks"),
        tasks_done=total("numCompletedTasks") + total("numSkippedTasks"),
        tasks_active=total("numActiveTasks"),
        tasks_failed=total("numFailedTasks"),
        active_stages=tuple(str(stage.get("name", "")) for stage in stages),
    )


# --- following a run -------------------------------------------------------------------------


def follow_log(handle: RunHandle, on_line: Callable[[str], None]) -> None:
    """Call `on_line` with each complete line of the run's logs until the run ends.

    Each attempt writes its own log; this reads them in order, each one to its end.
    """
    number = 1
    while True:
        path = attempt_log_path(handle.record.folder, number)
        while not path.exists():
            if handle._done.is_set():
                return
            time.sleep(FOLLOW_INTERVAL)
        _follow_file(handle, path, number, on_line)
        number += 1


def _follow_file(handle: RunHandle, path: Path, number: int, on_line: Callable[[str], None]) -> None:
    with open(path, encoding="utf-8", errors="replace") as stream:
        pending = ""
        while True:
            finished = handle._done.is_set() or handle.record.attempt > number
            chunk = stream.read()
            pending += chunk
            *complete, pending = pending.split("\n")
            for line in complete:
                on_line(line)
            if finished and not chunk:
                break
            if not chunk:
                time.sleep(FOLLOW_INTERVAL)
        if pending:
            on_line(pending)


def watch_progress(handle: RunHandle, on_progress: Callable[[Progress], None]) -> threading.Thread:
    """Call `on_progress` whenever the run's stage and task counts change, until it ends."""

    def watch() -> None:
        last = None
        while not handle._done.wait(PROGRESS_INTERVAL):
            progress = run_progress(handle.record)
            if progress is not None and progress != last:
                on_progress(progress)
                last = progress

    thread = threading.Thread(target=watch, name=f"sparkcanvas-progress-{handle.run_id}", daemon=True)
    thread.start()
    return thread


def run_job(
    job: Job,
    job_path: str | os.PathLike,
    master: str | None = None,
    params: dict[str, str] | None = None,
    on_line: Callable[[str], None] | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    trigger: str = "cli",
    **overrides: Any,
) -> RunRecord:
    """Run a job and wait for it, passing each log line to `on_line` as it is written.

    `overrides` are start_run's timeout_minutes, retries and spark_conf. An interrupt (Ctrl+C)
    cancels the run before it propagates.
    """
    handle = start_run(job, job_path, master=master, params=params, trigger=trigger, **overrides)
    try:
        if on_progress is not None:
            watch_progress(handle, on_progress)
        if on_line is not None:
            follow_log(handle, on_line)
        return handle.wait()
    except KeyboardInterrupt:
        handle.cancel()
        handle._done.wait(timeout=CANCEL_WAIT_SECONDS)  # let the supervisor record the cancellation
        raise
