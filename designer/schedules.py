"""Schedules and conditional triggers: checks, due times and trigger evaluation.

Pure functions of a job's `schedule` and `triggers` and of finished runs, so the scheduler
process, the Schedules tab and the tests share one definition of when a job is due. Cron
expressions are parsed by APScheduler 3 (`CronTrigger.from_crontab`), time zones by zoneinfo.
"""

from __future__ import annotations

import re
import zoneinfo
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from apscheduler.triggers.cron import CronTrigger

if TYPE_CHECKING:
    from designer.model import Job, Schedule, Trigger

# Run statuses that end a run, and those each trigger state `on` matches.
FINISHED_STATUSES = ("succeeded", "failed", "cancelled", "timed_out")
STATES_MATCHED = {
    "succeeded": ("succeeded",),
    "failed": ("failed", "timed_out"),
    "any": FINISHED_STATUSES,
}
MAX_COUNTED_MISSED = 1000  # missed fire times counted one by one after downtime
NEXT_RUNS_SHOWN = 5
ONE_MICROSECOND = timedelta(microseconds=1)
DIGIT = re.compile(r"\d")


# --- checks ----------------------------------------------------------------------------------


def check_cron(job_name: str, cron: str) -> str | None:
    """Return why a five-field cron expression cannot run, or None when it can."""
    fields = cron.split()
    if len(fields) == 5 and DIGIT.search(fields[4]):
        # APScheduler 3 counts weekdays from 0 = Monday, cron from 0 = Sunday, so a number
        # would start the job on another day than the user expects.
        return (
            f"job {job_name!r}: schedule.cron {cron!r} gives the day of week as a number "
            f"({fields[4]!r}); write day names instead, such as mon-fri, sat,sun or sun"
        )
    try:
        trigger = CronTrigger.from_crontab(cron, timezone="UTC")
    except ValueError as error:
        return (
            f"job {job_name!r}: schedule.cron {cron!r} is invalid: {error}; write five fields, "
            "minute hour day-of-month month day-of-week, such as '*/15 * * * *' or '0 2 * * mon-fri'"
        )
    if trigger.get_next_fire_time(None, datetime.now(trigger.timezone)) is None:
        return f"job {job_name!r}: schedule.cron {cron!r} never matches a date; check its day and month"
    return None


def check_time_zone(job_name: str, time_zone: str) -> str | None:
    """Return why a time zone name is unusable, or None for a valid IANA name."""
    if time_zone in zoneinfo.available_timezones():
        return None
    return (
        f"job {job_name!r}: schedule.time_zone {time_zone!r} is not an IANA time zone name; "
        "use one such as UTC, Europe/Paris or America/New_York"
    )


def check_schedule(job: Job) -> list[str]:
    """Return every problem of the job's schedule and triggers, each naming the field and value."""
    problems = []
    if job.schedule is not None:
        problems.append(check_cron(job.name, job.schedule.cron))
        problems.append(check_time_zone(job.name, job.schedule.time_zone))
    for index, trigger in enumerate(job.triggers):
        problems.append(_check_trigger(job.name, index, trigger))
    return [problem for problem in problems if problem is not None]


def _check_trigger(job_name: str, index: int, trigger: Trigger) -> str | None:
    if job_name in trigger.after:
        return (
            f"job {job_name!r}: triggers[{index}].after names the job itself, which would start it "
            "again after each of its own runs; remove it"
        )
    duplicates = sorted({name for name in trigger.after if trigger.after.count(name) > 1})
    if duplicates:
        return f"job {job_name!r}: triggers[{index}].after lists {duplicates[0]!r} twice; list each job once"
    return None


# --- due times -------------------------------------------------------------------------------


def cron_trigger(schedule: Schedule) -> CronTrigger:
    """Return the APScheduler trigger of a checked schedule, in the schedule's time zone."""
    return CronTrigger.from_crontab(schedule.cron, timezone=zoneinfo.ZoneInfo(schedule.time_zone))


def next_run_times(schedule: Schedule, now: datetime, count: int = NEXT_RUNS_SHOWN) -> list[datetime]:
    """Return the next `count` fire times after `now`, in the schedule's time zone."""
    trigger = cron_trigger(schedule)
    times: list[datetime] = []
    moment = now
    while len(times) < count:
        fire = trigger.get_next_fire_time(None, moment + ONE_MICROSECOND)
        if fire is None:
            break
        times.append(fire)
        moment = fire
    return times


