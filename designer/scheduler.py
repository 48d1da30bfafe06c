"""The scheduler process: start jobs on their cron schedules and after the runs they watch.

`sparkcanvas scheduler` loads every `*.job.json` in its folders and reloads a file when it
changes. APScheduler wakes it at each cron fire time and every poll interval. At each wake-up
it decides from its state in the run store's SQLite file what is due (designer.schedules),
and it reads the runs that ended since the last wake-up, from any process, for the
conditional triggers. Runs it starts are supervised by this process; stopping it cancels them.
"""

from __future__ import annotations

import logging
import signal
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from designer import scheduler_runs
from designer.errors import SparkCanvasError
from designer.model import Job, Schedule, Trigger, load_job
from designer.scheduler_state import SchedulerState
from designer.schedules import (
    FINISHED_STATUSES,
    FinishedRun,
    cron_trigger,
    plan_schedule,
    trigger_fires,
    trigger_key,
)

logger = logging.getLogger(__name__)

JOB_SUFFIX = ".job.json"
DEFAULT_POLL_SECONDS = 10.0
MIN_GRACE_SECONDS = 60.0  # a fire time younger than this (or two polls) is on time, not missed
RECENT_RUNS_WINDOW = timedelta(minutes=5)  # how late a finished run may be recorded and still be read
STOP_WAIT_SECONDS = 60.0  # per run, for its cancellation to be recorded when the scheduler stops


@dataclass
class WatchedFile:
    """A job file and what the scheduler last read from it."""

    path: Path
    stamp: tuple[int, int]  # modification time in ns and size; a change means reread
    job: Job | None = None  # None when the file could not be loaded


@dataclass
class LoadedJobs:
    """The jobs the scheduler has loaded, by job name. A name used in two files keeps the first path."""

    files: dict[Path, WatchedFile] = field(default_factory=dict)
    by_name: dict[str, tuple[Job, Path]] = field(default_factory=dict)


def job_files(folders: list[Path]) -> list[Path]:
    """Return the job files of the folders, sorted, each once."""
    found = set()
    for folder in folders:
        found.update(path.resolve() for path in folder.glob(f"*{JOB_SUFFIX}") if path.is_file())
    return sorted(found)


