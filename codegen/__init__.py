"""Pure functions from a job: the PySpark script emitter and the DuckDB preview compiler."""
