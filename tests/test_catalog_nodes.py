"""The Data Catalog nodes without Spark: schemas and their checks, the DuckDB preview, the
golden script, and the catalog update after a run over files written with DuckDB."""

from __future__ import annotations

import os
import shutil

import duckdb
import pytest

from catalog.errors import CatalogError
from catalog.model import Column, Partition, Table
from catalog.store import open_catalog
from catalog.targets import update_catalog_after_run
from codegen.duckdb_preview import PreviewEngine
from codegen.pyspark import emit_script
from codegen.quoting import sql_literal
from designer.validation import validate
from tests.catalog_tables import ORDER_COLUMNS, ORDER_KEYS, build_sales_catalog
from tests.jobs import job, node
from tests.test_codegen import GOLDEN, ruff_check


@pytest.fixture
def sales(tmp_path, monkeypatch):
    """The sales catalog of tests/catalog_tables.py, as the default catalog of the test."""
    catalog_file = tmp_path / "catalog.db"
    monkeypatch.setenv("SPARKCANVAS_CATALOG", str(catalog_file))
    return build_sales_catalog(tmp_path / "data", catalog_file)


def orders_source(**params):
    return node("orders", "source.catalog", database="sales", table="orders", **params)


def problems_of(the_job, node_id: str) -> list[tuple[str | None, str]]:
    return [(problem.parameter, problem.message) for problem in validate(the_job).problems_of(node_id)]


def preview(the_job, node_id: str, engine: PreviewEngine | None = None):
    result = (engine or PreviewEngine()).preview(the_job, node_id)
    assert result.ok, result.error
    return result


# --- source.catalog ----------------------------------------------------------------------------


def test_source_schema_lists_data_then_partition_columns(sales):
    schemas = validate(job(orders_source())).schemas
    assert [column.name for column in schemas["orders"]] == [
        "order_id",
        "customer_id",
        "item",
        "amount",
        "year",
        "region",
    ]
    assert schemas["orders"][-2].type == "int"


def test_missing_table_suggests_the_closest(sales):
    found = problems_of(job(node("orders", "source.catalog", database="sales", table="order")), "orders")
    assert len(found) == 1
    parameter, message = found[0]
    assert parameter == "table"
    assert "'sales.order' not found" in message
    assert "Did you mean 'orders'?" in message


def test_missing_database_names_the_database(sales):
    found = problems_of(job(node("orders", "source.catalog", database="sale", table="orders")), "orders")
    assert found[0][0] == "database"
    assert "Did you mean 'sales'?" in found[0][1]


def test_predicate_on_a_data_column_is_rejected(sales):
    found = problems_of(job(orders_source(partition_predicate="amount > 1")), "orders")
    assert len(found) == 1
    parameter, message = found[0]
    assert parameter == "partition_predicate"
    assert "'amount' in 'amount > 1' is a data column of sales.orders" in message
    assert "only year, region" in message
    assert "Filter node" in message


def test_predicate_with_an_unknown_column_suggests_a_key(sales):
    found = problems_of(job(orders_source(partition_predicate="yaer = 2024")), "orders")
    assert found[0][0] == "partition_predicate"
    assert "unknown column 'yaer'" in found[0][1]
    assert "Did you mean 'year'?" in found[0][1]


def test_predicate_must_be_boolean(sales):
    found = problems_of(job(orders_source(partition_predicate="year + 1")), "orders")
    assert found[0][0] == "partition_predicate"
    assert "not boolean" in found[0][1]


def test_predicate_on_a_table_without_partitions(sales):
    the_job = job(
        node("c", "source.catalog", database="sales", table="customers", partition_predicate="id = 1")
    )
    found = problems_of(the_job, "c")
    assert found[0][0] == "partition_predicate"
    assert "has no partition columns" in found[0][1]


