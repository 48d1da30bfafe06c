"""Entry points that the preview benchmark runs in fresh processes.

`python -m benchmarks.children spark-cold` and `... peak-memory` read one JSON object on
standard input and print one JSON object on standard output. They import only what their
measure needs, so a cold start counts no benchmark code.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time


def spark_cold(spec: dict) -> dict:
    """Start a local SparkSession, run the node blocks and collect the result's rows."""
    from pyspark.sql import SparkSession

    spark = spark_session(SparkSession.builder, spec["app_name"], spec["time_zone"])
    try:
        rows = run_blocks(spark, spec["code"], spec["result"])
        collected_at = time.time()
    finally:
        spark.stop()
    return {"collected_at": collected_at, "rows": len(rows)}


def spark_session(builder, app_name: str, time_zone: str):
    """Build the local session the benchmark times: Spark's defaults, no UI, bound to 127.0.0.1."""
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    session = (
        builder.master("local[*]")
        .appName(app_name)
        .config("spark.sql.session.timeZone", time_zone)
        .config("spark.ui.enabled", "false")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    return session


def run_blocks(spark, code: str, result: str) -> list:
    """Execute generated node blocks in a fresh namespace and collect the DataFrame `result`."""
    import argparse
    import logging

    from pyspark.sql import Observation
    from pyspark.sql import functions as F

    namespace = {
        "spark": spark,
        "F": F,
        "Observation": Observation,
        "args": argparse.Namespace(),
        "log": logging.getLogger("sparkcanvas.benchmark.job"),
    }
    exec(compile(code, "<node blocks>", "exec"), namespace)
    return namespace[result].collect()


def peak_memory(spec: dict) -> dict:
    """Preview one node and return this process's RSS high-water marks, in MiB."""
    from codegen.duckdb_preview import PreviewEngine
    from designer.model import job_from_dict

    job = job_from_dict(spec["job"])
    after_imports = _max_rss_mib()
    engine = PreviewEngine()
    started = time.perf_counter()
    preview = engine.preview(job, spec["node"])
    seconds = time.perf_counter() - started
    if not preview.ok:
        raise SystemExit(f"preview of {spec['node']} failed: {preview.error}")
    return {
        "peak_rss_mib": _max_rss_mib(),
        "rss_after_imports_mib": after_imports,
        "vm_hwm_mib": _vm_hwm_mib(),
        # NOTE: cached_bytes is an attribute of newer PreviewEngine versions only.
        "cached_arrow_mib": getattr(engine, "cached_bytes", 0) / 1024**2 or None,
        "rows": preview.row_count,
        "sources": preview.sources,
        "seconds": seconds,
    }


def _max_rss_mib() -> float:
    # Linux reports ru_maxrss in KiB.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _vm_hwm_mib() -> float | None:
    """Return VmHWM from /proc/self/status, the kernel's RSS peak of this address space."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


COMMANDS = {"spark-cold": spark_cold, "peak-memory": peak_memory}


def main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0] not in COMMANDS:
        print(f"usage: python -m benchmarks.children {{{','.join(COMMANDS)}}} < SPEC.json", file=sys.stderr)
        return 2
    result = COMMANDS[argv[0]](json.load(sys.stdin))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
