"""The job model and the `*.job.json` file format: load, save and canonical form."""

from __future__ import annotations

import copy
import errno
import json
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema

from designer.errors import JobFormatError

FORMAT = "sparkcanvas.job/1"
FORMAT_PREFIX = "sparkcanvas.job/"
DEFAULT_SAMPLE_ROWS = 1000
DEFAULT_TIME_LIMIT_SECONDS = 10.0
DEFAULT_MEMORY_LIMIT_MB = 1024
DEFAULT_TIME_ZONE = "UTC"
SAMPLING_METHODS = ("first", "random")
MISSED_RUN_POLICIES = ("run_once", "skip")
TRIGGER_STATES = ("succeeded", "failed", "any")
TRIGGER_REQUIREMENTS = ("all", "any")
WHEN_BUSY_CHOICES = ("wait", "skip")
IDENTIFIER_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# spark-submit ignores, with a warning, a --conf key that does not start with "spark.".
SPARK_CONF_KEY_PATTERN = r"^spark\.[^\s=]+$"

# The envelope of a job file. Node parameters are checked per node type by designer.validation.
JOB_FILE_SCHEMA = {
    "type": "object",
    "required": ["format", "name", "nodes"],
    "properties": {
        "format": {"type": "string"},
        "name": {"type": "string"},
        "description": {"type": "string"},
        "parameters": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name"],
                "properties": {
                    "name": {"type": "string"},
                    "default": {"type": "string"},
                    "description": {"type": "string"},
                },
                "additionalProperties": False,
            },
        },
        "preview": {
            "type": "object",
            "properties": {
                "sample_rows": {"type": "integer", "minimum": 1},
                "time_limit_seconds": {"type": "number", "exclusiveMinimum": 0},
                "memory_limit_mb": {"type": "integer", "minimum": 16},
                "sampling": {
                    "type": "object",
                    "additionalProperties": {
                        "type": "object",
                        "properties": {
                            "method": {"enum": list(SAMPLING_METHODS)},
                            "seed": {"type": "integer"},
                        },
                        "additionalProperties": False,
                    },
                },
            },
            "additionalProperties": False,
        },
        "spark": {
            "type": "object",
            "properties": {"session_time_zone": {"type": "string"}},
        },
        "schedule": {
            "type": "object",
            "required": ["cron"],
            "properties": {
                "cron": {"type": "string"},
                "time_zone": {"type": "string"},
                "paused": {"type": "boolean"},
                "missed_runs": {"enum": list(MISSED_RUN_POLICIES)},
                "parameters": {"type": "object", "additionalProperties": {"type": "string"}},
            },
            "additionalProperties": False,
        },
        "triggers": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["after"],
                "properties": {
                    "after": {"type": "array", "minItems": 1, "items": {"type": "string", "minLength": 1}},
                    "on": {"enum": list(TRIGGER_STATES)},
                    "require": {"enum": list(TRIGGER_REQUIREMENTS)},
                    "parameters": {"type": "object", "additionalProperties": {"type": "string"}},
                },
                "additionalProperties": False,
            },
        },
        "run": {
            "type": "object",
            "properties": {
                "timeout_minutes": {"type": "number", "minimum": 0},
                "retries": {"type": "integer", "minimum": 0, "maximum": 100},
                "retry_delay_seconds": {"type": "number", "minimum": 0},
                "max_concurrent_runs": {"type": "integer", "minimum": 1},
                "when_busy": {"enum": list(WHEN_BUSY_CHOICES)},
                "master": {"type": "string", "minLength": 1},
                "spark_conf": {
                    "type": "object",
                    "propertyNames": {"pattern": SPARK_CONF_KEY_PATTERN},
                    "additionalProperties": {"type": "string"},
                },
            },
            "additionalProperties": False,
        },
        "nodes": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["id", "type"],
                "properties": {
                    "id": {"type": "string"},
                    "type": {"type": "string"},
                    "name": {"type": "string"},
                    "inputs": {"type": "object", "additionalProperties": {"type": "string"}},
                    "params": {"type": "object"},
                },
                "additionalProperties": False,
            },
        },
        "layout": {
            "type": "object",
            "additionalProperties": {
                "type": "object",
                "required": ["x", "y"],
                "properties": {"x": {"type": "number"}, "y": {"type": "number"}},
            },
        },
    },
    "additionalProperties": False,
}


@dataclass
class JobParameter:
    """A job argument: referenced as ${name} in node parameters, passed as --name VALUE."""

    name: str
    default: str = ""
    description: str = ""


@dataclass
class Sampling:
    """The preview's sampling of one source: its first rows, or a seeded random sample."""

    method: str = "first"
    seed: int = 0


@dataclass
class Schedule:
    """When the scheduler starts the job: a five-field cron expression in a time zone."""

    cron: str
    time_zone: str = DEFAULT_TIME_ZONE
    paused: bool = False
    missed_runs: str = "run_once"  # after downtime: run once for all missed times, or skip them
    parameters: dict[str, str] = field(default_factory=dict)


