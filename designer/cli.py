"""The `sparkcanvas` command line: app, validate, preview, export and run.

Every command exits 0 on success. A failure exits non-zero with one line
`sparkcanvas: error: ...` on stderr; argparse's usage errors exit 2.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import math
import os
import signal
import subprocess
import sys
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from designer.cli_catalog import add_catalog_commands
from designer.cli_connections import add_connection_commands
from designer.errors import JobValidationError, PreviewError, SparkCanvasError, did_you_mean
from designer.model import Job, load_job, write_text_atomic
from designer.validation import validate

PROGRAM = "sparkcanvas"
APP_FILE = Path(__file__).resolve().parent.parent / "app.py"
DEFAULT_PORT = 8501
MAX_CELL_WIDTH = 40


# --- argument parsing ------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROGRAM,
        description="Design Spark ETL jobs visually, preview them in DuckDB, export and run "
        "them with spark-submit.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log SparkCanvas's own steps to stderr")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_app(commands)
    _add_validate(commands)
    _add_preview(commands)
    _add_export(commands)
    _add_run(commands)
    _add_runs(commands)
    add_connection_commands(commands, _port)
    add_catalog_commands(commands)
    _add_scheduler(commands)
    return parser


def _add_app(commands) -> None:
    app = commands.add_parser(
        "app",
        help="start the designer in the browser",
        description="Start the Streamlit designer on 127.0.0.1. Stop it with Ctrl+C.",
    )
    app.add_argument(
        "--port",
        type=_port,
        default=DEFAULT_PORT,
        help=f"TCP port the designer listens on (default {DEFAULT_PORT})",
    )
    app.add_argument("--jobs-dir", metavar="DIR", help="folder of *.job.json files to list")
    app.add_argument("job", nargs="?", metavar="JOB", help="job file to open first")
    app.set_defaults(handler=command_app)


def _add_validate(commands) -> None:
    validate_command = commands.add_parser(
        "validate",
        help="check a job file and list every problem",
        description="Check a job file: structure, parameters, expressions and schemas. "
        "Exits 1 and lists every problem if the job is invalid.",
    )
    validate_command.add_argument("job", metavar="JOB", help="path of a *.job.json file")
    validate_command.set_defaults(handler=command_validate)


def _add_preview(commands) -> None:
    preview = commands.add_parser(
        "preview",
        help="print a node's schema and sample rows, computed with DuckDB",
        description="Print one node's output schema and sample rows, computed with DuckDB "
        "over the first rows of each source.",
    )
    preview.add_argument("job", metavar="JOB", help="path of a *.job.json file")
    preview.add_argument("--node", required=True, metavar="ID", help="id of the node to preview")
    preview.add_argument(
        "--rows",
        type=_positive_int,
        metavar="N",
        help="rows read from each source (default: the job's preview sample size)",
    )
    preview.add_argument(
        "--format",
        choices=("table", "json", "csv"),
        default="table",
        help="output format (default table)",
    )
    preview.add_argument(
        "--check-spark",
        action="store_true",
        help="also run the node on local Spark over the same sample and compare the rows; "
        "exits 1 when they differ",
    )
    preview.set_defaults(handler=command_preview)


def _add_export(commands) -> None:
    export = commands.add_parser(
        "export",
        help="write the job as a PySpark script or a Jupyter notebook",
        description="Write the job's PySpark script (py) or a Jupyter notebook with one cell "
        "per node (ipynb).",
    )
    export.add_argument("job", metavar="JOB", help="path of a *.job.json file")
    export.add_argument("-o", "--output", metavar="FILE", help="file to write (default: standard output)")
    export.add_argument("--format", choices=("py", "ipynb"), default="py", help="output format (default py)")
    export.set_defaults(handler=command_export)


def _add_run(commands) -> None:
    run = commands.add_parser(
        "run",
        help="run the job with spark-submit and record the run",
        description="Run the job's PySpark script with spark-submit, streaming its log to "
        "stderr. Prints a one-line summary on stdout. The run is recorded in the run store "
        "(`sparkcanvas runs` lists it), its script and log under $SPARKCANVAS_HOME/runs "
        "(default ~/.sparkcanvas/runs). The job's `run` settings set its timeout, retries and "
        "concurrency; Ctrl+C cancels it.",
    )
    run.add_argument("job", metavar="JOB", help="path of a *.job.json file")
    run.add_argument(
        "--master",
        metavar="URL",
        help="Spark master URL: local, local[N], local[*], spark://HOST:PORT, yarn or "
        "k8s://https://HOST:PORT (default: the job's run.master, else local[*])",
    )
    run.add_argument(
        "--param",
        action="append",
        type=_name_value,
        default=[],
        metavar="NAME=VALUE",
        help="set a job parameter for this run; repeat for several",
    )
    run.add_argument(
        "--conf",
        action="append",
        type=_spark_setting,
        default=[],
        metavar="KEY=VALUE",
        help="pass a Spark setting to spark-submit, such as spark.sql.catalogImplementation=hive; "
        "repeat for several; adds to or overrides the job's run.spark_conf",
    )
    run.add_argument("-q", "--quiet", action="store_true", help="do not stream the Spark log")
    run.add_argument(
        "--timeout",
        type=_non_negative_number,
        metavar="MINUTES",
        help="stop each attempt after this many minutes, 0 for no limit "
        "(default: the job's run.timeout_minutes)",
    )
    run.add_argument(
        "--retries",
        type=_non_negative_int,
        metavar="N",
        help="run a failed attempt again up to N times (default: the job's run.retries)",
    )
    run.set_defaults(handler=command_run)


def _add_runs(commands) -> None:
    runs = commands.add_parser(
        "runs",
        help="list recorded runs, show one, or cancel one",
        description="List the runs in the run store, newest first. `runs show RUN_ID` prints a run "
        "and its log; `runs cancel RUN_ID` stops a queued or running run, whichever process started it. "
        "A unique start of a run id is enough.",
    )
    runs.add_argument("--job", metavar="NAME", help="only the runs of this job")
    runs.add_argument(
        "--format", choices=("table", "json"), default="table", help="output format (default table)"
    )
    runs.add_argument("--limit", type=_positive_int, metavar="N", help="at most N runs (default: all)")

    actions = runs.add_subparsers(dest="runs_action", metavar="ACTION")
    show = actions.add_parser("show", help="print a run's record, its attempts and its log")
    show.add_argument("run_id", metavar="RUN_ID")
    show.add_argument("--lines", type=_non_negative_int, metavar="N", help="only the log's last N lines")
    show.add_argument(
        "--format", dest="show_format", choices=("text", "json"), default="text",
        help="output format (default text)",
    )

    cancel = actions.add_parser("cancel", help="cancel a queued or running run")
    cancel.add_argument("run_id", metavar="RUN_ID")
    cancel.add_argument(
        "--wait",
        type=_non_negative_number,
        default=30.0,
        metavar="SECONDS",
        help="how long to wait for the run to record its end (default 30)",
    )

    runs.set_defaults(handler=command_runs)


def _add_scheduler(commands) -> None:
    scheduler = commands.add_parser(
        "scheduler",
        help="start jobs on their schedules and triggers until stopped",
        description="Load every *.job.json in the folders, reloading changed files, and run each job "
        "when its cron schedule is due or when the runs its triggers watch end. Logs each start and "
        "each missed or skipped run to stderr. Stop it with Ctrl+C or SIGTERM, which cancels the "
        "runs it started.",
    )
    scheduler.add_argument(
        "--jobs",
        action="append",
        metavar="DIR",
        help="folder of *.job.json files; repeat for several "
        "(default: $SPARKCANVAS_JOBS_DIR, else assets/jobs)",
    )
    scheduler.add_argument(
        "--poll",
        type=_positive_seconds,
        default=10.0,
        metavar="SECONDS",
        help="seconds between rereads of the job files and checks for ended runs (default 10)",
    )
    scheduler.set_defaults(handler=command_scheduler)


def _bounded_number(convert, minimum: float, noun: str, example: str):
    """Return an argparse type that reads a number with `convert` and rejects one below `minimum`."""

    def parse(text: str):
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid {noun} {text!r}: {example}") from None
        if not math.isfinite(value) or value < minimum:
            raise argparse.ArgumentTypeError(f"invalid {noun} {text!r}: use {minimum:g} or more")
        return value

    return parse


_non_negative_number = _bounded_number(float, 0, "number", "use a number such as 1.5")
_non_negative_int = _bounded_number(int, 0, "whole number", "use 0, 1, 2 ...")
_positive_int = _bounded_number(int, 1, "number", "use a whole number")
_positive_seconds = _bounded_number(float, 0.5, "number of seconds", "use a number such as 10")


def _port(text: str) -> int:
    value = _positive_int(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"invalid port {text!r}: use a number from 1 to 65535")
    return value


def _spark_setting(text: str) -> tuple[str, str]:
    key, separator, value = text.partition("=")
    if not separator or not key:
        raise argparse.ArgumentTypeError(
            f"invalid Spark setting {text!r}: write it as KEY=VALUE, such as spark.sql.shuffle.partitions=8"
        )
    return key, value


def _name_value(text: str) -> tuple[str, str]:
    name, separator, value = text.partition("=")
    if not separator or not name:
        raise argparse.ArgumentTypeError(f"invalid parameter {text!r}: write it as NAME=VALUE")
    return name, value


# --- entry point -----------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """Run one command and return its exit status."""
    args = build_parser().parse_args(argv)
    _configure_logging(args.verbose)
    try:
        return args.handler(args)
    except JobValidationError as exc:
        return _fail(f"{args.job}: {_problems_line(exc)}")
    except SparkCanvasError as exc:
        return _fail(_one_line(str(exc)))
    except BrokenPipeError:
        # The reader of stdout stopped early, as `| head` does: not an error of the command.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as exc:
        return _fail(_os_error_line(exc))
    except KeyboardInterrupt:
        return _fail("interrupted", status=130)


def _configure_logging(verbose: bool) -> None:
    """Log SparkCanvas's steps to stderr with --verbose; otherwise keep stderr to errors."""
    package_logger = logging.getLogger("designer")
    if verbose:
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    elif not package_logger.handlers:
        # Without a handler, Python prints warnings to stderr, which would add a second
        # error line next to the `sparkcanvas: error:` one.
        package_logger.addHandler(logging.NullHandler())


