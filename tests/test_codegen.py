"""The PySpark emitter: golden scripts, determinism, quoting of hostile strings, ruff."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from codegen.duckdb_preview import LOWERINGS
from codegen.pyspark import EMITTERS, emit_script
from designer.model import load_job, save_job
from designer.nodes import NODE_TYPES
from tests.conftest import ASSETS
from tests.fidelity import assert_same_result
from tests.jobs import job, node, source

GOLDEN = Path(__file__).resolve().parent / "golden"
EXAMPLE_JOBS = sorted((ASSETS / "jobs").glob("*.job.json"))
# The rules a careful reader of generated code expects; long user strings may pass 88 columns.
RUFF_RULES = "E,F,W,I,B,UP"


def ruff_check(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "ruff",
            "check",
            "--isolated",
            "--select",
            RUFF_RULES,
            "--ignore",
            "E501",
            str(path),
        ],
        capture_output=True,
        text=True,
    )


@pytest.mark.parametrize("job_path", EXAMPLE_JOBS, ids=lambda path: path.name)
def test_example_script_matches_golden(job_path):
    script = emit_script(load_job(job_path))
    golden = GOLDEN / job_path.name.replace(".job.json", ".py")
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text(script, encoding="utf-8")
    assert script == golden.read_text(encoding="utf-8"), (
        f"{golden.name} differs; if the change is intended, rerun with UPDATE_GOLDEN=1"
    )


@pytest.mark.parametrize("job_path", EXAMPLE_JOBS, ids=lambda path: path.name)
def test_example_script_compiles_and_passes_ruff(job_path, tmp_path):
    script = emit_script(load_job(job_path))
    compile(script, job_path.name, "exec")
    target = tmp_path / "script.py"
    target.write_text(script, encoding="utf-8")
    result = ruff_check(target)
    assert result.returncode == 0, result.stdout


def test_script_is_byte_identical_after_save_and_load(tmp_path):
    original = load_job(EXAMPLE_JOBS[0])
    copy_path = tmp_path / "copy.job.json"
    save_job(original, copy_path)
    assert emit_script(load_job(copy_path)) == emit_script(original)
    assert emit_script(original) == emit_script(load_job(EXAMPLE_JOBS[0]))


def test_every_node_type_has_both_backends():
    assert set(EMITTERS) == set(NODE_TYPES)
    assert set(LOWERINGS) == set(NODE_TYPES)


HOSTILE = 'it\'s "quoted" \\ back\\slash {braces} """ triple\nnew line'


def hostile_job(tmp_path):
    data = tmp_path / "odd 'name'.csv"
    data.write_text('a b.c,`tick`,plain\n1,x"y,"q,r"\n2,\\,z\n', encoding="utf-8")
    columns = [
        {"name": "a b.c", "type": "int"},
        {"name": "`tick`", "type": "string"},
        {"name": "plain", "type": "string"},
    ]
    the_job = job(
        source("odd", data, columns),
        node("kept", "transform.filter", {"in": "odd"}, condition="`a b.c` > 0 AND plain <> 'it''s'"),
        node(
            "named",
            "transform.derived_column",
            {"in": "kept"},
            column='new "col"',
            expression="concat(```tick```, '\\\\', '\"')",
        ),
        node(
            "totals",
            "transform.aggregate",
            {"in": "named"},
            group_by=["a b.c"],
            aggregations=[{"function": "count", "column": "`tick`", "name": "n 'ticks'"}],
        ),
        node("out", "target.file", {"in": "totals"}, path=str(tmp_path / "out {1}") + "/${run}"),
        parameters=[("run", HOSTILE)],
    )
    for item in the_job.nodes:
        item.name = HOSTILE
    the_job.description = HOSTILE
    return the_job


def test_hostile_strings_are_quoted(tmp_path):
    the_job = hostile_job(tmp_path)
    script = emit_script(the_job)
    compile(script, "hostile.py", "exec")
    target = tmp_path / "hostile.py"
    target.write_text(script, encoding="utf-8")
    result = ruff_check(target)
    assert result.returncode == 0, result.stdout
    assert 'f"' in script
    assert "{args.run}" in script
    assert "{{1}}" in script


@pytest.mark.spark
def test_hostile_job_agrees_on_spark(spark, tmp_path):
    assert_same_result(spark, hostile_job(tmp_path), "named")
