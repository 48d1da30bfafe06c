"""The run store: one SQLite database of run records, shared by every process that starts runs.

The designer, the `sparkcanvas` command and the scheduler read and write the same file
(`runs_db_path()`). Every write is one `BEGIN IMMEDIATE` transaction, and the database runs
in WAL mode with a busy timeout, so several processes can use it at once.

Each run row names its supervisor: the process whose thread launched spark-submit and
records the result. Opening the store marks failed any queued or running run on this host
whose supervisor has ended, and stops the spark-submit process group that it left behind.
A run's script and logs stay as files under `$SPARKCANVAS_HOME/runs/<run id>/`.
"""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import socket
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from designer.errors import RunError

logger = logging.getLogger(__name__)

QUEUED = "queued"
RUNNING = "running"
SUCCEEDED = "succeeded"
FAILED = "failed"
CANCELLED = "cancelled"
TIMED_OUT = "timed_out"
ACTIVE_STATUSES = (QUEUED, RUNNING)
FINAL_STATUSES = (SUCCEEDED, FAILED, CANCELLED, TIMED_OUT)
STATUS_LABELS = {TIMED_OUT: "timed out"}

SUPERVISOR_ENDED_ERROR = "the process that supervised this run ended before it finished"
DB_FILE = "runs.db"
RECORD_FILE = "run.json"  # the record of a run from before the store, imported once
BUSY_TIMEOUT_SECONDS = 30

TARGET_WRITTEN = re.compile(r"Node ([A-Za-z_][A-Za-z0-9_]*) wrote (\d+) rows to (.+?)\s*$")

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    job_name TEXT NOT NULL,
    job_path TEXT NOT NULL,
    status TEXT NOT NULL,
    master TEXT NOT NULL,
    parameters TEXT NOT NULL,
    log_path TEXT NOT NULL,
    script_path TEXT NOT NULL,
    working_dir TEXT NOT NULL,
    trigger TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    max_attempts INTEGER NOT NULL,
    queued_at TEXT,
    started_at TEXT,
    ended_at TEXT,
    exit_code INTEGER,
    pid INTEGER,
    pid_started TEXT,
    host TEXT NOT NULL,
    supervisor_pid INTEGER,
    supervisor_started TEXT,
    ui_port INTEGER,
    targets TEXT NOT NULL,
    error TEXT,
    warnings TEXT NOT NULL,
    next_attempt_at TEXT,
    cancel_requested INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS runs_by_job ON runs (job_name, run_id);
CREATE INDEX IF NOT EXISTS runs_by_status ON runs (status);
CREATE INDEX IF NOT EXISTS runs_by_end ON runs (ended_at);
CREATE TABLE IF NOT EXISTS attempts (
    run_id TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
    attempt INTEGER NOT NULL,
    status TEXT NOT NULL,
    started_at TEXT,
    ended_at TEXT,
    exit_code INTEGER,
    error TEXT,
    log_path TEXT NOT NULL,
    PRIMARY KEY (run_id, attempt)
);
"""
JSON_COLUMNS = ("parameters", "targets", "warnings")


@dataclass
class Attempt:
    """One spark-submit launch of a run; a run with retries has one attempt per launch."""

    attempt: int
    status: str
    log_path: str
    started_at: str | None = None
    ended_at: str | None = None
    exit_code: int | None = None
    error: str | None = None


@dataclass
class RunRecord:
    """One run of a job: what ran, where its files are, its attempts and how it ended.

    `log_path`, `pid` and `ui_port` belong to the latest attempt. `started_at` is the start of
    the first attempt and `ended_at` the end of the last one.
    """

    run_id: str
    job_name: str
    job_path: str
    status: str
    master: str
    parameters: dict[str, str]
    log_path: str
    script_path: str
    working_dir: str = ""
    trigger: str = "manual"
    attempt: int = 1
    max_attempts: int = 1
    queued_at: str | None = None
    started_at: str | None = None
    ended_at: str | None = None
    exit_code: int | None = None
    pid: int | None = None
    pid_started: str | None = None
    host: str = ""
    supervisor_pid: int | None = None
    supervisor_started: str | None = None
    ui_port: int | None = None
    targets: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    warnings: list[str] = field(default_factory=list)
    next_attempt_at: str | None = None
    cancel_requested: bool = False
    attempts: list[Attempt] = field(default_factory=list, compare=False)

    @property
    def status_label(self) -> str:
        """The status as shown to people: `timed out` for timed_out."""
        return status_label(self.status)

    @property
    def finished(self) -> bool:
        return self.status in FINAL_STATUSES

    @property
    def duration(self) -> float | None:
        """Seconds from the first start to the end, or to now while the run is going."""
        if self.started_at is None:
            return None
        if self.ended_at is None and self.finished:
            return None
        start = datetime.fromisoformat(self.started_at)
        end = datetime.fromisoformat(self.ended_at) if self.ended_at else datetime.now(UTC)
        return max((end - start).total_seconds(), 0.0)

    @property
    def folder(self) -> Path:
        return Path(self.script_path).parent

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["status_label"] = self.status_label
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunRecord:
        known = {item.name for item in fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in known})


def status_label(status: str) -> str:
    """Return a status as shown to people: `timed out` for timed_out."""
    return STATUS_LABELS.get(status, status)


# --- time, hosts and processes ---------------------------------------------------------------


def now() -> str:
    """Return the current UTC time in the store's format, which sorts as text."""
    return timestamp(datetime.now(UTC))


