"""The safe write of file targets: the generated helper in the shared Spark session, then
real spark-submit runs that fail, are killed, or are retried while writing."""

from __future__ import annotations

import logging
import os
import signal
import time
import uuid
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from pyspark.sql import DataFrameWriter, SparkSession
from pyspark.sql import functions as F

from codegen.safe_write import HELPER_SOURCE, RUN_ID_CONF
from designer import runs
from designer.model import RunSettings
from tests.jobs import job, node, source

pytestmark = pytest.mark.spark

SPARK_RUN_TIMEOUT = 300  # seconds
PARTIAL_WRITE_TIMEOUT = 120  # seconds to wait for a run to start writing its target
NUMBER_COLUMNS = [{"name": "id", "type": "bigint"}, {"name": "value", "type": "string"}]


@pytest.fixture(scope="module")
def save_safely(spark):
    """The helper as the generated script defines it."""
    namespace = {
        "SparkSession": SparkSession,
        "DataFrameWriter": DataFrameWriter,
        "uuid": uuid,
        "log": logging.getLogger("sparkcanvas.job"),
    }
    exec(compile(HELPER_SOURCE, "<save_safely>", "exec"), namespace)
    return namespace["save_safely"]


@pytest.fixture
def run_id(spark):
    """Set the run id the runner would pass, and remove it after the test."""
    spark.conf.set(RUN_ID_CONF, "run-1")
    yield "run-1"
    spark.conf.unset(RUN_ID_CONF)


def rows_of(path: Path) -> list[tuple]:
    table = pq.read_table(path)
    return sorted(tuple(row.values()) for row in table.to_pylist())


def files_of(path: Path) -> list[str]:
    return sorted(str(file.relative_to(path)) for file in path.rglob("*") if file.is_file())


def entries_beside(path: Path) -> list[str]:
    """Names beside the target other than the target: staging and backup folders left behind."""
    return sorted(entry.name for entry in path.parent.iterdir() if entry.name != path.name)


def write_old_target(path: Path, spark) -> list[str]:
    spark.createDataFrame([(1, "old"), (2, "old")], "id bigint, value string").write.parquet(str(path))
    return files_of(path)


def failing_frame(spark):
    """Rows in four write tasks, one of which raises under ANSI mode when it casts its last row."""
    values = [(index, str(index)) for index in range(1, 200)] + [(200, "not a number")]
    frame = spark.createDataFrame(values, "id bigint, value string").repartition(4, "id")
    return frame.select("id", F.expr("CAST(value AS INT)").alias("value"))


# --- the helper in the shared session --------------------------------------------------------


def test_overwrite_replaces_target(spark, save_safely, run_id, tmp_path):
    target = tmp_path / "out"
    write_old_target(target, spark)
    frame = spark.createDataFrame([(3, "new")], "id bigint, value string")
    assert save_safely(spark, frame.write.format("parquet"), str(target), "overwrite")
    assert rows_of(target) == [(3, "new")]
    assert entries_beside(target) == []


@pytest.mark.parametrize("mode", ["overwrite", "append"])
def test_failed_write_keeps_target(spark, save_safely, run_id, tmp_path, mode):
    target = tmp_path / "out"
    old_files = write_old_target(target, spark)
    with pytest.raises(Exception, match="CAST_INVALID_INPUT"):
        save_safely(spark, failing_frame(spark).write.format("parquet"), str(target), mode)
    assert files_of(target) == old_files
    assert rows_of(target) == [(1, "old"), (2, "old")]
    assert entries_beside(target) == []


def test_partitioned_overwrite(spark, save_safely, run_id, tmp_path):
    target = tmp_path / "out"
    write_old_target(target, spark)
    frame = spark.createDataFrame([(1, "a"), (2, "b")], "id bigint, value string")
    assert save_safely(spark, frame.write.format("parquet").partitionBy("value"), str(target), "overwrite")
    assert sorted(entry.name for entry in target.iterdir() if entry.is_dir()) == ["value=a", "value=b"]
    assert sorted(spark.read.parquet(str(target)).collect()) == [(1, "a"), (2, "b")]


