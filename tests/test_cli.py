"""The `sparkcanvas` command line, called through main(argv) and once as the installed script."""

from __future__ import annotations

import csv
import io
import json
import signal
import socket
import subprocess
import sys
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import nbformat
import pytest

from designer import cli
from tests.conftest import EXAMPLE_JOB, TAXI_FIGURES

SUBCOMMANDS = ["app", "validate", "preview", "export", "run"]
RUFF = Path(sys.executable).parent / "ruff"


def call(capsys, *argv: str) -> tuple[int, str, str]:
    """Run the command line in this process and return its exit status, stdout and stderr."""
    status = cli.main([str(part) for part in argv])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def assert_one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("sparkcanvas: error: ")
    assert "Traceback" not in err
    return lines[0]


def write_job(folder: Path, edit) -> Path:
    """Write a copy of the example job after `edit` changes its parsed JSON."""
    data = json.loads(EXAMPLE_JOB.read_text(encoding="utf-8"))
    edit(data)
    path = folder / "edited.job.json"
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    return path


def node_params(data: dict, node_id: str) -> dict:
    return next(node for node in data["nodes"] if node["id"] == node_id)["params"]


def rounded(rows: dict[str, tuple]) -> dict[str, tuple[int, float]]:
    return {borough: (int(count), round(float(amount), 2)) for borough, (count, amount) in rows.items()}


# --- help and usage --------------------------------------------------------------------------