def test_preview_reads_every_partition_without_predicate(sales):
    result = preview(job(orders_source()), "orders")
    rows = result.table.to_pylist()
    assert len(rows) == 6
    assert {row["region"] for row in rows} == {"eu", "us", None}
    assert any(
        "read 4 of 4 partitions of sales.orders listed in the catalog" in note for note in result.notes
    )


def test_preview_reads_only_the_matching_partition_folders(sales, tmp_path):
    # A broken file in a partition the predicate excludes: reading it would fail the preview.
    broken = tmp_path / "data" / "orders" / "year=2024" / "region=us" / "part-00001.parquet"
    broken.write_text("not a Parquet file", encoding="utf-8")
    result = preview(job(orders_source(partition_predicate="year = 2025")), "orders")
    assert sorted(row["order_id"] for row in result.table.to_pylist()) == [4, 5, 6]
    note = next(note for note in result.notes if "partitions of sales.orders" in note)
    assert "read 2 of 4 partitions" in note
    assert "year=2025/region=__HIVE_DEFAULT_PARTITION__" in note
    assert "year=2025/region=eu" in note
    assert "year=2024" not in note


def test_predicate_selects_the_null_partition(sales):
    result = preview(job(orders_source(partition_predicate="region IS NULL")), "orders")
    assert [row["item"] for row in result.table.to_pylist()] == ["Zoë"]


def test_date_predicate_on_a_json_table(sales):
    events = node(
        "events", "source.catalog", database="sales", table="events", partition_predicate="day > '2024-01-01'"
    )
    result = preview(job(events), "events")
    assert [row["event_id"] for row in result.table.to_pylist()] == [3]


def test_unlisted_partitions_found_in_folders(sales):
    location = sales.get_table("sales", "orders").location
    sales.save_table(Table("sales", "unlisted", location, "parquet", {}, ORDER_COLUMNS, ORDER_KEYS, None))
    the_job = job(
        node("u", "source.catalog", database="sales", table="unlisted", partition_predicate="year = 2024")
    )
    result = preview(the_job, "u")
    assert result.row_count == 3
    assert any("found under the location (the catalog lists none)" in note for note in result.notes)


def test_preview_sees_a_partition_added_to_the_catalog(sales, tmp_path):
    engine = PreviewEngine()
    the_job = job(orders_source(partition_predicate="year = 2026"))
    assert preview(the_job, "orders", engine).row_count == 0
    folder = tmp_path / "data" / "orders" / "year=2026" / "region=eu"
    folder.mkdir(parents=True)
    query = "SELECT 7::INTEGER AS order_id, 1::BIGINT AS customer_id, 'new' AS item, 1.0::DOUBLE AS amount"
    duckdb.sql(f"COPY ({query}) TO {sql_literal(str(folder / 'part-00000.parquet'))} (FORMAT parquet)")
    sales.add_partitions("sales", "orders", [Partition({"year": "2026", "region": "eu"}, str(folder))])
    assert preview(the_job, "orders", engine).row_count == 1


# --- transform.lookup --------------------------------------------------------------------------


def lookup_job(columns=("name", "city"), upstream=None):
    upstream = upstream or orders_source()
    return job(
        upstream,
        node(
            "result",
            "transform.lookup",
            {"in": upstream.id},
            database="sales",
            table="customers",
            keys=[{"input": "customer_id", "lookup": "id"}],
            columns=list(columns),
        ),
    )


def test_lookup_adds_columns_after_the_input(sales):
    schema = validate(lookup_job()).schemas["result"]
    assert [column.name for column in schema][-3:] == ["region", "name", "city"]


def test_lookup_duplicate_keys_multiply_rows(sales):
    rows = preview(lookup_job(), "result").table.to_pylist()
    # Customer 10 appears twice in the lookup table, so orders 1 and 5 appear twice each.
    assert len(rows) == 8
    assert sorted(row["name"] for row in rows if row["order_id"] == 1) == ["Ann", "Ann B"]
    unmatched = [row for row in rows if row["order_id"] in (3, 4)]
    assert [row["name"] for row in unmatched] == [None, None]


