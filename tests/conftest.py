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
