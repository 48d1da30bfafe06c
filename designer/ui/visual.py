"""The Visual tab: the canvas on the left, the selected node's panel on the right."""

from __future__ import annotations

import logging

import streamlit as st

from codegen.duckdb_preview import NodePreview
from designer.model import Job
from designer.ui import canvas, panel, state
from designer.ui.feedback import guard
from designer.validation import Validation, validate

logger = logging.getLogger(__name__)


def render(job: Job) -> None:
    validation = check(job)
    previews = preview_all(job, validation)
    _job_problems(validation)
    left, right = st.columns([3, 2], gap="medium")
    with left:
        if canvas.render(job, node_badges(validation, previews)):
            st.rerun()
        st.caption(
            "Drag from a node's right handle to another node's left handle to connect them. "
            "Right-click a node or an edge to delete it."
        )
    with right:
        panel.render(job, state.selected_id(), validation, previews)


def check(job: Job) -> Validation:
    """Validate the job. An unexpected failure is shown, and the page goes on with no schemas."""
    result = None
    with guard("Validating the job"):
        result = validate(job)
    return result or Validation()


def preview_all(job: Job, validation: Validation) -> dict[str, NodePreview]:
    """Preview every node through the session's engine, which recomputes only changed nodes."""
    previews: dict[str, NodePreview] = {}
    with guard("Previewing the job"):
        previews = state.engine().preview_all(job, validation)
    return previews


def node_badges(validation: Validation, previews: dict[str, NodePreview]) -> dict[str, str]:
    """Return the badge of each node that needs one: "error", else "approximate"."""
    badges = {node_id: "approximate" for node_id, preview in previews.items() if preview.approximations}
    failed = {problem.node_id for problem in validation.problems if problem.node_id}
    failed |= {node_id for node_id, preview in previews.items() if preview.error}
    badges.update({node_id: "error" for node_id in failed})
    return badges


def _job_problems(validation: Validation) -> None:
    for problem in validation.problems:
        if problem.node_id is None:
            st.error(str(problem))
