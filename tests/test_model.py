"""The job file and validation: every problem names the node, the parameter and the value."""

from __future__ import annotations

import json
import os

import pytest

from designer.errors import JobFormatError
from designer.model import FORMAT, Job, job_to_json, load_job, save_job
from designer.validation import validate
from tests.conftest import ASSETS
from tests.jobs import job, node, orders, people

EXAMPLES = sorted((ASSETS / "jobs").glob("*.job.json"))


def messages(the_job: Job) -> list[str]:
    return [str(problem) for problem in validate(the_job).problems]


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda path: path.name)
def test_examples_are_valid_and_canonical(path):
    loaded = load_job(path)
    assert validate(loaded).problems == []
    assert job_to_json(loaded) == path.read_text(encoding="utf-8")


def test_save_is_atomic_when_rename_fails(tmp_path, monkeypatch):
    target = tmp_path / "job.job.json"
    original = load_job(EXAMPLES[0])
    save_job(original, target)
    before = target.read_text(encoding="utf-8")
    changed = original.copy()
    changed.description = "changed"

    def failing_replace(source, destination):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError):
        save_job(changed, target)
    assert target.read_text(encoding="utf-8") == before
    assert [path.name for path in tmp_path.iterdir()] == ["job.job.json"]


def test_moving_a_node_changes_only_layout(tmp_path):
    path = tmp_path / "job.job.json"
    the_job = load_job(EXAMPLES[0])
    save_job(the_job, path)
    before = json.loads(path.read_text())
    the_job.layout["trips"] = {"x": 12.0, "y": 34.0}
    save_job(the_job, path)
    after = json.loads(path.read_text())
    assert after["nodes"] == before["nodes"]
    assert after["layout"]["trips"] == {"x": 12.0, "y": 34.0}


def test_unsupported_format_version_is_rejected(tmp_path):
    path = tmp_path / "future.job.json"
    path.write_text(json.dumps({"format": "sparkcanvas.job/2", "name": "x", "nodes": []}))
    with pytest.raises(JobFormatError, match=r"unsupported format 'sparkcanvas.job/2'"):
        load_job(path)


def test_invalid_json_names_line_and_column(tmp_path):
    path = tmp_path / "broken.job.json"
    path.write_text('{"format": "sparkcanvas.job/1",\n  "name": }')
    with pytest.raises(JobFormatError, match=r"line 2, column 11"):
        load_job(path)


def test_wrong_envelope_types_are_reported(tmp_path):
    path = tmp_path / "odd.job.json"
    path.write_text(json.dumps({"format": FORMAT, "name": 5, "nodes": [{"id": "a"}]}))
    with pytest.raises(JobFormatError) as error:
        load_job(path)
    assert "at name: 5 is not of type 'string'" in str(error.value)
    assert "'type' is a required property" in str(error.value)


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(JobFormatError, match="job file not found"):
        load_job(tmp_path / "nope.job.json")


def test_unknown_node_type_suggests_the_closest():
    found = messages(
        job(node("f", "transform.filter", {"in": "p"}, condition="1 = 1"), _raw_node("p", "source.fille"))
    )
    assert found == [
        "node 'p': unknown node type 'source.fille'. Did you mean 'source.file' or 'source.catalog' or "
        "'target.file'?"
    ]


def _raw_node(node_id, node_type):
    from designer.model import Node

    return Node(node_id, node_type, node_id, {}, {})


def test_missing_and_unknown_ports():
    found = messages(
        job(
            people(),
            node(
                "j",
                "transform.join",
                {"left": "people", "side": "people"},
                keys=[{"left": "id", "right": "id"}],
            ),
        )
    )
    assert "node 'j', parameter 'inputs': missing input port 'right'; connect a node to it" in found
    assert any("unknown input port 'side'; Join takes 'left', 'right'" in item for item in found)


def test_input_naming_a_missing_node():
    found = messages(job(people(), node("f", "transform.filter", {"in": "peple"}, condition="id > 1")))
    assert (
        "node 'f', parameter 'inputs': input 'in' names node 'peple', which does not exist. "
        "Did you mean 'people'?"
    ) in found


def test_cycle_is_reported_with_its_path():
    found = messages(
        job(
            node("a", "transform.filter", {"in": "b"}, condition="true"),
            node("b", "transform.filter", {"in": "a"}, condition="true"),
        )
    )
    cycles = [item for item in found if "the graph has a cycle" in item]
    assert len(cycles) == 1
    assert "a -> b" in cycles[0] or "b -> a" in cycles[0]


def test_duplicate_ids():
    found = messages(job(people(), people()))
    assert "node 'people': duplicate node id 'people'; every node needs its own id" in found


def test_missing_required_parameter():
    found = messages(job(people(), node("f", "transform.filter", {"in": "people"}, condition="")))
    assert "node 'f', parameter 'condition': missing required parameter 'condition' (Condition)" in found


def test_wrong_parameter_type():
    found = messages(job(people(), node("f", "transform.filter", {"in": "people"}, condition=5)))
    assert "node 'f', parameter 'condition': condition must be a str, not int (5)" in found


