"""Every case in tests/fidelity_cases/ gives its expected rows (or error) on Spark and on the preview.

The expected values were recorded from Spark 4.3 by tests/record_fidelity_cases.py. A case
with a `gap` is a strict xfail on the preview side only, so it fails once the preview starts
matching, and Spark must still give the expected rows.
"""

from __future__ import annotations

import pytest

from codegen.duckdb_preview import PreviewEngine
from tests.case_files import CASE_KINDS, SparkOutcomes, case_job, check_outcome, load_cases, run_preview

CASES = load_cases()


def _params(side: str):
    for case in CASES:
        marks = []
        if side == "preview" and case.get("gap"):
            marks.append(pytest.mark.xfail(strict=True, reason=case["gap"]))
        yield pytest.param(case, marks=marks, id=case["id"])


@pytest.fixture(scope="module")
def case_folder(tmp_path_factory):
    """One folder for the Parquet and generated files of every case, shared by both engines."""
    return tmp_path_factory.mktemp("fidelity_cases")


@pytest.fixture(scope="module")
def spark_outcomes(spark, case_folder):
    return SparkOutcomes(spark, CASES, case_folder)


@pytest.mark.spark
@pytest.mark.parametrize("case", list(_params("spark")))
def test_spark_gives_expected(spark_outcomes, case):
    check_outcome(case, spark_outcomes.get(case), "spark")


@pytest.mark.parametrize("case", list(_params("preview")))
def test_preview_gives_expected(case_folder, case):
    check_outcome(case, run_preview(case, case_folder), "preview")


def test_cases_are_well_formed():
    for case in CASES:
        kinds = [kind for kind in CASE_KINDS if kind in case]
        assert len(kinds) <= 1, f"{case['id']} has several of {kinds}"
        assert ("expected" in case) != ("expected_error" in case), f"{case['id']} needs one outcome"
        assert case["tables"], f"{case['id']} has no input table"
        assert case.get("family"), f"{case['id']} has no family"


def test_every_family_has_cases():
    families = {case["family"] for case in CASES}
    assert families >= {
        "nulls",
        "numeric",
        "strings",
        "datetime",
        "csv",
        "json",
        "sort",
        "aggregates",
        "joins",
    }
    assert len(CASES) >= 150


@pytest.mark.parametrize("case", [case for case in CASES if case.get("gap")], ids=lambda case: case["id"])
def test_gap_is_shown_on_its_node(case_folder, case):
    """A case the preview cannot match yet never differs silently: its node errs or is approximate."""
    the_job, result = case_job(case, case_folder)
    preview = PreviewEngine().preview(the_job, result)
    assert preview.error or preview.approximations
