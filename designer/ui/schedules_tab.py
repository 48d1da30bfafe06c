"""The Schedules tab: the open job's cron schedule and conditional triggers, and the folder's schedules.

Edits change the open job, which the sidebar's Save writes, as on the Job details tab. Pause
and Resume also write `schedule.paused` into the saved job file at once, because the
`sparkcanvas scheduler` process reads the files.
"""

from __future__ import annotations

import logging
import zoneinfo
from datetime import UTC, datetime

import streamlit as st

from designer.errors import JobFormatError
from designer.model import (
    MISSED_RUN_POLICIES,
    TRIGGER_REQUIREMENTS,
    TRIGGER_STATES,
    Job,
    Schedule,
    Trigger,
    job_to_json,
    load_job,
    save_job,
)
from designer.schedules import check_cron, next_run_times
from designer.ui import state
from designer.ui.feedback import guard

logger = logging.getLogger(__name__)

DEFAULT_CRON = "0 2 * * *"
MISSED_RUN_LABELS = {
    "run_once": "Run once when the scheduler is back",
    "skip": "Skip them",
}
STATE_LABELS = {"succeeded": "succeeded", "failed": "failed or timed out", "any": "ended in any state"}
REQUIREMENT_LABELS = {"all": "all of them", "any": "any one of them"}
TIME_FORMAT = "%a %Y-%m-%d %H:%M %Z"
TRIGGERS_VERSION = "schedules_triggers_version"


def _key(*parts: str) -> str:
    return ":".join([str(state.token()), "schedules", *parts])


def render(job: Job) -> None:
    st.subheader("Schedule")
    _schedule(job)
    st.subheader("Triggers")
    _triggers(job)
    st.subheader("Schedules in this folder")
    _folder_overview()


# --- the open job's schedule -----------------------------------------------------------------


def _schedule(job: Job) -> None:
    enabled = st.toggle(
        "Run on a schedule",
        job.schedule is not None,
        key=_key("enabled"),
        help="The `sparkcanvas scheduler` process starts the job at the cron expression's times.",
    )
    if enabled and job.schedule is None:
        job.schedule = Schedule(cron=DEFAULT_CRON)
    if not enabled:
        job.schedule = None
        return
    _cron(job)
    _time_zone(job)
    _missed_runs(job)
    job.schedule.parameters = _parameter_values(job, job.schedule.parameters, "schedule")
    _pause_resume(job)
    _next_runs(job.schedule)


def _cron(job: Job) -> None:
    cron = st.text_input(
        "Cron expression",
        job.schedule.cron,
        key=_key("cron"),
        help="Five fields: minute hour day-of-month month day-of-week, such as `*/15 * * * *` or "
        "`0 2 * * mon-fri`. Write days of the week as names.",
    )
    if cron == job.schedule.cron:
        return
    problem = check_cron(job.name, cron.strip())
    if problem:
        st.error(f"{problem}. The schedule is kept as {job.schedule.cron!r}.")
        return
    job.schedule.cron = cron.strip()


def _time_zone(job: Job) -> None:
    zones = sorted(zoneinfo.available_timezones())
    current = job.schedule.time_zone
    zone = st.selectbox(
        "Time zone",
        zones,
        index=zones.index(current) if current in zones else zones.index("UTC"),
        key=_key("time_zone"),
        help="The cron expression's times are wall-clock times in this zone.",
    )
    if zone != current:
        job.schedule.time_zone = zone


def _missed_runs(job: Job) -> None:
    policy = st.radio(
        "Runs missed while the scheduler was stopped",
        MISSED_RUN_POLICIES,
        index=MISSED_RUN_POLICIES.index(job.schedule.missed_runs),
        format_func=MISSED_RUN_LABELS.get,
        key=_key("missed_runs"),
        horizontal=True,
    )
    if policy != job.schedule.missed_runs:
        job.schedule.missed_runs = policy


def _parameter_values(job: Job, values: dict[str, str], owner: str) -> dict[str, str]:
    """Draw one input per job parameter; return the values that differ from the defaults."""
    chosen = {}
    for parameter in job.parameters:
        value = st.text_input(
            f"--{parameter.name}",
            values.get(parameter.name, parameter.default),
            key=_key(owner, "param", parameter.name),
            help=f"Default: {parameter.default!r}",
        )
        if value != parameter.default:
            chosen[parameter.name] = value
    return chosen


def _pause_resume(job: Job) -> None:
    schedule = job.schedule
    label = "Resume" if schedule.paused else "Pause"
    st.markdown(f"Status: **{'paused' if schedule.paused else 'active'}**")
    if st.button(label, key=_key("pause"), icon=":material/pause:" if not schedule.paused else None):
        set_paused(job, not schedule.paused)
        st.rerun()


def set_paused(job: Job, paused: bool) -> None:
    """Pause or resume the open job, and write the change into its saved file when that has a schedule."""
    job.schedule.paused = paused
    path = state.job_path()
    if path is None:
        st.toast("Paused; save the job to apply it." if paused else "Resumed; save the job to apply it.")
        return
    with guard("Writing the pause to the job file", value=str(path)):
        saved = load_job(path)
        if saved.schedule is None:
            state.notify("info", f"{path.name} has no schedule yet; save the job to write it.")
            return
        saved.schedule.paused = paused
        save_job(saved, path)
        st.session_state[state.SAVED_TEXT] = job_to_json(saved)
        logger.info("job %s %s in %s", job.name, "paused" if paused else "resumed", path)


