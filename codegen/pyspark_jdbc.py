"""PySpark lowering of the PostgreSQL nodes: Spark's JDBC reader and writer.

The connection's server, database and user are written into the script at export time.
The password is not: the script reads it at run time from the environment variable or
file that the connection names, through the `read_password` function emitted once per script.
A PostgreSQL target writes through the `save_to_postgres` function, emitted once per script
that has one, so that the table changes in one PostgreSQL transaction.
"""

from __future__ import annotations

from codegen.quoting import py_str, py_text_block, spark_ddl_chunks
from codegen.safe_write import RUN_ID_CONF
from designer.jdbc_nodes import node_connection, partitioning, source_relation, stored_schema

BODY_INDENT = "    "
# Rows per round trip. A PostgreSQL JDBC read without a fetch size keeps the whole result in
# the executor's memory; with one, Spark's PostgreSQL dialect reads through a cursor.
FETCH_SIZE = 10_000
DEBIAN_JAR_HINT = "/usr/share/java/postgresql.jar"
DDL_LINE_WIDTH = 72  # characters of a customSchema DDL literal per script line, as for a file source

READ_PASSWORD = '''def read_password(environment_variable: str = "", file: str = "") -> str:
    """Read a database password at run time from an environment variable or a file's first line."""
    if environment_variable:
        password = os.environ.get(environment_variable, "")
        if not password:
            raise RuntimeError(
                f"the environment variable {environment_variable} with the database password "
                "is not set; export it before running the job"
            )
        return password
    try:
        with open(file, encoding="utf-8") as stream:
            password = stream.read().split("\\n")[0].rstrip("\\r")
    except OSError as error:
        raise RuntimeError(f"cannot read the database password file {file}: {error.strerror}") from None
    if not password:
        raise RuntimeError(f"the database password file {file} is empty")
    return password'''


