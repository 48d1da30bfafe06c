"""Shared fixtures: one local Spark session per test run, and paths to the bundled data."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ASSETS = ROOT / "assets"
TEST_DATA = Path(__file__).resolve().parent / "data"
EXAMPLE_JOB = ASSETS / "jobs" / "taxi_revenue_by_borough.job.json"

# Published figures for the taxi example: borough -> (trips, total_amount).
TAXI_FIGURES = {
    "Manhattan": (810, 13628.39),
    "Queens": (164, 7874.65),
    "Unknown": (13, 685.88),
    "Brooklyn": (7, 236.71),
    "Bronx": (6, 143.21),
}


# PySpark turns timestamps into naive datetimes in the process's time zone; pin it to UTC,
# the session time zone of every test job.
os.environ["TZ"] = "UTC"
time.tzset()


@pytest.fixture(autouse=True, scope="session")
def _project_root_as_working_folder():
    """Job files name data relative to the project root, as the README's commands run there."""
    previous = os.getcwd()
    os.chdir(ROOT)
    yield
    os.chdir(previous)


@pytest.fixture(autouse=True, scope="session")
def _private_sparkcanvas_home(tmp_path_factory):
    """Keep every test away from the user's own catalog, runs and schedules."""
    home = tmp_path_factory.mktemp("sparkcanvas-home")
    names = ("SPARKCANVAS_HOME", "SPARKCANVAS_CATALOG", "SPARKCANVAS_RUNS_DB")
    previous = {name: os.environ.pop(name, None) for name in names}
    os.environ["SPARKCANVAS_HOME"] = str(home)
    yield home
    for name, value in previous.items():
        os.environ.pop(name, None)
        if value is not None:
            os.environ[name] = value


@pytest.fixture(scope="session")
def spark():
    """Start one local Spark session for the whole test run."""
    from designer.spark_check import start_local_session

    session = start_local_session("sparkcanvas-tests", master="local[2]")
    yield session
    session.stop()


@pytest.fixture
def sparkcanvas_home(tmp_path, monkeypatch):
    """Keep run records and other per-user state of a test in a temporary folder."""
    home = tmp_path / "sparkcanvas-home"
    monkeypatch.setenv("SPARKCANVAS_HOME", str(home))
    return home


@pytest.fixture(scope="session")
def postgres_server():
    """Start one PostgreSQL server on 127.0.0.1 for the whole test run; see tests/postgres_server.py."""
    from tests.postgres_server import PostgresServerError, ServerProcess

    try:
        process = ServerProcess()
        server = process.start()
    except PostgresServerError as error:
        pytest.fail(str(error), pytrace=False)
    try:
        yield server
    finally:
        process.stop()


@pytest.fixture(scope="session")
def spark_cluster():
    """Start one standalone Spark cluster on 127.0.0.1 for the whole test run; see tests/spark_cluster.py."""
    from tests.spark_cluster import SparkClusterError, StandaloneCluster

    cluster = StandaloneCluster()
    try:
        cluster.start()
    except SparkClusterError as error:
        cluster.stop(keep_logs=True)
        pytest.fail(str(error), pytrace=False)
    try:
        yield cluster
    finally:
        cluster.stop()
