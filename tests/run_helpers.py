"""Helpers for the run tests: a slow Spark job, a stand-in spark-submit, and polling."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from designer.model import Job
from tests.jobs import job, node, source

SPARKCANVAS = Path(sys.executable).parent / "sparkcanvas"
# Each row builds an array of 20 million integers. Estimate: about 0.3 s per row on one core
# (Spark 4.3.0 local[1] on a 2-core machine, 8 rows in 2.4 s).
SLOW_EXPRESSION = "size(sequence(1, id * 0 + 20000000))"
SLOW_COLUMNS = [{"name": "id", "type": "bigint"}]

# Stands in for spark-submit where a test checks the run manager's bookkeeping, not Spark.
FAKE_SPARK_SUBMIT = """\
#!{python}
# Stands in for spark-submit: logs like the generated script, then behaves as FAKE_MODE selects.
import os, sys, time

print("argv", " ".join(sys.argv[1:]))
print("PYSPARK_PYTHON", os.environ.get("PYSPARK_PYTHON"))
print("SPARK_LOCAL_IP", os.environ.get("SPARK_LOCAL_IP"), flush=True)
mode = os.environ.get("FAKE_MODE", "succeed")
if mode == "crash-before-nodes":
    print("Error: Could not find or load main class")
    sys.exit(2)
print("INFO sparkcanvas.job: Running node trips", flush=True)
if mode == "sleep":
    time.sleep(60)
if mode == "raise":
    try:
        raise KeyError("inner")
    except KeyError:
        raise ValueError("boom in trips")
print("INFO sparkcanvas.job: Running node write_revenue")
print("INFO sparkcanvas.job: Node write_revenue wrote 5 rows to /tmp/out dir")
"""


def write_fake_spark_submit(folder: Path) -> Path:
    script = folder / "spark-submit"
    script.write_text(FAKE_SPARK_SUBMIT.format(python=sys.executable), encoding="utf-8")
    script.chmod(0o755)
    return script


def slow_job(folder: Path, rows: int, name: str = "slow_job") -> Job:
    """Return a job that spends about 0.3 s per input row in one Spark task, then writes Parquet."""
    data = folder / f"{name}_input.csv"
    data.write_text("id\n" + "".join(f"{index}\n" for index in range(rows)), encoding="utf-8")
    slow = job(
        source("numbers", data, SLOW_COLUMNS),
        node(
            "pause", "transform.derived_column", {"in": "numbers"}, column="size", expression=SLOW_EXPRESSION
        ),
        node("write", "target.file", {"in": "pause"}, path=str(folder / f"{name}_output"), format="parquet"),
    )
    slow.name = name
    return slow


def wait_for(check: Callable[[], Any], timeout: float, description: str, interval: float = 0.2) -> Any:
    """Call `check` until it returns a true value and return that value; fail after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out after {timeout} s waiting for {description}"
        time.sleep(interval)


def subprocess_environment(home: Path) -> dict[str, str]:
    return {**os.environ, "SPARKCANVAS_HOME": str(home), "SPARK_LOCAL_IP": "127.0.0.1"}