class Scheduler:
    """Schedules and triggers of the jobs in some folders; `tick` and `fire` do the work."""

    def __init__(
        self,
        folders: list[Path],
        poll_seconds: float = DEFAULT_POLL_SECONDS,
        state: SchedulerState | None = None,
    ):
        self.folders = [Path(folder) for folder in folders]
        self.poll_seconds = poll_seconds
        self.grace = timedelta(seconds=max(MIN_GRACE_SECONDS, 2 * poll_seconds))
        self.state = state or SchedulerState(scheduler_runs.runs_db_path())
        self.jobs = LoadedJobs()
        self.handles: dict[str, object] = {}  # run id -> handle of a run this process started
        self._lock = threading.Lock()
        self._aps = BackgroundScheduler(timezone=UTC)
        self._cron_jobs: dict[str, Schedule] = {}  # job name -> schedule registered with APScheduler

    # --- lifecycle -----------------------------------------------------------------------------

    def start(self) -> None:
        """Handle what is due now, missed runs included, then wake up on fire times and polls."""
        folders = ", ".join(str(folder) for folder in self.folders)
        logger.info(
            "scheduler started: jobs in %s, poll every %.0f s, state in %s",
            folders,
            self.poll_seconds,
            self.state.path,
        )
        self._aps.start()
        self.tick()
        self._aps.add_job(
            self.tick,
            IntervalTrigger(seconds=self.poll_seconds, timezone=UTC),
            id="poll",
            coalesce=True,
            max_instances=1,
            misfire_grace_time=None,
        )

    def stop(self) -> None:
        """Stop waking up, then cancel the runs this process started and wait for their records."""
        if self._aps.running:
            self._aps.shutdown(wait=True)
        with self._lock:
            running = [handle for handle in self.handles.values() if handle.poll() not in FINISHED_STATUSES]
            for handle in running:
                logger.warning(
                    "cancelling run %s of job %s because the scheduler stops",
                    handle.record.run_id,
                    handle.record.job_name,
                )
                handle.cancel()
            for handle in running:
                try:
                    handle.wait(STOP_WAIT_SECONDS)
                except SparkCanvasError as error:
                    logger.error("run %s: %s", handle.record.run_id, error)
        logger.info("scheduler stopped")

    def tick(self) -> None:
        """Reload changed job files, start due scheduled jobs and fire satisfied triggers."""
        with self._lock:
            now = datetime.now(UTC)
            self._reload()
            for job, path in sorted(self.jobs.by_name.values(), key=lambda entry: entry[0].name):
                if job.schedule is not None:
                    self._handle_schedule(job, path, now)
            self._handle_finished_runs(now)
            self._forget_ended_handles()

    def fire(self, job_name: str) -> None:
        """Start a job at a cron fire time, unless a poll already did."""
        with self._lock:
            entry = self.jobs.by_name.get(job_name)
            if entry is not None and entry[0].schedule is not None:
                self._handle_schedule(entry[0], entry[1], datetime.now(UTC))

    # --- job files -----------------------------------------------------------------------------

    def _reload(self) -> None:
        paths = job_files(self.folders)
        changed = False
        for path in set(self.jobs.files) - set(paths):
            logger.info("job file %s was removed; its schedule and triggers no longer apply", path)
            del self.jobs.files[path]
            changed = True
        for path in paths:
            changed |= self._reload_file(path)
        if changed:
            self._index_jobs()
            self._register_cron_jobs()

    def _reload_file(self, path: Path) -> bool:
        try:
            stat = path.stat()
        except OSError:
            return False  # removed meanwhile; the next poll drops it
        stamp = (stat.st_mtime_ns, stat.st_size)
        known = self.jobs.files.get(path)
        if known is not None and known.stamp == stamp:
            return False
        try:
            job = load_job(path)
        except SparkCanvasError as error:
            logger.error(
                "cannot load job file %s, so its schedule and triggers are ignored until it is fixed: %s",
                path,
                error,
            )
            job = None
        self.jobs.files[path] = WatchedFile(path, stamp, job)
        if job is not None and known is not None:
            logger.info("reloaded job %s from %s", job.name, path)
        return True

    def _index_jobs(self) -> None:
        by_name: dict[str, tuple[Job, Path]] = {}
        for path, watched in sorted(self.jobs.files.items()):
            if watched.job is None:
                continue
            name = watched.job.name
            if name in by_name:
                logger.error(
                    "job %s is defined in %s and %s; only %s is scheduled; rename one of them",
                    name,
                    by_name[name][1],
                    path,
                    by_name[name][1],
                )
                continue
            by_name[name] = (watched.job, path)
        for name in _scheduled(self.jobs.by_name) - _scheduled(by_name):
            # A schedule added again later starts afresh instead of catching up on missed runs.
            self.state.forget_schedule(name)
        self.jobs.by_name = by_name

    def _register_cron_jobs(self) -> None:
        """Have APScheduler wake the scheduler at each job's cron fire times."""
        wanted = {
            name: job.schedule
            for name, (job, _) in self.jobs.by_name.items()
            if job.schedule and not job.schedule.paused
        }
        for name in set(self._cron_jobs) - set(wanted):
            self._aps.remove_job(f"schedule:{name}")
            del self._cron_jobs[name]
        for name, schedule in wanted.items():
            if self._cron_jobs.get(name) == schedule:
                continue
            self._aps.add_job(
                self.fire,
                cron_trigger(schedule),
                args=[name],
                id=f"schedule:{name}",
                replace_existing=True,
                coalesce=True,
                max_instances=1,
                misfire_grace_time=None,
            )
            self._cron_jobs[name] = schedule
            logger.info("job %s scheduled: %r in %s", name, schedule.cron, schedule.time_zone)

    # --- schedules -----------------------------------------------------------------------------

    def _handle_schedule(self, job: Job, path: Path, now: datetime) -> None:
        plan = plan_schedule(job.schedule, self.state.last_fire(job.name), now, self.grace)
        if plan.missed:
            self._log_missed(job, plan)
        if plan.start:
            self._start(
                job,
                path,
                job.schedule.parameters,
                "schedule",
                f"schedule {job.schedule.cron!r} ({plan.reason})",
            )
        if plan.last_fire is not None:
            self.state.set_last_fire(job.name, plan.last_fire)

    def _log_missed(self, job: Job, plan) -> None:
        count = len(plan.missed)
        times = (
            f"{plan.missed[0].isoformat()} to {plan.missed[-1].isoformat()}"
            if count > 1
            else plan.missed[0].isoformat()
        )
        if job.schedule.paused:
            logger.info(
                "job %s: skipped %d scheduled run(s) at %s because the schedule is paused",
                job.name,
                count,
                times,
            )
        elif plan.start and plan.reason == "on time":
            logger.warning(
                "job %s: missed %d scheduled run(s) at %s; the run starting now covers them",
                job.name,
                count,
                times,
            )
        elif plan.start:
            logger.warning(
                "job %s: missed %d scheduled run(s) at %s; running once now (missed_runs: run_once)",
                job.name,
                count,
                times,
            )
        else:
            logger.warning(
                "job %s: missed %d scheduled run(s) at %s; skipped (missed_runs: skip)",
                job.name,
                count,
                times,
            )

    # --- conditional triggers ------------------------------------------------------------------

    def _handle_finished_runs(self, now: datetime) -> None:
        self._register_triggers(now)
        watermark, recent = self.state.finished_watermark()
        if watermark is None:
            # First start: runs that ended before the scheduler existed fire nothing.
            self.state.set_finished_watermark(now, {})
            return
        new_runs = [
            run
            for run in scheduler_runs.finished_since(watermark - RECENT_RUNS_WINDOW)
            if run.run_id not in recent
        ]
        for run in new_runs:
            self._fire_triggers_after(run)
        self._advance_watermark(watermark, recent, new_runs)

    def _register_triggers(self, now: datetime) -> None:
        """Start each new trigger's history now, so runs that ended before it fire nothing."""
        for name, _job, trigger in self._triggers():
            key = trigger_key(name, trigger)
            if self.state.trigger_fired(key) is None:
                self.state.set_trigger_fired(key, now)

    def _triggers(self) -> list[tuple[str, Job, Trigger]]:
        return [
            (name, job, trigger)
            for name, (job, _) in sorted(self.jobs.by_name.items())
            for trigger in job.triggers
        ]

    def _fire_triggers_after(self, run: FinishedRun) -> None:
        for name, job, trigger in self._triggers():
            if run.job_name not in trigger.after:
                continue
            key = trigger_key(name, trigger)
            last_fired = self.state.trigger_fired(key)
            history = [
                past for past in scheduler_runs.finished_since(last_fired) if past.job_name in trigger.after
            ]
            if not trigger_fires(trigger, last_fired, run, history):
                continue
            self.state.set_trigger_fired(key, run.ended_at)
            path = self.jobs.by_name[name][1]
            condition = f"{trigger.require} of {', '.join(trigger.after)} {trigger.on}"
            reason = f"trigger: run {run.run_id} of job {run.job_name} {run.status} ({condition})"
            self._start(job, path, trigger.parameters, f"trigger:{run.job_name}", reason)

    def _advance_watermark(
        self, watermark: datetime, recent: dict[str, str], new_runs: list[FinishedRun]
    ) -> None:
        if not new_runs:
            return
        newest = max(watermark, new_runs[-1].ended_at)
        recent.update({run.run_id: run.ended_at.isoformat() for run in new_runs})
        kept = {
            run_id: ended
            for run_id, ended in recent.items()
            if datetime.fromisoformat(ended) > newest - RECENT_RUNS_WINDOW
        }
        self.state.set_finished_watermark(newest, kept)

    # --- runs ----------------------------------------------------------------------------------

    def _start(self, job: Job, path: Path, params: dict[str, str], trigger: str, reason: str) -> None:
        try:
            handle = scheduler_runs.start_job_run(job.copy(), path, dict(params), trigger)
        except SparkCanvasError as error:
            logger.error("job %s: could not start the run for %s: %s", job.name, reason, error)
            return
        if handle.record.status in FINISHED_STATUSES:
            # The run manager skips a run when the job is busy and its `run.when_busy` is skip.
            logger.warning(
                "job %s: run %s for %s was skipped: %s",
                job.name,
                handle.record.run_id,
                reason,
                handle.record.error,
            )
            return
        self.handles[handle.record.run_id] = handle
        logger.info("job %s: started run %s for %s", job.name, handle.record.run_id, reason)

    def _forget_ended_handles(self) -> None:
        for run_id in [
            run_id for run_id, handle in self.handles.items() if handle.poll() in FINISHED_STATUSES
        ]:
            del self.handles[run_id]


def _scheduled(by_name: dict[str, tuple[Job, Path]]) -> set[str]:
    return {name for name, (job, _) in by_name.items() if job.schedule is not None}


def run_scheduler(folders: list[Path], poll_seconds: float) -> None:
    """Run the scheduler in the foreground until SIGINT or SIGTERM."""
    stopping = threading.Event()

    def request_stop(number, _frame) -> None:
        logger.info("received %s; stopping", signal.Signals(number).name)
        stopping.set()

    previous = {number: signal.signal(number, request_stop) for number in (signal.SIGINT, signal.SIGTERM)}
    scheduler = Scheduler(folders, poll_seconds)
    try:
        scheduler.start()
        while not stopping.wait(1.0):
            pass
    finally:
        scheduler.stop()
        for number, handler in previous.items():
            signal.signal(number, handler)
