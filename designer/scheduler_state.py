"""The scheduler's own state, kept in the run store's SQLite file in the table `scheduler_state`.

Three kinds of rows, each a name and an ISO 8601 UTC time (JSON for the last):
- `schedule`: per job, the last cron fire time the scheduler handled (ran, skipped or missed);
- `trigger`: per conditional trigger, when it last fired, or when the scheduler first saw it;
- `finished`: the end time of the newest finished run read, and the ids of runs that ended
  shortly before it, so a run recorded late is still read once and only once.
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from datetime import datetime
from pathlib import Path

TABLE = "scheduler_state"
BUSY_TIMEOUT_SECONDS = 30.0
SCHEDULE = "schedule"
TRIGGER = "trigger"
FINISHED = "finished"


class SchedulerState:
    """Read and write the scheduler's rows; each call is one short transaction."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as connection:
            connection.execute(
                f"CREATE TABLE IF NOT EXISTS {TABLE} ("
                "kind TEXT NOT NULL, name TEXT NOT NULL, value TEXT NOT NULL, updated_at TEXT NOT NULL, "
                "PRIMARY KEY (kind, name))"
            )

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_SECONDS)

    def _get(self, kind: str, name: str) -> str | None:
        with closing(self._connect()) as connection:
            row = connection.execute(
                f"SELECT value FROM {TABLE} WHERE kind = ? AND name = ?", (kind, name)
            ).fetchone()
        return None if row is None else row[0]

    def _put(self, kind: str, name: str, value: str) -> None:
        now = datetime.now().astimezone().isoformat(timespec="seconds")
        with closing(self._connect()) as connection, connection:
            connection.execute(
                f"INSERT INTO {TABLE} (kind, name, value, updated_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (kind, name) DO UPDATE "
                "SET value = excluded.value, updated_at = excluded.updated_at",
                (kind, name, value, now),
            )

    def _delete(self, kind: str, name: str) -> None:
        with closing(self._connect()) as connection, connection:
            connection.execute(f"DELETE FROM {TABLE} WHERE kind = ? AND name = ?", (kind, name))

    def last_fire(self, job_name: str) -> datetime | None:
        value = self._get(SCHEDULE, job_name)
        return None if value is None else datetime.fromisoformat(value)

    def set_last_fire(self, job_name: str, moment: datetime) -> None:
        self._put(SCHEDULE, job_name, moment.isoformat())

    def forget_schedule(self, job_name: str) -> None:
        self._delete(SCHEDULE, job_name)

    def trigger_fired(self, key: str) -> datetime | None:
        value = self._get(TRIGGER, key)
        return None if value is None else datetime.fromisoformat(value)

    def set_trigger_fired(self, key: str, moment: datetime) -> None:
        self._put(TRIGGER, key, moment.isoformat())

    def finished_watermark(self) -> tuple[datetime | None, dict[str, str]]:
        """Return the newest end time read and the recently read run ids with their end times."""
        value = self._get(FINISHED, "runs")
        if value is None:
            return None, {}
        data = json.loads(value)
        return datetime.fromisoformat(data["ended_at"]), dict(data["recent"])

    def set_finished_watermark(self, moment: datetime, recent: dict[str, str]) -> None:
        self._put(
            FINISHED, "runs", json.dumps({"ended_at": moment.isoformat(), "recent": recent}, sort_keys=True)
        )
