"""The DuckDB preview: sample limits, incremental recomputation, targets that never write,
and a sandbox in which expressions cannot touch files."""

from __future__ import annotations

import os

from codegen.duckdb_preview import PreviewEngine
from designer.model import Sampling, load_job
from tests.conftest import EXAMPLE_JOB, TAXI_FIGURES, TEST_DATA
from tests.jobs import job, node, people, source


def test_example_preview_matches_published_figures():
    preview = PreviewEngine().preview(load_job(EXAMPLE_JOB), "revenue_by_borough")
    assert preview.ok, preview.error
    rows = {
        row["borough"]: (row["trip_count"], round(row["total_amount"], 2))
        for row in preview.table.to_pylist()
    }
    assert rows == TAXI_FIGURES
    assert preview.sources == {"trips": 1000, "zones": 265}


def test_zone_265_keeps_na_as_text():
    preview = PreviewEngine().preview(load_job(EXAMPLE_JOB), "zones")
    zone_265 = [row for row in preview.table.to_pylist() if row["location_id"] == 265]
    assert zone_265 == [{"location_id": 265, "borough": "Unknown", "zone": "NA", "service_zone": "N/A"}]


def test_sample_size_limits_source_rows():
    example = load_job(EXAMPLE_JOB)
    example.sample_rows = 10
    preview = PreviewEngine().preview(example, "trips")
    assert preview.row_count == 10
    assert preview.sources == {"trips": 10}
    assert preview.sampled
    assert preview.notes == ["Trips: first 10 rows (a sample)"]


def test_rerun_serves_unchanged_nodes_from_cache():
    engine = PreviewEngine()
    example = load_job(EXAMPLE_JOB)
    engine.preview(example, "write_revenue")
    assert sorted(engine.computed) == sorted(node.id for node in example.nodes)
    engine.computed.clear()
    again = engine.preview(load_job(EXAMPLE_JOB), "write_revenue")
    assert engine.computed == []
    assert again.cached


def test_editing_one_node_recomputes_it_and_downstream_only():
    engine = PreviewEngine()
    example = load_job(EXAMPLE_JOB)
    engine.preview(example, "write_revenue")
    engine.computed.clear()
    example.node("revenue_by_borough").params["aggregations"][0]["name"] = "trips"
    engine.preview(example, "write_revenue")
    assert engine.computed == ["revenue_by_borough", "write_revenue"]