def _fail(message: str, status: int = 1) -> int:
    print(f"{PROGRAM}: error: {message}", file=sys.stderr)
    return status


def _one_line(text: str) -> str:
    return "; ".join(line.strip() for line in text.strip().splitlines() if line.strip())


def _problems_line(error: JobValidationError) -> str:
    count = len(error.problems)
    noun = "problem" if count == 1 else "problems"
    return f"invalid job, {count} {noun}: " + "; ".join(str(p) for p in error.problems)


def _os_error_line(error: OSError) -> str:
    if error.filename is not None and error.strerror:
        return f"{error.strerror}: {error.filename}"
    return str(error)


# --- commands --------------------------------------------------------------------------------


def command_app(args: argparse.Namespace) -> int:
    """Start Streamlit on 127.0.0.1 and wait for it to stop."""
    command, env = app_command(args.port, args.jobs_dir, args.job)
    process = subprocess.Popen(command, env=env)
    # `kill PID` reaches only this process, so pass the signal on to Streamlit, which would
    # otherwise keep the port. Ctrl+C in a terminal reaches both, so Streamlit then gets SIGINT twice.
    def forward(signum, frame) -> None:
        process.send_signal(signum)

    forwarded = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)
    previous = {number: signal.signal(number, forward) for number in forwarded}
    try:
        status = process.wait()
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
    # A child ended by signal N reports -N; a shell reports 128 + N.
    return 128 - status if status < 0 else status