def due_times(
    schedule: Schedule, after: datetime, now: datetime, limit: int = MAX_COUNTED_MISSED
) -> list[datetime]:
    """Return the fire times in (after, now], oldest first, at most the last `limit` + 1 of them.

    The last one is always the latest due time, so a long downtime costs at most `limit` steps.
    """
    trigger = cron_trigger(schedule)
    times: list[datetime] = []
    moment = after
    while True:
        fire = trigger.get_next_fire_time(None, moment + ONE_MICROSECOND)
        if fire is None or fire > now:
            return times
        times.append(fire)
        moment = fire
        if len(times) > limit:
            latest = _latest_fire_before(trigger, now)
            return times[:limit] + [latest] if latest > times[-1] else times


def _latest_fire_before(trigger: CronTrigger, now: datetime) -> datetime:
    """Return the last fire time at or before `now`, stepping back a day at a time."""
    for days in range(1, 367 * 8):
        fire = trigger.get_next_fire_time(None, now - timedelta(days=days))
        if fire is not None and fire <= now:
            return _last_fire_from(trigger, fire, now)
    raise ValueError("no fire time in the eight years before now")


def _last_fire_from(trigger: CronTrigger, fire: datetime, now: datetime) -> datetime:
    """Step forward from a fire time to the last one at or before `now`."""
    while True:
        following = trigger.get_next_fire_time(None, fire + ONE_MICROSECOND)
        if following is None or following > now:
            return fire
        fire = following


@dataclass
class SchedulePlan:
    """The scheduler's decision for one job at one moment."""

    start: bool = False
    reason: str = ""  # "on time" or "missed"; empty when nothing starts
    missed: list[datetime] = field(default_factory=list)  # fire times that passed without a run
    skipped: bool = False  # True when missed times are dropped, by the skip policy or a pause
    last_fire: datetime | None = None  # the new last handled fire time, or None to keep it


def plan_schedule(
    schedule: Schedule, last_fire: datetime | None, now: datetime, grace: timedelta
) -> SchedulePlan:
    """Decide whether a scheduled job starts now, given the last fire time already handled.

    A fire time at most `grace` old is on time and starts a run. Older ones were missed,
    during downtime: the `run_once` policy starts one run for all of them, `skip` drops them.
    A paused schedule starts nothing and drops its due times, so resuming runs nothing old.
    Without a last fire time (a new schedule), nothing is due before `now`.
    """
    if last_fire is None:
        return SchedulePlan(last_fire=now)
    due = due_times(schedule, last_fire, now)
    if not due:
        return SchedulePlan()
    on_time = [fire for fire in due if now - fire <= grace]
    missed = [fire for fire in due if now - fire > grace]
    if schedule.paused:
        return SchedulePlan(missed=missed, skipped=True, last_fire=due[-1])
    if on_time:
        return SchedulePlan(
            start=True, reason="on time", missed=missed, skipped=bool(missed), last_fire=due[-1]
        )
    if schedule.missed_runs == "run_once":
        return SchedulePlan(start=True, reason="missed", missed=missed, last_fire=due[-1])
    return SchedulePlan(missed=missed, skipped=True, last_fire=due[-1])


# --- conditional triggers --------------------------------------------------------------------


@dataclass(frozen=True)
class FinishedRun:
    """A run that ended: the facts a conditional trigger looks at."""

    run_id: str
    job_name: str
    status: str
    ended_at: datetime


def state_matches(on: str, status: str) -> bool:
    """Return True if a run that ended with `status` counts for a trigger's `on` state."""
    return status in STATES_MATCHED[on]


def trigger_key(job_name: str, trigger: Trigger) -> str:
    """Return the trigger's name in the scheduler's state: its job and its condition.

    Editing the watched jobs, the state or the requirement makes a new trigger that starts
    with no history, which is what a changed condition should do.
    """
    watched = ",".join(sorted(trigger.after))
    return f"{job_name} after {trigger.require} of {watched} {trigger.on}"


def trigger_fires(
    trigger: Trigger, last_fired: datetime, new_run: FinishedRun, history: list[FinishedRun]
) -> bool:
    """Return True if `new_run` ending completes the trigger's condition.

    `require: any` fires on each watched run that ends in the state. `require: all` fires
    when every watched job has a run ending in the state after the trigger last fired and no
    later than `new_run`, as AWS Glue's conditional triggers do.
    """
    if new_run.job_name not in trigger.after or not state_matches(trigger.on, new_run.status):
        return False
    if new_run.ended_at <= last_fired:
        return False
    if trigger.require == "any":
        return True
    done = {
        run.job_name
        for run in history + [new_run]
        if last_fired < run.ended_at <= new_run.ended_at and state_matches(trigger.on, run.status)
    }
    return all(name in done for name in trigger.after)
