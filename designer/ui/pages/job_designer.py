"""The job designer page: the job file, the palette, the canvas and the job's tabs."""

from __future__ import annotations

import streamlit as st

from designer.model import job_to_json
from designer.ui import details, files, palette, runs_tab, schedules_tab, script_tab, state, visual

state.initialize()
job = state.job()
before = job_to_json(job)

with st.sidebar:
    files.render()
    st.divider()
    palette.render(job)

dirty = " · unsaved changes" if state.is_dirty() else ""
st.title("SparkCanvas")
st.caption(f"Job **{job.name}**{dirty}")
for level, message in state.pop_notices():
    getattr(st, level)(message)
for message in state.errors():
    st.error(message)
if state.errors() and st.button("Dismiss", key="dismiss_errors"):
    state.dismiss_errors()
    st.rerun()

tab_names = ["Visual", "Script", "Job details", "Runs", "Schedules"]
visual_tab, script, job_details, runs, schedules = st.tabs(tab_names)
with visual_tab:
    visual.render(job)
with script:
    script_tab.render(job, visual.check(job))
with job_details:
    details.render(job)
with runs:
    runs_tab.render(job)
with schedules:
    schedules_tab.render(job)

# The panels and tabs run after the canvas, so an edit made there needs one more run to show.
if job_to_json(job) != before:
    st.rerun()