SAVE_FUNCTION = "save_to_postgres"
# The functions that the script defines for the PostgreSQL nodes.
HELPER_NAMES = frozenset({"read_password", SAVE_FUNCTION})
# PostgreSQL cuts identifiers at 63 bytes, so the staging table's name keeps this many bytes of
# the target's name, and the run id after it stays whole.
STAGING_NAME_BYTES = 20
# The table, in the staging table's schema, that records each committed append by table, run id and node id.
APPENDS_TABLE = "sparkcanvas_appends"
SAVE_TO_POSTGRES = f'''def save_to_postgres(
    spark: SparkSession,
    frame,
    *,
    url: str,
    user: str,
    password: str,
    table: str,
    mode: str,
    node_id: str,
    schema: str = "",
) -> bool:
    """Write a DataFrame to a PostgreSQL table in one transaction, through a staging table.

    Spark's JDBC writer commits each partition on its own, so the rows first go to a staging
    table in the target's schema. One transaction then creates the target like the staging
    table if it is missing, empties it with TRUNCATE in mode overwrite, copies the staged rows
    and drops the staging table. On any error it rolls back and drops the staging table, so the
    target keeps its previous rows. Other sessions can see the staging table while it exists. A
    killed script leaves it behind, and the next attempt of the same run replaces it.

    An append also inserts (table, run id, node id) into {APPENDS_TABLE} in the same transaction.
    When that row exists, an earlier attempt of this run committed the append, so the staging table
    is dropped and nothing is written. Such a retry still computes and stages the rows first. The
    runner passes its run id as {RUN_ID_CONF}; without it each write gets a random id.
    Returns False when nothing was written.
    """

    def quote(name: str) -> str:
        return '"' + name.replace('"', '""') + '"'

    def record_append(connection, appends: str) -> bool:
        """Record this append in the open transaction. Return False when this run already committed it."""
        connection.createStatement().execute(
            f"CREATE TABLE IF NOT EXISTS {{appends}} (target_table text, run_id text, node_id text, "
            "appended_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (target_table, run_id, node_id))"
        )
        insert = f"INSERT INTO {{appends}} VALUES (?, ?, ?) ON CONFLICT DO NOTHING"
        record = connection.prepareStatement(insert)
        for index, value in enumerate((table, run_id, node_id), start=1):
            record.setString(index, value)
        return record.executeUpdate() == 1

    run_id = spark.conf.get("{RUN_ID_CONF}", None) or uuid.uuid4().hex
    staging_name = table.encode()[:{STAGING_NAME_BYTES}].decode(errors="ignore") + "_staging_" + run_id
    prefix = quote(schema) + "." if schema else ""
    target, staging = prefix + quote(table), prefix + quote(staging_name)
    columns = ", ".join(quote(name) for name in frame.columns)
    connection = None
    try:
        (
            frame.write.format("jdbc")
            .option("driver", "org.postgresql.Driver")
            .option("url", url)
            .option("user", user)
            .option("password", password)
            .option("dbtable", staging)
            .mode("overwrite")
            .save()
        )
        connection = spark._jvm.java.sql.DriverManager.getConnection(url, user, password)
        connection.setAutoCommit(False)
        statement = connection.createStatement()
        statement.execute(f"CREATE TABLE IF NOT EXISTS {{target}} (LIKE {{staging}})")
        if mode == "overwrite":
            statement.execute(f"TRUNCATE TABLE {{target}}")
        written = mode == "overwrite" or record_append(connection, prefix + quote("{APPENDS_TABLE}"))
        if written:
            statement.execute(f"INSERT INTO {{target}} ({{columns}}) SELECT {{columns}} FROM {{staging}}")
        else:
            log.info("Node %s: run %s already appended to %s; nothing written", node_id, run_id, target)
        statement.execute(f"DROP TABLE {{staging}}")
        connection.commit()
        return written
    except BaseException:
        try:
            if connection is None:
                connection = spark._jvm.java.sql.DriverManager.getConnection(url, user, password)
                connection.setAutoCommit(False)
            connection.rollback()
            connection.createStatement().execute(f"DROP TABLE IF EXISTS {{staging}}")
            connection.commit()
        except Exception as error:
            log.warning("Could not drop the staging table %s: %s", staging, error)
        raise
    finally:
        if connection is not None:
            connection.close()'''


def uses_jdbc(job) -> bool:
    return any(node.type in ("source.jdbc", "target.jdbc") for node in job.nodes)


def writes_jdbc(job) -> bool:
    """Return whether the job has a PostgreSQL target, so the script needs `save_to_postgres`."""
    return any(node.type == "target.jdbc" for node in job.nodes)


def helper_sections(job) -> list[str]:
    """Return the script lines of the functions that the job's PostgreSQL nodes call, or none."""
    sections = ["", "", READ_PASSWORD] if uses_jdbc(job) else []
    if writes_jdbc(job):
        sections += ["", "", SAVE_TO_POSTGRES]
    return sections


def usage_notes(job) -> str:
    """Return the script header's paragraph on the JDBC driver and the passwords it reads."""
    if not uses_jdbc(job):
        return ""
    sources = []
    for node in job.nodes:
        if node.type not in ("source.jdbc", "target.jdbc"):
            continue
        conn = node_connection(node)
        where = (
            f"the environment variable {conn.password_env}"
            if conn.password_env
            else f"the file {conn.password_file}"
        )
        line = f"connection {conn.name}: {where}"
        if line not in sources:
            sources.append(line)
    return (
        "The job reads or writes PostgreSQL through Spark's JDBC data source, so spark-submit needs "
        f"the PostgreSQL JDBC driver: add --jars {DEBIAN_JAR_HINT} (Debian's libpostgresql-jdbc-java) "
        "or the path of another copy of the driver. The passwords are read at run time from "
        + "; ".join(sources)
        + "."
    )