def test_unknown_choice_and_unknown_parameter():
    target = node("t", "target.file", {"in": "people"}, path="out", mode="overwrit", colour="red")
    found = messages(job(people(), target))
    assert any(
        item.startswith("node 't', parameter 'mode': 'overwrit' is not a valid mode")
        and "Did you mean 'overwrite'?" in item
        for item in found
    )
    assert "node 't', parameter 'colour': unknown parameter 'colour'." in found


def test_unknown_column_lists_closest_names():
    found = messages(job(people(), node("f", "transform.filter", {"in": "people"}, condition="scor > 1")))
    assert len(found) == 1
    assert found[0].startswith(
        "node 'f', parameter 'condition': unknown column 'scor'. Did you mean 'score'?"
    )


def test_expression_syntax_error_has_position():
    found = messages(job(people(), node("f", "transform.filter", {"in": "people"}, condition="score >")))
    assert found[0].startswith("node 'f', parameter 'condition': syntax error at line 1, column")


def test_filter_must_be_boolean():
    found = messages(job(people(), node("f", "transform.filter", {"in": "people"}, condition="score + 1")))
    assert "the condition gives double, not boolean" in found[0]


def test_unknown_job_parameter_reference():
    target = node("t", "target.file", {"in": "people"}, path="out/${rnu}")
    found = messages(job(people(), target, parameters=[("run", "1")]))
    assert any("${rnu} names no job parameter" in item and "Did you mean 'run'?" in item for item in found)


def test_join_schema_prefixes_clashing_right_columns():
    joined = node(
        "j",
        "transform.join",
        {"left": "people", "right": "orders"},
        keys=[{"left": "id", "right": "person_id"}],
        right_prefix="o_",
    )
    result = validate(job(people(), orders(), joined))
    names = [column.name for column in result.schemas["j"]]
    assert names == ["id", "name", "city", "score", "joined", "order_id", "person_id", "amount", "note"]


def test_join_prefix_applies_to_same_named_keys():
    other = people()
    other.id = "other"
    joined = node(
        "j",
        "transform.join",
        {"left": "people", "right": "other"},
        keys=[{"left": "id", "right": "id"}],
        right_prefix="r_",
    )
    result = validate(job(people(), other, joined))
    assert [column.name for column in result.schemas["j"]][5:] == [
        "r_id",
        "r_name",
        "r_city",
        "r_score",
        "r_joined",
    ]


def test_aggregate_types_follow_spark():
    aggregate = node(
        "a",
        "transform.aggregate",
        {"in": "orders"},
        group_by=["person_id"],
        aggregations=[
            {"function": "sum", "column": "order_id", "name": "s"},
            {"function": "avg", "column": "amount", "name": "m"},
            {"function": "count", "column": "*", "name": "n"},
        ],
    )
    result = validate(job(orders(), aggregate))
    assert [(c.name, c.type) for c in result.schemas["a"]] == [
        ("person_id", "bigint"),
        ("s", "bigint"),
        ("m", "double"),
        ("n", "bigint"),
    ]


def test_sum_of_text_is_rejected_with_the_fix():
    aggregate = node(
        "a",
        "transform.aggregate",
        {"in": "people"},
        aggregations=[{"function": "sum", "column": "name", "name": "s"}],
    )
    found = messages(job(people(), aggregate))
    assert "sum(name) needs a numeric column, and name is string" in found[0]


def test_sql_query_must_read_its_inputs():
    query = node("q", "transform.sql", {"p": "people"}, query="SELECT * FROM peeple")
    found = messages(job(people(), query))
    assert "the query reads table 'peeple', which is not an input" in found[0]


def test_broken_node_reported_once():
    broken = node("f", "transform.filter", {"in": "people"}, condition="nope > 1")
    after = node("g", "transform.filter", {"in": "f"}, condition="also_nope > 1")
    assert len(messages(job(people(), broken, after))) == 1


def test_non_utf8_job_file_is_a_clear_error(tmp_path):
    path = tmp_path / "latin1.job.json"
    path.write_bytes('{"format": "sparkcanvas.job/1", "name": "caf\u00e9", "nodes": []}'.encode("latin-1"))
    with pytest.raises(JobFormatError, match="not UTF-8 text"):
        load_job(path)


def test_saved_job_has_the_usual_permissions(tmp_path):
    target = tmp_path / "job.job.json"
    save_job(load_job(EXAMPLES[0]), target)
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask


def test_save_rejects_a_path_that_is_a_folder(tmp_path):
    folder = tmp_path / "folder.job.json"
    folder.mkdir()
    with pytest.raises(OSError, match="not a regular file"):
        save_job(load_job(EXAMPLES[0]), folder)
    assert folder.is_dir()


def test_case_colliding_source_columns_need_a_rename():
    source = people()
    source.params["columns"] = [{"name": "a", "type": "int"}, {"name": "A", "type": "int"}]
    found = messages(job(source))
    assert len(found) == 1
    assert "column 'A' appears twice (Spark compares names case-insensitively" in found[0]
