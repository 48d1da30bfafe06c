"""SparkCanvas: the Streamlit designer. Run with `streamlit run app.py` from the project root."""

from __future__ import annotations

import logging

import streamlit as st

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

st.set_page_config(page_title="SparkCanvas", page_icon="✨", layout="wide")

# Each page is a script of its own. Session state, and with it the open job, is shared by all pages.
PAGES = [
    st.Page(
        "designer/ui/pages/job_designer.py",
        title="Job designer",
        icon=":material/account_tree:",
        default=True,
    ),
    st.Page("designer/ui/pages/data_catalog.py", title="Data Catalog", icon=":material/dataset:"),
]
st.navigation(PAGES).run()