def test_changed_source_file_is_read_again(tmp_path):
    data = tmp_path / "people.csv"
    data.write_text((TEST_DATA / "people.csv").read_text(encoding="utf-8"), encoding="utf-8")
    the_job = job(
        source("people", data, [{"name": "id", "type": "bigint"}, {"name": "name", "type": "string"}])
    )
    engine = PreviewEngine()
    first = engine.preview(the_job, "people")
    with data.open("a", encoding="utf-8") as stream:
        stream.write("99,Added\n")
    stat = data.stat()
    os.utime(data, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    second = engine.preview(the_job, "people")
    assert second.row_count == first.row_count + 1
    assert not second.cached


def test_cache_is_bounded_in_bytes():
    engine = PreviewEngine(cache_bytes=200_000)
    result = engine.preview(load_job(EXAMPLE_JOB), "write_revenue")
    assert result.ok
    assert engine.cached_bytes <= 200_000
    assert len(engine._cache) < 5


def test_target_preview_never_writes(tmp_path):
    out = tmp_path / "never"
    the_job = job(people(), node("t", "target.file", {"in": "people"}, path=str(out)))
    preview = PreviewEngine().preview(the_job, "t")
    assert preview.ok
    assert preview.row_count == 7
    assert not out.exists()
    assert any("preview only" in note for note in preview.notes)


def test_missing_source_file_names_the_path(tmp_path):
    missing = tmp_path / "missing.csv"
    the_job = job(source("gone", missing, [{"name": "a", "type": "int"}]))
    preview = PreviewEngine().preview(the_job, "gone")
    assert preview.error.startswith(f"no file matches path '{missing}'")


def test_downstream_of_failed_node_says_which_to_fix(tmp_path):
    the_job = job(
        source("gone", tmp_path / "missing.csv", [{"name": "a", "type": "int"}]),
        node("f", "transform.filter", {"in": "gone"}, condition="a > 1"),
    )
    preview = PreviewEngine().preview(the_job, "f")
    assert preview.error.startswith("no preview until gone is fixed: no file matches path")


def test_invalid_node_shows_its_problem():
    the_job = job(people(), node("f", "transform.filter", {"in": "people"}, condition="nope > 1"))
    preview = PreviewEngine().preview(the_job, "f")
    assert preview.error.startswith("unknown column 'nope'")


def test_sql_node_cannot_read_other_files():
    secret = TEST_DATA / "orders.csv"
    query = f"SELECT * FROM p, read_csv('{secret}')"
    the_job = job(people(), node("q", "transform.sql", {"p": "people"}, query=query))
    preview = PreviewEngine().preview(the_job, "q")
    assert not preview.ok


def test_expression_cannot_read_files():
    expression = f"(SELECT count(*) FROM read_csv('{TEST_DATA / 'orders.csv'}'))"
    the_job = job(
        people(), node("d", "transform.derived_column", {"in": "people"}, column="x", expression=expression)
    )
    preview = PreviewEngine().preview(the_job, "d")
    assert not preview.ok


def test_sandbox_blocks_file_access_at_run_time():
    from codegen import duckdb_preview

    connection = duckdb_preview._connection(load_job(EXAMPLE_JOB), files=False)
    try:
        connection.execute(f"SELECT * FROM read_csv('{TEST_DATA / 'orders.csv'}')")
    except Exception as error:  # noqa: BLE001 - any DuckDB error type will do
        assert "disabled by configuration" in str(error)
    else:
        raise AssertionError("the sandboxed connection read a file")
    finally:
        connection.close()


def test_random_sample_is_repeatable_per_seed():
    example = load_job(EXAMPLE_JOB)
    example.sample_rows = 20
    example.sampling["trips"] = Sampling("random", seed=7)
    first = PreviewEngine().preview(example, "trips")
    again = PreviewEngine().preview(example, "trips")
    example.sampling["trips"] = Sampling("random", seed=8)
    other = PreviewEngine().preview(example, "trips")
    assert first.table.to_pylist() == again.table.to_pylist()
    assert first.table.to_pylist() != other.table.to_pylist()
    assert first.notes == ["Trips: random sample of 20 rows (seed 7)"]


def test_join_fetches_matching_rows_of_a_sampled_side():
    example = load_job(EXAMPLE_JOB)
    example.sample_rows = 50  # the first 50 zones miss most pickup zones
    joined = PreviewEngine().preview(example, "trips_with_zones")
    boroughs = [row["borough"] for row in joined.table.to_pylist()]
    assert len(boroughs) == 50
    assert None not in boroughs
    assert any("rows of Zones whose keys match the left side's sample" in note for note in joined.notes)


def test_full_join_over_fetched_rows_is_approximate():
    example = load_job(EXAMPLE_JOB)
    example.sample_rows = 50
    example.node("trips_with_zones").params["join_type"] = "full"
    joined = PreviewEngine().preview(example, "trips_with_zones")
    assert joined.ok, joined.error
    assert any("a full join keeps the rows of Zones that match nothing" in r for r in joined.approximations)


def test_join_without_fetch_when_side_is_complete():
    joined = PreviewEngine().preview(load_job(EXAMPLE_JOB), "trips_with_zones")
    assert joined.sources == {"trips": 1000, "zones": 265}
    assert not any("whose keys match" in note for note in joined.notes)


def test_sampling_of_unknown_node_is_a_problem():
    from designer.validation import validate

    example = load_job(EXAMPLE_JOB)
    example.sampling["revenue_by_borough"] = Sampling("random", 1)
    problems = [str(problem) for problem in validate(example).problems]
    assert len(problems) == 1
    assert "preview sampling names 'revenue_by_borough', which is not a source node" in problems[0]


def test_time_limit_cancels_a_slow_preview():
    slow = job(
        people(),
        node(
            "q",
            "transform.sql",
            {"p": "people"},
            query="SELECT count(*) AS n FROM range(100000000000) AS a(x) WHERE x % 7 = 3",
        ),
    )
    slow.time_limit_seconds = 0.5
    preview = PreviewEngine().preview(slow, "q")
    assert preview.error.startswith("the preview took longer than its time limit of 0.5 s")


def test_memory_limit_stops_a_hungry_preview():
    hungry = job(
        people(),
        node(
            "q",
            "transform.sql",
            {"p": "people"},
            query="SELECT x, count(*) AS n FROM range(10000000) AS a(x) GROUP BY x ORDER BY n DESC",
        ),
    )
    hungry.memory_limit_mb = 16
    preview = PreviewEngine().preview(hungry, "q")
    assert preview.error.startswith("the preview needed more than its memory limit of 16 MB")


def test_sandbox_settings_are_locked():
    from codegen import duckdb_preview

    connection = duckdb_preview._connection(load_job(EXAMPLE_JOB), files=False)
    try:
        connection.execute("SET enable_external_access = true")
    except Exception as error:  # noqa: BLE001 - any DuckDB error type will do
        assert "locked" in str(error).lower()
    else:
        raise AssertionError("the sandbox let a query turn file access back on")
    finally:
        connection.close()


def test_order_dependent_aggregate_is_approximate():
    the_job = job(
        people(),
        node("a", "transform.aggregate", {"in": "people"}, group_by=["city"],
             aggregations=[{"function": "first", "column": "name", "name": "first_name"}]),
        node("t", "target.file", {"in": "a"}, path="output/never"),
    )
    preview = PreviewEngine().preview(the_job, "t")
    assert preview.approximations == [
        "A: first() depends on row order, which Spark does not guarantee"
    ]


def test_java_only_regex_is_approximate():
    expression = "regexp_extract(name, '(?<=Z)o', 0)"
    the_job = job(people(), node("d", "transform.derived_column", {"in": "people"},
                                 column="x", expression=expression))
    preview = PreviewEngine().preview(the_job, "d")
    assert len(preview.approximations) == 1
    assert preview.approximations[0].startswith("D: ")


def test_cycle_leaves_sources_previewable():
    the_job = job(
        people(),
        node("a", "transform.filter", {"in": "b"}, condition="true"),
        node("b", "transform.filter", {"in": "a"}, condition="true"),
    )
    engine = PreviewEngine()
    assert engine.preview(the_job, "people").ok
    assert engine.preview(the_job, "b").error is not None