def app_command(port: int, jobs_dir: str | None, job: str | None) -> tuple[list[str], dict[str, str]]:
    """Return the Streamlit command line and environment that start the designer."""
    if not APP_FILE.is_file():
        raise SparkCanvasError(
            f"the designer app {APP_FILE} is missing; `sparkcanvas app` needs a source checkout "
            "of SparkCanvas"
        )
    env = dict(os.environ)
    if job is not None:
        env["SPARKCANVAS_JOB"] = str(_existing_file(job, "job file"))
    if jobs_dir is not None:
        env["SPARKCANVAS_JOBS_DIR"] = str(_existing_folder(jobs_dir))
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(APP_FILE),
        "--server.port",
        str(port),
        "--server.address",
        "127.0.0.1",
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
    ]
    return command, env


def _existing_file(path: str, description: str) -> Path:
    resolved = Path(path).resolve()
    if not resolved.is_file():
        raise SparkCanvasError(f"{description} not found: {path}")
    return resolved


def _existing_folder(path: str) -> Path:
    resolved = Path(path).resolve()
    if not resolved.is_dir():
        raise SparkCanvasError(f"jobs folder not found: {path}; create it or pass another --jobs-dir")
    return resolved


def command_validate(args: argparse.Namespace) -> int:
    """Print that the job is valid, or print every problem and exit 1."""
    job = load_job(args.job)
    validation = validate(job)
    if validation.ok:
        print(f"{args.job} is valid: {len(job.nodes)} nodes")
        return 0
    for problem in validation.problems:
        print(f"{args.job}: {problem}")
    count = len(validation.problems)
    return _fail(f"{args.job} is invalid: {count} problem{'' if count == 1 else 's'}")


