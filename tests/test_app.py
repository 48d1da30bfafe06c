"""The Streamlit designer, driven headless with AppTest.

The canvas is a custom component, which AppTest cannot click. A canvas event is simulated
as the browser sends it: the component's value (its whole graph, the selected id and a
timestamp) written into session_state under the component's key.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from designer.model import Sampling, load_job, save_job

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "assets" / "jobs" / "taxi_revenue_by_borough.job.json"
TIMEOUT = 60


@pytest.fixture
def jobs_dir(tmp_path, monkeypatch):
    """A jobs folder holding a copy of the taxi example, opened first, and an empty run home."""
    folder = tmp_path / "jobs"
    folder.mkdir()
    shutil.copy(EXAMPLE, folder / EXAMPLE.name)
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("SPARKCANVAS_JOBS_DIR", str(folder))
    monkeypatch.setenv("SPARKCANVAS_JOB", str(folder / EXAMPLE.name))
    monkeypatch.setenv("SPARKCANVAS_HOME", str(tmp_path / "home"))
    return folder


@pytest.fixture
def app(jobs_dir) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    at.run()
    assert not at.exception, [item.message for item in at.exception]
    return at


# --- helpers ---------------------------------------------------------------------------------------


def job(at: AppTest):
    return at.session_state["job"]


def canvas_key(at: AppTest) -> str:
    return f"canvas_{at.session_state['canvas_version']}"


def drawn_graph(at: AppTest) -> dict:
    """Return the nodes and edges the app sent to the canvas component in the last run."""
    (component,) = [item for item in at.get("component_instance") if item.key == canvas_key(at)]
    return json.loads(component.proto.json_args)


def browser_graph(at: AppTest) -> tuple[list[dict], list[dict]]:
    """Return the nodes and edges the browser starts from: those the app drew in the last run."""
    graph = drawn_graph(at)
    return graph["nodes"], graph["edges"]


def send_event(at: AppTest, nodes: list[dict], edges: list[dict], selected: str | None = None) -> AppTest:
    at.session_state[canvas_key(at)] = {
        "nodes": nodes,
        "edges": edges,
        "selectedId": selected,
        "timestamp": int(time.time() * 1000) + len(at.session_state["job"].nodes),
    }
    at.run()
    assert not at.exception, [item.message for item in at.exception]
    return at


def click_node(at: AppTest, node_id: str) -> AppTest:
    nodes, edges = browser_graph(at)
    return send_event(at, nodes, edges, selected=node_id)


def new_edge(source: str, target: str) -> dict:
    """Return an edge as React Flow creates it when the user drags between two handles."""
    return {"id": f"st-flow-edge_{source}-{target}", "source": source, "target": target}


def widget(at: AppTest, node_id: str, name: str) -> str:
    return f"{at.session_state['job_token']}:{node_id}:{name}"


def errors(at: AppTest) -> list[str]:
    return [item.value for item in at.error]


def click_palette(at: AppTest, type_name: str) -> AppTest:
    at.button(key=f"palette:{type_name}").click().run()
    assert not at.exception, [item.message for item in at.exception]
    return at


# --- opening the example ---------------------------------------------------------------------------


def test_example_opens_on_visual_tab(app):
    labels = [tab.label for tab in app.tabs][:4]
    assert labels == ["Visual", "Script", "Job details", "Runs"]
    assert app.title[0].value == "SparkCanvas"
    assert not errors(app)


def test_canvas_draws_every_node(app):
    graph = drawn_graph(app)
    ids = [node["id"] for node in graph["nodes"]]
    assert ids == ["trips", "zones", "trips_with_zones", "revenue_by_borough", "write_revenue"]
    types = {node["id"]: node["type"] for node in graph["nodes"]}
    assert types["trips"] == "input"
    assert types["trips_with_zones"] == "default"
    assert types["write_revenue"] == "output"
    assert "**Trips with zones**" in graph["nodes"][2]["data"]["content"]
    assert "Join" in graph["nodes"][2]["data"]["content"]


def test_canvas_options_and_node_flags(app):
    graph = drawn_graph(app)
    assert graph["allowNewEdges"] is True
    assert graph["getNodeOnClick"] is True
    assert graph["enableNodeMenu"] is True
    for node in graph["nodes"]:
        assert node["connectable"] is True
        assert node["selectable"] is True
        assert node["deletable"] is True
        assert node["draggable"] is True
    assert graph["nodes"][0]["position"] == {"x": 0.0, "y": 0.0}


def test_canvas_draws_edges_with_ports(app):
    edges = {(edge["source"], edge["target"]): edge["label"] for edge in drawn_graph(app)["edges"]}
    assert edges[("trips", "trips_with_zones")] == "left"
    assert edges[("zones", "trips_with_zones")] == "right"
    assert edges[("trips_with_zones", "revenue_by_borough")] == ""
    assert len(edges) == 4


# --- selecting a node --------------------------------------------------------------------------------


def test_select_source_shows_schema_and_rows(app):
    click_node(app, "trips")
    assert app.session_state["selected_node"] == "trips"
    assert app.subheader[0].value == "Trips"
    shapes = [frame.value.shape for frame in app.dataframe]
    assert (19, 2) in shapes  # the output schema: 19 columns, name and type
    assert (1000, 19) in shapes  # the preview: the 1000-row sample
    captions = " ".join(item.value for item in app.caption)
    assert "1000 rows" in captions
    assert "Trips: first 1000 rows (a sample)" in captions


def test_select_aggregate_shows_result_rows(app):
    click_node(app, "revenue_by_borough")
    frames = [frame.value for frame in app.dataframe]
    result_columns = ["borough", "trip_count", "total_amount"]
    preview = next(frame for frame in frames if list(frame.columns) == result_columns)
    assert preview["trip_count"].sum() == 1000
    schema = next(frame for frame in frames if list(frame.columns) == ["name", "type"] and len(frame) == 3)
    assert schema["type"].tolist() == ["string", "bigint", "double"]


def test_moving_node_changes_only_layout(app):
    nodes, edges = browser_graph(app)
    nodes[0]["position"] = {"x": 12.3, "y": 45.6}
    send_event(app, nodes, edges)
    assert job(app).layout["trips"] == {"x": 12.3, "y": 45.6}
    assert len(job(app).nodes) == 5
    assert job(app).node("trips_with_zones").inputs == {"left": "trips", "right": "zones"}


# --- editing and errors ------------------------------------------------------------------------------


def test_palette_node_connects_to_selected(app):
    click_node(app, "trips_with_zones")
    click_palette(app, "transform.filter")
    added = job(app).node("filter")
    assert added.inputs == {"in": "trips_with_zones"}
    assert added.params == {"condition": ""}
    assert app.session_state["selected_node"] == "filter"
    drawn = {(edge["source"], edge["target"]) for edge in drawn_graph(app)["edges"]}
    assert ("trips_with_zones", "filter") in drawn


def test_palette_node_without_selection_is_free(app):
    click_palette(app, "transform.join")
    assert job(app).node("join").inputs == {}
    assert "join" in job(app).layout


def test_filter_unknown_column_shows_error(app):
    click_node(app, "trips_with_zones")
    click_palette(app, "transform.filter")
    app.text_input(key=widget(app, "filter", "condition")).set_value("no_such_column > 0").run()
    assert job(app).node("filter").params["condition"] == "no_such_column > 0"
    messages = " ".join(errors(app))
    assert "unknown column 'no_such_column'" in messages
    filter_node = next(node for node in drawn_graph(app)["nodes"] if node["id"] == "filter")
    assert "⚠ error" in filter_node["data"]["content"]


def test_filter_valid_condition_clears_error(app):
    click_node(app, "trips_with_zones")
    click_palette(app, "transform.filter")
    app.text_input(key=widget(app, "filter", "condition")).set_value("total_amount > 20").run()
    assert not errors(app)
    filter_node = next(node for node in drawn_graph(app)["nodes"] if node["id"] == "filter")
    assert "⚠ error" not in filter_node["data"]["content"]


def test_filter_syntax_error_without_input(app):
    click_palette(app, "transform.filter")
    app.text_input(key=widget(app, "filter", "condition")).set_value("a >").run()
    assert any("syntax error" in message for message in errors(app))


def test_dragged_edges_fill_join_ports(app):
    click_palette(app, "transform.join")
    nodes, edges = browser_graph(app)
    send_event(app, nodes, [*edges, new_edge("zones", "join")])
    send_event(app, *browser_graph(app)[:1], [*browser_graph(app)[1], new_edge("trips", "join")])
    assert job(app).node("join").inputs == {"left": "zones", "right": "trips"}
    labels = {edge["label"] for edge in drawn_graph(app)["edges"] if edge["target"] == "join"}
    assert labels == {"left", "right"}


def test_dragged_edge_into_source_rejected(app):
    nodes, edges = browser_graph(app)
    send_event(app, nodes, [*edges, new_edge("trips_with_zones", "zones")])
    assert job(app).node("zones").inputs == {}
    assert any("takes no input" in item.value for item in app.warning)
    assert len(drawn_graph(app)["edges"]) == 4


def test_dragged_edge_closing_cycle_rejected(app):
    click_palette(app, "transform.sql")
    nodes, edges = browser_graph(app)
    send_event(app, nodes, [*edges, new_edge("revenue_by_borough", "sql_query")])
    assert job(app).node("sql_query").inputs == {"revenue_by_borough": "revenue_by_borough"}
    nodes, edges = browser_graph(app)
    send_event(app, nodes, [*edges, new_edge("sql_query", "trips_with_zones")])
    assert job(app).node("trips_with_zones").inputs == {"left": "trips", "right": "zones"}
    assert any("would close a cycle" in item.value for item in app.warning)


def test_dragged_edge_into_full_join_rejected(app):
    click_palette(app, "source.file")
    nodes, edges = browser_graph(app)
    send_event(app, nodes, [*edges, new_edge("file_source", "trips_with_zones")])
    assert job(app).node("trips_with_zones").inputs == {"left": "trips", "right": "zones"}
    assert any("already has every input port" in item.value for item in app.warning)
    assert len(drawn_graph(app)["edges"]) == 4


def test_canvas_edge_delete_clears_port(app):
    nodes, edges = browser_graph(app)
    remaining = [edge for edge in edges if edge["target"] != "revenue_by_borough"]
    send_event(app, nodes, remaining)
    assert job(app).node("revenue_by_borough").inputs == {}
    assert job(app).node("trips_with_zones").inputs == {"left": "trips", "right": "zones"}


def test_canvas_menu_delete_removes_node_and_edges(app):
    nodes, edges = browser_graph(app)
    nodes = [node for node in nodes if node["id"] != "trips_with_zones"]
    edges = [edge for edge in edges if "trips_with_zones" not in (edge["source"], edge["target"])]
    send_event(app, nodes, edges)
    assert not job(app).has_node("trips_with_zones")
    assert "trips_with_zones" not in job(app).layout
    assert job(app).node("revenue_by_borough").inputs == {}
    assert [node["id"] for node in drawn_graph(app)["nodes"]] == [
        "trips", "zones", "revenue_by_borough", "write_revenue"
    ]
    assert len(drawn_graph(app)["edges"]) == 1


def test_delete_button_removes_node_and_edges(app):
    click_node(app, "trips_with_zones")
    app.button(key=widget(app, "trips_with_zones", "delete")).click().run()
    assert not app.exception
    assert not job(app).has_node("trips_with_zones")
    assert job(app).node("revenue_by_borough").inputs == {}
    assert app.session_state["selected_node"] is None
    assert all("trips_with_zones" not in (e["source"], e["target"]) for e in drawn_graph(app)["edges"])


def test_join_swap_exchanges_ports_and_keys(app):
    click_node(app, "trips_with_zones")
    app.button(key=widget(app, "trips_with_zones", "swap")).click().run()
    node = job(app).node("trips_with_zones")
    assert node.inputs == {"left": "zones", "right": "trips"}
    assert node.params["keys"] == [{"left": "location_id", "right": "PULocationID"}]


def test_join_port_choice_from_properties(app):
    click_node(app, "trips_with_zones")
    app.selectbox(key=widget(app, "trips_with_zones", "port:right:zones")).set_value("trips").run()
    assert job(app).node("trips_with_zones").inputs == {"left": "trips", "right": "trips"}


def test_infer_schema_missing_file_shows_error(app):
    click_node(app, "zones")
    app.text_input(key=widget(app, "zones", "path")).set_value("assets/data/missing.csv").run()
    app.button(key=widget(app, "zones", "infer")).click().run()
    assert not app.exception
    messages = " ".join(errors(app))
    assert "node 'zones'" in messages
    assert "missing.csv" in messages


def test_infer_schema_stores_columns(app):
    click_node(app, "zones")
    job(app).node("zones").params["columns"] = []
    app.run()
    app.button(key=widget(app, "zones", "infer")).click().run()
    columns = job(app).node("zones").params["columns"]
    assert [column["name"] for column in columns] == ["location_id", "borough", "zone", "service_zone"]
    assert columns[0]["type"] == "bigint"
    assert not errors(app)


# --- job details, files and script ---------------------------------------------------------------------


def test_job_details_edit_changes_job(app):
    token = app.session_state["job_token"]
    app.text_input(key=f"{token}:job:name").set_value("taxi_renamed").run()
    app.number_input(key=f"{token}:job:sample_rows").set_value(50).run()
    app.text_input(key=f"{token}:job:time_zone").set_value("Europe/Berlin").run()
    assert job(app).name == "taxi_renamed"
    assert job(app).sample_rows == 50
    assert job(app).session_time_zone == "Europe/Berlin"
    assert "unsaved changes" in app.caption[0].value


def test_job_details_rejects_bad_time_zone(app):
    token = app.session_state["job_token"]
    app.text_input(key=f"{token}:job:time_zone").set_value("Mars/Olympus").run()
    assert job(app).session_time_zone == "UTC"
    assert any("Mars/Olympus" in message for message in errors(app))


def test_job_details_edit_preview_limits(app):
    token = app.session_state["job_token"]
    app.number_input(key=f"{token}:job:time_limit").set_value(2.5).run()
    app.number_input(key=f"{token}:job:memory_limit").set_value(256).run()
    assert job(app).time_limit_seconds == 2.5
    assert job(app).memory_limit_mb == 256


def test_sample_size_changes_preview(app):
    token = app.session_state["job_token"]
    app.number_input(key=f"{token}:job:sample_rows").set_value(25).run()
    click_node(app, "trips")
    assert (25, 19) in [frame.value.shape for frame in app.dataframe]


def test_unsaved_changes_warn_before_open(app, jobs_dir):
    click_palette(app, "transform.filter")
    app.button(key="open_job").click().run()
    assert any("unsaved changes" in item.value for item in app.warning)
    assert job(app).has_node("filter")
    app.button(key="cancel_discard").click().run()
    assert job(app).has_node("filter")
    assert not any("unsaved changes" in item.value for item in app.warning)


def test_discard_confirmation_opens_job(app, jobs_dir):
    click_palette(app, "transform.filter")
    app.button(key="open_job").click().run()
    app.button(key="confirm_discard").click().run()
    assert not job(app).has_node("filter")
    assert "unsaved changes" not in app.caption[0].value


def test_new_job_without_changes_needs_no_confirmation(app):
    app.button(key="new_job").click().run()
    assert job(app).nodes == []
    assert job(app).name == "untitled_job"


def test_save_writes_loadable_file(app, jobs_dir):
    click_node(app, "trips_with_zones")
    click_palette(app, "transform.filter")
    app.text_input(key=widget(app, "filter", "condition")).set_value("total_amount > 20").run()
    app.button(key="save_job").click().run()
    saved = load_job(jobs_dir / EXAMPLE.name)
    assert saved.node("filter").params == {"condition": "total_amount > 20"}
    assert saved.node("filter").inputs == {"in": "trips_with_zones"}
    assert "unsaved changes" not in app.caption[0].value


def test_save_rejects_path_in_file_name(app, jobs_dir):
    app.text_input(key=f"save_name:{app.session_state['job_token']}").set_value("../escape").run()
    app.button(key="save_job").click().run()
    assert any("is invalid" in message for message in errors(app))
    assert not (jobs_dir.parent / "escape.job.json").exists()


def test_save_asks_before_replacing_another_job(app, jobs_dir):
    other = jobs_dir / "other.job.json"
    other.write_text("keep me", encoding="utf-8")
    app.text_input(key=f"save_name:{app.session_state['job_token']}").set_value("other.job.json").run()
    app.button(key="save_job").click().run()
    assert other.read_text(encoding="utf-8") == "keep me"
    assert any("already holds another job" in item.value for item in app.warning)
    app.button(key="confirm_overwrite").click().run()
    assert load_job(other).name == "taxi_revenue_by_borough"


def test_open_error_stays_until_dismissed(app, jobs_dir):
    (jobs_dir / "broken.job.json").write_text("{not json", encoding="utf-8")
    app.run()
    app.selectbox(key="open_choice").set_value("broken.job.json").run()
    app.button(key="open_job").click().run()
    app.run()
    app.run()
    assert any("Could not open" in message for message in errors(app))
    app.button(key="dismiss_errors").click().run()
    assert not any("Could not open" in message for message in errors(app))


def test_script_tab_shows_code(app):
    code = "\n".join(block.value for block in app.code)
    assert "pyspark" in code
    assert "trips_with_zones" in code


def test_script_tab_lists_problems_when_invalid(app):
    if importlib.util.find_spec("codegen.pyspark") is None:
        pytest.skip("codegen/pyspark.py, the PySpark emitter, is not in the repository yet")
    click_palette(app, "transform.filter")
    markdown = " ".join(item.value for item in app.markdown)
    assert "missing required parameter 'condition'" in markdown


def test_bad_first_job_starts_new_job(jobs_dir, monkeypatch):
    broken = jobs_dir / "broken.job.json"
    broken.write_text("{not json", encoding="utf-8")
    monkeypatch.setenv("SPARKCANVAS_JOB", str(broken))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT).run()
    assert not at.exception
    assert job(at).name == "untitled_job"
    assert any("not valid JSON" in message for message in errors(at))


# --- runs ---------------------------------------------------------------------------------------------


def write_run(home: Path, run_id: str, status: str, error: str | None, log: str) -> None:
    """Store a finished run the way designer.runs does: run.json and log.txt in the run's folder."""
    folder = home / "runs" / run_id
    folder.mkdir(parents=True)
    (folder / "log.txt").write_text(log, encoding="utf-8")
    record = {
        "run_id": run_id, "job_name": "taxi_revenue_by_borough", "job_path": str(EXAMPLE),
        "status": status, "started_at": "2026-01-02T03:04:05.000+00:00",
        "ended_at": "2026-01-02T03:04:17.500+00:00", "master": "local[*]", "parameters": {},
        "log_path": str(folder / "log.txt"), "script_path": str(folder / "script.py"),
        "exit_code": 1 if status == "failed" else 0, "targets": [], "error": error,
    }
    (folder / "run.json").write_text(json.dumps(record), encoding="utf-8")


