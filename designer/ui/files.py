"""Open, save and new-job actions, with a confirmation before unsaved changes are discarded."""

from __future__ import annotations

import logging
from pathlib import Path

import streamlit as st

from designer.errors import JobFormatError
from designer.ui import state
from designer.ui.feedback import guard

logger = logging.getLogger(__name__)

OPEN_CHOICE = "open_choice"
SAVE_NAME = "save_name"
OVERWRITE = "overwrite_target"


def render() -> None:
    st.header("Job file")
    _status()
    _save()
    _open()
    _new()
    _confirm_pending()


def _status() -> None:
    path = state.job_path()
    where = str(path) if path else "not saved yet"
    marker = " · **unsaved changes**" if state.is_dirty() else ""
    st.caption(f"{where}{marker}")


def _save() -> None:
    path = state.job_path()
    default = path.name if path else f"{state.job().name}{state.JOB_SUFFIX}"
    name = st.text_input(
        "File name", default, key=f"{SAVE_NAME}:{state.token()}",
        help=f"Saved in the jobs folder, {state.jobs_dir()} (set SPARKCANVAS_JOBS_DIR to change it).",
    )
    if st.button("Save", key="save_job", type="primary", width="stretch"):
        target = _target(name)
        if target is not None and target.exists() and target != state.job_path():
            st.session_state[OVERWRITE] = str(target)
            st.rerun()
        if target is not None:
            _write(target)
    _confirm_overwrite()


def _write(target: Path) -> None:
    with guard("Saving the job", value=str(target)):
        state.save(target)
        st.toast(f"Saved {target}")


def _confirm_overwrite() -> None:
    """Ask before a save replaces another job's file."""
    pending = st.session_state.get(OVERWRITE)
    if not pending:
        return
    target = Path(pending)
    st.warning(f"{target.name} already holds another job. Replace it with {state.job().name!r}?")
    replace, cancel = st.columns(2)
    if replace.button("Replace", key="confirm_overwrite", type="primary"):
        st.session_state[OVERWRITE] = None
        _write(target)
        st.rerun()
    if cancel.button("Cancel", key="cancel_overwrite"):
        st.session_state[OVERWRITE] = None
        st.rerun()


def _target(name: str) -> Path | None:
    """Return the path for a file name typed by the user, or None after showing why it is invalid."""
    clean = name.strip()
    if not clean or "/" in clean or "\\" in clean or clean.startswith("."):
        st.error(f"File name {name!r} is invalid; use a plain name such as my_job{state.JOB_SUFFIX}.")
        return None
    if not clean.endswith(state.JOB_SUFFIX):
        clean += state.JOB_SUFFIX
    return state.jobs_dir() / clean


def _open() -> None:
    files = state.job_files()
    if not files:
        st.caption(f"No {state.JOB_SUFFIX} files in {state.jobs_dir()}.")
        return
    names = [path.name for path in files]
    choice = st.selectbox("Open a job", names, key=OPEN_CHOICE)
    if st.button("Open", key="open_job", width="stretch"):
        request({"kind": "open", "path": str(state.jobs_dir() / choice)})


def _new() -> None:
    if st.button("New job", key="new_job", width="stretch"):
        request({"kind": "new"})


def request(action: dict) -> None:
    """Carry out an open or new-job action now, or ask first if there are unsaved changes."""
    if state.is_dirty():
        st.session_state[state.PENDING] = action
        st.rerun()
    _perform(action)


def _perform(action: dict) -> None:
    if action["kind"] == "new":
        state.new_job()
        st.rerun()
    path = Path(action["path"])
    try:
        state.open_job(path)
    except JobFormatError as error:
        st.session_state[state.PENDING] = None
        state.notify("error", f"Could not open {path}: {error}")
        logger.info("could not open %s: %s", path, error)
    st.rerun()


def _confirm_pending() -> None:
    action = st.session_state.get(state.PENDING)
    if not action:
        return
    next_step = "start a new job" if action["kind"] == "new" else f"open {Path(action['path']).name}"
    st.warning(f"The job {state.job().name!r} has unsaved changes. Discard them and {next_step}?")
    discard, cancel = st.columns(2)
    if discard.button("Discard changes", key="confirm_discard", type="primary"):
        _perform(action)
    if cancel.button("Cancel", key="cancel_discard"):
        st.session_state[state.PENDING] = None
        st.rerun()