def test_partitioned_append_once_per_run(spark, save_safely, run_id, tmp_path):
    target = tmp_path / "out"
    frame = spark.createDataFrame([(1, "a"), (2, "b")], "id bigint, value string")
    writer = frame.write.format("parquet").partitionBy("value")
    assert save_safely(spark, writer, str(target), "append")
    assert not save_safely(spark, writer, str(target), "append")  # the same run id again
    data_files = [name for name in files_of(target) if not Path(name).name.startswith((".", "_"))]
    assert data_files
    assert all(name.startswith("value=") for name in data_files)
    assert all(Path(name).name.startswith("run-1-") for name in data_files)
    assert spark.read.parquet(str(target)).count() == 2

    spark.conf.set(RUN_ID_CONF, "run-2")
    assert save_safely(spark, writer, str(target), "append")
    assert spark.read.parquet(str(target)).count() == 4
    assert entries_beside(target) == []


def test_append_retry_after_partial_move(spark, save_safely, run_id, tmp_path):
    """An attempt stopped while moving its files left one of them; the retry appends once."""
    target = tmp_path / "out"
    write_old_target(target, spark)
    leftover = next(target.glob("part-*.parquet"))
    (target / f"run-1-{leftover.name}").write_bytes(leftover.read_bytes())
    (target / "_sparkcanvas_appending-run-1").touch()

    frame = spark.createDataFrame([(3, "new")], "id bigint, value string")
    assert save_safely(spark, frame.write.format("parquet"), str(target), "append")
    assert rows_of(target) == [(1, "old"), (2, "old"), (3, "new")]
    assert (target / "_sparkcanvas_appended-run-1").exists()
    assert not (target / "_sparkcanvas_appending-run-1").exists()


def test_overwrite_restores_backup_of_stopped_attempt(spark, save_safely, run_id, tmp_path):
    """An attempt stopped between its two renames left only the backup; the retry replaces it."""
    target = tmp_path / "out"
    write_old_target(target, spark)
    target.rename(tmp_path / ".out.backup-run-1")
    frame = spark.createDataFrame([(3, "new")], "id bigint, value string")
    assert save_safely(spark, frame.write.format("parquet"), str(target), "overwrite")
    assert rows_of(target) == [(3, "new")]
    assert entries_beside(target) == []


def test_errorifexists_and_ignore(spark, save_safely, run_id, tmp_path):
    target = tmp_path / "out"
    old_files = write_old_target(target, spark)
    frame = spark.createDataFrame([(3, "new")], "id bigint, value string")
    with pytest.raises(FileExistsError, match="PATH_ALREADY_EXISTS"):
        save_safely(spark, frame.write.format("parquet"), str(target), "errorifexists")
    assert not save_safely(spark, frame.write.format("parquet"), str(target), "ignore")
    assert files_of(target) == old_files

    fresh = tmp_path / "fresh"
    assert save_safely(spark, frame.write.format("parquet"), str(fresh), "errorifexists")
    assert rows_of(fresh) == [(3, "new")]


def test_target_at_root_rejected(spark, save_safely, run_id):
    frame = spark.createDataFrame([(3, "new")], "id bigint, value string")
    with pytest.raises(ValueError, match="below the root"):
        save_safely(spark, frame.write.format("parquet"), "/", "overwrite")


# --- real spark-submit runs ------------------------------------------------------------------


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "home"
    monkeypatch.setenv("SPARKCANVAS_HOME", str(folder))
    monkeypatch.setenv("SPARK_LOCAL_IP", "127.0.0.1")
    return folder


