"""The run manager: launch a job's PySpark script with spark-submit and keep a record of it.

Each run lives in `$SPARKCANVAS_HOME/runs/<run_id>/` (default `~/.sparkcanvas`) and contains
`run.json` (the record, written atomically when the run starts and when it ends),
`script.py` (the script that ran) and `log.txt` (spark-submit's stdout and stderr).
The record's rows and error come from the lines the generated script logs:
`Running node <id>` before each node and `Node <id> wrote <n> rows to <path>` after
each target write.
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from designer.errors import RunError, did_you_mean
from designer.model import Job, write_text_atomic
from designer.validation import validate

logger = logging.getLogger(__name__)

RUNNING = "running"
SUCCEEDED = "succeeded"
FAILED = "failed"

RECORD_FILE = "run.json"
SCRIPT_FILE = "script.py"
LOG_FILE = "log.txt"
LOST_PROCESS_ERROR = "the run's process ended without recording a result"
CANCELLED_ERROR = "the run was cancelled"

RUNNING_NODE = re.compile(r"Running node ([A-Za-z_][A-Za-z0-9_]*)")
TARGET_WRITTEN = re.compile(r"Node ([A-Za-z_][A-Za-z0-9_]*) wrote (\d+) rows to (.+?)\s*$")
TRACEBACK_START = "Traceback (most recent call last):"
# An exception message that starts with a Spark error class, such as [UNRESOLVED_COLUMN...].
SPARK_ERROR_CLASS = re.compile(r"^[\w.]+: (\[[A-Z_.]+\].*)$")
MASTER_PATTERN = re.compile(
    r"^(local|local\[(\*|\d+)(,\s*\d+)?\]|local-cluster\[.+\]|yarn|spark://.+|k8s://.+)$"
)
LOCAL_MASTER = re.compile(r"^local(\[.*\])?$")
FOLLOW_INTERVAL = 0.2  # seconds between reads of a growing log file

# Serializes record finalization with the repair of records whose process is gone, so a
# run that ends in this process is never marked lost by a concurrent list_runs.
_records_lock = threading.Lock()
_active_runs: dict[str, RunHandle] = {}


@dataclass
class RunRecord:
    """One run of a job: what ran, where its files are and how it ended."""

    run_id: str
    job_name: str
    job_path: str
    status: str
    started_at: str
    master: str
    parameters: dict[str, str]
    log_path: str
    script_path: str
    working_dir: str = ""
    ended_at: str | None = None
    exit_code: int | None = None
    pid: int | None = None
    targets: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None

    @property
    def duration(self) -> float | None:
        """Seconds from start to end, or to now while the run is running."""
        if self.ended_at is None and self.status != RUNNING:
            return None
        start = datetime.fromisoformat(self.started_at)
        end = datetime.fromisoformat(self.ended_at) if self.ended_at else datetime.now(UTC)
        return (end - start).total_seconds()

    @property
    def folder(self) -> Path:
        return Path(self.log_path).parent

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, ensure_ascii=False) + "\n"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunRecord:
        known = {name for name in cls.__dataclass_fields__}
        return cls(**{key: value for key, value in data.items() if key in known})


# --- storage ---------------------------------------------------------------------------------


def runs_home() -> Path:
    """Return the folder that contains one subfolder per run: $SPARKCANVAS_HOME/runs."""
    home = os.environ.get("SPARKCANVAS_HOME") or Path.home() / ".sparkcanvas"
    return Path(home) / "runs"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def new_run_id() -> str:
    """Return an id that sorts by start time: UTC time to the millisecond plus 6 hex digits."""
    now = datetime.now(UTC)
    return f"{now:%Y%m%dT%H%M%S}{now.microsecond // 1000:03d}Z-{secrets.token_hex(3)}"


def _save(record: RunRecord) -> None:
    write_text_atomic(record.folder / RECORD_FILE, record.to_json())


def _read_record(folder: Path) -> RunRecord:
    path = folder / RECORD_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RunError(f"run {folder.name!r} not found in {folder.parent}") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise RunError(f"cannot read the run record {path}: {exc}") from exc
    return RunRecord.from_dict(data)


def load_run(run_id: str) -> RunRecord:
    """Read one run record, marking it failed if its status is running but its process is gone."""
    if not run_id or "/" in run_id or run_id.startswith("."):
        raise RunError(f"invalid run id {run_id!r}")
    return _repair_if_lost(_read_record(runs_home() / run_id))


def list_runs(job_name: str | None = None) -> list[RunRecord]:
    """Return the stored runs, newest first, optionally only those of one job."""
    home = runs_home()
    if not home.is_dir():
        return []
    records = []
    for folder in sorted(home.iterdir(), reverse=True):
        if not (folder / RECORD_FILE).is_file():
            continue
        try:
            record = _repair_if_lost(_read_record(folder))
        except RunError as exc:
            logger.warning("skipping run folder %s: %s", folder, exc)
            continue
        if job_name is None or record.job_name == job_name:
            records.append(record)
    return records


def read_log_tail(record: RunRecord, lines: int = 200) -> str:
    """Return the last `lines` lines of a run's log, or '' when there is no log yet."""
    try:
        with open(record.log_path, encoding="utf-8", errors="replace") as stream:
            tail = stream.readlines()[-lines:] if lines > 0 else []
    except FileNotFoundError:
        return ""
    return "".join(tail)


