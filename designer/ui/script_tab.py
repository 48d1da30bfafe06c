"""The Script tab: the generated PySpark script, or the problems that keep it from being generated."""

from __future__ import annotations

import logging

import streamlit as st

from designer.model import Job
from designer.ui.feedback import guard
from designer.validation import Validation

logger = logging.getLogger(__name__)


def render(job: Job, validation: Validation) -> None:
    try:
        from codegen.pyspark import emit_script  # imported here: the emitter is optional at startup
    except ImportError as error:
        logger.warning("codegen.pyspark is not importable: %s", error)
        st.warning(f"The PySpark emitter could not be loaded ({error}); the script is not available.")
        return
    if not validation.ok:
        _problems(validation)
        return
    with guard("Generating the PySpark script"):
        script = emit_script(job)
        st.download_button(
            "Download script", script, file_name=f"{job.name}.py", mime="text/x-python",
            icon=":material/download:",
        )
        st.code(script, language="python", line_numbers=True)


def _problems(validation: Validation) -> None:
    count = len(validation.problems)
    noun = "problem" if count == 1 else "problems"
    st.error(f"The job has {count} {noun}; fix them to generate the script.")
    for problem in validation.problems:
        st.markdown(f"- {problem}")