def timestamp(moment: datetime | str) -> str:
    """Return a time in the store's format: ISO 8601 in UTC to the millisecond."""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    if moment.tzinfo is None:
        raise RunError(f"the time {moment.isoformat()} has no time zone; pass an aware datetime")
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


def host_name() -> str:
    return socket.gethostname()


def process_started(pid: int | None) -> str | None:
    """Return the process's start time in clock ticks since boot (Linux /proc), else None.

    With the pid it identifies a process even after the pid is reused.
    """
    if pid is None:
        return None
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    # The command name in brackets may contain spaces, so fields are counted after it.
    return stat.rpartition(")")[2].split()[19]


def process_alive(pid: int | None, started: str | None) -> bool:
    """Return whether the process exists and, when its start time is known, is the same one."""
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # the pid exists but belongs to another user
    current = process_started(pid)
    return started is None or current is None or current == started


def signal_process_group(pid: int | None, started: str | None, signal_number: int) -> bool:
    """Send a signal to the process group that the run's spark-submit leads, if it still runs."""
    if not process_alive(pid, started):
        return False
    try:
        os.killpg(pid, signal_number)
    except (ProcessLookupError, PermissionError) as exc:
        logger.warning("cannot signal process group %s: %s", pid, exc)
        return False
    return True


def parse_targets(log: str) -> list[dict[str, Any]]:
    """Return one {node_id, path, rows} entry per `Node <id> wrote <n> rows to <path>` log line."""
    targets = []
    for line in log.splitlines():
        match = TARGET_WRITTEN.search(line)
        if match:
            targets.append({"node_id": match[1], "path": match[3], "rows": int(match[2])})
    return targets


def read_text(path: str | None) -> str:
    if not path:
        return ""
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


# --- where the store lives -------------------------------------------------------------------


def sparkcanvas_home() -> Path:
    return Path(os.environ.get("SPARKCANVAS_HOME") or Path.home() / ".sparkcanvas")


def runs_db_path() -> Path:
    """Return the run store's file: $SPARKCANVAS_RUNS_DB, else runs.db beside the catalog."""
    explicit = os.environ.get("SPARKCANVAS_RUNS_DB")
    if explicit:
        return Path(explicit)
    try:
        from catalog.store import catalog_path
    except ImportError:
        return sparkcanvas_home() / DB_FILE
    return catalog_path().parent / DB_FILE


def open_store(path: Path | None = None) -> RunStore:
    """Open the run store (creating it on first use) and repair runs whose supervisor ended."""
    store = RunStore(path or runs_db_path())
    store.create()
    store.repair_stale()
    return store


# --- the store -------------------------------------------------------------------------------