def _process_alive(pid: int | None) -> bool:
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # the pid exists but belongs to another user
    return True


def _repair_if_lost(record: RunRecord) -> RunRecord:
    """Mark a record failed if its status is running but its process no longer exists."""
    if record.status != RUNNING:
        return record
    with _records_lock:
        # Reread under the lock: the run may have ended in this process meanwhile.
        record = _read_record(record.folder)
        if record.status != RUNNING or record.run_id in _active_runs:
            return record
        # NOTE: a pid reused by an unrelated process keeps a lost run marked running.
        if _process_alive(record.pid):
            return record
        record.status = FAILED
        record.ended_at = _last_modified(Path(record.log_path)) or _now()
        record.targets = parse_targets(read_log_tail(record, lines=100_000))
        record.error = LOST_PROCESS_ERROR
        _save(record)
    logger.warning("run %s of job %s: %s", record.run_id, record.job_name, LOST_PROCESS_ERROR)
    return record


def _last_modified(path: Path) -> str | None:
    """Return the file's modification time, the latest time a lost run is known to have been running."""
    try:
        stamp = path.stat().st_mtime
    except OSError:
        return None
    return datetime.fromtimestamp(stamp, UTC).isoformat(timespec="milliseconds")


# --- reading the log -------------------------------------------------------------------------


def parse_targets(log: str) -> list[dict[str, Any]]:
    """Return one {node_id, path, rows} entry per `Node <id> wrote <n> rows to <path>` line."""
    targets = []
    for line in log.splitlines():
        match = TARGET_WRITTEN.search(line)
        if match:
            targets.append({"node_id": match[1], "path": match[3], "rows": int(match[2])})
    return targets


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
    following = lines[starts[-1] + 1:]
    for position, line in enumerate(following):
        if line.strip() and not line[0].isspace():
            return _short_exception(line.strip()) + _java_cause(following[position + 1:])
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
        f"unknown parameter {name!r}: job {job.name!r} takes {', '.join(known)}."
        f"{did_you_mean(name, known)}"
    )


def check_master(master: str) -> None:
    if not MASTER_PATTERN.match(master):
        raise RunError(
            f"invalid master URL {master!r}; use local[*], local[N], spark://HOST:PORT, "
            "yarn or k8s://URL"
        )


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
            "Java not found: Spark needs Java 17 or newer; install it and put java on PATH "
            "or set JAVA_HOME"
        )
    # NOTE: the version is not checked here; Java older than 17 fails in the run's log.
    return on_path


def emit_run_script(job: Job) -> str:
    try:
        from codegen.pyspark import emit_script
    except ImportError as exc:
        raise RunError(f"the PySpark emitter is not available: {exc}") from exc
    return emit_script(job)


def spark_submit_command(
    spark_submit: str, master: str, script: Path, values: dict[str, str]
) -> list[str]:
    command = [spark_submit, "--master", master, "--conf", "spark.ui.showConsoleProgress=false"]
    command.append(str(script))
    for name, value in values.items():
        command += [f"--{name}", value]
    return command


def run_environment(master: str) -> dict[str, str]:
    """Return spark-submit's environment: this Python for the driver and the workers."""
    env = dict(os.environ)
    env["PYSPARK_PYTHON"] = sys.executable
    env["PYSPARK_DRIVER_PYTHON"] = sys.executable
    env["PYTHONUNBUFFERED"] = "1"
    if LOCAL_MASTER.match(master):
        # A local run needs no outside connections, so the driver and its web UI listen on
        # loopback only. A cluster run keeps Spark's default, which executors can reach.
        env.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    return env


def start_run(
    job: Job,
    job_path: str | os.PathLike,
    master: str = "local[*]",
    params: dict[str, str] | None = None,
) -> RunHandle:
    """Validate a job, write its script and launch it with spark-submit in the background.

    Relative paths in the job resolve against the current working directory, as in the
    preview. Raises JobValidationError for an invalid job and RunError when the run cannot
    start.
    """
    validate(job).raise_if_invalid()
    values = resolve_parameters(job, params)
    check_master(master)
    spark_submit = find_spark_submit()
    find_java()
    script = emit_run_script(job)

    record = _new_record(job, job_path, master, values)
    Path(record.script_path).write_text(script, encoding="utf-8")
    command = spark_submit_command(spark_submit, master, Path(record.script_path), values)
    process = _launch(record, command, run_environment(master))

    handle = RunHandle(job, record, process)
    with _records_lock:
        _active_runs[record.run_id] = handle
    _save(record)
    logger.info(
        "run %s of job %s started on %s (pid %s)", record.run_id, job.name, master, process.pid
    )
    handle._start_watcher()
    return handle


