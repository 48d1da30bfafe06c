"""The Data Catalog page, driven headless with AppTest against a real catalog file and real data files."""

from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from streamlit.testing.v1 import AppTest

from catalog import Column, Connection, Partition, Table, TableNotFoundError, open_catalog
from tests.conftest import EXAMPLE_JOB, ROOT

TIMEOUT = 60
CATALOG_PAGE = "designer/ui/pages/data_catalog.py"
DESIGNER_PAGE = "designer/ui/pages/job_designer.py"
ORDERS = "sales.orders"


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A private catalog and jobs folder, with the taxi example as the designer's first job."""
    jobs = tmp_path / "jobs"
    jobs.mkdir()
    shutil.copy(EXAMPLE_JOB, jobs / EXAMPLE_JOB.name)
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("SPARKCANVAS_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("SPARKCANVAS_CATALOG", raising=False)
    monkeypatch.setenv("SPARKCANVAS_JOBS_DIR", str(jobs))
    monkeypatch.setenv("SPARKCANVAS_JOB", str(jobs / EXAMPLE_JOB.name))
    return tmp_path


@pytest.fixture
def orders_folder(home) -> Path:
    """Parquet files of a table partitioned by year, as Spark writes them."""
    folder = home / "data" / "orders"
    for year, ids in ((2024, [1, 2]), (2025, [3, 4, 5])):
        partition = folder / f"year={year}"
        partition.mkdir(parents=True)
        rows = pa.table({"order_id": ids, "amount": [float(i) * 10 for i in ids]})
        pq.write_table(rows, partition / "part-00000.parquet")
    (folder / "_SUCCESS").write_text("")
    return folder


@pytest.fixture
def catalog(home, orders_folder):
    """The catalog file the page opens, holding the table sales.orders with two partitions."""
    store = open_catalog()
    store.create_database("sales")
    store.save_table(
        Table(
            database="sales",
            name="orders",
            location=str(orders_folder),
            format="parquet",
            columns=[Column("order_id", "bigint", "the order's key"), Column("amount", "double")],
            partition_keys=[Column("year", "int")],
            row_count=5,
        )
    )
    partitions = [
        Partition({"year": str(year)}, str(orders_folder / f"year={year}"), rows)
        for year, rows in ((2024, 2), (2025, 3))
    ]
    store.add_partitions("sales", "orders", partitions)
    return store


def open_page(page: str = CATALOG_PAGE) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    at.switch_page(page).run()
    assert_no_exception(at)
    return at


def assert_no_exception(at: AppTest) -> None:
    assert not at.exception, [item.message for item in at.exception]


def run(at: AppTest) -> AppTest:
    at.run()
    assert_no_exception(at)
    return at


def errors(at: AppTest) -> list[str]:
    return [item.value for item in at.error]


def warnings(at: AppTest) -> list[str]:
    return [item.value for item in at.warning]


def dataframe(at: AppTest, *columns: str):
    """Return the one data frame shown that has all these columns."""
    (frame,) = [item.value for item in at.dataframe if set(columns) <= set(item.value.columns)]
    return frame


def edit_key(at: AppTest, column: str, field: str) -> str:
    revision = at.session_state["catalog_loaded_tables"][ORDERS].revision
    return f"catalog_edit:{ORDERS}:{revision}:{column}:{field}"


def choose_column(at: AppTest, column: str) -> AppTest:
    at.selectbox(key=f"catalog_edit_column:{ORDERS}").set_value(column)
    return run(at)


# --- navigation -------------------------------------------------------------------------------------


def test_navigation_has_two_pages(home):
    at = open_page(DESIGNER_PAGE)
    assert at.title[0].value == "SparkCanvas"
    at.switch_page(CATALOG_PAGE)
    run(at)
    assert at.title[0].value == "Data Catalog"


def test_designer_state_survives_page_switch(home):
    at = open_page(DESIGNER_PAGE)
    token = at.session_state["job_token"]
    at.text_input(key=f"{token}:job:name").set_value("taxi_renamed")
    run(at)
    at.switch_page(CATALOG_PAGE)
    run(at)
    at.switch_page(DESIGNER_PAGE)
    run(at)
    assert at.session_state["job"].name == "taxi_renamed"
    assert "unsaved changes" in at.caption[0].value
    assert at.text_input(key=f"{token}:job:name").value == "taxi_renamed"


# --- listing and the table view --------------------------------------------------------------------


def test_empty_catalog_points_to_crawl(home):
    at = open_page()
    assert any("no databases yet" in item.value for item in at.info)
    assert not errors(at)


def test_listing_shows_databases_and_tables(catalog, orders_folder):
    at = open_page()
    assert at.selectbox(key="catalog_database_choice").value == "sales"
    listing = dataframe(at, "Schema version")
    assert list(listing["Table"]) == ["orders"]
    assert list(listing["Format"]) == ["parquet"]
    assert list(listing["Location"]) == [str(orders_folder)]
    assert list(listing["Rows"]) == [5]
    assert list(listing["Schema version"]) == [1]
    assert listing["Updated"][0]
    assert not errors(at)


def test_table_view_shows_schema_and_partitions(catalog):
    at = open_page()
    schema = dataframe(at, "Partition key")
    assert list(schema["Column"]) == ["order_id", "amount", "year"]
    assert list(schema["Type"]) == ["bigint", "double", "int"]
    assert schema["Comment"][0] == "the order's key"
    assert list(schema["Partition key"]) == [False, False, True]
    partitions = dataframe(at, "year", "Rows")
    assert list(partitions["year"]) == ["2024", "2025"]
    assert list(partitions["Rows"]) == [2, 3]
    versions = dataframe(at, "Change")
    assert list(versions["Version"]) == [1]


def test_sample_rows_read_with_duckdb(catalog):
    at = open_page()
    sample = dataframe(at, "order_id")
    assert sorted(sample["order_id"]) == [1, 2, 3, 4, 5]
    assert sorted(sample["year"]) == [2024, 2024, 2025, 2025, 2025]


def test_sample_rows_of_missing_location(catalog, orders_folder):
    shutil.rmtree(orders_folder)
    at = open_page()
    assert any("no longer exists" in message and str(orders_folder) in message for message in warnings(at))
    assert not errors(at)


def test_sample_rows_with_wrong_type_show_reason(catalog):
    catalog.update_column("sales", "orders", "amount", type="date")
    at = open_page()
    (message,) = [text for text in warnings(at) if "reading parquet files" in text]
    assert "sales.orders" in message
    assert "Check that the column types fit the files" in message
    assert not errors(at)


# --- editing a column --------------------------------------------------------------------------------


def test_column_edit_saves_type_and_comment(catalog):
    at = choose_column(open_page(), "amount")
    at.selectbox(key=edit_key(at, "amount", "type")).set_value("other (type it below)")
    run(at)
    at.text_input(key=edit_key(at, "amount", "other")).set_value("Decimal(12, 2)")
    at.text_input(key=edit_key(at, "amount", "comment")).set_value("total in EUR")
    at.button(key=edit_key(at, "amount", "save")).click()
    run(at)
    saved = catalog.get_table("sales", "orders")
    assert saved.columns[1] == Column("amount", "decimal(12,2)")
    assert saved.columns[1].comment == "total in EUR"
    assert saved.version == 2
    expected = "Saved the type decimal(12,2) and comment of column 'amount'"
    assert any(expected in item.value for item in at.success)
    assert list(dataframe(at, "Partition key")["Type"])[1] == "decimal(12,2)"


def test_column_edit_rejects_unknown_type(catalog):
    at = choose_column(open_page(), "amount")
    at.selectbox(key=edit_key(at, "amount", "type")).set_value("other (type it below)")
    run(at)
    at.text_input(key=edit_key(at, "amount", "other")).set_value("money")
    at.button(key=edit_key(at, "amount", "save")).click()
    run(at)
    (message,) = errors(at)
    assert "sales.orders" in message
    assert "'amount'" in message
    assert "'money'" in message
    assert "decimal(P,S)" in message
    assert catalog.get_table("sales", "orders").columns[1].type == "double"


def test_conflicting_column_edit_is_rejected(catalog):
    at = choose_column(open_page(), "amount")
    # Another user changes the table after this page loaded it.
    catalog.update_column("sales", "orders", "order_id", comment="changed elsewhere")
    at.selectbox(key=edit_key(at, "amount", "type")).set_value("float")
    at.button(key=edit_key(at, "amount", "save")).click()
    run(at)

    (message,) = errors(at)
    assert "changed by someone else" in message
    assert "Reload table" in message
    stored = catalog.get_table("sales", "orders")
    assert stored.columns[0].comment == "changed elsewhere"
    assert stored.columns[1].type == "double"

    at.button(key=f"catalog_reload:{ORDERS}").click()
    run(at)
    assert not errors(at)
    at.selectbox(key=edit_key(at, "amount", "type")).set_value("float")
    at.button(key=edit_key(at, "amount", "save")).click()
    run(at)
    stored = catalog.get_table("sales", "orders")
    assert stored.columns[0].comment == "changed elsewhere"
    assert stored.columns[1].type == "float"


def test_stale_table_shows_warning(catalog):
    at = open_page()
    catalog.update_column("sales", "orders", "amount", comment="changed elsewhere")
    run(at)
    assert any("changed in the catalog after this page loaded it" in message for message in warnings(at))


# --- deleting --------------------------------------------------------------------------------------------


def test_delete_table_needs_confirmation(catalog):
    at = open_page()
    at.button(key=f"catalog_delete_table:{ORDERS}").click()
    run(at)
    assert any("Delete table sales.orders" in message for message in warnings(at))
    assert catalog.get_table("sales", "orders")

    at.button(key="catalog_cancel_delete_table").click()
    run(at)
    assert catalog.get_table("sales", "orders")

    at.button(key=f"catalog_delete_table:{ORDERS}").click()
    run(at)
    at.button(key="catalog_confirm_delete_table").click()
    run(at)
    with pytest.raises(TableNotFoundError):
        catalog.get_table("sales", "orders")
    assert any("Deleted table sales.orders" in item.value for item in at.success)


def test_delete_selected_of_two_tables(catalog, orders_folder):
    catalog.save_table(
        Table("sales", "returns", str(orders_folder), "parquet", columns=[Column("order_id", "bigint")])
    )
    at = open_page()
    at.selectbox(key="catalog_table_choice:sales").set_value("returns")
    run(at)
    at.button(key="catalog_delete_table:sales.returns").click()
    run(at)
    at.button(key="catalog_confirm_delete_table").click()
    run(at)
    assert [table.name for table in catalog.list_tables("sales")] == ["orders"]
    assert at.selectbox(key="catalog_table_choice:sales").value == "orders"
    assert "sales.orders" in [item.value for item in at.subheader]


def test_delete_empty_database_needs_confirmation(catalog):
    catalog.delete_table("sales", "orders")
    at = open_page()
    at.button(key="catalog_delete_database:sales").click()
    run(at)
    assert "sales" in catalog.list_databases()
    at.button(key="catalog_confirm_delete_database").click()
    run(at)
    assert catalog.list_databases() == []
    assert not errors(at)


# --- crawling -------------------------------------------------------------------------------------------


def write_orders(folder: Path, year: int, rows: dict) -> None:
    partition = folder / f"year={year}"
    partition.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(rows), partition / "part-00000.parquet")