@dataclass
class Trigger:
    """A conditional trigger: start the job after runs of other jobs end in a given state."""

    after: list[str]
    on: str = "succeeded"
    require: str = "all"
    parameters: dict[str, str] = field(default_factory=dict)


@dataclass
class RunSettings:
    """The job's run settings for designer.runs: time limit, retries, concurrency and the Spark master."""

    timeout_minutes: float = 0  # 0: no time limit; it applies to each attempt
    retries: int = 0  # further attempts after a failed one
    retry_delay_seconds: float = 60
    max_concurrent_runs: int = 1  # per job, over every process that shares the run store
    when_busy: str = "wait"  # when max_concurrent_runs are going: wait (queued) or skip
    master: str = "local[*]"
    # Spark settings passed to spark-submit as --conf KEY=VALUE, such as
    # spark.sql.catalogImplementation=hive; left out of the job file when empty.
    spark_conf: dict[str, str] = field(default_factory=dict)


@dataclass
class Node:
    """One node of the job graph. `inputs` maps a port name to an upstream node id."""

    id: str
    type: str
    name: str = ""
    inputs: dict[str, str] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return self.name or self.id


@dataclass
class Job:
    """A job: its settings, its nodes and where they sit on the canvas."""

    name: str
    description: str = ""
    parameters: list[JobParameter] = field(default_factory=list)
    sample_rows: int = DEFAULT_SAMPLE_ROWS
    time_limit_seconds: float = DEFAULT_TIME_LIMIT_SECONDS
    memory_limit_mb: int = DEFAULT_MEMORY_LIMIT_MB
    sampling: dict[str, Sampling] = field(default_factory=dict)  # source node id -> sampling
    session_time_zone: str = DEFAULT_TIME_ZONE
    nodes: list[Node] = field(default_factory=list)
    layout: dict[str, dict[str, float]] = field(default_factory=dict)
    schedule: Schedule | None = None
    run: RunSettings = field(default_factory=RunSettings)
    triggers: list[Trigger] = field(default_factory=list)

    def node(self, node_id: str) -> Node:
        for node in self.nodes:
            if node.id == node_id:
                return node
        raise KeyError(node_id)

    def has_node(self, node_id: str) -> bool:
        return any(node.id == node_id for node in self.nodes)

    def downstream(self, node_id: str) -> list[Node]:
        """Return the nodes that read `node_id` on one of their ports."""
        return [node for node in self.nodes if node_id in node.inputs.values()]

    def sampling_of(self, node_id: str) -> Sampling:
        return self.sampling.get(node_id, Sampling())

    def parameter_defaults(self) -> dict[str, str]:
        return {parameter.name: parameter.default for parameter in self.parameters}

    def copy(self) -> Job:
        return copy.deepcopy(self)

    def new_node_id(self, base: str) -> str:
        """Derive a free node id from a name, as a Python identifier."""
        stem = re.sub(r"[^0-9A-Za-z_]+", "_", base.strip().lower()).strip("_") or "node"
        if stem[0].isdigit():
            stem = f"n_{stem}"
        candidate, number = stem, 2
        while self.has_node(candidate):
            candidate = f"{stem}_{number}"
            number += 1
        return candidate

    def remove_node(self, node_id: str) -> None:
        """Remove a node, its layout entry and every input port that pointed at it."""
        self.nodes = [node for node in self.nodes if node.id != node_id]
        self.layout.pop(node_id, None)
        self.sampling.pop(node_id, None)
        for node in self.nodes:
            node.inputs = {port: up for port, up in node.inputs.items() if up != node_id}


def job_to_dict(job: Job) -> dict[str, Any]:
    """Return the canonical JSON form of a job, keys in a fixed order."""
    data: dict[str, Any] = {
        "format": FORMAT,
        "name": job.name,
        "description": job.description,
        "parameters": [
            {"name": p.name, "default": p.default, "description": p.description} for p in job.parameters
        ],
        "preview": {
            "sample_rows": job.sample_rows,
            "time_limit_seconds": job.time_limit_seconds,
            "memory_limit_mb": job.memory_limit_mb,
            "sampling": {
                node_id: {"method": sampling.method, "seed": sampling.seed}
                for node_id, sampling in sorted(job.sampling.items())
                if sampling != Sampling()
            },
        },
        "spark": {"session_time_zone": job.session_time_zone},
        "nodes": [
            {
                "id": node.id,
                "type": node.type,
                "name": node.name,
                "inputs": dict(sorted(node.inputs.items())),
                "params": node.params,
            }
            for node in job.nodes
        ],
        "layout": {
            node_id: {"x": round(float(pos["x"]), 1), "y": round(float(pos["y"]), 1)}
            for node_id, pos in sorted(job.layout.items())
        },
    }
    data.update(_schedule_to_dict(job))
    if job.run != RunSettings():
        data["run"] = {name: getattr(job.run, name) for name in RunSettings.__dataclass_fields__}
        data["run"]["spark_conf"] = dict(sorted(job.run.spark_conf.items()))
        if not job.run.spark_conf:
            del data["run"]["spark_conf"]
    return data


