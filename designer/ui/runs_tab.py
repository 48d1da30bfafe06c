"""The Runs tab: start a run with spark-submit, follow its log, and browse past runs.

designer.runs is imported inside the functions, so the rest of the designer works while
the run manager cannot be imported.
"""

from __future__ import annotations

import logging

import streamlit as st

from designer.model import Job
from designer.ui import state
from designer.ui.feedback import guard

logger = logging.getLogger(__name__)

HANDLE = "run_handle"
DEFAULT_MASTER = "local[*]"
REFRESH_SECONDS = 1.0
LOG_LINES = 200
STATUS_ICONS = {"running": "⏳", "succeeded": "✅", "failed": "❌"}


def render(job: Job) -> None:
    try:
        from designer import runs
    except ImportError as error:
        logger.warning("designer.runs is not importable: %s", error)
        st.warning(f"The run manager could not be loaded ({error}); runs are not available.")
        return
    _start_form(job, runs)
    handle = st.session_state.get(HANDLE)
    if handle is not None and handle.poll() == runs.RUNNING:
        st.subheader("Current run")
        st.fragment(run_every=REFRESH_SECONDS)(_live)(runs)
    _history(job, runs)


def _start_form(job: Job, runs) -> None:
    master = st.text_input(
        "Spark master", DEFAULT_MASTER, key="run_master",
        help="local[*] runs on this machine. spark://host:7077, yarn or k8s://... submit to a cluster.",
    )
    values = _parameter_values(job)
    if state.is_dirty():
        st.caption("The run uses the job as shown here, including unsaved changes.")
    handle = st.session_state.get(HANDLE)
    running = handle is not None and handle.poll() == runs.RUNNING
    if st.button("Run", key="run_start", type="primary", icon=":material/play_arrow:", disabled=running):
        _start(job, runs, master.strip(), values)


def _parameter_values(job: Job) -> dict[str, str]:
    values = {}
    for parameter in job.parameters:
        values[parameter.name] = st.text_input(
            f"--{parameter.name}", parameter.default, key=f"{state.token()}:run_param:{parameter.name}",
            help=parameter.description or None,
        )
    return values


def _start(job: Job, runs, master: str, values: dict[str, str]) -> None:
    path = state.job_path() or state.jobs_dir() / f"{job.name}{state.JOB_SUFFIX}"
    with guard("Starting the run", value=master):
        handle = runs.start_run(job.copy(), path, master=master, params=values)
        st.session_state[HANDLE] = handle
        logger.info("run %s of job %s started from the designer", handle.record.run_id, job.name)
        st.rerun()


def _live(runs) -> None:
    """Show the running run. The fragment calls this every REFRESH_SECONDS until the run ends."""
    handle = st.session_state[HANDLE]
    status = handle.poll()
    if status != runs.RUNNING:
        # The whole page reruns, so the ended run moves to the past runs with its result.
        st.rerun()
    show_record(handle.record, runs, status)
    if st.button("Cancel run", key="run_cancel"):
        handle.cancel()


def show_record(record, runs, status: str | None = None) -> None:
    """Show a run: status, duration, rows written, the one-line error, then the log's tail."""
    status = status or record.status
    duration = record.duration
    timing = f" · {duration:.1f} s" if duration is not None else ""
    st.markdown(f"{STATUS_ICONS.get(status, '')} **{status}**{timing} · master `{record.master}` · "
                f"run `{record.run_id}`")
    for target in record.targets or []:
        st.caption(f"Node {target.get('node_id')} wrote {target.get('rows')} rows to {target.get('path')}")
    if status == runs.FAILED and record.error:
        st.error(record.error)
    st.code(runs.read_log_tail(record, LOG_LINES) or "(the log is empty so far)", language="text")


def _history(job: Job, runs) -> None:
    st.subheader("Past runs")
    records = []
    with guard("Listing past runs"):
        records = runs.list_runs(job.name)
    if not records:
        st.caption(f"No runs of {job.name!r} yet.")
        return
    st.dataframe([_row(record) for record in records], hide_index=True, width="stretch")
    ids = [record.run_id for record in records]
    # A new run changes the key, so the newest run is shown again.
    viewed = st.selectbox("Show the log of run", ids, key=f"run_viewed_choice:{ids[0]}")
    record = records[ids.index(viewed)]
    with guard("Showing the run", value=record.run_id):
        show_record(record, runs)


def _row(record) -> dict:
    duration = record.duration
    return {
        "run": record.run_id,
        "status": record.status,
        "started": record.started_at,
        "duration (s)": round(duration, 1) if duration is not None else None,
        "master": record.master,
        "rows written": sum(int(t.get("rows") or 0) for t in record.targets or []),
        "error": record.error or "",
    }