def crawl_folder(at: AppTest, folder: Path, database: str) -> AppTest:
    at.text_input(key="catalog_crawl_folder").set_value(str(folder))
    at.text_input(key="catalog_crawl_database").set_value(database)
    at.button(key="catalog_crawl").click()
    return run(at)


def metrics(at: AppTest) -> dict[str, str]:
    return {item.label: item.value for item in at.metric}


def test_crawl_reports_tables_partitions_and_bad_files(home):
    landing = home / "landing"
    write_orders(landing / "orders", 2024, {"order_id": [1, 2], "amount": [1.5, 2.5]})
    write_orders(landing / "orders", 2025, {"order_id": [3], "amount": [3.5]})
    (landing / "zones.csv").write_text("zone_id,name\n1,North\n2,South\n")
    (landing / "broken.parquet").write_bytes(b"not parquet at all")
    at = crawl_folder(open_page(), landing, "landing")

    assert not errors(at)
    figures = metrics(at)
    assert figures["New tables"] == "2"
    assert figures["New partitions"] == "2"
    assert figures["Unreadable files"] == "1"
    assert any("- `landing.orders`" in text and "- `landing.zones`" in text for text in at.markdown.values)
    assert list(dataframe(at, "New partitions")["Table"]) == ["landing.orders"]
    (problem,) = dataframe(at, "File", "Reason").to_dict("records")
    assert problem["File"].endswith("broken.parquet")
    assert problem["Reason"]
    assert [table.name for table in open_catalog().list_tables("landing")] == ["orders", "zones"]


