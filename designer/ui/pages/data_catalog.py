"""The Data Catalog page: tables, crawls and connections."""

from __future__ import annotations

from designer.ui import catalog_page

catalog_page.render()