def command_preview(args: argparse.Namespace) -> int:
    """Print one node's preview in the requested format."""
    from codegen.duckdb_preview import PreviewEngine

    job = load_job(args.job)
    if args.rows is not None:
        job.sample_rows = args.rows
    _require_node(job, args.node, args.job)
    engine = PreviewEngine()
    preview = engine.preview(job, args.node)
    if preview.error is not None:
        raise PreviewError(f"preview of node {args.node!r} failed: {_one_line(preview.error)}")
    rows = preview.table.to_pylist()
    names = preview.table.column_names
    notes = preview.notes + [f"approximate: {reason}" for reason in preview.approximations]
    if args.format == "table":
        print(format_preview_table(job, args.node, preview.schema, names, rows, notes))
    elif args.format == "json":
        print(json.dumps([json_value(row) for row in rows], indent=2, ensure_ascii=False))
        _print_notes(notes)
    else:
        write_csv(sys.stdout, names, rows)
        _print_notes(notes)
    if args.check_spark:
        return _check_against_spark(job, args.node, engine)
    return 0


def _check_against_spark(job: Job, node_id: str, engine) -> int:
    """Print whether Spark gives the preview's rows; return 1 when it does not."""
    from designer.spark_check import check_node

    print("Checking against local Spark over the same sample...", file=sys.stderr, flush=True)
    check = check_node(job, node_id, engine)
    print(f"check against Spark: {check.summary()} ({check.seconds:.1f} s)", file=sys.stderr)
    for label, rows in (
        ("only in Spark", check.only_in_spark),
        ("only in the preview", check.only_in_preview),
    ):
        for row in rows:
            print(f"  {label}: {row!r}", file=sys.stderr)
    if check.matches:
        return 0
    return _fail(f"the preview of node {node_id!r} differs from Spark: {check.summary()}")


def _require_node(job: Job, node_id: str, job_path: str) -> None:
    if job.has_node(node_id):
        return
    ids = [node.id for node in job.nodes]
    raise PreviewError(
        f"node {node_id!r} not found in {job_path}.{did_you_mean(node_id, ids)} "
        f"The job's nodes are: {', '.join(ids)}"
    )


def _print_notes(notes: list[str]) -> None:
    for note in notes:
        print(f"note: {note}", file=sys.stderr)


def command_export(args: argparse.Namespace) -> int:
    """Write the job's script or notebook to a file or to stdout."""
    job = load_job(args.job)
    validate(job).raise_if_invalid()
    text = export_script(job) if args.format == "py" else export_notebook(job)
    if args.output is None:
        sys.stdout.write(text)
    else:
        output = Path(args.output)
        if output.name.endswith(".job.json"):
            raise SparkCanvasError(
                f"-o {args.output} names a job file, which the export would overwrite; "
                "choose a .py or .ipynb path"
            )
        write_text_atomic(output, text)
        print(f"wrote {args.output}", file=sys.stderr)
    return 0


def command_run(args: argparse.Namespace) -> int:
    """Run the job, stream its log to stderr and print a one-line summary on stdout."""
    from designer.masters import check_master, job_master
    from designer.runs import SUCCEEDED, run_job

    job = load_job(args.job)
    on_line = None if args.quiet else _print_to_stderr
    master = check_master(job_master(job) if args.master is None else args.master)
    overrides = {"timeout_minutes": args.timeout, "retries": args.retries, "spark_conf": dict(args.conf)}
    on_progress = _print_progress if sys.stderr.isatty() else None
    record = run_job(
        job, args.job, master=master, params=dict(args.param), on_line=on_line, on_progress=on_progress,
        **overrides,
    )
    print(run_summary(record))
    if record.status != SUCCEEDED:
        return _fail(record.error or f"the run failed; see {record.log_path}")
    return 0


def command_scheduler(args: argparse.Namespace) -> int:
    """Run the scheduler in the foreground until SIGINT or SIGTERM."""
    from designer.scheduler import run_scheduler

    default = os.environ.get("SPARKCANVAS_JOBS_DIR") or "assets/jobs"
    folders = [Path(folder).resolve() for folder in args.jobs or [default]]
    for folder in folders:
        if not folder.is_dir():
            raise SparkCanvasError(f"jobs folder not found: {folder}; create it or pass another --jobs DIR")
    # A long-running process logs every start and skip with a timestamp, with or without -v.
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True
    )
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    run_scheduler(folders, args.poll)
    return 0


