"""SparkCanvas designer: the job model, validation, job store, runs and the Streamlit UI."""
