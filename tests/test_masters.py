"""The check of Spark master URLs and the default master of a job."""

from __future__ import annotations

import pytest

from designer import runs
from designer.cli import main
from designer.errors import RunError
from designer.masters import check_master, is_local, job_master
from designer.model import RunSettings
from tests.conftest import EXAMPLE_JOB
from tests.jobs import job, node, source


@pytest.mark.parametrize(
    "master",
    [
        "local",
        "local[*]",
        "local[4]",
        "local[2, 3]",
        "local[*,2]",
        "local-cluster[2,1,1024]",
        "spark://127.0.0.1:7077",
        "spark://master-a:7077,master-b:7077",
        "yarn",
        "k8s://https://127.0.0.1:6443",
        "k8s://127.0.0.1:6443",
    ],
)
def test_accepted_masters(master):
    assert check_master(f" {master} ") == master


@pytest.mark.parametrize(
    ("master", "message"),
    [
        ("", "empty"),
        ("local[0]", r"local\[N\] with N threads"),
        ("local[two]", r"local\[N\] with N threads"),
        ("spark://127.0.0.1", "'127.0.0.1' is not HOST:PORT"),
        ("spark://127.0.0.1:99999", "is not HOST:PORT"),
        ("spark://", "is not HOST:PORT"),
        ("yarn-cluster", "--deploy-mode"),
        ("mesos://127.0.0.1:5050", "Mesos"),
        ("127.0.0.1:7077", "write spark://127.0.0.1:7077"),
        ("k8s://", "Kubernetes API server"),
        ("k8s://https://", "Kubernetes API server"),
        ("cluster", "invalid Spark master 'cluster'"),
    ],
)
def test_rejected_masters(master, message):
    with pytest.raises(RunError, match=message):
        check_master(master)


def test_local_masters():
    assert is_local("local[*]")
    assert is_local("local-cluster[2,1,1024]")
    assert not is_local("spark://127.0.0.1:7077")


def test_job_master_default_and_setting():
    plain = job()
    assert job_master(plain) == "local[*]"
    plain.run = RunSettings(master="spark://127.0.0.1:7077")
    assert job_master(plain) == "spark://127.0.0.1:7077"


def test_start_run_rejects_invalid_master(sparkcanvas_home, tmp_path):
    (tmp_path / "numbers.csv").write_text("id\n1\n", encoding="utf-8")
    one_row = job(
        source("numbers", tmp_path / "numbers.csv", [{"name": "id", "type": "bigint"}]),
        node("write_numbers", "target.file", {"in": "numbers"}, path=str(tmp_path / "out")),
    )
    with pytest.raises(RunError, match="spark://HOST:PORT"):
        runs.start_run(one_row, tmp_path / "numbers.job.json", master="spark://nohost")
    assert not (sparkcanvas_home / "runs").exists() or not any((sparkcanvas_home / "runs").iterdir())


def test_cli_run_rejects_invalid_master(sparkcanvas_home, capsys):
    assert main(["run", str(EXAMPLE_JOB), "--master", "spark://127.0.0.1"]) == 1
    error = capsys.readouterr().err
    assert "invalid standalone Spark master 'spark://127.0.0.1'" in error
    assert "spark://HOST:PORT" in error
