"""Tests of the crawler on real files: CSV, JSON and Hive-partitioned Parquet, read by DuckDB and Spark."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from catalog import CatalogError, open_catalog
from catalog.crawler import crawl
from catalog.evolution import merge_schema, widens
from catalog.model import Column
from catalog.partitions import infer_column_type, infer_value_type
from catalog.sample import read_sample
from tests.conftest import ASSETS


@pytest.fixture
def catalog(tmp_path):
    return open_catalog(tmp_path / "catalog.db")


def write_parquet(path: Path, columns: dict[str, list], schema: pa.Schema | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(columns, schema=schema), path)


def write_sales_partition(root: Path, year: int, month: int, extra: dict[str, list] | None = None) -> None:
    columns = {"order_id": [f"o{year}{month}a", f"o{year}{month}b"], "amount": [1.5, 2.25]}
    columns.update(extra or {})
    write_parquet(root / "sales" / f"year={year}" / f"month={month}" / "part-0.parquet", columns)


@pytest.fixture
def lake(tmp_path) -> Path:
    """A folder with a loose CSV file, a folder of JSON Lines, partitioned Parquet and some noise."""
    root = tmp_path / "lake"
    root.mkdir()
    (root / "customers.csv").write_text(
        "id,name,signup\n1,Ada,2024-01-05\n2,Bob,2024-02-10\n3,Cy,2024-03-15\n"
    )
    (root / "Daily Report-2024.csv").write_text("day;visits\n2024-01-01;5\n2024-01-02;7\n")
    events = root / "events"
    events.mkdir()
    (events / "part-1.json").write_text('{"event": "open", "user_id": 1}\n{"event": "close", "user_id": 2}\n')
    (events / "part-2.json").write_text('{"event": "open", "user_id": 3, "device": "phone"}\n')
    config = root / "config"
    config.mkdir()
    (config / "settings.json").write_text(
        json.dumps([{"key": "a", "value": 1}, {"key": "b", "value": 2}], indent=2)
    )
    for year, month in ((2024, 1), (2024, 2), (2025, 1)):
        write_sales_partition(root, year, month)
    (root / "sales" / "_SUCCESS").write_text("")
    (root / "notes.txt").write_text("not data\n")
    (root / "broken.json").write_text("{this is not json\n")
    return root


def schema_of(table) -> list[tuple[str, str]]:
    return [(column.name, column.type) for column in table.schema]


# --- first crawl -------------------------------------------------------------------------------


def test_crawl_finds_each_table(catalog, lake):
    report = crawl(catalog, lake, "lake")
    names = sorted(table.name for table in catalog.list_tables("lake"))
    assert names == ["config", "customers", "daily_report_2024", "events", "sales"]
    assert sorted(report.new_tables) == [f"lake.{name}" for name in names]
    assert report.files_read == 8


def test_crawl_reads_csv_types_and_options(catalog, lake):
    crawl(catalog, lake, "lake")
    customers = catalog.get_table("lake", "customers")
    assert customers.format == "csv"
    assert schema_of(customers) == [("id", "bigint"), ("name", "string"), ("signup", "date")]
    assert customers.options["header"] is True
    assert customers.row_count == 3
    assert customers.location == str(lake / "customers.csv")
    report_table = catalog.get_table("lake", "daily_report_2024")
    assert report_table.options["delimiter"] == ";"


def test_crawl_merges_json_files_by_name(catalog, lake):
    crawl(catalog, lake, "lake")
    events = catalog.get_table("lake", "events")
    assert events.format == "json"
    assert events.options == {"multiline": False}
    assert schema_of(events) == [("event", "string"), ("user_id", "bigint"), ("device", "string")]
    assert events.row_count == 3
    assert events.location == str(lake / "events")


def test_crawl_reads_multiline_json(catalog, lake):
    crawl(catalog, lake, "lake")
    config = catalog.get_table("lake", "config")
    assert config.options == {"multiline": True}
    assert schema_of(config) == [("key", "string"), ("value", "bigint")]
    assert config.row_count == 2


def test_crawl_records_hive_partitions(catalog, lake):
    report = crawl(catalog, lake, "lake")
    sales = catalog.get_table("lake", "sales")
    assert sales.format == "parquet"
    assert schema_of(sales) == [
        ("order_id", "string"),
        ("amount", "double"),
        ("year", "int"),
        ("month", "int"),
    ]
    assert [key.name for key in sales.partition_keys] == ["year", "month"]
    assert sales.row_count == 6
    partitions = catalog.list_partitions("lake", "sales")
    assert [p.values for p in partitions] == [
        {"year": "2024", "month": "1"},
        {"year": "2024", "month": "2"},
        {"year": "2025", "month": "1"},
    ]
    assert partitions[0].location == str(lake / "sales" / "year=2024" / "month=1")
    assert partitions[0].row_count == 2
    assert report.new_partitions["lake.sales"] == [
        "year=2024/month=1",
        "year=2024/month=2",
        "year=2025/month=1",
    ]


def test_crawl_lists_unreadable_and_skipped_files(catalog, lake):
    report = crawl(catalog, lake, "lake")
    unreadable = {Path(problem.path).name: problem.reason for problem in report.unreadable_files}
    assert list(unreadable) == ["broken.json"]
    assert unreadable["broken.json"]
    skipped = [Path(problem.path).name for problem in report.skipped_files]
    assert skipped == ["notes.txt"]
    assert "not a data file (.txt)" in report.skipped_files[0].reason


def test_crawl_reports_progress(catalog, lake):
    calls = []
    crawl(
        catalog, lake, "lake", on_progress=lambda done, total, message: calls.append((done, total, message))
    )
    assert [done for done, _, _ in calls] == [1, 2, 3, 4, 5, 6, 7, 8, 9, 9]
    assert {total for _, total, _ in calls} == {9}
    assert calls[-1][2] == "recorded 5 table(s)"


def test_crawl_of_single_file(catalog, lake):
    crawl(catalog, lake / "customers.csv", "one")
    assert [table.name for table in catalog.list_tables("one")] == ["customers"]


def test_crawl_of_missing_path_raises(catalog, tmp_path):
    with pytest.raises(CatalogError, match="crawl path .*nowhere not found"):
        crawl(catalog, tmp_path / "nowhere", "lake")


def test_crawl_with_invalid_database_raises(catalog, lake):
    with pytest.raises(CatalogError, match="invalid database name 'my lake'"):
        crawl(catalog, lake, "my lake")


def test_folder_of_unrelated_files_splits(catalog, tmp_path):
    mixed = tmp_path / "drop" / "inbox"
    mixed.mkdir(parents=True)
    (mixed / "a.csv").write_text("x,y\n1,2\n")
    (mixed / "b.json").write_text('{"z": true}\n')
    crawl(catalog, tmp_path / "drop", "drop")
    tables = {table.name: table for table in catalog.list_tables("drop")}
    assert sorted(tables) == ["inbox_a", "inbox_b"]
    assert tables["inbox_b"].format == "json"


def test_nested_plain_folders_become_tables(catalog, tmp_path):
    root = tmp_path / "nested"
    write_parquet(root / "raw" / "clicks" / "part-0.parquet", {"id": [1]})
    write_parquet(root / "raw" / "views" / "part-0.parquet", {"id": [2]})
    crawl(catalog, root, "nested")
    assert [table.name for table in catalog.list_tables("nested")] == ["clicks", "views"]


def test_conflicting_partition_layout_is_unreadable(catalog, tmp_path):
    root = tmp_path / "layout"
    write_parquet(root / "t" / "year=2024" / "part-0.parquet", {"id": [1]})
    write_parquet(root / "t" / "year=2025" / "part-0.parquet", {"id": [2]})
    write_parquet(root / "t" / "region=eu" / "part-0.parquet", {"id": [3]})
    report = crawl(catalog, root, "layout")
    assert [key.name for key in catalog.get_table("layout", "t").partition_keys] == ["year"]
    assert [Path(problem.path).parent.name for problem in report.unreadable_files] == ["region=eu"]
    assert "partitioned by region" in report.unreadable_files[0].reason


def test_incompatible_parquet_file_is_unreadable(catalog, tmp_path):
    root = tmp_path / "types"
    write_parquet(root / "t" / "a.parquet", {"id": [1]})
    write_parquet(root / "t" / "b.parquet", {"id": ["text"]})
    write_parquet(root / "t" / "c.parquet", {"id": [3]})
    report = crawl(catalog, root, "types")
    assert schema_of(catalog.get_table("types", "t")) == [("id", "bigint")]
    assert [Path(problem.path).name for problem in report.unreadable_files] == ["b.parquet"]
    # Spark reads b.parquet too, so the two rows of the other files are not the table's count.
    assert catalog.get_table("types", "t").row_count is None


def test_partition_with_unreadable_file_has_no_count(catalog, tmp_path):
    root = tmp_path / "parts"
    write_parquet(root / "t" / "year=2023" / "a.parquet", {"id": [1, 2]})
    write_parquet(root / "t" / "year=2024" / "a.parquet", {"id": [3]})
    write_parquet(root / "t" / "year=2024" / "b.parquet", {"id": ["text"]})
    crawl(catalog, root, "parts")
    counts = {p.values["year"]: p.row_count for p in catalog.list_partitions("parts", "t")}
    assert counts == {"2023": 2, "2024": None}
    assert catalog.get_table("parts", "t").row_count is None


# --- re-crawl ----------------------------------------------------------------------------------


def test_recrawl_without_changes(catalog, lake):
    crawl(catalog, lake, "lake")
    report = crawl(catalog, lake, "lake")
    assert report.new_tables == []
    assert report.new_partitions == {}
    assert report.schema_changes == []
    assert report.incompatible_changes == []
    assert sorted(report.unchanged_tables) == sorted(f"lake.{t.name}" for t in catalog.list_tables("lake"))


def test_recrawl_records_added_column_as_version(catalog, lake):
    crawl(catalog, lake, "lake")
    catalog.update_column("lake", "sales", "amount", comment="in euros")
    write_sales_partition(lake, 2025, 2, extra={"discount": [0.1, 0.0]})
    report = crawl(catalog, lake, "lake")
    sales = catalog.get_table("lake", "sales")
    assert report.new_partitions == {"lake.sales": ["year=2025/month=2"]}
    assert len(report.schema_changes) == 1
    assert report.schema_changes[0].table == "lake.sales"
    assert report.schema_changes[0].change == "added column discount (double)"
    assert report.schema_changes[0].version == 2
    assert sales.version == 2
    assert schema_of(sales)[2] == ("discount", "double")
    assert sales.columns[1].comment == "in euros"
    versions = catalog.schema_versions("lake", "sales")
    assert [version.version for version in versions] == [1, 2]
    assert sales.row_count == 8


def test_recrawl_flags_changed_type(catalog, lake):
    crawl(catalog, lake, "lake")
    (lake / "customers.csv").write_text("id,name,signup\nA1,Ada,2024-01-05\n")
    report = crawl(catalog, lake, "lake")
    customers = catalog.get_table("lake", "customers")
    assert len(report.incompatible_changes) == 1
    assert report.incompatible_changes[0].table == "lake.customers"
    assert (
        "column id changed type from bigint to string, which does not widen"
        in report.incompatible_changes[0].change
    )
    assert schema_of(customers)[0] == ("id", "bigint")
    assert customers.version == 1


def test_recrawl_flags_removed_column(catalog, lake):
    crawl(catalog, lake, "lake")
    (lake / "customers.csv").write_text("id,name\n1,Ada\n")
    report = crawl(catalog, lake, "lake")
    assert "column signup (date) is missing from the files" in report.incompatible_changes[0].change
    assert len(catalog.get_table("lake", "customers").columns) == 3


def test_recrawl_widens_type(catalog, tmp_path):
    root = tmp_path / "widen"
    write_parquet(root / "t" / "a.parquet", {"n": [1]}, pa.schema([("n", pa.int32())]))
    crawl(catalog, root, "widen")
    write_parquet(root / "t" / "b.parquet", {"n": [2**40]}, pa.schema([("n", pa.int64())]))
    report = crawl(catalog, root, "widen")
    assert report.schema_changes[0].change == "widened column n from int to bigint"
    assert schema_of(catalog.get_table("widen", "t")) == [("n", "bigint")]


def test_recrawl_reports_missing_table(catalog, lake):
    crawl(catalog, lake, "lake")
    (lake / "customers.csv").unlink()
    report = crawl(catalog, lake, "lake")
    assert report.missing_tables == ["lake.customers"]


def test_recrawl_of_other_folder_keeps_table(catalog, lake, tmp_path):
    crawl(catalog, lake, "lake")
    other = tmp_path / "other"
    other.mkdir()
    (other / "customers.csv").write_text("id\n1\n")
    report = crawl(catalog, other, "lake")
    assert "already exists with location" in report.incompatible_changes[0].change
    assert catalog.get_table("lake", "customers").location == str(lake / "customers.csv")


# --- the bundled example folder ----------------------------------------------------------------


def test_bundled_sales_catalog(catalog):
    folder = ASSETS / "data" / "sales_catalog"
    report = crawl(catalog, folder, "examples")
    tables = {table.name: table for table in catalog.list_tables("examples")}
    assert sorted(tables) == ["orders", "products", "trips", "zones"]
    assert report.unreadable_files == []
    assert tables["orders"].partition_keys == [Column("year", "int")]
    assert tables["orders"].row_count == 7000
    assert ("price", "decimal(6,2)") in schema_of(tables["orders"])
    assert tables["trips"].row_count == 1000
    assert tables["products"].format == "json"
    assert sum(path.stat().st_size for path in folder.rglob("*") if path.is_file()) < 1_000_000


def test_sample_rows_use_catalog_types(catalog):
    crawl(catalog, ASSETS / "data" / "sales_catalog", "examples")
    sample = read_sample(catalog.get_table("examples", "orders"), 5)
    assert sample.num_rows == 5
    assert sample.column_names[-1] == "year"
    assert str(sample.schema.field("year").type) == "int32"
    assert sample.column("year").to_pylist() == [2018] * 5


# --- partition value types, as Spark 4.3.0 infers them --------------------------------------------

# Each row was checked with spark.read.parquet on Spark 4.3.0; test_partition_types_match_spark
# repeats the check for the cases that a folder name can hold.
VALUE_TYPES = [
    ("1", "int"),
    ("01", "int"),
    ("-3", "int"),
    ("+5", "int"),
    ("3000000000", "bigint"),
    ("12345678901234567890", "decimal(20,0)"),
    ("1e3", "decimal(4,0)"),
    ("5.", "decimal(1,0)"),
    ("1.5", "double"),
    ("1.0", "double"),
    (".5", "double"),
    ("1.5d", "double"),
    ("NaN", "double"),
    ("1" + "0" * 39, "double"),
    ("2024-01-05", "date"),
    ("2024-02-30", "string"),
    ("2024-1-5", "string"),
    ("2024-01-05 10%3A00%3A00", "timestamp"),
    ("2024-01-05 10%3A00%3A00.1", "timestamp"),
    ("2024-01-05 10%3A00%3A00.12", "string"),
    ("2024-01-05T10%3A00%3A00", "string"),
    ("true", "string"),
    ("0x10", "string"),
    ("abc", "string"),
]

COLUMN_TYPES = [
    (["1", "3000000000"], "bigint"),
    (["1", "1.5"], "double"),
    (["3000000000", "1.5"], "string"),
    (["1", "12345678901234567890"], "decimal(20,0)"),
    (["1", "1e3"], "decimal(10,0)"),
    (["1.5", "1e3"], "string"),
    (["2024-01-05", "2024-01-05 10%3A00%3A00"], "timestamp"),
    (["2024-01-05", "5"], "string"),
    (["__HIVE_DEFAULT_PARTITION__", "1"], "int"),
    (["__HIVE_DEFAULT_PARTITION__"], "string"),
]


@pytest.mark.parametrize(("raw", "expected"), VALUE_TYPES)
def test_partition_value_type(raw, expected):
    assert infer_value_type(raw) == expected


@pytest.mark.parametrize(("raws", "expected"), COLUMN_TYPES)
def test_partition_column_type(raws, expected):
    assert infer_column_type(raws) == expected


@pytest.mark.spark
def test_partition_types_match_spark(spark, catalog, tmp_path):
    root = tmp_path / "partitions"
    cases = [([raw], expected) for raw, expected in VALUE_TYPES] + COLUMN_TYPES[:-1]
    for index, (raws, _) in enumerate(cases):
        for raw in raws:
            write_parquet(root / f"case_{index}" / f"p={raw}" / "part-0.parquet", {"x": [1]})
    crawl(catalog, root, "cases")
    for index, (raws, expected) in enumerate(cases):
        table = catalog.get_table("cases", f"case_{index}")
        spark_schema = spark.read.parquet(table.location).schema
        assert (raws, spark_schema["p"].dataType.simpleString()) == (raws, expected)
        assert (raws, table.partition_keys[0].type) == (raws, expected)


@pytest.mark.spark
def test_spark_written_folder_agrees(spark, catalog, tmp_path):
    rows = [
        (1, "a", date(2024, 1, 5), "2024-01-05 10:00:00"),
        (2, "b", date(2024, 1, 6), "2024-01-06 11:30:00"),
    ]
    frame = spark.createDataFrame(rows, "id int, name string, day date, at string").selectExpr(
        "id", "name", "day", "CAST(at AS timestamp) AS at"
    )
    location = tmp_path / "spark_out" / "events"
    frame.write.partitionBy("day", "at").parquet(str(location))
    crawl(catalog, tmp_path / "spark_out", "spark")
    table = catalog.get_table("spark", "events")
    spark_schema = [
        (field.name, field.dataType.simpleString()) for field in spark.read.parquet(str(location)).schema
    ]
    assert schema_of(table) == spark_schema
    sample = read_sample(table, 10).to_pylist()
    spark_rows = spark.read.parquet(str(location)).orderBy("id").collect()
    assert sorted(row["id"] for row in sample) == [row["id"] for row in spark_rows]
    assert sorted(row["day"] for row in sample) == [row["day"] for row in spark_rows]


# --- schema evolution rules --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("int", "bigint", True),
        ("bigint", "int", False),
        ("int", "double", True),
        ("bigint", "double", False),
        ("float", "double", True),
        ("int", "decimal(10,0)", True),
        ("int", "decimal(9,0)", False),
        ("decimal(6,2)", "decimal(8,3)", True),
        ("decimal(6,2)", "decimal(6,3)", False),
        ("date", "timestamp", True),
        ("int", "string", False),
        ("string", "int", False),
    ],
)
def test_widens(old, new, expected):
    assert widens(old, new) is expected


def test_merge_schema_keeps_wider_stored_type():
    merge = merge_schema([Column("n", "bigint", "count")], [Column("n", "int")])
    assert merge.columns == [Column("n", "bigint")]
    assert merge.columns[0].comment == "count"
    assert not merge.changed
    assert merge.incompatible == []