def test_recrawl_reports_schema_version_and_incompatible_change(home):
    landing = home / "landing"
    write_orders(landing / "orders", 2024, {"order_id": [1, 2], "amount": [1.5, 2.5]})
    (landing / "zones.csv").write_text("zone_id,name\n1,North\n")
    at = crawl_folder(open_page(), landing, "landing")

    write_orders(landing / "orders", 2025, {"order_id": [3], "amount": [3.5], "coupon": ["FALL"]})
    (landing / "zones.csv").write_text("zone_id,name\nnorth,North\n")
    at.button(key="catalog_crawl").click()
    run(at)

    figures = metrics(at)
    assert figures["New schema versions"] == "1"
    assert figures["Incompatible changes"] == "1"
    (version,) = dataframe(at, "Table", "Version", "Change").to_dict("records")
    assert version["Table"] == "landing.orders"
    assert version["Version"] == 2
    assert "coupon" in version["Change"]
    (warning,) = [text for text in warnings(at) if "Incompatible change" in text]
    assert "landing.zones" in warning
    assert "not merged" in warning
    assert open_catalog().get_table("landing", "zones").columns[0].type == "bigint"


def test_crawl_needs_folder_and_database(home):
    at = open_page()
    at.button(key="catalog_crawl").click()
    run(at)
    assert any("needs a folder and a database name" in message for message in errors(at))


