"""Check against Spark: the node on local Spark over the preview's own sample."""

from __future__ import annotations

import pytest

from codegen.duckdb_preview import PreviewEngine
from designer.model import load_job
from designer.spark_check import check_node
from tests.conftest import EXAMPLE_JOB
from tests.jobs import job, node, people

pytestmark = pytest.mark.spark


def test_example_agrees_on_the_same_sample(spark):
    example = load_job(EXAMPLE_JOB)
    example.sample_rows = 100  # a sample: Spark must read the same 100 trips, not the file
    check = check_node(example, "revenue_by_borough", PreviewEngine(), spark)
    assert check.matches, check.summary()
    assert check.summary().startswith("Spark agrees: the same")
    assert check.spark_rows == check.preview_rows


def test_join_check_uses_rows_fetched_by_key(spark):
    example = load_job(EXAMPLE_JOB)
    example.sample_rows = 50
    check = check_node(example, "trips_with_zones", PreviewEngine(), spark)
    assert check.matches, check.summary()
    assert check.spark_rows == 50


def test_difference_lists_first_differing_rows(spark, monkeypatch):
    from codegen import duckdb_preview

    the_job = job(people(), node("f", "transform.filter", {"in": "people"}, condition="score > 1"))
    original = duckdb_preview._lower_filter

    def off_by_one(node, inputs, call, preview):
        table = original(node, inputs, call, preview)
        return table.slice(1)  # drop one row, as a wrong translation would

    monkeypatch.setitem(duckdb_preview.LOWERINGS, "transform.filter", off_by_one)
    check = check_node(the_job, "f", PreviewEngine(), spark)
    assert not check.matches
    assert len(check.only_in_spark) == 1
    assert check.only_in_preview == []
    assert check.summary().startswith("rows differ: 1+ rows only in Spark")


def test_both_engines_failing_agree(spark):
    the_job = job(
        people(),
        node(
            "d", "transform.derived_column", {"in": "people"}, column="ratio", expression="score / (id - id)"
        ),
    )
    check = check_node(the_job, "d", PreviewEngine(), spark)
    assert check.matches
    assert "DIVIDE_BY_ZERO" in check.preview_error
    assert "DIVIDE_BY_ZERO" in check.spark_error


def test_cli_check_spark_reports_agreement(spark, capsys):
    from designer.cli import main

    status = main(
        [
            "preview",
            str(EXAMPLE_JOB),
            "--node",
            "revenue_by_borough",
            "--rows",
            "200",
            "--format",
            "csv",
            "--check-spark",
        ]
    )
    captured = capsys.readouterr()
    assert status == 0
    assert "check against Spark: Spark agrees: the same" in captured.err