def cast_job(input_csv: Path, target: Path, mode: str):
    """A job that casts `value` to int, which raises under ANSI mode on a row that is not a number."""
    return job(
        source("numbers", input_csv, NUMBER_COLUMNS),
        node(
            "as_int",
            "transform.derived_column",
            {"in": "numbers"},
            column="value",
            expression="CAST(value AS INT)",
        ),
        node("write_numbers", "target.file", {"in": "as_int"}, path=str(target), mode=mode),
    )


def write_numbers(path: Path, count: int, last: str | None = None) -> Path:
    lines = ["id,value", *(f"{index},{index}" for index in range(1, count + 1))]
    if last is not None:
        lines.append(f"{count + 1},{last}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("mode", ["overwrite", "append"])
def test_failed_run_keeps_target(spark, home, tmp_path, mode):
    target = tmp_path / "out"
    old_files = write_old_target(target, spark)
    numbers = write_numbers(tmp_path / "numbers.csv", 50_000, last="not a number")

    record = runs.run_job(cast_job(numbers, target, mode), tmp_path / "cast.job.json", master="local[2]")
    assert record.status == runs.FAILED
    assert "CAST_INVALID_INPUT" in record.error
    assert files_of(target) == old_files
    assert rows_of(target) == [(1, "old"), (2, "old")]


@pytest.mark.parametrize("stop", ["cancel_run", "SIGKILL"])
def test_stopped_run_keeps_target(spark, home, tmp_path, stop):
    target = tmp_path / "out"
    old_files = write_old_target(target, spark)
    numbers = write_numbers(tmp_path / "numbers.csv", 3_000_000)
    handle = runs.start_run(cast_job(numbers, target, "overwrite"), tmp_path / "cast.job.json", "local[2]")

    staging = tmp_path / f".out.staging-{handle.run_id}"
    deadline = time.monotonic() + PARTIAL_WRITE_TIMEOUT
    while not (staging / "_temporary").exists():
        assert handle.poll() in runs.ACTIVE_STATUSES, runs.read_log_tail(handle.record, 40)
        assert time.monotonic() < deadline, "the run did not start writing"
        time.sleep(0.05)
    if stop == "cancel_run":
        runs.cancel_run(handle.run_id)
    else:
        os.killpg(handle.record.pid, signal.SIGKILL)  # the process group that start_run started

    record = handle.wait(SPARK_RUN_TIMEOUT)
    assert record.status == (runs.CANCELLED if stop == "cancel_run" else runs.FAILED)
    assert files_of(target) == old_files
    assert rows_of(target) == [(1, "old"), (2, "old")]


def test_append_retry_appends_once(spark, home, tmp_path):
    """Each attempt appends to `appended`, then fails on `checked`; the retry, which has the
    same run id, skips the append the first attempt made."""
    appended = tmp_path / "appended"
    good = write_numbers(tmp_path / "good.csv", 10)
    bad = write_numbers(tmp_path / "bad.csv", 10, last="not a number")
    two_targets = job(
        source("a_numbers", good, NUMBER_COLUMNS),
        node("a_write", "target.file", {"in": "a_numbers"}, path=str(appended), mode="append"),
        source("b_numbers", bad, NUMBER_COLUMNS),
        node(
            "b_as_int",
            "transform.derived_column",
            {"in": "b_numbers"},
            column="value",
            expression="CAST(value AS INT)",
        ),
        node("b_write", "target.file", {"in": "b_as_int"}, path=str(tmp_path / "checked")),
    )
    two_targets.run = RunSettings(retries=1, retry_delay_seconds=0)

    record = runs.run_job(two_targets, tmp_path / "two.job.json", master="local[2]")
    assert record.status == runs.FAILED
    assert record.attempt == 2
    first_log = (Path(record.log_path).parent / "log.txt").read_text(encoding="utf-8")
    assert "Node a_write wrote 10 rows" in first_log
    assert "already appended" in Path(record.log_path).read_text(encoding="utf-8")
    assert len(rows_of(appended)) == 10
    assert not (tmp_path / "checked").exists()
