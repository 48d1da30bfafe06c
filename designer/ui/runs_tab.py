"""The Runs tab: start a run with spark-submit, follow active runs, and browse past runs.

Active runs and the history come from the run store, so runs started by the command line or
the scheduler show here too, and each active run can be cancelled. designer.runs is imported
inside the functions, so the rest of the designer works while the run manager cannot be
imported.
"""

from __future__ import annotations

import logging

import streamlit as st

from designer.masters import job_master
from designer.model import WHEN_BUSY_CHOICES, Job
from designer.ui import state
from designer.ui.feedback import guard

logger = logging.getLogger(__name__)

HANDLE = "run_handle"
REFRESH_SECONDS = 1.0
LOG_LINES = 200
LIVE_LOG_LINES = 30
HISTORY_LIMIT = 100
STATUS_ICONS = {
    "queued": "🕒",
    "running": "⏳",
    "succeeded": "✅",
    "failed": "❌",
    "cancelled": "⛔",
    "timed_out": "⌛",
}


def render(job: Job) -> None:
    try:
        from designer import runs
    except ImportError as error:
        logger.warning("designer.runs is not importable: %s", error)
        st.warning(f"The run manager could not be loaded ({error}); runs are not available.")
        return
    _start_form(job, runs)
    _run_settings(job)
    active = []
    with guard("Listing active runs"):
        active = _active_records(job, runs)
    if active:
        st.subheader("Active runs")
        ids = tuple(record.run_id for record in active)
        st.fragment(run_every=REFRESH_SECONDS)(_live)(job.name, runs, ids)
    _history(job, runs)


def _start_form(job: Job, runs) -> None:
    master = st.text_input(
        "Spark master", job_master(job), key=f"{state.token()}:run_master",
        help="local[*] runs on this machine. spark://HOST:PORT, yarn or k8s://https://HOST:PORT submit "
        "to a cluster. The default is the job's run.master.",
    )
    values = _parameter_values(job)
    if state.is_dirty():
        st.caption("The run uses the job as shown here, including unsaved changes.")
    if st.button("Run", key="run_start", type="primary", icon=":material/play_arrow:"):
        _start(job, runs, master.strip(), values)


def _parameter_values(job: Job) -> dict[str, str]:
    values = {}
    for parameter in job.parameters:
        values[parameter.name] = st.text_input(
            f"--{parameter.name}", parameter.default, key=f"{state.token()}:run_param:{parameter.name}",
            help=parameter.description or None,
        )
    return values


def _run_settings(job: Job) -> None:
    """Edit the job's `run` settings: time limit, retries and concurrency."""
    settings = job.run
    with st.expander(f"Run settings: {_settings_summary(settings)}"):
        key = f"{state.token()}:run_settings"
        left, right = st.columns(2)
        timeout = left.number_input(
            "Timeout (minutes)", min_value=0.0, value=float(settings.timeout_minutes), step=1.0,
            key=f"{key}:timeout",
            help="Each attempt is stopped after this long and ends timed out. 0: no limit.",
        )
        retries = left.number_input(
            "Retries", min_value=0, max_value=100, value=int(settings.retries), step=1,
            key=f"{key}:retries", help="How many times a failed attempt runs again.",
        )
        delay = left.number_input(
            "Retry delay (seconds)", min_value=0.0, value=float(settings.retry_delay_seconds), step=10.0,
            key=f"{key}:delay",
        )
        limit = right.number_input(
            "Max concurrent runs", min_value=1, value=int(settings.max_concurrent_runs), step=1,
            key=f"{key}:limit",
            help="Runs of this job at the same time, from the designer, the command line and the scheduler.",
        )
        when_busy = right.selectbox(
            "When busy", WHEN_BUSY_CHOICES, index=WHEN_BUSY_CHOICES.index(settings.when_busy),
            key=f"{key}:when_busy",
            help="wait: a further run is queued until a run ends. skip: it is recorded as cancelled.",
        )
    _apply_settings(job, timeout, retries, delay, limit, when_busy)


def _settings_summary(settings) -> str:
    timeout = f"timeout {settings.timeout_minutes:g} min" if settings.timeout_minutes else "no timeout"
    retries = f"{settings.retries} retries" if settings.retries != 1 else "1 retry"
    busy = "waits" if settings.when_busy == "wait" else "is skipped"
    return (
        f"{timeout}, {retries}, at most {settings.max_concurrent_runs} at a time "
        f"(a further run {busy})"
    )


def _apply_settings(job: Job, timeout, retries, delay, limit, when_busy) -> None:
    settings = job.run
    changes = {
        "timeout_minutes": float(timeout) if timeout != int(timeout) else int(timeout),
        "retries": int(retries),
        "retry_delay_seconds": float(delay) if delay != int(delay) else int(delay),
        "max_concurrent_runs": int(limit),
        "when_busy": when_busy,
    }
    for name, value in changes.items():
        if getattr(settings, name) != value:
            setattr(settings, name, value)


