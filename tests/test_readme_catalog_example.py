"""The README's job-file example of the catalog nodes validates and previews on the bundled data."""

from __future__ import annotations

import json
import re

from catalog.crawler import crawl
from catalog.store import open_catalog
from codegen.duckdb_preview import PreviewEngine
from designer.model import job_from_dict
from designer.validation import validate
from tests.conftest import ASSETS, ROOT

EXAMPLE_START = "In a job file these nodes read as follows"


def readme_nodes() -> list[dict]:
    """Return the nodes of the README's catalog example, which is a list of node objects."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    after = text[text.index(EXAMPLE_START) :]
    block = re.search(r"```json\n(.*?)```", after, re.DOTALL).group(1)
    return json.loads(f"[{block}]")


def test_readme_catalog_example_previews(tmp_path, monkeypatch):
    monkeypatch.setenv("SPARKCANVAS_CATALOG", str(tmp_path / "catalog.db"))
    crawl(open_catalog(), ASSETS / "data" / "sales_catalog", "examples")
    job = job_from_dict({"format": "sparkcanvas.job/1", "name": "readme_example", "nodes": readme_nodes()})

    assert validate(job).problems == []
    engine = PreviewEngine()
    with_zones = engine.preview(job, "with_zones")
    assert with_zones.ok, with_zones.error
    assert {"borough", "zone"} <= set(with_zones.table.column_names)
    recent = engine.preview(job, "recent_orders")
    assert recent.ok, recent.error
    assert set(recent.table.column("year").to_pylist()) <= {2021, 2022}
