"""The preview benchmark at a tiny size: every output line parses and the report is written.

Only the shape of the output is checked, never a timing.
"""

from __future__ import annotations

import json

import pytest

from benchmarks import preview, report

TINY_ROWS = 2000
TIME_MEASURES = ("warm_preview", "edit_filter", "edit_aggregate", "duckdb_sql")
RATIO_KEYS = ("spark_warm_over_preview", "spark_cold_over_preview", "preview_over_duckdb_sql")


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """Run the benchmark once without Spark; return its printed lines and the report path."""
    folder = tmp_path_factory.mktemp("benchmark")
    output = folder / "BENCHMARKS.md"
    output.write_text("# Benchmarks\n\nA section of another benchmark.\n", encoding="utf-8")
    lines: list[str] = []
    settings = preview.parse_args(
        [
            "--rows",
            str(TINY_ROWS),
            "--repeats",
            "1",
            "--no-spark",
            "--data-dir",
            str(folder / "data"),
            "--output",
            str(output),
        ]
    )
    records = preview.run_benchmark(settings, emit=lambda item: lines.append(json.dumps(item)))
    report.write_section(output, report.render(records, settings))
    return lines, output


def test_every_line_is_json_object(tiny_run):
    lines, _ = tiny_run
    for line in lines:
        assert isinstance(json.loads(line), dict), line


def test_time_measures_have_summary(tiny_run):
    records = {}
    for line in tiny_run[0]:
        record = json.loads(line)
        records.setdefault(record["measure"], record)
    for name in TIME_MEASURES:
        assert name in records, f"no {name} line"
        assert records[name]["median_ms"] > 0
        assert records[name]["p90_ms"] >= records[name]["median_ms"]
        assert records[name]["min_ms"] <= records[name]["median_ms"]


def test_main_variant_reads_whole_table(tiny_run):
    warm = [json.loads(line) for line in tiny_run[0] if json.loads(line)["measure"] == "warm_preview"]
    assert [record["sample_rows"] for record in warm] == [TINY_ROWS, 1000]
    assert warm[0]["source_rows"]["trips"] == TINY_ROWS
    assert warm[1]["source_rows"]["trips"] == 1000


def test_edits_recompute_only_downstream(tiny_run):
    records = [json.loads(line) for line in tiny_run[0]]
    edits = {
        record["measure"]: record["recomputed"] for record in records if record["measure"].startswith("edit_")
    }
    assert edits["edit_aggregate"] == ["by_borough", "write_summary"]
    assert "trips" not in edits["edit_filter"]
    assert "zones" not in edits["edit_filter"]


def test_duckdb_sql_matches_preview(tiny_run):
    sql = next(json.loads(line) for line in tiny_run[0] if json.loads(line)["measure"] == "duckdb_sql")
    assert sql["matches_preview"] is True


def test_peak_memory_is_measured(tiny_run):
    peak = next(json.loads(line) for line in tiny_run[0] if json.loads(line)["measure"] == "peak_memory")
    assert peak["peak_rss_mib"] >= peak["rss_after_imports_mib"] > 0


def test_last_line_reports_ratios_with_spark_skipped(tiny_run):
    last = json.loads(tiny_run[0][-1])
    assert last["measure"] == "ratios"
    for key in RATIO_KEYS:
        assert key in last
    assert last["spark"] == "skipped"
    assert last["spark_warm_over_preview"] is None
    assert last["spark_cold_over_preview"] is None
    assert last["preview_over_duckdb_sql"] > 0


def test_report_keeps_other_text(tiny_run):
    _, output = tiny_run
    text = output.read_text(encoding="utf-8")
    assert "A section of another benchmark." in text
    assert text.count(report.SECTION_START) == 1
    for heading in ("### Machine", "### Versions", "### Command", "### Figures", "### Targets"):
        assert heading in text


def test_report_section_is_replaced(tmp_path):
    output = tmp_path / "BENCHMARKS.md"
    report.write_section(output, "first run")
    report.write_section(output, "second run")
    text = output.read_text(encoding="utf-8")
    assert "second run" in text
    assert "first run" not in text
    assert text.count(report.SECTION_END) == 1


def test_ratios_with_spark_measured():
    records = [
        {"measure": "warm_preview", "sample_rows": 10, "median_ms": 2.0},
        {"measure": "warm_preview", "sample_rows": 1000, "median_ms": 9.0},
        {"measure": "duckdb_sql", "median_ms": 1.0},
        {"measure": "spark_warm", "median_ms": 40.0},
        {"measure": "spark_cold", "median_ms": 4000.0},
    ]
    line = preview.ratios(records, rows=10, spark=True)
    assert line["spark_warm_over_preview"] == 20.0
    assert line["spark_cold_over_preview"] == 2000.0
    assert line["preview_over_duckdb_sql"] == 2.0


@pytest.mark.parametrize("arguments", [["--rows", "0"], ["--repeats", "0"], ["--big-source-gb", "-1"]])
def test_invalid_arguments_rejected(arguments):
    with pytest.raises(SystemExit):
        preview.parse_args(arguments)