def _next_runs(schedule: Schedule) -> None:
    if schedule.paused:
        st.caption("Paused: the scheduler starts no run until you resume it.")
        return
    with guard("Computing the next runs", value=schedule.cron):
        times = next_run_times(schedule, datetime.now(UTC))
        st.markdown("**Next runs** (" + schedule.time_zone + ")")
        st.markdown("\n".join(f"- {moment.strftime(TIME_FORMAT)}" for moment in times))


# --- the open job's triggers -----------------------------------------------------------------


def _triggers(job: Job) -> None:
    st.caption("Start this job when runs of other jobs end, as AWS Glue's conditional triggers do.")
    others = sorted(name for name in _folder_job_names() if name != job.name)
    for index, trigger in enumerate(list(job.triggers)):
        with st.container(border=True):
            _trigger(job, index, trigger, others)
    if st.button("Add trigger", key=_key("add_trigger"), icon=":material/add:"):
        job.triggers.append(Trigger(after=others[:1]))
        _renumber_triggers()
        st.rerun()


def _trigger_key(index: int, name: str) -> str:
    """Return a trigger widget's key, which changes when a trigger is added or removed.

    Otherwise a widget would keep the value of the trigger that used to be at its index.
    """
    return _key("trigger", str(st.session_state.get(TRIGGERS_VERSION, 0)), str(index), name)


def _renumber_triggers() -> None:
    st.session_state[TRIGGERS_VERSION] = st.session_state.get(TRIGGERS_VERSION, 0) + 1


def _trigger(job: Job, index: int, trigger: Trigger, others: list[str]) -> None:
    options = sorted(set(others) | set(trigger.after))
    after = st.multiselect(
        "After the runs of",
        options,
        default=trigger.after,
        key=_trigger_key(index, "after"),
        help="Jobs found in the jobs folder. A job listed in the file but absent here is kept.",
    )
    if not after:
        st.error(f"Trigger {index + 1}: choose at least one job to watch; the jobs stay {trigger.after}.")
    elif after != trigger.after:
        trigger.after = after
    left, right = st.columns(2)
    trigger.require = left.selectbox(
        "Require",
        TRIGGER_REQUIREMENTS,
        index=TRIGGER_REQUIREMENTS.index(trigger.require),
        format_func=REQUIREMENT_LABELS.get,
        key=_trigger_key(index, "require"),
    )
    trigger.on = right.selectbox(
        "Whose run",
        TRIGGER_STATES,
        index=TRIGGER_STATES.index(trigger.on),
        format_func=STATE_LABELS.get,
        key=_trigger_key(index, "on"),
    )
    owner = f"trigger:{st.session_state.get(TRIGGERS_VERSION, 0)}:{index}"
    trigger.parameters = _parameter_values(job, trigger.parameters, owner)
    if st.button("Remove trigger", key=_trigger_key(index, "remove")):
        del job.triggers[index]
        _renumber_triggers()
        st.rerun()


# --- the folder ------------------------------------------------------------------------------


def _folder_jobs() -> list[tuple[str, Job | None, str]]:
    """Return each job file of the jobs folder as (file name, job or None, error)."""
    loaded = []
    for path in state.job_files():
        try:
            loaded.append((path.name, load_job(path), ""))
        except JobFormatError as error:
            loaded.append((path.name, None, str(error)))
    return loaded


def _folder_job_names() -> list[str]:
    return [job.name for _, job, _ in _folder_jobs() if job is not None]


def _folder_overview() -> None:
    rows = [_overview_row(name, job, error) for name, job, error in _folder_jobs()]
    rows = [row for row in rows if row is not None]
    if not rows:
        st.caption(f"No job in {state.jobs_dir()} has a schedule or a trigger yet.")
        return
    st.dataframe(rows, hide_index=True, width="stretch")
    st.caption("Saved files only. Start `sparkcanvas scheduler --jobs FOLDER` to run them.")


def _overview_row(file_name: str, job: Job | None, error: str) -> dict | None:
    if job is None:
        return {
            "job": "",
            "file": file_name,
            "schedule": "",
            "status": "cannot be read",
            "next run": error,
            "triggers": "",
        }
    if job.schedule is None and not job.triggers:
        return None
    return {
        "job": job.name,
        "file": file_name,
        "schedule": f"{job.schedule.cron} ({job.schedule.time_zone})" if job.schedule else "",
        "status": _status(job),
        "next run": _next_run_text(job.schedule),
        "triggers": "; ".join(describe_trigger(trigger) for trigger in job.triggers),
    }


def _status(job: Job) -> str:
    if job.schedule is None:
        return "triggers only"
    return "paused" if job.schedule.paused else "active"


def _next_run_text(schedule: Schedule | None) -> str:
    if schedule is None or schedule.paused:
        return ""
    times = next_run_times(schedule, datetime.now(UTC), count=1)
    return times[0].strftime(TIME_FORMAT) if times else ""


def describe_trigger(trigger: Trigger) -> str:
    """Return a trigger as a phrase, such as 'after all of load_a, load_b succeeded'."""
    requirement = "" if len(trigger.after) == 1 else f"{REQUIREMENT_LABELS[trigger.require]} "
    return f"after {requirement}{', '.join(trigger.after)} {STATE_LABELS[trigger.on]}"
