"""The Job details tab: name, description, job parameters, preview settings and time zone."""

from __future__ import annotations

import zoneinfo

import streamlit as st

from designer.model import IDENTIFIER_PATTERN, Job, JobParameter
from designer.ui import forms, state

MAX_SAMPLE_ROWS = 1_000_000
MAX_TIME_LIMIT_SECONDS = 600.0
MAX_MEMORY_LIMIT_MB = 16_384


def _key(name: str) -> str:
    return f"{state.token()}:job:{name}"


def render(job: Job) -> None:
    _name(job)
    description = st.text_area("Description", job.description, key=_key("description"))
    if description != job.description:
        job.description = description
    _parameters(job)
    _sample_rows(job)
    _preview_limits(job)
    _time_zone(job)


def _name(job: Job) -> None:
    name = st.text_input(
        "Name", job.name, key=_key("name"),
        help="Names the generated script and the job's runs. Letters, digits and underscores.",
    )
    if not name.strip():
        st.error(f"Job name {name!r} is empty; the name is kept as {job.name!r}.")
        return
    if name != job.name:
        job.name = name
    if not IDENTIFIER_PATTERN.match(name):
        st.warning(f"Job name {name!r} has characters other than letters, digits and underscores; "
                   "file and run names may be hard to read.")


def _parameters(job: Job) -> None:
    st.markdown("**Job parameters**",
                help="Referenced in node parameters as ${name} and passed to a run as --name value.")
    current = [{"name": p.name, "default": p.default, "description": p.description} for p in job.parameters]
    rows = forms.edit_rows(
        current, ["name", "default", "description"], _key("parameters"),
        column_config={
            "name": st.column_config.TextColumn("Name", help="A Python identifier"),
            "default": st.column_config.TextColumn("Default value"),
            "description": st.column_config.TextColumn("Description"),
        },
    )
    if rows == current:
        return
    problem = _parameter_problem(rows)
    if problem:
        st.error(f"Job parameters: {problem} The change was not applied.")
        return
    job.parameters = [JobParameter(str(r["name"]), str(r["default"]), str(r["description"])) for r in rows]


def _parameter_problem(rows: list[dict]) -> str | None:
    names = [str(row["name"]) for row in rows]
    for name in names:
        if not IDENTIFIER_PATTERN.match(name):
            return f"name {name!r} is invalid; use letters, digits and underscores, starting with a letter."
        if names.count(name) > 1:
            return f"name {name!r} is used twice; every parameter needs its own name."
    return None


def _sample_rows(job: Job) -> None:
    rows = st.number_input(
        "Preview sample size (rows read from each source)", min_value=1, max_value=MAX_SAMPLE_ROWS,
        value=job.sample_rows, step=100, key=_key("sample_rows"),
    )
    if int(rows) != job.sample_rows:
        job.sample_rows = int(rows)


def _preview_limits(job: Job) -> None:
    seconds = st.number_input(
        "Preview time limit (seconds)", min_value=0.1, max_value=MAX_TIME_LIMIT_SECONDS,
        value=float(job.time_limit_seconds), step=1.0, key=_key("time_limit"),
        help="A preview that runs longer is cancelled, with a message on its node.",
    )
    if float(seconds) != job.time_limit_seconds:
        job.time_limit_seconds = float(seconds)
    megabytes = st.number_input(
        "Preview memory limit (MB)", min_value=16, max_value=MAX_MEMORY_LIMIT_MB,
        value=int(job.memory_limit_mb), step=128, key=_key("memory_limit"),
        help="DuckDB's memory limit for each preview step; a step that needs more fails with a "
        "message on its node.",
    )
    if int(megabytes) != job.memory_limit_mb:
        job.memory_limit_mb = int(megabytes)


def _time_zone(job: Job) -> None:
    zone = st.text_input(
        "Session time zone", job.session_time_zone, key=_key("time_zone"),
        help="spark.sql.session.timeZone: an IANA name such as UTC or Europe/Berlin. "
        "The preview uses it too.",
    )
    if zone == job.session_time_zone:
        return
    if zone not in zoneinfo.available_timezones():
        st.error(f"Session time zone {zone!r} is not an IANA time zone name; use one such as UTC or "
                 f"America/New_York. The zone is kept as {job.session_time_zone!r}.")
        return
    job.session_time_zone = zone