def test_crawl_rejects_invalid_database_name(home):
    at = crawl_folder(open_page(), ROOT / "assets" / "data" / "sales_catalog", "my sales")
    (message,) = errors(at)
    assert "invalid database name 'my sales'" in message
    assert "my_sales" in message
    assert open_catalog().list_databases() == []


def test_crawl_of_missing_folder_shows_error(home):
    at = crawl_folder(open_page(), home / "nowhere", "landing")
    (message,) = errors(at)
    assert "Crawling" in message
    assert "not found" in message
    assert str(home / "nowhere") in message


def test_crawl_example_data_fills_examples(home):
    at = open_page()
    at.button(key="catalog_crawl_example").click()
    run(at)
    assert not errors(at)
    names = {table.name for table in open_catalog().list_tables("examples")}
    assert {"orders", "products", "trips", "zones"} <= names
    assert at.selectbox(key="catalog_database_choice").value == "examples"
    assert "examples.orders" in [item.value for item in at.subheader]


# --- connections -------------------------------------------------------------------------------------


def connection_key(field: str, name: str = "", revision: int = 0) -> str:
    return f"catalog_connection:{name}:{revision}:{field}"


def fill_connection(at: AppTest, name: str, port: int, password_env: str) -> AppTest:
    at.text_input(key=connection_key("name")).set_value(name)
    at.text_input(key=connection_key("host")).set_value("127.0.0.1")
    at.number_input(key=connection_key("port")).set_value(port)
    at.text_input(key=connection_key("database")).set_value("shop")
    at.text_input(key=connection_key("user")).set_value("reader")
    at.text_input(key=connection_key("password_env")).set_value(password_env)
    return run(at)


