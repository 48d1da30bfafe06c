"""The designer's session state: the open job, its file, the preview cache and the selection.

Streamlit reruns the whole script on every event, so everything that must outlive one run
lives in `st.session_state` under the keys below.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import streamlit as st

from codegen.duckdb_preview import PreviewEngine
from designer.errors import JobFormatError
from designer.model import Job, job_to_json, load_job, save_job

logger = logging.getLogger(__name__)

JOBS_DIR_VARIABLE = "SPARKCANVAS_JOBS_DIR"
JOB_VARIABLE = "SPARKCANVAS_JOB"
DEFAULT_JOBS_DIR = "assets/jobs"
DEFAULT_JOB = "assets/jobs/taxi_revenue_by_borough.job.json"
JOB_SUFFIX = ".job.json"
NEW_JOB_NAME = "untitled_job"

JOB = "job"
JOB_PATH = "job_path"
SAVED_TEXT = "saved_text"
JOB_TOKEN = "job_token"
ENGINE = "preview_engine"
SELECTED = "selected_node"
NOTICES = "notices"
ERRORS = "persistent_errors"
PENDING = "pending_action"


def jobs_dir() -> Path:
    return Path(os.environ.get(JOBS_DIR_VARIABLE) or DEFAULT_JOBS_DIR)


def job_files() -> list[Path]:
    folder = jobs_dir()
    if not folder.is_dir():
        return []
    return sorted(folder.glob(f"*{JOB_SUFFIX}"))


def initialize() -> None:
    """Open the first job once per session: $SPARKCANVAS_JOB, else the taxi example."""
    if JOB in st.session_state:
        return
    st.session_state[ENGINE] = PreviewEngine()
    st.session_state[JOB_TOKEN] = 0
    st.session_state[NOTICES] = []
    path = os.environ.get(JOB_VARIABLE) or DEFAULT_JOB
    try:
        open_job(Path(path))
    except JobFormatError as error:
        logger.warning("cannot open the first job %s: %s", path, error)
        new_job()
        notify("error", f"Could not open {path}: {error}. Started a new job instead.")


def job() -> Job:
    return st.session_state[JOB]


def job_path() -> Path | None:
    return st.session_state.get(JOB_PATH)


def engine() -> PreviewEngine:
    return st.session_state[ENGINE]


def token() -> int:
    """Return a number that changes whenever another job is opened, for widget keys."""
    return st.session_state[JOB_TOKEN]


def open_job(path: Path) -> None:
    """Load a job file and make it the open job. Raises JobFormatError if it cannot be read."""
    loaded = load_job(path)
    _replace_job(loaded, path)
    logger.info("opened job %s from %s", loaded.name, path)


def new_job() -> None:
    _replace_job(Job(name=NEW_JOB_NAME), None)
    logger.info("started a new job")


def _replace_job(new: Job, path: Path | None) -> None:
    st.session_state[JOB] = new
    st.session_state[JOB_PATH] = path
    st.session_state[SAVED_TEXT] = job_to_json(new)
    st.session_state[SELECTED] = None
    st.session_state[PENDING] = None
    st.session_state[JOB_TOKEN] = st.session_state.get(JOB_TOKEN, 0) + 1


def save(path: Path) -> None:
    """Write the open job atomically to `path`, which then becomes the job's file."""
    save_job(job(), path)
    st.session_state[JOB_PATH] = path
    st.session_state[SAVED_TEXT] = job_to_json(job())
    logger.info("saved job %s to %s", job().name, path)


def is_dirty() -> bool:
    """Return True if the job differs from the file it was opened from or last saved to."""
    return job_to_json(job()) != st.session_state[SAVED_TEXT]


def selected_id() -> str | None:
    node_id = st.session_state.get(SELECTED)
    if node_id is not None and not job().has_node(node_id):
        st.session_state[SELECTED] = None
        return None
    return node_id


def select(node_id: str | None) -> None:
    st.session_state[SELECTED] = node_id


def notify(level: str, message: str) -> None:
    """Queue a message shown once at the top of the next run: level is info, warning or error."""
    st.session_state[NOTICES].append((level, message))


def pop_notices() -> list[tuple[str, str]]:
    """Return the queued info and warning messages once; errors stay until dismissed.

    The canvas reruns the page as it loads, so a message shown for one run only would vanish
    before the user could read it.
    """
    notices = list(st.session_state[NOTICES])
    st.session_state[NOTICES].clear()
    errors = st.session_state.setdefault(ERRORS, [])
    errors.extend(message for level, message in notices if level == "error" and message not in errors)
    return [(level, message) for level, message in notices if level != "error"]


def errors() -> list[str]:
    return st.session_state.setdefault(ERRORS, [])


def dismiss_errors() -> None:
    st.session_state[ERRORS] = []