def _print_to_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _print_progress(progress) -> None:
    print(f"progress: {progress.summary()}", file=sys.stderr, flush=True)


def command_runs(args: argparse.Namespace) -> int:
    """List runs, or show or cancel one."""
    from designer import runs_cli

    if args.runs_action == "show":
        return runs_cli.show(args.run_id, args.lines, args.show_format)
    if args.runs_action == "cancel":
        return runs_cli.cancel(args.run_id, args.wait)
    return runs_cli.list_table(args.job, args.limit, args.format)


def run_summary(record) -> str:
    """Return one line: the run id, status, duration and rows written per target."""
    duration = record.duration or 0.0
    line = f"run {record.run_id} {record.status} in {duration:.1f} s"
    writes = [
        f"{target['node_id']} wrote {target['rows']} rows to {target['path']}" for target in record.targets
    ]
    if writes:
        line += ": " + "; ".join(writes)
    return f"{line} (log: {record.log_path})"


# --- preview formats -------------------------------------------------------------------------


def format_preview_table(job: Job, node_id: str, schema, names, rows, notes) -> str:
    """Return the schema, then the rows as an aligned text table, then the notes."""
    node = job.node(node_id)
    title = f"{node_id} ({node.name})" if node.name and node.name != node_id else node_id
    lines = [f"Schema of {title}:"]
    width = max((len(column.name) for column in schema), default=0)
    lines += [f"  {column.name.ljust(width)}  {column.type}" for column in schema]
    lines.append("")
    lines += text_table(names, rows)
    lines.append(f"({len(rows)} row{'' if len(rows) == 1 else 's'})")
    lines += [f"note: {note}" for note in notes]
    return "\n".join(lines)


def text_table(names: list[str], rows: list[dict[str, Any]]) -> list[str]:
    """Return a header, a rule and one line per row; numbers align right, text left."""
    cells = [[table_cell(row[name]) for name in names] for row in rows]
    numeric = [all(_is_number(row[name]) for row in rows) and bool(rows) for name in names]
    widths = [max([len(name)] + [len(line[index]) for line in cells]) for index, name in enumerate(names)]

    def render(values: list[str]) -> str:
        parts = [
            value.rjust(width) if right else value.ljust(width)
            for value, width, right in zip(values, widths, numeric, strict=True)
        ]
        return " | ".join(parts).rstrip()

    rule = "-+-".join("-" * width for width in widths)
    return [render(list(names)), rule] + [render(line) for line in cells]


def _is_number(value: Any) -> bool:
    return value is None or (isinstance(value, int | float | Decimal) and not isinstance(value, bool))


def table_cell(value: Any) -> str:
    """Return a value as text for the table format, cut to MAX_CELL_WIDTH characters."""
    if value is None:
        text = "NULL"
    elif isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, datetime):
        text = value.isoformat(sep=" ")
    elif isinstance(value, list | dict):
        text = json.dumps(json_value(value), ensure_ascii=False)
    else:
        text = str(value)
    text = text.replace("\n", "\\n")
    if len(text) > MAX_CELL_WIDTH:
        text = text[: MAX_CELL_WIDTH - 3] + "..."
    return text


def json_value(value: Any) -> Any:
    """Convert a preview value to JSON: ISO 8601 times, decimals as strings, NaN as "NaN"."""
    if isinstance(value, dict):
        return {str(key): json_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_value(item) for item in value]
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, float) and not math.isfinite(value):
        # Spark's JSON writer spells these as strings too, since JSON has no such numbers.
        if math.isnan(value):
            return "NaN"
        return "Infinity" if value > 0 else "-Infinity"
    return value


def write_csv(stream, names: list[str], rows: list[dict[str, Any]]) -> None:
    """Write a header and the rows as CSV; NULL is an empty field, times are ISO 8601."""
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(names)
    for row in rows:
        writer.writerow([_csv_cell(row[name]) for name in names])


def _csv_cell(value: Any) -> Any:
    converted = json_value(value)
    if converted is None:
        return ""
    if isinstance(converted, bool):
        return "true" if converted else "false"
    if isinstance(converted, list | dict):
        return json.dumps(converted, ensure_ascii=False)
    return converted


# --- export formats --------------------------------------------------------------------------


def export_script(job: Job) -> str:
    from codegen.pyspark import emit_script

    return emit_script(job)


def export_notebook(job: Job) -> str:
    from codegen.notebook import emit_notebook

    return emit_notebook(job)
