"""A throwaway standalone Spark cluster for the tests: one master and two workers on 127.0.0.1.

The three processes run pip pyspark's `bin/spark-class` (which execs java, so their pids are
the JVMs). Each worker offers 1 core and 1 GB, and keeps its work folder, where each
executor writes its log, in a temporary folder. SPARK_LOCAL_IP=127.0.0.1 makes every
process, web UIs included, listen on loopback only.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyspark

logger = logging.getLogger(__name__)

HOST = "127.0.0.1"
WORKERS = 2
WORKER_CORES = 1
WORKER_MEMORY = "1g"
START_TIMEOUT_SECONDS = 120
STOP_TIMEOUT_SECONDS = 30
MASTER_CLASS = "org.apache.spark.deploy.master.Master"
WORKER_CLASS = "org.apache.spark.deploy.worker.Worker"


class SparkClusterError(RuntimeError):
    """The test cluster could not be started."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


@dataclass
class StandaloneCluster:
    """A master and its workers, started by `start` and stopped, by pid, by `stop`."""

    folder: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="spark-cluster-")))
    master_port: int = field(default_factory=free_port)
    web_port: int = field(default_factory=free_port)
    processes: list[subprocess.Popen] = field(default_factory=list)

    @property
    def master_url(self) -> str:
        return f"spark://{HOST}:{self.master_port}"

    def work_dir(self, index: int) -> Path:
        return self.folder / f"worker-{index}"

    def start(self) -> StandaloneCluster:
        """Start the master and the workers, and wait until the master lists every worker alive."""
        self._launch(
            "master",
            MASTER_CLASS,
            "--host",
            HOST,
            "--port",
            str(self.master_port),
            "--webui-port",
            str(self.web_port),
        )
        for index in range(1, WORKERS + 1):
            self.work_dir(index).mkdir(parents=True)
            self._launch(
                f"worker-{index}",
                WORKER_CLASS,
                self.master_url,
                "--host",
                HOST,
                "--cores",
                str(WORKER_CORES),
                "--memory",
                WORKER_MEMORY,
                "--work-dir",
                str(self.work_dir(index)),
                "--webui-port",
                str(free_port()),
            )
        self._wait_for_workers()
        logger.info("standalone cluster %s started with %d workers", self.master_url, WORKERS)
        return self

    def _launch(self, name: str, main_class: str, *arguments: str) -> None:
        spark_class = Path(pyspark.__file__).parent / "bin" / "spark-class"
        environment = {**os.environ, "SPARK_LOCAL_IP": HOST, "SPARK_NO_DAEMONIZE": "1"}
        with open(self.folder / f"{name}.log", "wb") as log:
            process = subprocess.Popen(
                [str(spark_class), main_class, *arguments],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=environment,
            )
        self.processes.append(process)

    def _wait_for_workers(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            for process in self.processes:
                if process.poll() is not None:
                    raise SparkClusterError(f"a cluster process exited early; see the logs in {self.folder}")
            try:
                if self.alive_workers() == WORKERS:
                    return
            except (OSError, ValueError):
                pass  # the master's web UI is not up yet
            time.sleep(0.5)
        raise SparkClusterError(
            f"the master did not list {WORKERS} alive workers within {START_TIMEOUT_SECONDS} s; "
            f"see the logs in {self.folder}"
        )

    def status(self) -> dict[str, Any]:
        """Return the master's JSON status page."""
        with urllib.request.urlopen(f"http://{HOST}:{self.web_port}/json/", timeout=5) as response:
            return json.load(response)

    def alive_workers(self) -> int:
        return sum(1 for worker in self.status().get("workers", []) if worker.get("state") == "ALIVE")

    def application_id(self, name: str) -> str:
        """Return the id of the last completed application with this name."""
        applications = [app for app in self.status().get("completedapps", []) if app.get("name") == name]
        if not applications:
            raise SparkClusterError(f"no completed application named {name!r} on {self.master_url}")
        return max(applications, key=lambda app: app.get("starttime", 0))["id"]

    def executor_logs(self, application_id: str) -> dict[int, str]:
        """Return, per worker, the stderr logs its executors wrote for an application."""
        logs = {}
        for index in range(1, WORKERS + 1):
            files = sorted((self.work_dir(index) / application_id).glob("*/stderr"))
            logs[index] = "".join(path.read_text(encoding="utf-8", errors="replace") for path in files)
        return logs

    def stop(self, keep_logs: bool = False) -> None:
        """Stop the workers, then the master (SIGTERM by pid, SIGKILL after a time limit), and
        delete the cluster's folder unless `keep_logs` is set."""
        for process in reversed(self.processes):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in reversed(self.processes):
            try:
                process.wait(timeout=STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                logger.warning("cluster process %s did not stop on SIGTERM; killing it", process.pid)
                process.kill()
                process.wait()
        self.processes.clear()
        if not keep_logs:
            shutil.rmtree(self.folder, ignore_errors=True)
