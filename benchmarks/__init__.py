"""Benchmarks of SparkCanvas; each module runs as `python -m benchmarks.NAME`."""