def _start(job: Job, runs, master: str, values: dict[str, str]) -> None:
    path = state.job_path() or state.jobs_dir() / f"{job.name}{state.JOB_SUFFIX}"
    with guard("Starting the run", value=master):
        handle = runs.start_run(job.copy(), path, master=master, params=values, trigger="manual")
        st.session_state[HANDLE] = handle
        if handle.record.status == runs.CANCELLED:
            state.notify("warning", f"Run {handle.run_id} was skipped: {handle.record.error}")
        logger.info("run %s of job %s started from the designer", handle.run_id, job.name)
        st.rerun()


def _active_records(job: Job, runs) -> list:
    return [record for record in runs.list_runs(job.name) if record.status in runs.ACTIVE_STATUSES]


def _live(job_name: str, runs, shown_ids: tuple[str, ...]) -> None:
    """Show the active runs. The fragment calls this every REFRESH_SECONDS while runs are active."""
    records = [record for record in runs.list_runs(job_name) if record.status in runs.ACTIVE_STATUSES]
    if tuple(record.run_id for record in records) != shown_ids:
        # A run started or ended: the whole page reruns, so the history shows its result.
        st.rerun()
    for record in records:
        with st.container(border=True):
            _show_active(record, runs)


def _show_active(record, runs) -> None:
    st.markdown(_headline(record, record.status))
    if record.status == runs.QUEUED:
        reason = record.error or "waiting for a free slot (run.max_concurrent_runs)"
        st.caption(f"Queued: {reason}")
    else:
        _progress_bars(runs.run_progress(record))
    if st.button("Cancel run", key=f"run_cancel:{record.run_id}", icon=":material/stop:"):
        with guard("Cancelling the run", value=record.run_id):
            runs.cancel_run(record.run_id, wait=0)
            st.toast(f"Cancelling run {record.run_id}")
    log = runs.read_log_tail(record, LIVE_LOG_LINES)
    st.code(log or "(the log is empty so far)", language="text")


def _progress_bars(progress) -> None:
    if progress is None:
        st.caption("Waiting for the Spark driver to report progress...")
        return
    stages = f"Stages: {progress.stages_done} of {progress.stages_total} done"
    st.progress(progress.stage_fraction, text=stages)
    tasks = f"Tasks: {progress.tasks_done} of {progress.tasks_total} done, {progress.tasks_active} running"
    if progress.tasks_failed:
        tasks += f", {progress.tasks_failed} failed"
    st.progress(progress.task_fraction, text=tasks)
    if progress.active_stages:
        st.caption("Active stage: " + "; ".join(progress.active_stages))


def _headline(record, status: str) -> str:
    duration = record.duration
    timing = f" · {duration:.1f} s" if duration is not None else ""
    label = "timed out" if status == "timed_out" else status
    attempt = f" · attempt {record.attempt} of {record.max_attempts}" if record.max_attempts > 1 else ""
    return (
        f"{STATUS_ICONS.get(status, '')} **{label}**{timing}{attempt} · master `{record.master}` · "
        f"trigger `{record.trigger}` · run `{record.run_id}`"
    )


def show_record(record, runs, status: str | None = None) -> None:
    """Show a run: status, duration, rows written, the one-line error, attempts, then the log's tail."""
    status = status or record.status
    st.markdown(_headline(record, status))
    for target in record.targets or []:
        st.caption(f"Node {target.get('node_id')} wrote {target.get('rows')} rows to {target.get('path')}")
    if status in (runs.FAILED, runs.TIMED_OUT) and record.error:
        st.error(record.error)
    elif status == runs.CANCELLED and record.error:
        st.warning(record.error)
    for warning in record.warnings or []:
        st.warning(warning)
    if len(record.attempts) > 1:
        st.dataframe([_attempt_row(attempt) for attempt in record.attempts], hide_index=True, width="stretch")
    st.code(runs.read_log_tail(record, LOG_LINES) or "(the log is empty so far)", language="text")


def _attempt_row(attempt) -> dict:
    return {
        "attempt": attempt.attempt,
        "status": "timed out" if attempt.status == "timed_out" else attempt.status,
        "started": attempt.started_at,
        "ended": attempt.ended_at,
        "exit code": attempt.exit_code,
        "error": attempt.error or "",
    }


def _history(job: Job, runs) -> None:
    st.subheader("Past runs")
    records = []
    with guard("Listing past runs"):
        records = [record for record in runs.list_runs(job.name, limit=HISTORY_LIMIT) if record.finished]
    if not records:
        st.caption(f"No finished runs of {job.name!r} yet.")
        return
    st.dataframe([_row(record) for record in records], hide_index=True, width="stretch")
    ids = [record.run_id for record in records]
    # A new run changes the key, so the newest run is shown again.
    viewed = st.selectbox("Show the log of run", ids, key=f"run_viewed_choice:{ids[0]}")
    with guard("Showing the run", value=viewed):
        show_record(runs.load_run(viewed), runs)


def _row(record) -> dict:
    duration = record.duration
    return {
        "run": record.run_id,
        "status": record.status_label,
        "trigger": record.trigger,
        "attempts": record.attempt,
        "started": record.started_at,
        "duration (s)": round(duration, 1) if duration is not None else None,
        "master": record.master,
        "rows written": sum(int(t.get("rows") or 0) for t in record.targets or []),
        "error": record.error or "",
    }