def test_lookup_column_in_both_inputs_suggests_renaming(sales):
    named = node("named", "transform.derived_column", {"in": "orders"}, column="city", expression="item")
    the_job = job(orders_source(), named, *lookup_job(upstream=named).nodes[1:])
    found = problems_of(the_job, "result")
    assert len(found) == 1
    parameter, message = found[0]
    assert parameter == "columns"
    assert "'city' exists both in the input and in sales.customers" in message
    assert "rename the input column" in message


def test_lookup_unknown_lookup_column(sales):
    found = problems_of(lookup_job(columns=("nmae",)), "result")
    assert found[0][0] == "columns"
    assert "has no column 'nmae'" in found[0][1]
    assert "Did you mean 'name'?" in found[0][1]


def test_lookup_key_types_must_both_be_numbers(sales):
    the_job = lookup_job()
    the_job.node("result").params["keys"] = [{"input": "item", "lookup": "id"}]
    found = problems_of(the_job, "result")
    assert found[0][0] == "keys"
    assert "compares a number with a non-number" in found[0][1]


# --- target.catalog and spark_table ------------------------------------------------------------


def target_job(**params):
    values = {"database": "sales", "table": "orders_copy", "partition_keys": ["year"], **params}
    return job(orders_source(), node("write", "target.catalog", {"in": "orders"}, **values))


def test_target_keep_schema_rejects_an_incompatible_table(sales):
    the_job = target_job(
        table="customers", format="csv", partition_keys=[], update_catalog="keep_schema_add_partitions"
    )
    found = problems_of(the_job, "write")
    assert found[0][0] == "update_catalog"
    assert "does not match the schema of sales.customers" in found[0][1]


def test_target_format_must_match_the_table(sales):
    found = problems_of(target_job(table="customers", format="parquet", partition_keys=[]), "write")
    assert found[0][0] == "format"
    assert "stored as csv" in found[0][1]


def test_target_partition_keys_must_match_the_table(sales):
    found = problems_of(target_job(table="orders", partition_keys=["year"]), "write")
    assert found[0][0] == "partition_keys"
    assert "partitioned by year, region" in found[0][1]


@pytest.mark.parametrize("name", ["orders", "a.b.c", "sales.or-ders", "sales."])
def test_invalid_spark_table_name(sales, name):
    the_job = job(
        orders_source(), node("write", "target.file", {"in": "orders"}, path="out", spark_table=name)
    )
    found = problems_of(the_job, "write")
    assert found[0][0] == "spark_table"
    assert "write it as DATABASE.TABLE" in found[0][1]


def test_target_preview_says_what_a_run_does(sales):
    result = preview(target_job(), "write")
    assert any(
        "a run writes parquet to warehouse/sales/orders_copy (mode append), then creates table "
        "sales.orders_copy" in note
        for note in result.notes
    )


# --- the catalog update after a run ------------------------------------------------------------


def test_update_creates_the_table_then_adds_partitions(sales, tmp_path):
    location = tmp_path / "copy"
    the_job = job(
        orders_source(),
        node(
            "write",
            "target.catalog",
            {"in": "orders"},
            database="sales",
            table="orders_copy",
            path=str(location),
            partition_keys=["year", "region"],
        ),
    )
    shutil.copytree(tmp_path / "data" / "orders", location)
    shutil.rmtree(location / "year=2025")

    messages = update_catalog_after_run(the_job, {})
    assert messages[0].startswith(f"node write: created table sales.orders_copy at {location} with 4 columns")
    assert "added 2 partitions" in messages[1]
    table = sales.get_table("sales", "orders_copy")
    assert table.row_count == 3
    assert [column.name for column in table.partition_keys] == ["year", "region"]
    counts = {tuple(p.values.values()): p.row_count for p in sales.list_partitions("sales", "orders_copy")}
    assert counts == {("2024", "eu"): 2, ("2024", "us"): 1}

    shutil.copytree(tmp_path / "data" / "orders" / "year=2025", location / "year=2025")
    messages = update_catalog_after_run(the_job, {})
    assert messages == [
        "node write: added 2 partitions to sales.orders_copy: year=2025/region=__HIVE_DEFAULT_PARTITION__, "
        "year=2025/region=eu"
    ]
    assert sales.get_table("sales", "orders_copy").row_count == 6


