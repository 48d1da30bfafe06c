"""The property forms of the Data Catalog nodes, through Streamlit's AppTest."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from designer.model import save_job
from tests.catalog_tables import build_sales_catalog
from tests.jobs import job, node
from tests.test_app import ROOT, TIMEOUT, click_node, widget


@pytest.fixture
def catalog_app(tmp_path, monkeypatch) -> AppTest:
    """The designer on a job with an empty Data Catalog source and a Lookup, over the sales catalog."""
    catalog_file = tmp_path / "catalog.db"
    build_sales_catalog(tmp_path / "data", catalog_file)
    folder = tmp_path / "jobs"
    folder.mkdir()
    source = node("orders", "source.catalog")
    enrich = node("enrich", "transform.lookup", {"in": "orders"})
    path = folder / "catalog.job.json"
    save_job(job(source, enrich), path)
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("SPARKCANVAS_CATALOG", str(catalog_file))
    monkeypatch.setenv("SPARKCANVAS_JOBS_DIR", str(folder))
    monkeypatch.setenv("SPARKCANVAS_JOB", str(path))
    monkeypatch.setenv("SPARKCANVAS_HOME", str(tmp_path / "home"))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    at.run()
    assert not at.exception, [item.message for item in at.exception]
    return at


def choose(at: AppTest, node_id: str, name: str, value: str) -> None:
    at.selectbox(key=widget(at, node_id, name)).set_value(value).run()
    assert not at.exception, [item.message for item in at.exception]


def test_source_chooses_database_then_table(catalog_app):
    at = click_node(catalog_app, "orders")
    assert at.selectbox(key=widget(at, "orders", "database")).options == ["sales"]
    choose(at, "orders", "database", "sales")
    assert at.selectbox(key=widget(at, "orders", "table")).options == ["customers", "events", "orders"]
    choose(at, "orders", "table", "orders")
    assert at.session_state["job"].node("orders").params["table"] == "orders"


def test_partition_predicate_notes_the_partitions_read(catalog_app):
    at = click_node(catalog_app, "orders")
    choose(at, "orders", "database", "sales")
    choose(at, "orders", "table", "orders")
    predicate = at.text_input(key=widget(at, "orders", "partition_predicate"))
    assert "Partition columns: year (int), region (string)." in predicate.help
    predicate.set_value("year = 2025").run()
    captions = " ".join(item.value for item in at.caption)
    assert "read 2 of 4 partitions of sales.orders" in captions
    assert "year=2025/region=eu" in captions


def test_lookup_columns_come_from_the_lookup_table(catalog_app):
    at = click_node(catalog_app, "orders")
    choose(at, "orders", "database", "sales")
    choose(at, "orders", "table", "orders")
    at = click_node(at, "enrich")
    choose(at, "enrich", "database", "sales")
    choose(at, "enrich", "table", "customers")
    columns = at.multiselect(key=widget(at, "enrich", "columns"))
    assert columns.options == ["id", "name", "city"]