def _connection_options(node) -> list[str]:
    conn = node_connection(node)
    from catalog.postgres import JDBC_DRIVER, jdbc_url

    return [
        f'    .option("driver", {py_str(JDBC_DRIVER)})',
        f'    .option("url", {py_str(jdbc_url(conn))})',
        f'    .option("user", {py_str(conn.user)})',
        f'    .option("password", {_password_call(conn)})',
    ]


def _password_call(conn) -> str:
    """Return the script's call that reads the connection's password at run time."""
    if conn.password_env:
        return f"read_password(environment_variable={py_str(conn.password_env)})"
    return f"read_password(file={py_str(conn.password_file)})"


def source_jdbc(emitter, node, variable: str) -> list[str]:
    from catalog.postgres import relation_text

    table, query = source_relation(node)
    settings = partitioning(node)
    lines = [f"{variable} = (", '    spark.read.format("jdbc")', *_connection_options(node)]
    if table:
        lines.append(f'    .option("dbtable", {py_str(relation_text(table=table))})')
    elif settings is None:
        lines.append(f'    .option("query", {py_text_block(query, BODY_INDENT * 2)})')
    else:
        # Spark takes a partitioned read of a query only as a subquery in dbtable.
        lines.append(f'    .option("dbtable", {py_text_block(relation_text(query=query), BODY_INDENT * 2)})')
    lines.append(f'    .option("fetchsize", {FETCH_SIZE})')
    lines += _custom_schema_option(node)
    if settings is not None:
        lines += [
            f'    .option("partitionColumn", {py_str(settings["column"])})',
            f'    .option("lowerBound", {py_str(settings["lower_bound"])})',
            f'    .option("upperBound", {py_str(settings["upper_bound"])})',
            f'    .option("numPartitions", {int(settings["num_partitions"])})',
        ]
    lines += ["    .load()", ")"]
    return lines


def _custom_schema_option(node) -> list[str]:
    """Return the customSchema option that makes Spark read with the node's stored column types.

    Spark's JDBC reader matches customSchema's columns to the result's by name and ignores the
    others. So a stored column that the server no longer has is no error in the script, and the
    preview reports it.
    """
    schema = stored_schema(node)
    if schema is None:
        return []
    chunks = spark_ddl_chunks(schema, DDL_LINE_WIDTH)
    if len(chunks) == 1:
        return [f'    .option("customSchema", {py_str(chunks[0])})']
    return [
        "    .option(",
        '        "customSchema",',
        *[f"        {py_str(chunk)}" for chunk in chunks],
        "    )",
    ]


def target_jdbc(emitter, node, variable: str) -> list[str]:
    from catalog.postgres import jdbc_url, relation_text, split_table_name

    source = emitter.input_variable(node, "in")
    mode = node.params.get("mode") or "append"
    conn = node_connection(node)
    *schema, table = split_table_name(str(node.params["table"]).strip())
    where = f"{relation_text(table=str(node.params['table']).strip())} at {jdbc_url(conn)}"
    password = _password_call(conn)
    arguments = [
        "    spark,",
        f"    {variable},",
        f"    url={py_str(jdbc_url(conn))},",
        f"    user={py_str(conn.user)},",
        f"    password={password},",
        *([f"    schema={py_str(schema[0])},"] if schema else []),
        f"    table={py_str(table)},",
        f"    mode={py_str(mode)},",
        f"    node_id={py_str(node.id)},",
    ]
    return [
        f"{variable}_rows = Observation({py_str(node.id)})",
        f'{variable} = {source}.observe({variable}_rows, F.count(F.lit(1)).alias("rows"))',
        f"if {SAVE_FUNCTION}(",
        *arguments,
        "):",
        "    log.info(",
        '        "Node %s wrote %d rows to %s",',
        f"        {py_str(node.id)},",
        f'        {variable}_rows.get["rows"],',
        f"        {py_str(where)},",
        "    )",
    ]