def test_update_after_overwrite_removes_stale_partitions(sales, tmp_path):
    location = tmp_path / "copy"
    appending = target_job(path=str(location), partition_keys=["year", "region"], mode="append")
    overwriting = target_job(path=str(location), partition_keys=["year", "region"], mode="overwrite")
    shutil.copytree(tmp_path / "data" / "orders", location)
    update_catalog_after_run(appending, {})
    revision = sales.get_table("sales", "orders_copy").revision
    eu_rows = {p.location: p.row_count for p in sales.list_partitions("sales", "orders_copy")}[
        str(location / "year=2025" / "region=eu")
    ]

    # The overwrite left only the 2025 folders, with a second copy of the rows of region eu.
    shutil.rmtree(location)
    shutil.copytree(tmp_path / "data" / "orders" / "year=2025", location / "year=2025")
    eu = location / "year=2025" / "region=eu"
    shutil.copy(eu / "part-00000.parquet", eu / "part-00001.parquet")
    messages = update_catalog_after_run(overwriting, {})

    assert messages == [
        "node write: removed 2 partitions whose folders the overwrite deleted from sales.orders_copy: "
        "year=2024/region=eu, year=2024/region=us"
    ]
    stored = sales.list_partitions("sales", "orders_copy")
    assert [partition.location for partition in stored] == [
        str(location / "year=2025" / "region=__HIVE_DEFAULT_PARTITION__"),
        str(eu),
    ]
    assert stored[1].row_count == 2 * eu_rows
    table = sales.get_table("sales", "orders_copy")
    assert table.row_count == sum(partition.row_count for partition in stored)
    assert table.revision > revision


def test_update_after_append_keeps_old_partitions(sales, tmp_path):
    location = tmp_path / "copy"
    the_job = target_job(path=str(location), partition_keys=["year", "region"], mode="append")
    shutil.copytree(tmp_path / "data" / "orders", location)
    update_catalog_after_run(the_job, {})
    shutil.rmtree(location / "year=2024")
    assert update_catalog_after_run(the_job, {}) == []
    assert len(sales.list_partitions("sales", "orders_copy")) == 4


def test_update_keep_schema_rejects_other_columns(sales, tmp_path):
    location = tmp_path / "people"
    location.mkdir()
    (location / "part-00000.csv").write_text("id,name\n1,Ann\n", encoding="utf-8")
    people = node(
        "people",
        "source.file",
        path=str(location / "part-00000.csv"),
        columns=[{"name": "id", "type": "bigint"}, {"name": "name", "type": "string"}],
    )
    target = node(
        "write",
        "target.catalog",
        {"in": "people"},
        database="crm",
        table="people",
        path=str(location),
        format="csv",
        update_catalog="keep_schema_add_partitions",
    )
    assert update_catalog_after_run(job(people, target), {})[0].startswith(
        "node write: created table crm.people"
    )
    stored = sales.get_table("crm", "people")
    sales.save_table(
        Table("crm", "people", stored.location, "csv", {"header": "true"}, [Column("id", "int")], [], 1)
    )
    with pytest.raises(
        CatalogError,
        match=r"crm.people keeps its schema .*expected \(id int\), got \(id bigint, name string\)",
    ):
        update_catalog_after_run(job(people, target), {})
    assert sales.get_table("crm", "people").columns == [Column("id", "int")]


