"""The `sparkcanvas runs` command: list recorded runs, show one with its log, cancel one.

Each function prints to stdout and returns the exit status; errors are raised as RunError,
which the command line turns into one `sparkcanvas: error: ...` line.
"""

from __future__ import annotations

import json
import sys

from designer import runs
from designer.cli import text_table
from designer.errors import RunError
from designer.run_store import RunRecord, status_label

TABLE_COLUMNS = ("run", "job", "status", "trigger", "attempt", "started", "duration (s)", "rows", "error")


def list_table(job_name: str | None, limit: int | None, output_format: str) -> int:
    """Print the runs newest first, as a table or as a JSON list of records."""
    records = runs.list_runs(job_name=job_name, limit=limit)
    if output_format == "json":
        print(json.dumps([record.to_dict() for record in records], indent=2, ensure_ascii=False))
        return 0
    if not records:
        where = f" of job {job_name!r}" if job_name else ""
        print(f"no runs{where} in {runs.runs_db_path()}", file=sys.stderr)
        return 0
    for line in text_table(list(TABLE_COLUMNS), [table_row(record) for record in records]):
        print(line)
    return 0


def table_row(record: RunRecord) -> dict[str, object]:
    duration = record.duration
    return {
        "run": record.run_id,
        "job": record.job_name,
        "status": record.status_label,
        "trigger": record.trigger,
        "attempt": f"{record.attempt}/{record.max_attempts}",
        "started": (record.started_at or "")[:19].replace("T", " "),
        "duration (s)": "" if duration is None else f"{duration:.1f}",
        "rows": sum(int(target.get("rows") or 0) for target in record.targets),
        "error": record.error or "",
    }


def show(run_id: str, lines: int | None, output_format: str) -> int:
    """Print one run's record, its attempts and its latest log (or its last `lines` lines)."""
    record = runs.load_run(run_id)
    log = runs.read_log_tail(record, lines if lines is not None else 10**9)
    if output_format == "json":
        print(json.dumps({**record.to_dict(), "log": log}, indent=2, ensure_ascii=False))
        return 0
    print("\n".join(describe(record)))
    if lines == 0:
        return 0
    print(f"\n--- log of attempt {record.attempt} ({record.log_path}) ---")
    sys.stdout.write(log or "(the log is empty)\n")
    return 0


def describe(record: RunRecord) -> list[str]:
    """Return the record as `name: value` lines, then one line per attempt."""
    duration = record.duration
    fields = [
        ("run", record.run_id),
        ("job", f"{record.job_name} ({record.job_path})"),
        ("status", record.status_label),
        ("trigger", record.trigger),
        ("attempt", f"{record.attempt} of {record.max_attempts}"),
        ("master", record.master),
        ("parameters", " ".join(f"--{name} {value}" for name, value in record.parameters.items())),
        ("queued", record.queued_at),
        ("started", record.started_at),
        ("ended", record.ended_at),
        ("duration", None if duration is None else f"{duration:.1f} s"),
        ("exit code", record.exit_code),
        ("error", record.error),
        ("host", f"{record.host} (supervisor pid {record.supervisor_pid}, spark-submit pid {record.pid})"),
        ("Spark UI port", record.ui_port),
        ("script", record.script_path),
    ]
    lines = [f"{name}: {value}" for name, value in fields if value not in (None, "")]
    lines += [
        f"wrote: {target['node_id']} {target['rows']} rows to {target['path']}" for target in record.targets
    ]
    lines += [f"warning: {warning}" for warning in record.warnings]
    for attempt in record.attempts:
        ended = f", ended {attempt.ended_at}" if attempt.ended_at else ""
        error = f": {attempt.error}" if attempt.error else ""
        status = status_label(attempt.status)
        lines.append(f"attempt {attempt.attempt}: {status}, started {attempt.started_at}{ended}{error}")
    return lines


def cancel(run_id: str, wait: float) -> int:
    """Cancel a queued or running run and print how it ended; exit 1 if it is still going."""
    record = runs.cancel_run(run_id, wait=wait)
    if record.status in runs.ACTIVE_STATUSES:
        raise RunError(
            f"run {record.run_id} was asked to stop but is still {record.status_label} after {wait:g} s; "
            f"check it with `sparkcanvas runs show {record.run_id}`"
        )
    print(f"run {record.run_id} {record.status_label}")
    return 0