def _schedule_to_dict(job: Job) -> dict[str, Any]:
    """Return the `schedule` and `triggers` keys, each only when the job has one."""
    data: dict[str, Any] = {}
    if job.schedule is not None:
        schedule = job.schedule
        data["schedule"] = {
            "cron": schedule.cron,
            "time_zone": schedule.time_zone,
            "paused": schedule.paused,
            "missed_runs": schedule.missed_runs,
            "parameters": dict(sorted(schedule.parameters.items())),
        }
    if job.triggers:
        data["triggers"] = [
            {
                "after": list(trigger.after),
                "on": trigger.on,
                "require": trigger.require,
                "parameters": dict(sorted(trigger.parameters.items())),
            }
            for trigger in job.triggers
        ]
    return data


def job_to_json(job: Job) -> str:
    return json.dumps(job_to_dict(job), indent=2, ensure_ascii=False) + "\n"


def job_from_dict(data: Any, source: str = "job") -> Job:
    """Build a job from parsed JSON, rejecting unknown format versions and malformed files."""
    if not isinstance(data, dict):
        raise JobFormatError(f"{source}: a job file must hold a JSON object, not {type(data).__name__}")
    version = data.get("format")
    if isinstance(version, str) and version.startswith(FORMAT_PREFIX) and version != FORMAT:
        raise JobFormatError(
            f"{source}: unsupported format {version!r}; this SparkCanvas reads {FORMAT!r}. "
            "Upgrade SparkCanvas to open it."
        )
    if version != FORMAT:
        raise JobFormatError(
            f"{source}: 'format' is {version!r}, expected {FORMAT!r}; is this a SparkCanvas job file?"
        )
    errors = sorted(
        jsonschema.Draft202012Validator(JOB_FILE_SCHEMA).iter_errors(data),
        key=lambda error: list(error.absolute_path),
    )
    if errors:
        details = "; ".join(_describe_schema_error(error) for error in errors[:10])
        raise JobFormatError(f"{source}: invalid job file: {details}")
    preview = data.get("preview", {})
    job = Job(
        name=data["name"],
        description=data.get("description", ""),
        parameters=[JobParameter(**item) for item in data.get("parameters", [])],
        sample_rows=preview.get("sample_rows", DEFAULT_SAMPLE_ROWS),
        time_limit_seconds=preview.get("time_limit_seconds", DEFAULT_TIME_LIMIT_SECONDS),
        memory_limit_mb=preview.get("memory_limit_mb", DEFAULT_MEMORY_LIMIT_MB),
        sampling={key: Sampling(**value) for key, value in preview.get("sampling", {}).items()},
        session_time_zone=data.get("spark", {}).get("session_time_zone", DEFAULT_TIME_ZONE),
        nodes=[
            Node(
                id=item["id"],
                type=item["type"],
                name=item.get("name", ""),
                inputs=dict(item.get("inputs", {})),
                params=dict(item.get("params", {})),
            )
            for item in data["nodes"]
        ],
        layout={key: {"x": pos["x"], "y": pos["y"]} for key, pos in data.get("layout", {}).items()},
    )
    _read_schedule(job, data, source)
    job.run = RunSettings(**data.get("run", {}))
    return job


def _read_schedule(job: Job, data: dict[str, Any], source: str) -> None:
    """Set the job's schedule and triggers, rejecting a cron expression or time zone that cannot run."""
    from designer.schedules import check_schedule

    if "schedule" in data:
        job.schedule = Schedule(**data["schedule"])
    job.triggers = [Trigger(**item) for item in data.get("triggers", [])]
    problems = check_schedule(job)
    if problems:
        raise JobFormatError(f"{source}: " + "; ".join(problems))


def _describe_schema_error(error: jsonschema.ValidationError) -> str:
    path = "/".join(str(part) for part in error.absolute_path) or "(top level)"
    return f"at {path}: {error.message}"


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def load_job(path: str | os.PathLike) -> Job:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise JobFormatError(f"job file not found: {path}") from None
    except UnicodeDecodeError as exc:
        raise JobFormatError(
            f"{path}: not UTF-8 text (byte {exc.start}); save the job file as UTF-8"
        ) from None
    except OSError as exc:
        raise JobFormatError(f"cannot read job file {path}: {exc.strerror}") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise JobFormatError(
            f"{path}: not valid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        ) from exc
    return job_from_dict(data, source=str(path))


def save_job(job: Job, path: str | os.PathLike) -> None:
    """Write a job file atomically: a temporary file in the same folder, then a rename."""
    write_text_atomic(Path(path), job_to_json(job))


def write_text_atomic(path: Path, text: str) -> None:
    """Write a text file through a temporary file and a rename, with the usual permissions.

    Raises OSError for a path that exists and is not a regular file, such as a folder or a
    device, which a rename would replace.
    """
    if path.exists() and not path.is_file():
        raise OSError(errno.EEXIST, "not a regular file; choose a file path", str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(temporary, 0o666 & ~_umask())
        with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