def test_update_with_none_changes_nothing(sales, tmp_path):
    the_job = target_job(update_catalog="none", path=str(tmp_path / "nowhere"))
    assert update_catalog_after_run(the_job, {}) == [
        "node write: the Data Catalog was not updated (update_catalog none)"
    ]
    assert [table.name for table in sales.list_tables("sales")] == ["customers", "events", "orders"]


def test_update_without_written_files_is_an_error(sales, tmp_path):
    with pytest.raises(
        CatalogError, match="node write: no data files at .*check that the run wrote the target"
    ):
        update_catalog_after_run(target_job(path=str(tmp_path / "missing")), {})


def test_update_uses_the_run_parameters(sales, tmp_path):
    the_job = target_job(path="${out}", partition_keys=["year", "region"])
    the_job.parameters = job(parameters=[("out", "unused")]).parameters
    location = tmp_path / "by-parameter"
    shutil.copytree(tmp_path / "data" / "orders", location)
    update_catalog_after_run(the_job, {"out": str(location)})
    assert sales.get_table("sales", "orders_copy").location == str(location)


# --- the script --------------------------------------------------------------------------------


@pytest.fixture
def golden_catalog(tmp_path, monkeypatch):
    """A catalog whose tables have fixed locations, so the golden script does not depend on tmp_path."""
    catalog_file = tmp_path / "catalog.db"
    monkeypatch.setenv("SPARKCANVAS_CATALOG", str(catalog_file))
    catalog = open_catalog(catalog_file)
    catalog.create_database("sales")
    catalog.save_table(
        Table("sales", "orders", "/data/sales/orders", "parquet", {}, ORDER_COLUMNS, ORDER_KEYS, None)
    )
    catalog.save_table(
        Table(
            "sales",
            "customers",
            "/data/sales/customers",
            "csv",
            {"header": "true", "sep": ";"},
            [Column("id", "bigint"), Column("name", "string"), Column("city", "string")],
            [],
            None,
        )
    )
    return catalog


def catalog_example_job():
    the_job = job(
        orders_source(partition_predicate="year >= 2024 AND region = 'eu'"),
        node(
            "with_customer",
            "transform.lookup",
            {"in": "orders"},
            database="sales",
            table="customers",
            keys=[{"input": "customer_id", "lookup": "id"}],
            columns=["name", "city"],
        ),
        node(
            "write_enriched",
            "target.catalog",
            {"in": "with_customer"},
            database="analytics",
            table="orders_enriched",
            partition_keys=["year"],
            spark_table="analytics.orders_enriched",
        ),
        node(
            "write_files",
            "target.file",
            {"in": "with_customer"},
            path="output/${run_date}/orders",
            format="csv",
            spark_table="analytics.order_files",
        ),
        parameters=[("run_date", "2024-06-01")],
    )
    the_job.name = "catalog_nodes"
    return the_job


def test_catalog_script_matches_golden(golden_catalog):
    script = emit_script(catalog_example_job())
    golden = GOLDEN / "catalog_nodes.py"
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text(script, encoding="utf-8")
    assert script == golden.read_text(encoding="utf-8"), (
        f"{golden.name} differs; if the change is intended, rerun with UPDATE_GOLDEN=1"
    )


def test_catalog_script_compiles_and_passes_ruff(golden_catalog, tmp_path):
    script = emit_script(catalog_example_job())
    compile(script, "catalog_nodes.py", "exec")
    target = tmp_path / "script.py"
    target.write_text(script, encoding="utf-8")
    result = ruff_check(target)
    assert result.returncode == 0, result.stdout


def test_option_the_preview_ignores_reaches_spark(sales):
    customers = sales.get_table("sales", "customers")
    customers.options["dateFormat"] = "dd.MM.yyyy"
    sales.save_table(customers)
    the_job = job(node("c", "source.catalog", database="sales", table="customers"))
    assert '.option("dateFormat", "dd.MM.yyyy")' in emit_script(the_job)
    result = preview(the_job, "c")
    assert result.approximations == [
        "C: options dateFormat of sales.customers are passed to Spark but not applied by the preview"
    ]