def test_add_connection_stores_password_source(home):
    at = fill_connection(open_page(), "shop_db", 5433, "SHOP_PASSWORD")
    at.button(key="catalog_connection_save").click()
    run(at)
    stored = open_catalog().get_connection("shop_db")
    assert (stored.host, stored.port, stored.database, stored.user) == ("127.0.0.1", 5433, "shop", "reader")
    assert stored.password_env == "SHOP_PASSWORD"
    assert stored.password_file == ""
    assert at.selectbox(key="catalog_connection_choice").value == "shop_db"
    assert list(dataframe(at, "Password from")["Password from"]) == ["environment variable SHOP_PASSWORD"]


def test_connection_form_has_no_password_field(home):
    at = open_page()
    labels = [item.label for item in at.text_input]
    assert "Environment variable" in labels
    assert not any("password" == label.lower() for label in labels)


def test_add_connection_rejects_bad_variable_name(home):
    at = fill_connection(open_page(), "shop_db", 5433, "not a variable name")
    at.button(key="catalog_connection_save").click()
    run(at)
    (message,) = errors(at)
    assert "invalid password_env" in message
    assert open_catalog().list_connections() == []


def test_failing_connection_test_shows_reason(home, monkeypatch):
    from tests.postgres_server import free_port

    port = free_port()
    monkeypatch.setenv("SHOP_PASSWORD", "not-used")
    at = fill_connection(open_page(), "shop_db", port, "SHOP_PASSWORD")
    at.button(key="catalog_connection_test").click()
    run(at)
    (message,) = errors(at)
    assert "Testing connection 'shop_db' failed" in message
    assert f"127.0.0.1:{port}" in message
    assert "cannot connect" in message


def test_connection_test_names_missing_variable(home, monkeypatch):
    monkeypatch.delenv("SHOP_PASSWORD", raising=False)
    at = fill_connection(open_page(), "shop_db", 5432, "SHOP_PASSWORD")
    at.button(key="catalog_connection_test").click()
    run(at)
    (message,) = errors(at)
    assert "SHOP_PASSWORD" in message


def test_edit_and_delete_connection(home):
    store = open_catalog()
    store.save_connection(Connection("shop_db", database="shop", user="reader", password_env="SHOP_PASSWORD"))
    at = open_page()
    at.selectbox(key="catalog_connection_choice").set_value("shop_db")
    run(at)
    at.text_input(key=connection_key("user", "shop_db", 1)).set_value("writer")
    run(at)
    at.button(key="catalog_connection_save").click()
    run(at)
    assert store.get_connection("shop_db").user == "writer"

    at.button(key="catalog_connection_delete").click()
    run(at)
    assert store.list_connections()
    at.button(key="catalog_confirm_delete_connection").click()
    run(at)
    assert store.list_connections() == []
    assert at.selectbox(key="catalog_connection_choice").value == "New connection"


@pytest.mark.postgres
def test_connection_test_reaches_server(home, postgres_server):
    password_file = home / "shop.password"
    password_file.write_text(postgres_server.password + "\n")
    at = open_page()
    at.text_input(key=connection_key("name")).set_value("test_db")
    at.number_input(key=connection_key("port")).set_value(postgres_server.port)
    at.text_input(key=connection_key("database")).set_value(postgres_server.database)
    at.text_input(key=connection_key("user")).set_value(postgres_server.user)
    at.radio(key=connection_key("source")).set_value("File")
    run(at)
    at.text_input(key=connection_key("password_file")).set_value(str(password_file))
    at.button(key="catalog_connection_test").click()
    run(at)
    assert not errors(at)
    (message,) = [item.value for item in at.success]
    assert message.startswith(f"Connected to 127.0.0.1:{postgres_server.port}: PostgreSQL ")
