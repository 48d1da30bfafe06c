"""The safe write of file targets: the helper function the generated script carries, and its call.

The script writes each target to a staging folder beside it and moves the result into place
through Hadoop's FileSystem API, so a failed or cancelled run leaves the target as it was.
A target node's emitter calls `save_call`; `emit_script` adds `HELPER_SOURCE` to the script
once when a block calls it (`uses_safe_write`).
"""

from __future__ import annotations

from codegen.quoting import py_str

FUNCTION_NAME = "save_safely"
HELPER_NAMES = frozenset(
    {FUNCTION_NAME, "_replace_folder", "_append_files", "_move_files", "_delete_files", "_rename"}
)
# The Spark setting through which the runner passes its run id to the script.
RUN_ID_CONF = "spark.sparkcanvas.runId"
MODES = ("overwrite", "append", "errorifexists", "ignore")

HELPER_SOURCE = f'''\
def save_safely(spark: SparkSession, writer: DataFrameWriter, path: str, mode: str) -> bool:
    """Write through a staging folder beside `path`, then move the result into place.

    A failed or cancelled run leaves `path` as it was. Overwrite renames the old folder to a
    backup and the staged folder to `path`, then deletes the backup. Append moves the staged
    files in under names that start with the run id, and a marker file makes a second append
    with the same run id do nothing. The runner passes its run id as {RUN_ID_CONF};
    without it each write gets a random id. The moves are renames through Hadoop's FileSystem
    API: atomic on local and HDFS file systems, copies on object stores such as S3.
    Returns False when nothing was written: mode ignore on an existing path, or a repeated append.
    """
    hadoop_path = spark.sparkContext._jvm.org.apache.hadoop.fs.Path
    fs = hadoop_path(path).getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
    target = fs.makeQualified(hadoop_path(path))
    if target.getParent() is None:
        raise ValueError(f"cannot write to {{path}}: the target must be a folder below the root")
    run_id = spark.conf.get("{RUN_ID_CONF}", None) or uuid.uuid4().hex
    staging = hadoop_path(target.getParent(), f".{{target.getName()}}.staging-{{run_id}}")
    appended = hadoop_path(target, f"_sparkcanvas_appended-{{run_id}}")

    if mode == "append" and fs.exists(appended):
        log.info("Run %s already appended to %s; nothing written", run_id, path)
        return False
    if mode in ("ignore", "errorifexists") and fs.exists(target):
        if mode == "ignore":
            log.info("%s exists and the mode is ignore; nothing written", path)
            return False
        raise FileExistsError(f"[PATH_ALREADY_EXISTS] {{path}} exists; choose mode overwrite or append")

    try:
        writer.mode("overwrite").save(staging.toString())
    except BaseException:
        fs.delete(staging, True)
        raise
    if mode == "append":
        _append_files(fs, hadoop_path, staging, target, run_id)
    else:
        _replace_folder(fs, hadoop_path, staging, target, run_id)
    return True


def _replace_folder(fs, hadoop_path, staging, target, run_id: str) -> None:
    """Rename staging to target, keeping the old target as a backup until that rename succeeded."""
    backup = hadoop_path(target.getParent(), f".{{target.getName()}}.backup-{{run_id}}")
    if fs.exists(backup):  # an attempt of this run stopped between the two renames below
        if fs.exists(target):
            fs.delete(backup, True)
        else:
            _rename(fs, backup, target)
    replaced = fs.exists(target)
    if replaced:
        _rename(fs, target, backup)
    try:
        _rename(fs, staging, target)
    except BaseException:
        if replaced:
            _rename(fs, backup, target)
        raise
    if replaced:
        fs.delete(backup, True)


def _append_files(fs, hadoop_path, staging, target, run_id: str) -> None:
    """Move the staged files into target, first deleting those an earlier attempt of this run moved."""
    appending = hadoop_path(target, f"_sparkcanvas_appending-{{run_id}}")
    if fs.exists(appending):
        _delete_files(fs, target, f"{{run_id}}-")
    fs.mkdirs(target)
    fs.create(appending, True).close()
    _move_files(fs, hadoop_path, staging, target, f"{{run_id}}-")
    _rename(fs, appending, hadoop_path(target, f"_sparkcanvas_appended-{{run_id}}"))
    fs.delete(staging, True)


def _move_files(fs, hadoop_path, source, target, prefix: str) -> None:
    """Move the data files under source to the same partition folders under target, renamed with prefix."""
    fs.mkdirs(target)
    for status in fs.listStatus(source):
        name = status.getPath().getName()
        if name.startswith(("_", ".")):
            continue  # _SUCCESS and checksum files
        if status.isDirectory():
            _move_files(fs, hadoop_path, status.getPath(), hadoop_path(target, name), prefix)
        else:
            _rename(fs, status.getPath(), hadoop_path(target, prefix + name))


def _delete_files(fs, folder, prefix: str) -> None:
    """Delete the files under folder whose names start with prefix."""
    statuses = fs.listFiles(folder, True)
    paths = []
    while statuses.hasNext():
        paths.append(statuses.next().getPath())
    for path in paths:
        if path.getName().startswith(prefix):
            fs.delete(path, False)


def _rename(fs, source, target) -> None:
    if not fs.rename(source, target):
        raise OSError(f"cannot rename {{source}} to {{target}}")
'''


def save_call(writer: str, path: str, mode: str) -> str:
    """Return the helper's call for a writer variable, a path expression and a save mode."""
    if mode not in MODES:
        raise ValueError(f"unknown save mode {mode!r}; expected one of {', '.join(MODES)}")
    return f"{FUNCTION_NAME}(spark, {writer}, {path}, {py_str(mode)})"


def uses_safe_write(code: str) -> bool:
    """Return whether generated code calls the helper, so the script must define it."""
    return f"{FUNCTION_NAME}(" in code