class RunStore:
    """The runs table and the attempts table of one SQLite file.

    Each call opens its own connection, so one store can be used from several threads.
    """

    def __init__(self, path: Path):
        self.path = Path(path)

    def _connect(self) -> sqlite3.Connection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise RunError(f"cannot open the run store {self.path}: {exc}") from exc
        connection.row_factory = sqlite3.Row
        connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_SECONDS * 1000}")
        connection.execute("PRAGMA foreign_keys = ON")
        return connection

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Run the block in one BEGIN IMMEDIATE transaction: committed, or rolled back on error."""
        connection = self._connect()
        try:
            connection.execute("BEGIN IMMEDIATE")
            yield connection
            connection.execute("COMMIT")
        except BaseException:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise
        finally:
            connection.close()

    @contextmanager
    def reading(self) -> Iterator[sqlite3.Connection]:
        connection = self._connect()
        try:
            yield connection
        finally:
            connection.close()

    def create(self) -> None:
        """Create the tables on first use, importing the run.json records of earlier versions.

        The scheduler keeps its own tables in the same file, so the runs table itself marks
        a created store.
        """
        try:
            if self._has_runs_table():
                return
            with self.reading() as connection:
                connection.execute("PRAGMA journal_mode = WAL")
            with self.transaction() as connection:
                if _table_exists(connection, "runs"):
                    return  # another process created it meanwhile
                for statement in SCHEMA.split(";"):
                    if statement.strip():
                        connection.execute(statement)
                _import_run_files(connection, sparkcanvas_home() / "runs")
        except sqlite3.Error as exc:
            raise RunError(f"cannot create the run store {self.path}: {exc}") from exc

    def _has_runs_table(self) -> bool:
        if not self.path.exists():
            return False
        with self.reading() as connection:
            return _table_exists(connection, "runs")

    # --- writing ---

    def insert(self, record: RunRecord) -> None:
        with self.transaction() as connection:
            _insert_row(connection, record)

    def update(self, run_id: str, **values: Any) -> RunRecord:
        """Set columns of one run in one transaction and return the updated record."""
        with self.transaction() as connection:
            _update_row(connection, run_id, values)
            return _get(connection, run_id)

    def save_attempt(self, run_id: str, attempt: Attempt) -> None:
        with self.transaction() as connection:
            _save_attempt(connection, run_id, attempt)

    def insert_in(self, connection: sqlite3.Connection, record: RunRecord) -> None:
        """Insert a run inside a transaction the caller holds."""
        _insert_row(connection, record)

    def end_attempt(
        self, run_id: str, attempt: Attempt, final: dict[str, Any], retry: dict[str, Any] | None
    ) -> RunRecord:
        """Record an attempt's end and then either the retry (queued again) or the run's end.

        A cancel request that arrived meanwhile wins over the retry.
        """
        with self.transaction() as connection:
            _save_attempt(connection, run_id, attempt)
            record = _get(connection, run_id)
            use_retry = retry is not None and not record.cancel_requested
            _update_row(connection, run_id, retry if use_retry else final)
            return _get(connection, run_id)

    def request_cancel(self, run_id: str, error: str) -> RunRecord:
        """Flag a run for cancelling; a queued run is cancelled at once.

        Raises RunError when the run has already ended.
        """
        with self.transaction() as connection:
            record = _get(connection, run_id)
            if record.finished:
                raise RunError(
                    f"run {run_id} has already ended ({record.status_label}); "
                    "only a queued or running run can be cancelled"
                )
            values: dict[str, Any] = {"cancel_requested": True}
            if record.status == QUEUED:
                values.update(status=CANCELLED, ended_at=now(), error=error)
            _update_row(connection, run_id, values)
            return _get(connection, run_id)

    # --- reading ---

    def get(self, run_id: str) -> RunRecord:
        """Return one run by its id or by a unique prefix of it; raises RunError when not found."""
        with self.reading() as connection:
            return _get(connection, self._resolve_id(connection, run_id))

    def _resolve_id(self, connection: sqlite3.Connection, run_id: str) -> str:
        pattern = run_id.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        rows = connection.execute(
            "SELECT run_id FROM runs WHERE run_id LIKE ? ESCAPE '\\' ORDER BY run_id LIMIT 3", (pattern,)
        ).fetchall()
        ids = [row["run_id"] for row in rows]
        if run_id in ids or len(ids) == 1:
            return run_id if run_id in ids else ids[0]
        if not ids:
            raise RunError(
                f"run {run_id!r} not found in {self.path}; `sparkcanvas runs` lists the stored runs"
            )
        raise RunError(f"run id {run_id!r} is ambiguous: it starts {', '.join(ids)}...; give more of it")

    def list_runs(
        self, job_name: str | None = None, limit: int | None = None, statuses: tuple[str, ...] = ()
    ) -> list[RunRecord]:
        """Return runs newest first, optionally of one job and in the given statuses."""
        where, values = _filters(job_name, statuses)
        query = f"SELECT * FROM runs{where} ORDER BY run_id DESC"
        if limit is not None:
            query += " LIMIT ?"
            values.append(limit)
        with self.reading() as connection:
            return [_record(row) for row in connection.execute(query, values)]

    def finished_since(self, moment: datetime | str) -> list[RunRecord]:
        """Return the runs that ended after `moment`, oldest end first."""
        placeholders = ", ".join("?" for _ in FINAL_STATUSES)
        query = (
            f"SELECT * FROM runs WHERE ended_at > ? AND status IN ({placeholders}) ORDER BY ended_at, run_id"
        )
        with self.reading() as connection:
            rows = connection.execute(query, (timestamp(moment), *FINAL_STATUSES))
            return [_record(row) for row in rows]

    def attempts(self, run_id: str) -> list[Attempt]:
        with self.reading() as connection:
            return _attempts(connection, run_id)

    # --- concurrency ---

    def count_active(self, connection: sqlite3.Connection, job_name: str) -> int:
        placeholders = ", ".join("?" for _ in ACTIVE_STATUSES)
        query = f"SELECT count(*) FROM runs WHERE job_name = ? AND status IN ({placeholders})"
        return connection.execute(query, (job_name, *ACTIVE_STATUSES)).fetchone()[0]

    def try_admit(self, run_id: str, max_concurrent_runs: int) -> RunRecord | None:
        """Move a queued run to running when its job has a free slot and it is first in line.

        Returns the running record, or None while the run must wait. Runs wait in the order
        they were queued; a run waiting for its retry delay keeps no one waiting.
        """
        with self.transaction() as connection:
            record = _get(connection, run_id)
            if record.status != QUEUED or not _due(record):
                return None
            running = connection.execute(
                "SELECT count(*) FROM runs WHERE job_name = ? AND status = ?", (record.job_name, RUNNING)
            ).fetchone()[0]
            if running >= max_concurrent_runs or not _first_in_line(connection, record):
                return None
            _update_row(connection, run_id, {"status": RUNNING, "next_attempt_at": None})
            return _get(connection, run_id)

    # --- repair ---

    def repair_stale(self) -> list[RunRecord]:
        """Mark failed the queued or running runs on this host whose supervisor has ended."""
        host = host_name()
        repaired = []
        for record in self.list_runs(statuses=ACTIVE_STATUSES):
            if record.host == host and not process_alive(record.supervisor_pid, record.supervisor_started):
                fixed = self._repair(record.run_id, host)
                if fixed is not None:
                    repaired.append(fixed)
        return repaired

    def _repair(self, run_id: str, host: str) -> RunRecord | None:
        with self.transaction() as connection:
            # Reread inside the transaction: another process may have repaired or ended it.
            record = _get(connection, run_id)
            if record.status not in ACTIVE_STATUSES or process_alive(
                record.supervisor_pid, record.supervisor_started
            ):
                return None
            values = {
                "status": FAILED,
                "ended_at": now(),
                "error": SUPERVISOR_ENDED_ERROR,
                "targets": parse_targets(read_text(record.log_path)),
            }
            _update_row(connection, run_id, values)
            _close_attempt(connection, record, FAILED, SUPERVISOR_ENDED_ERROR)
            record = _get(connection, run_id)
        if signal_process_group(record.pid, record.pid_started, signal.SIGTERM):
            logger.warning("stopped spark-submit (process group %s) of run %s", record.pid, run_id)
        logger.warning("run %s of job %s on %s: %s", run_id, record.job_name, host, SUPERVISOR_ENDED_ERROR)
        return record


# --- rows ------------------------------------------------------------------------------------

RUN_COLUMNS = tuple(item.name for item in fields(RunRecord) if item.name != "attempts")
ATTEMPT_COLUMNS = tuple(item.name for item in fields(Attempt))


def _to_column(name: str, value: Any) -> Any:
    if name in JSON_COLUMNS:
        return json.dumps(value, ensure_ascii=False)
    if name == "cancel_requested":
        return int(bool(value))
    return value


def _from_column(name: str, value: Any) -> Any:
    if name in JSON_COLUMNS:
        if value:
            return json.loads(value)
        return {} if name == "parameters" else []
    if name == "cancel_requested":
        return bool(value)
    return value


def _table_exists(connection: sqlite3.Connection, name: str) -> bool:
    query = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?"
    return connection.execute(query, (name,)).fetchone() is not None


def _record(row: sqlite3.Row) -> RunRecord:
    return RunRecord(**{name: _from_column(name, row[name]) for name in RUN_COLUMNS})


def _get(connection: sqlite3.Connection, run_id: str) -> RunRecord:
    row = connection.execute("SELECT * FROM runs WHERE run_id = ?", (run_id,)).fetchone()
    if row is None:
        raise RunError(f"run {run_id!r} not found; `sparkcanvas runs` lists the stored runs")
    record = _record(row)
    record.attempts = _attempts(connection, run_id)
    return record


def _attempts(connection: sqlite3.Connection, run_id: str) -> list[Attempt]:
    rows = connection.execute("SELECT * FROM attempts WHERE run_id = ? ORDER BY attempt", (run_id,))
    return [Attempt(**{name: row[name] for name in ATTEMPT_COLUMNS}) for row in rows]


def _insert_row(connection: sqlite3.Connection, record: RunRecord) -> None:
    names = ", ".join(RUN_COLUMNS)
    placeholders = ", ".join("?" for _ in RUN_COLUMNS)
    values = [_to_column(name, getattr(record, name)) for name in RUN_COLUMNS]
    connection.execute(f"INSERT INTO runs ({names}) VALUES ({placeholders})", values)


def _update_row(connection: sqlite3.Connection, run_id: str, values: dict[str, Any]) -> None:
    unknown = set(values) - set(RUN_COLUMNS) - {"run_id"}
    if unknown:
        raise ValueError(f"unknown run columns: {sorted(unknown)}")
    assignments = ", ".join(f"{name} = ?" for name in values)
    parameters = [_to_column(name, value) for name, value in values.items()]
    connection.execute(f"UPDATE runs SET {assignments} WHERE run_id = ?", [*parameters, run_id])


def _save_attempt(connection: sqlite3.Connection, run_id: str, attempt: Attempt) -> None:
    names = ", ".join(("run_id", *ATTEMPT_COLUMNS))
    placeholders = ", ".join("?" for _ in range(len(ATTEMPT_COLUMNS) + 1))
    values = [run_id, *(getattr(attempt, name) for name in ATTEMPT_COLUMNS)]
    connection.execute(f"INSERT OR REPLACE INTO attempts ({names}) VALUES ({placeholders})", values)


def _close_attempt(connection: sqlite3.Connection, record: RunRecord, status: str, error: str) -> None:
    """End the run's open attempt, if it has one, with the given status."""
    for attempt in record.attempts:
        if attempt.ended_at is None:
            attempt.status, attempt.ended_at, attempt.error = status, now(), error
            _save_attempt(connection, record.run_id, attempt)