def test_runs_tab_lists_stored_runs(jobs_dir, tmp_path):
    write_run(tmp_path / "home", "20260102T030405000Z-aaaaaa", "failed",
              "node 'trips': file not found", "line one\nTraceback: boom\n")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT).run()
    assert not at.exception
    history = next(frame.value for frame in at.dataframe if "run" in frame.value.columns)
    assert history["status"].tolist() == ["failed"]
    assert history["duration (s)"].tolist() == [12.5]
    assert "node 'trips': file not found" in errors(at)
    assert any("Traceback: boom" in block.value for block in at.code)


def test_run_rejects_invalid_job(app):
    click_palette(app, "transform.filter")
    app.button(key="run_start").click().run()
    assert not app.exception
    assert any("Starting the run failed" in message for message in errors(app))
    assert "run_handle" not in app.session_state


@pytest.mark.spark
def test_run_writes_rows_with_spark(app, tmp_path):
    output = tmp_path / "out"
    token = app.session_state["job_token"]
    app.text_input(key=f"{token}:run_param:output_path").set_value(str(output)).run()
    app.button(key="run_start").click().run()
    handle = app.session_state["run_handle"]
    record = handle.wait(timeout=300)
    app.run()
    assert record.status == "succeeded", record.error
    assert record.targets == [{"node_id": "write_revenue", "path": str(output), "rows": 5}]
    captions = " ".join(item.value for item in app.caption)
    assert f"Node write_revenue wrote 5 rows to {output}" in captions
    assert any(path.suffix == ".parquet" for path in output.iterdir())


