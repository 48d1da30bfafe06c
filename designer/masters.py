"""Spark master URLs: the check that a run's master is one spark-submit accepts, and its default.

spark-submit (Spark 4.3) accepts `local`, `local[N]`, `local[*]`, `local[N,F]` and `local[*,F]`
(F task failures allowed), `local-cluster[N,C,M]`, `spark://HOST:PORT` (several
`HOST:PORT` pairs separated by commas for standby masters), `yarn` and `k8s://URL`.
"""

from __future__ import annotations

import re

from designer.errors import RunError
from designer.model import Job

DEFAULT_MASTER = "local[*]"
EXPECTED = "local, local[N], local[*], spark://HOST:PORT, yarn or k8s://https://HOST:PORT"

LOCAL = re.compile(r"local(\[(\*|[1-9]\d*)(\s*,\s*[1-9]\d*)?\])?")
LOCAL_CLUSTER = re.compile(r"local-cluster\[[1-9]\d*,\s*[1-9]\d*,\s*[1-9]\d*\]")
HOST_PORT = re.compile(r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?):(\d{1,5})")
K8S = re.compile(r"k8s://((https?)://)?[^\s/:]+(:\d{1,5})?/?")


def check_master(master: str) -> str:
    """Return the master without surrounding spaces, or raise RunError naming the value and the fix."""
    value = (master or "").strip()
    if not value:
        raise RunError(f"the Spark master is empty; use {EXPECTED}")
    if value.startswith("local"):
        _check_local(value)
    elif value.startswith("spark://"):
        _check_standalone(value)
    elif value.startswith("k8s://"):
        _check_kubernetes(value)
    elif value != "yarn":
        raise RunError(f"invalid Spark master {value!r}; use {EXPECTED}{_hint(value)}")
    return value


def is_local(master: str) -> bool:
    """Return whether the master runs Spark inside the driver's JVM on this machine."""
    return LOCAL.fullmatch(master) is not None or LOCAL_CLUSTER.fullmatch(master) is not None


def job_master(job: Job) -> str:
    """Return the master a job runs on by default: its run.master setting, else local[*]."""
    settings = getattr(job, "run", None)
    return getattr(settings, "master", None) or DEFAULT_MASTER


def _check_local(value: str) -> None:
    if is_local(value):
        return
    raise RunError(
        f"invalid local Spark master {value!r}: use local, local[*] or local[N] with N threads "
        "(N at least 1), for example local[4]"
    )


def _check_standalone(value: str) -> None:
    for address in value.removeprefix("spark://").split(","):
        match = HOST_PORT.fullmatch(address)
        if match is None or not 0 < int(match[3]) < 65536:
            raise RunError(
                f"invalid standalone Spark master {value!r}: {address!r} is not HOST:PORT; "
                "use spark://HOST:PORT, for example spark://127.0.0.1:7077"
            )


def _check_kubernetes(value: str) -> None:
    if K8S.fullmatch(value) is None:
        raise RunError(
            f"invalid Kubernetes Spark master {value!r}: use k8s://https://HOST:PORT, the address "
            "of the Kubernetes API server"
        )


def _hint(value: str) -> str:
    if value.startswith("yarn"):
        return "; yarn takes no suffix: set the deploy mode with spark-submit's --deploy-mode"
    if value.startswith("mesos://"):
        return "; Spark 4 no longer supports Mesos"
    if "://" not in value and ":" in value:
        return f"; for a standalone cluster write spark://{value}"
    return ""