def _filters(job_name: str | None, statuses: tuple[str, ...]) -> tuple[str, list[Any]]:
    clauses, values = [], []
    if job_name is not None:
        clauses.append("job_name = ?")
        values.append(job_name)
    if statuses:
        clauses.append(f"status IN ({', '.join('?' for _ in statuses)})")
        values.extend(statuses)
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), values


def _due(record: RunRecord) -> bool:
    return record.next_attempt_at is None or record.next_attempt_at <= now()


def _first_in_line(connection: sqlite3.Connection, record: RunRecord) -> bool:
    """Return whether no run of the same job was queued earlier and is ready to start."""
    rows = connection.execute(
        "SELECT run_id, next_attempt_at FROM runs WHERE job_name = ? AND status = ? AND run_id < ?",
        (record.job_name, QUEUED, record.run_id),
    ).fetchall()
    current = now()
    return not any(row["next_attempt_at"] is None or row["next_attempt_at"] <= current for row in rows)


def _import_run_files(connection: sqlite3.Connection, folder: Path) -> None:
    """Copy the run.json records that SparkCanvas wrote before it had a run store."""
    if not folder.is_dir():
        return
    for path in sorted(folder.glob(f"*/{RECORD_FILE}")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            record = RunRecord.from_dict(data)
        except (OSError, ValueError, TypeError) as exc:
            logger.warning("skipping the run record %s: %s", path, exc)
            continue
        record.queued_at = record.queued_at or record.started_at
        record.host = record.host or host_name()
        connection.execute("DELETE FROM runs WHERE run_id = ?", (record.run_id,))
        _insert_row(connection, record)