# --- form helpers -------------------------------------------------------------------------------------


def test_mapping_rows_one_per_input_column():
    from designer.schema import Column
    from designer.ui.forms import mapping_rows

    schema = [Column("a", "bigint"), Column("b", "string")]
    mappings = [{"source": "B", "target": "bee", "type": "string", "drop": False},
                {"source": "gone", "target": "gone", "type": "int", "drop": False}]
    rows = mapping_rows(mappings, schema)
    assert rows[0] == {"source": "a", "keep": False, "target": "a", "type": "bigint"}
    assert rows[1] == {"source": "B", "keep": True, "target": "bee", "type": "string"}
    assert rows[2]["source"] == "gone"


def test_change_schema_starts_from_input(app):
    click_node(app, "trips_with_zones")
    click_palette(app, "transform.change_schema")
    mappings = job(app).node("change_schema").params["mappings"]
    assert len(mappings) == 23
    assert mappings[0] == {"source": "VendorID", "target": "VendorID", "type": "bigint", "drop": False}
    assert not errors(app)


@pytest.mark.spark
def test_check_against_spark_button(app, spark):
    click_node(app, "revenue_by_borough")
    token = app.session_state["job_token"]
    app.button(key=f"{token}:revenue_by_borough:check_spark").click().run(timeout=300)
    successes = [item.value for item in app.success]
    assert any(message.startswith("Spark agrees: the same 5 rows") for message in successes)


def test_approximate_node_shows_reason(jobs_dir, monkeypatch):
    approximate = load_job(jobs_dir / EXAMPLE.name)
    aggregate = approximate.node("revenue_by_borough")
    aggregate.params["aggregations"].append({"function": "first", "column": "zone", "name": "a_zone"})
    save_job(approximate, jobs_dir / "approximate.job.json")
    monkeypatch.setenv("SPARKCANVAS_JOB", str(jobs_dir / "approximate.job.json"))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    at.run()
    click_node(at, "revenue_by_borough")
    warnings = [item.value for item in at.warning]
    assert any("Approximate: Revenue by borough: first() depends on row order" in w for w in warnings)


def test_source_sampling_switches_to_random(app):
    click_node(app, "trips")
    token = app.session_state["job_token"]
    app.selectbox(key=f"{token}:trips:sampling").set_value("random").run()
    app.number_input(key=f"{token}:trips:seed").set_value(3).run()
    assert job(app).sampling_of("trips") == Sampling("random", 3)
    captions = " ".join(item.value for item in app.caption)
    assert "Trips: random sample of 1000 rows (seed 3)" in captions
