"""Deterministic trip-like Parquet data for the benchmarks, written once and reused.

A file's name carries its row count and seed, so a later run with the same settings
reuses it, and a run with other settings writes a new one beside it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

DEFAULT_SEED = 20240701
ZONE_COUNT = 265
BOROUGHS = ("Manhattan", "Queens", "Brooklyn", "Bronx", "Staten Island", "EWR")
PAYMENTS = ("card", "cash", "no_charge", "dispute")
PAYMENT_WEIGHTS = (0.72, 0.24, 0.02, 0.02)
FIRST_PICKUP = np.datetime64("2024-07-01T00:00:00", "us")
PICKUP_SPAN_SECONDS = 31 * 24 * 3600
# Rows per row group and per generated batch. DuckDB writes row groups of 122,880 rows by
# default, so 128 Ki rows gives readers a typical layout.
BATCH_ROWS = 131_072
GIGABYTE = 1024**3


@dataclass(frozen=True)
class DataFiles:
    """The benchmark's input files: the trips fact table and the zones dimension table."""

    trips: Path
    zones: Path
    rows: int
    seed: int


def default_data_folder() -> Path:
    """Return the cache folder for generated data, under $XDG_CACHE_HOME or ~/.cache."""
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache")
    return Path(cache) / "sparkcanvas" / "benchmark"


def ensure_data(folder: Path, rows: int, seed: int = DEFAULT_SEED) -> DataFiles:
    """Write the trips and zones files unless files for the same row count and seed exist."""
    folder.mkdir(parents=True, exist_ok=True)
    trips = folder / f"trips_{rows}_rows_seed{seed}.parquet"
    zones = folder / f"zones_seed{seed}.parquet"
    if not zones.exists():
        _write_atomic(zones, lambda path: pq.write_table(zones_table(seed), path))
    if not trips.exists():
        _write_atomic(trips, lambda path: _write_trips(path, rows, seed))
    return DataFiles(trips, zones, rows, seed)


def ensure_big_source(folder: Path, gigabytes: float, seed: int = DEFAULT_SEED) -> Path:
    """Write a trips file of about `gigabytes` GiB on disk, stopping at the first batch past it."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"trips_{gigabytes:g}_gib_seed{seed}.parquet"
    if not path.exists():
        _write_atomic(path, lambda temporary: _write_trips_of_size(temporary, gigabytes * GIGABYTE, seed))
    return path


def zones_table(seed: int = DEFAULT_SEED) -> pa.Table:
    """Return the zones dimension table: zone_id 1..265 with a borough and a zone name."""
    generator = np.random.default_rng(seed + 1)
    zone_ids = np.arange(1, ZONE_COUNT + 1, dtype=np.int32)
    boroughs = generator.choice(len(BOROUGHS), size=ZONE_COUNT, p=(0.27, 0.26, 0.23, 0.16, 0.07, 0.01))
    return pa.table(
        {
            "zone_id": zone_ids,
            "borough": pa.array([BOROUGHS[index] for index in boroughs]),
            "zone": pa.array([f"Zone {zone_id:03d}" for zone_id in zone_ids]),
        }
    )


def trips_batch(first_trip_id: int, rows: int, seed: int) -> pa.RecordBatch:
    """Return `rows` trips starting at `first_trip_id`. The same arguments give the same rows."""
    generator = np.random.default_rng([seed, first_trip_id])
    distance = np.round(generator.exponential(3.0, rows), 2)
    fare = np.round(3.0 + 2.5 * distance + generator.normal(0.0, 1.5, rows).clip(-2.5, None), 2)
    seconds = generator.integers(0, PICKUP_SPAN_SECONDS, rows)
    payment = generator.choice(len(PAYMENTS), size=rows, p=PAYMENT_WEIGHTS).astype(np.int32)
    return pa.RecordBatch.from_pydict(
        {
            "trip_id": pa.array(np.arange(first_trip_id, first_trip_id + rows, dtype=np.int64)),
            # UTC-adjusted timestamps, so Spark reads the column as `timestamp`, not `timestamp_ntz`.
            "pickup_at": pa.array(FIRST_PICKUP + seconds.astype("timedelta64[s]"), pa.timestamp("us", "UTC")),
            "zone_id": pa.array(generator.integers(1, ZONE_COUNT + 1, rows, dtype=np.int32)),
            "distance": pa.array(distance),
            "fare": pa.array(fare),
            "payment": pa.DictionaryArray.from_arrays(payment, pa.array(PAYMENTS)).dictionary_decode(),
        }
    )


def _write_trips(path: Path, rows: int, seed: int) -> None:
    batch = trips_batch(0, 0, seed)
    with pq.ParquetWriter(path, batch.schema) as writer:
        for first in range(0, rows, BATCH_ROWS):
            writer.write_batch(trips_batch(first, min(BATCH_ROWS, rows - first), seed), BATCH_ROWS)


def _write_trips_of_size(path: Path, size_bytes: float, seed: int) -> None:
    batch = trips_batch(0, 0, seed)
    first = 0
    with pq.ParquetWriter(path, batch.schema) as writer:
        while path.stat().st_size < size_bytes:
            writer.write_batch(trips_batch(first, BATCH_ROWS, seed), BATCH_ROWS)
            first += BATCH_ROWS


def _write_atomic(path: Path, write) -> None:
    """Write to a temporary name and rename, so an interrupted run leaves no half file to reuse."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(temporary)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