@pytest.mark.parametrize("subcommand", [[], *[[name] for name in SUBCOMMANDS]])
def test_help_exits_zero(subcommand, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main([*subcommand, "--help"])
    assert exit_info.value.code == 0
    assert "usage: sparkcanvas" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["preview", str(EXAMPLE_JOB)],
        ["preview", str(EXAMPLE_JOB), "--node", "trips", "--rows", "0"],
        ["run", str(EXAMPLE_JOB), "--param", "output_path"],
        ["export", str(EXAMPLE_JOB), "--format", "html"],
        ["app", "--port", "70000"],
    ],
)
def test_usage_errors_exit_two(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    assert exit_info.value.code == 2
    assert "usage: sparkcanvas" in capsys.readouterr().err


def test_installed_script_validates():
    completed = subprocess.run(
        [Path(sys.executable).parent / "sparkcanvas", "validate", EXAMPLE_JOB],
        capture_output=True, text=True, timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == f"{EXAMPLE_JOB} is valid: 5 nodes"


# --- validate --------------------------------------------------------------------------------


def test_validate_valid_job(capsys):
    status, out, err = call(capsys, "validate", EXAMPLE_JOB)
    assert status == 0
    assert out == f"{EXAMPLE_JOB} is valid: 5 nodes\n"
    assert err == ""


def test_validate_lists_every_problem(tmp_path, capsys):
    def break_two_nodes(data):
        node_params(data, "revenue_by_borough")["aggregations"][1]["column"] = "total_amout"
        node_params(data, "write_revenue")["path"] = "${out_path}"

    job = write_job(tmp_path, break_two_nodes)
    status, out, err = call(capsys, "validate", job)

    assert status == 1
    problems = out.strip().splitlines()
    assert len(problems) == 2
    column_problem = next(line for line in problems if "revenue_by_borough" in line)
    assert "parameter 'aggregations'" in column_problem
    assert "'total_amout'" in column_problem
    assert "Did you mean 'total_amount'" in column_problem
    reference_problem = next(line for line in problems if "write_revenue" in line)
    assert "parameter 'path'" in reference_problem
    assert "${out_path}" in reference_problem
    assert "'output_path'" in reference_problem
    assert assert_one_error_line(err) == f"sparkcanvas: error: {job} is invalid: 2 problems"


def test_validate_missing_file(tmp_path, capsys):
    status, out, err = call(capsys, "validate", tmp_path / "absent.job.json")
    assert status == 1
    assert out == ""
    assert "job file not found" in assert_one_error_line(err)


def test_validate_file_not_json(tmp_path, capsys):
    job = tmp_path / "broken.job.json"
    job.write_text("{not json", encoding="utf-8")
    status, _, err = call(capsys, "validate", job)
    assert status == 1
    assert "not valid JSON at line 1" in assert_one_error_line(err)


# --- preview ---------------------------------------------------------------------------------


def test_preview_table_matches_figures(capsys):
    status, out, err = call(capsys, "preview", EXAMPLE_JOB, "--node", "revenue_by_borough")
    assert status == 0, err
    lines = out.splitlines()
    assert lines[0] == "Schema of revenue_by_borough (Revenue by borough):"
    assert lines[1].split() == ["borough", "string"]
    assert lines[2].split() == ["trip_count", "bigint"]
    assert lines[3].split() == ["total_amount", "double"]

    header = lines.index(next(line for line in lines if line.startswith("borough ")))
    assert [cell.strip() for cell in lines[header].split("|")] == [
        "borough", "trip_count", "total_amount",
    ]
    rows = {}
    for line in lines[header + 2 : header + 2 + len(TAXI_FIGURES)]:
        borough, count, amount = (cell.strip() for cell in line.split("|"))
        rows[borough] = (count, amount)
    assert rounded(rows) == TAXI_FIGURES
    assert "(5 rows)" in lines


def test_preview_json_matches_figures(capsys):
    status, out, err = call(
        capsys, "preview", EXAMPLE_JOB, "--node", "revenue_by_borough", "--format", "json"
    )
    assert status == 0, err
    records = json.loads(out)
    rows = {record["borough"]: (record["trip_count"], record["total_amount"]) for record in records}
    assert rounded(rows) == TAXI_FIGURES
    assert all(isinstance(record["trip_count"], int) for record in records)


def test_preview_csv_matches_figures(capsys):
    status, out, err = call(
        capsys, "preview", EXAMPLE_JOB, "--node", "revenue_by_borough", "--format", "csv"
    )
    assert status == 0, err
    reader = csv.DictReader(io.StringIO(out))
    assert reader.fieldnames == ["borough", "trip_count", "total_amount"]
    rows = {row["borough"]: (row["trip_count"], row["total_amount"]) for row in reader}
    assert rounded(rows) == TAXI_FIGURES


def test_preview_json_timestamps_iso(capsys):
    status, out, _ = call(
        capsys, "preview", EXAMPLE_JOB, "--node", "trips", "--rows", "3", "--format", "json"
    )
    assert status == 0
    records = json.loads(out)
    assert len(records) == 3
    assert records[0]["tpep_pickup_datetime"] == "2021-07-01T00:08:51+00:00"
    assert records[0]["VendorID"] == 1


def test_preview_rows_overrides_sample(capsys):
    status, out, err = call(
        capsys, "preview", EXAMPLE_JOB, "--node", "trips", "--rows", "7", "--format", "csv"
    )
    assert status == 0
    assert len(out.strip().splitlines()) == 1 + 7
    assert "Trips: first 7 rows (a sample)" in err


def test_preview_unknown_node(capsys):
    status, out, err = call(capsys, "preview", EXAMPLE_JOB, "--node", "revenue")
    assert status == 1
    assert out == ""
    line = assert_one_error_line(err)
    assert "node 'revenue' not found" in line
    assert "'revenue_by_borough'" in line


def test_preview_failing_node(tmp_path, capsys):
    def point_at_missing_file(data):
        node_params(data, "trips")["path"] = str(tmp_path / "missing.csv")

    job = write_job(tmp_path, point_at_missing_file)
    status, out, err = call(capsys, "preview", job, "--node", "revenue_by_borough")
    assert status == 1
    assert out == ""
    line = assert_one_error_line(err)
    assert "preview of node 'revenue_by_borough' failed" in line


# --- export ----------------------------------------------------------------------------------


def test_export_py_compiles_and_passes_ruff(tmp_path, capsys):
    status, out, err = call(capsys, "export", EXAMPLE_JOB)
    assert status == 0, err
    compile(out, "taxi_revenue_by_borough.py", "exec")
    assert 'log.info("Running node %s", "write_revenue")' in out

    script = tmp_path / "taxi_revenue_by_borough.py"
    script.write_text(out, encoding="utf-8")
    checked = subprocess.run(
        [RUFF, "check", "--no-cache", script], capture_output=True, text=True, timeout=60,
        cwd=cli.APP_FILE.parent,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_export_output_file_equals_stdout(tmp_path, capsys):
    _, printed, _ = call(capsys, "export", EXAMPLE_JOB)
    target = tmp_path / "out" / "job.py"
    status, out, err = call(capsys, "export", EXAMPLE_JOB, "-o", target)
    assert status == 0
    assert out == ""
    assert target.read_text(encoding="utf-8") == printed
    assert sorted(path.name for path in target.parent.iterdir()) == ["job.py"]


def test_export_ipynb_is_valid_notebook(tmp_path, capsys):
    target = tmp_path / "job.ipynb"
    status, _, err = call(capsys, "export", EXAMPLE_JOB, "--format", "ipynb", "-o", target)
    assert status == 0, err

    notebook = nbformat.read(target, as_version=4)
    nbformat.validate(notebook)
    code = [cell.source for cell in notebook.cells if cell.cell_type == "code"]
    markdown = [cell.source for cell in notebook.cells if cell.cell_type == "markdown"]
    node_ids = ["trips", "zones", "trips_with_zones", "revenue_by_borough", "write_revenue"]
    for node_id in node_ids:
        cells = [source for source in code if f'"Running node %s", "{node_id}"' in source]
        assert len(cells) == 1, node_id
        assert any(f"node `{node_id}`" in source for source in markdown), node_id
    for source in code:
        compile(source, "cell", "exec")
    assert 'args = argparse.Namespace(output_path="output/taxi_revenue_by_borough")' in code[1]
    assert "parse_args()" not in "\n".join(code)


def test_export_invalid_job(tmp_path, capsys):
    def break_filter(data):
        node_params(data, "revenue_by_borough")["group_by"] = ["borogh"]

    job = write_job(tmp_path, break_filter)
    status, out, err = call(capsys, "export", job)
    assert status == 1
    assert out == ""
    line = assert_one_error_line(err)
    assert "invalid job, 1 problem" in line
    assert "node 'revenue_by_borough'" in line
    assert "'borogh'" in line


# --- run without Spark: checks before launch -------------------------------------------------


def test_run_unknown_parameter(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SPARKCANVAS_HOME", str(tmp_path))
    status, out, err = call(capsys, "run", EXAMPLE_JOB, "--param", "output=x")
    assert status == 1
    assert out == ""
    line = assert_one_error_line(err)
    assert "unknown parameter 'output'" in line
    assert "takes output_path" in line
    assert not (tmp_path / "runs").exists()


def test_run_invalid_master(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SPARKCANVAS_HOME", str(tmp_path))
    status, _, err = call(capsys, "run", EXAMPLE_JOB, "--master", "local[two]")
    assert status == 1
    assert "invalid local Spark master 'local[two]'" in assert_one_error_line(err)


# --- app -------------------------------------------------------------------------------------


def test_app_command_binds_loopback(tmp_path, monkeypatch):
    monkeypatch.setattr(cli, "APP_FILE", tmp_path / "app.py")
    (tmp_path / "app.py").write_text("", encoding="utf-8")
    jobs = tmp_path / "jobs"
    jobs.mkdir()

    command, env = cli.app_command(8600, str(jobs), str(EXAMPLE_JOB))

    assert command[:5] == [sys.executable, "-m", "streamlit", "run", str(tmp_path / "app.py")]
    options = dict(zip(command[5::2], command[6::2], strict=True))
    assert options == {
        "--server.port": "8600",
        "--server.address": "127.0.0.1",
        "--server.headless": "true",
        "--browser.gatherUsageStats": "false",
    }
    assert env["SPARKCANVAS_JOB"] == str(EXAMPLE_JOB.resolve())
    assert env["SPARKCANVAS_JOBS_DIR"] == str(jobs.resolve())


def test_app_missing_jobs_dir(tmp_path, capsys):
    status, _, err = call(capsys, "app", "--jobs-dir", tmp_path / "absent")
    assert status == 1
    assert "jobs folder not found" in assert_one_error_line(err)


@pytest.mark.parametrize("number", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_app_passes_signal_to_streamlit(tmp_path, number):
    from tests.test_browser import free_port, wait_until_healthy

    port = free_port()
    sparkcanvas = Path(sys.executable).parent / "sparkcanvas"
    log = tmp_path / "app.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            [str(sparkcanvas), "app", "--port", str(port)], stdout=output, stderr=subprocess.STDOUT
        )
    try:
        wait_until_healthy(f"http://127.0.0.1:{port}/_stcore/health", process, log)
        process.send_signal(number)
        assert process.wait(timeout=30) in (0, 128 + number)
    finally:
        if process.poll() is None:
            process.kill()
    # Streamlit has let go of the port, so a new server can bind it.
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(("127.0.0.1", port))


def test_output_closed_early_is_not_an_error():
    sparkcanvas = Path(sys.executable).parent / "sparkcanvas"
    # A thousand taxi trips fill more than the pipe's buffer, so the write after `head` exits fails.
    shell = f"{sparkcanvas} preview {EXAMPLE_JOB} --node trips --rows 1000 --format csv | head -n 1"
    command = ["bash", "-o", "pipefail", "-c", shell]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.stdout.startswith("VendorID,")
    assert "error" not in result.stderr
    assert result.returncode == 0


# --- value formatting ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (float("nan"), "NaN"),
        (float("inf"), "Infinity"),
        (float("-inf"), "-Infinity"),
        (Decimal("1.10"), "1.10"),
        (date(2021, 7, 1), "2021-07-01"),
        (datetime(2021, 7, 1, 0, 8, 51, tzinfo=UTC), "2021-07-01T00:08:51+00:00"),
        (b"\x01\xff", "01ff"),
        ([1, None, {"a": Decimal("2")}], [1, None, {"a": "2"}]),
    ],
)
def test_json_value_conversions(value, expected):
    assert cli.json_value(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, "NULL"),
        (True, "true"),
        ("line one\nline two", "line one\\nline two"),
        ("x" * 50, "x" * 37 + "..."),
        ([1, 2], "[1, 2]"),
    ],
)
def test_table_cell_text(value, expected):
    assert cli.table_cell(value) == expected


def test_export_refuses_to_overwrite_a_job_file(capsys, tmp_path):
    copy = tmp_path / "copy.job.json"
    copy.write_text(EXAMPLE_JOB.read_text(encoding="utf-8"), encoding="utf-8")
    before = copy.read_text(encoding="utf-8")
    status, out, err = call(capsys, "export", copy, "-o", copy)
    assert status == 1
    assert "names a job file" in err
    assert copy.read_text(encoding="utf-8") == before
