"""The Data Catalog page: browse and edit tables, crawl folders into tables, manage connections."""

from __future__ import annotations

import logging

import streamlit as st

from catalog.store import catalog_path, open_catalog
from designer.ui import catalog_connections, catalog_crawl, catalog_tables
from designer.ui import catalog_state as page_state
from designer.ui.feedback import guard

logger = logging.getLogger(__name__)


def render() -> None:
    st.title("Data Catalog")
    catalog = _open()
    if catalog is None:
        return
    st.caption(f"Catalog file `{catalog.path}` (set SPARKCANVAS_CATALOG to use another one).")
    for level, message in page_state.pop_notices():
        getattr(st, level)(message)
    tables_tab, crawl_tab, connections_tab = st.tabs(["Tables", "Crawl", "Connections"])
    with tables_tab, guard("Showing the catalog's tables"):
        catalog_tables.render(catalog)
    with crawl_tab, guard("Showing the crawl form"):
        catalog_crawl.render(catalog)
    with connections_tab, guard("Showing the connections"):
        catalog_connections.render(catalog)


def _open():
    """Open the catalog file, or show why it cannot be opened and return None."""
    with guard("Opening the catalog", value=str(catalog_path())):
        return open_catalog()
    return None
