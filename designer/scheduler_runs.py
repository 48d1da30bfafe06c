"""The scheduler's use of the run manager: where runs are stored, how to start one, which ended.

Everything the scheduler needs from designer.runs goes through these functions, so a change
of the run manager's interface changes this module only.
"""

from __future__ import annotations

import inspect
import os
from datetime import UTC, datetime
from pathlib import Path

from designer import runs
from designer.model import Job
from designer.schedules import FINISHED_STATUSES, FinishedRun


def runs_db_path() -> Path:
    """Return the SQLite file of the run store, which also contains the scheduler's state."""
    try:
        from designer.run_store import runs_db_path as store_path
    except ImportError:
        store_path = None
    if store_path is not None:
        return Path(store_path())
    if os.environ.get("SPARKCANVAS_RUNS_DB"):
        return Path(os.environ["SPARKCANVAS_RUNS_DB"])
    home = os.environ.get("SPARKCANVAS_HOME") or Path.home() / ".sparkcanvas"
    return Path(home) / "runs.db"


def start_job_run(job: Job, job_path: Path, params: dict[str, str], trigger: str):
    """Start a run in the background and return its handle (`record.run_id`, `poll()`, `cancel()`).

    Raises JobValidationError or RunError when the run cannot start.
    """
    if "trigger" in inspect.signature(runs.start_run).parameters:
        return runs.start_run(job, job_path, params=params, trigger=trigger)
    return runs.start_run(job, job_path, params=params)


def finished_since(moment: datetime) -> list[FinishedRun]:
    """Return the runs of every job that ended after `moment`, oldest end first."""
    finished = []
    for record in _records_finished_since(moment):
        ended_at = _ended_at(record)
        if ended_at is None or record.status not in FINISHED_STATUSES or ended_at <= moment:
            continue
        finished.append(FinishedRun(_run_id(record), record.job_name, record.status, ended_at))
    return sorted(finished, key=lambda run: (run.ended_at, run.run_id))


def _records_finished_since(moment: datetime) -> list:
    if hasattr(runs, "finished_since"):
        return runs.finished_since(moment)
    return runs.list_runs()


def _run_id(record) -> str:
    return getattr(record, "run_id", None) or record.id


def _ended_at(record) -> datetime | None:
    value = getattr(record, "ended_at", None)
    if not value:
        return None
    if isinstance(value, datetime):
        moment = value
    else:
        moment = datetime.fromisoformat(str(value))
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