def _new_record(job: Job, job_path, master: str, values: dict[str, str]) -> RunRecord:
    run_id = new_run_id()
    folder = runs_home() / run_id
    folder.mkdir(parents=True, exist_ok=False)
    return RunRecord(
        run_id=run_id,
        job_name=job.name,
        job_path=str(Path(job_path).resolve()),
        status=RUNNING,
        started_at=_now(),
        master=master,
        parameters=values,
        log_path=str(folder / LOG_FILE),
        script_path=str(folder / SCRIPT_FILE),
        working_dir=os.getcwd(),
    )


def _launch(record: RunRecord, command: list[str], env: dict[str, str]) -> subprocess.Popen:
    """Start spark-submit in its own process group, its output going to the run's log."""
    try:
        with open(record.log_path, "wb") as log:
            process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=record.working_dir,
                start_new_session=True,
            )
    except OSError as exc:
        record.status = FAILED
        record.ended_at = _now()
        record.error = f"cannot start spark-submit ({command[0]}): {exc.strerror or exc}"
        _save(record)
        raise RunError(record.error) from exc
    record.pid = process.pid
    return process


# --- a run in progress -----------------------------------------------------------------------


class RunHandle:
    """A run started by this process: its live record and its spark-submit process."""

    def __init__(self, job: Job, record: RunRecord, process: subprocess.Popen):
        self.job = job
        self.record = record
        self._process = process
        self._done = threading.Event()
        self._cancelled = False

    def _start_watcher(self) -> None:
        name = f"sparkcanvas-run-{self.record.run_id}"
        threading.Thread(target=self._watch, name=name, daemon=True).start()

    def _watch(self) -> None:
        exit_code = self._process.wait()
        try:
            self._finish(exit_code)
        finally:
            self._done.set()

    def _finish(self, exit_code: int) -> None:
        log = read_log_tail(self.record, lines=1_000_000)
        record = self.record
        record.exit_code = exit_code
        record.ended_at = _now()
        record.targets = parse_targets(log)
        if exit_code == 0 and not self._cancelled:
            record.status = SUCCEEDED
        else:
            record.status = FAILED
            if self._cancelled:
                record.error = CANCELLED_ERROR
            else:
                record.error = describe_failure(self.job, log, exit_code)
        with _records_lock:
            _save(record)
            _active_runs.pop(record.run_id, None)
        self._log_end(record)

    def _log_end(self, record: RunRecord) -> None:
        if record.status == SUCCEEDED:
            logger.info(
                "run %s of job %s succeeded in %.1f s",
                record.run_id, record.job_name, record.duration,
            )
        else:
            logger.warning(
                "run %s of job %s failed (exit code %s): %s",
                record.run_id, record.job_name, record.exit_code, record.error,
            )

    def poll(self) -> str:
        """Return the run's status without waiting: running, succeeded or failed."""
        return self.record.status if self._done.is_set() else RUNNING

    def wait(self, timeout: float | None = None) -> RunRecord:
        """Wait for the run to end and return its final record.

        Raises RunError if it is still running after `timeout` seconds.
        """
        if not self._done.wait(timeout):
            raise RunError(
                f"run {self.record.run_id} is still running after {timeout} s; "
                "wait longer or cancel it"
            )
        return self.record

    def cancel(self) -> None:
        """Stop the run: SIGTERM to spark-submit's process group, which includes the driver."""
        if self._done.is_set():
            return
        self._cancelled = True
        logger.info("cancelling run %s of job %s", self.record.run_id, self.record.job_name)
        try:
            os.killpg(self._process.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass  # it ended on its own meanwhile


def follow_log(handle: RunHandle, on_line: Callable[[str], None]) -> None:
    """Call `on_line` with each complete line of the run's log until the run ends."""
    with open(handle.record.log_path, encoding="utf-8", errors="replace") as stream:
        pending = ""
        while True:
            finished = handle._done.is_set()
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


def run_job(
    job: Job,
    job_path: str | os.PathLike,
    master: str = "local[*]",
    params: dict[str, str] | None = None,
    on_line: Callable[[str], None] | None = None,
) -> RunRecord:
    """Run a job and wait for it, passing each log line to `on_line` as it is written.

    An interrupt (Ctrl+C) cancels the run before it propagates.
    """
    handle = start_run(job, job_path, master=master, params=params)
    try:
        if on_line is not None:
            follow_log(handle, on_line)
        return handle.wait()
    except KeyboardInterrupt:
        handle.cancel()
        handle._done.wait(timeout=30)  # give the watcher time to record the cancellation
        raise

