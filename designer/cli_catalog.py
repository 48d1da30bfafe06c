"""The `sparkcanvas catalog` commands: crawl a folder, list tables, show a table, delete a table."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from catalog.errors import CatalogError

SAMPLE_ROWS = 10
PROGRESS_WIDTH = 30


def add_catalog_commands(commands) -> None:
    """Add `catalog` and its subcommands to the top-level subparsers."""
    catalog = commands.add_parser(
        "catalog",
        help="crawl folders into the data catalog, list, show and delete its tables",
        description="Work with the data catalog, an SQLite file at $SPARKCANVAS_CATALOG, else "
        "$SPARKCANVAS_HOME/catalog.db (default ~/.sparkcanvas/catalog.db).",
    )
    _catalog_option(catalog, default=None)
    actions = catalog.add_subparsers(dest="catalog_command", required=True, metavar="ACTION")
    _add_crawl(actions)
    _add_tables(actions)
    _add_show(actions)
    _add_delete(actions)


def _catalog_option(parser: argparse.ArgumentParser, default: Any = argparse.SUPPRESS) -> None:
    # The subcommands' copy defaults to SUPPRESS, so `catalog --catalog X tables` keeps X.
    parser.add_argument(
        "--catalog",
        metavar="PATH",
        default=default,
        help="catalog file to use instead of the default; created if missing",
    )


def _format_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--format", choices=("table", "json"), default="table", help="output format (default table)"
    )


def _add_crawl(actions) -> None:
    crawl = actions.add_parser(
        "crawl",
        help="find tables and partitions in a folder of CSV, JSON and Parquet files",
        description="Read every data file under PATH and record its tables, schemas and Hive-style "
        "partitions in a catalog database. A re-crawl records added columns as a new schema version "
        "and reports incompatible changes without merging them.",
    )
    crawl.add_argument("path", metavar="PATH", help="folder (or single file) to crawl")
    crawl.add_argument(
        "--database", required=True, metavar="NAME", help="catalog database; created if missing"
    )
    _format_option(crawl)
    _catalog_option(crawl)
    crawl.set_defaults(handler=command_catalog_crawl)


def _add_tables(actions) -> None:
    tables = actions.add_parser(
        "tables", help="list the catalog's tables", description="List the catalog's tables."
    )
    tables.add_argument("--database", metavar="NAME", help="only the tables of this database")
    _format_option(tables)
    _catalog_option(tables)
    tables.set_defaults(handler=command_catalog_tables)


def _add_show(actions) -> None:
    show = actions.add_parser(
        "show",
        help="print a table's location, format, schema, versions, partitions and sample rows",
        description="Print a table's location, format and options, its schema with comments, its "
        f"schema versions and partitions, its row count, and its first {SAMPLE_ROWS} rows read with DuckDB.",
    )
    show.add_argument("table", metavar="DATABASE.TABLE", help="the table to show")
    _format_option(show)
    _catalog_option(show)
    show.set_defaults(handler=command_catalog_show)


def _add_delete(actions) -> None:
    delete = actions.add_parser(
        "delete",
        help="remove a table from the catalog; its files stay",
        description="Remove a table, its schema versions and its partitions from the catalog. "
        "The data files are not touched. Asks for confirmation unless --yes is given.",
    )
    delete.add_argument("table", metavar="DATABASE.TABLE", help="the table to delete")
    delete.add_argument("-y", "--yes", action="store_true", help="delete without asking")
    _catalog_option(delete)
    delete.set_defaults(handler=command_catalog_delete)


# --- commands --------------------------------------------------------------------------------


def _open(args: argparse.Namespace):
    from catalog.store import open_catalog

    return open_catalog(Path(args.catalog).expanduser() if args.catalog else None)


def command_catalog_crawl(args: argparse.Namespace) -> int:
    """Crawl a folder, with a progress bar on stderr when stderr is a terminal."""
    from catalog.crawler import crawl

    catalog = _open(args)
    progress = _ProgressBar(sys.stderr) if sys.stderr.isatty() else None
    try:
        report = crawl(catalog, args.path, args.database, on_progress=progress)
    finally:
        if progress is not None:
            progress.close()
    if args.format == "json":
        print(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    else:
        print("\n".join(report.summary_lines()))
    return 0


def command_catalog_tables(args: argparse.Namespace) -> int:
    from designer.cli import text_table

    tables = _open(args).list_tables(args.database)
    rows = [_table_row(table) for table in tables]
    if args.format == "json":
        print(json.dumps(rows, indent=2, ensure_ascii=False))
    elif not rows:
        print("The catalog has no tables; add some with `sparkcanvas catalog crawl PATH --database NAME`.")
    else:
        print("\n".join(text_table(list(rows[0]), rows)))
    return 0


def command_catalog_show(args: argparse.Namespace) -> int:
    from catalog.sample import read_sample

    catalog = _open(args)
    table = catalog.find_table(args.table)
    versions = catalog.schema_versions(table.database, table.name)
    partitions = catalog.list_partitions(table.database, table.name)
    try:
        sample = read_sample(table, SAMPLE_ROWS)
        sample_names, sample_rows, sample_error = sample.column_names, sample.to_pylist(), ""
    except CatalogError as exc:
        sample_names, sample_rows, sample_error = [], [], str(exc)
    if args.format == "json":
        document = _show_document(table, versions, partitions, sample_rows, sample_error)
        print(json.dumps(document, indent=2, ensure_ascii=False))
    else:
        print("\n".join(_show_lines(table, versions, partitions, sample_names, sample_rows, sample_error)))
    return 0


def command_catalog_delete(args: argparse.Namespace) -> int:
    catalog = _open(args)
    table = catalog.find_table(args.table)
    if not args.yes and not _confirm(
        f"Delete table {table.full_name} from catalog {catalog.path}? Its files stay."
    ):
        raise CatalogError(f"table {table.full_name} was not deleted; type y at the prompt, or pass --yes")
    catalog.delete_table(table.database, table.name)
    print(
        f"Deleted table {table.full_name} from catalog {catalog.path}; its files at {table.location} remain."
    )
    return 0


def _confirm(question: str) -> bool:
    if not sys.stdin.isatty():
        raise CatalogError(
            "deleting a table needs confirmation, and standard input is not a terminal; pass --yes"
        )
    answer = input(f"{question} [y/N] ")
    return answer.strip().lower() in ("y", "yes")


# --- output ----------------------------------------------------------------------------------


def _table_row(table) -> dict[str, Any]:
    return {
        "table": table.full_name,
        "format": table.format,
        "columns": len(table.columns),
        "partition_keys": ", ".join(key.name for key in table.partition_keys),
        "rows": table.row_count,
        "version": table.version,
        "location": table.location,
    }


def _columns_json(columns) -> list[dict[str, str]]:
    return [{"name": c.name, "type": c.type, "comment": c.comment} for c in columns]


def _show_document(table, versions, partitions, sample_rows, sample_error) -> dict[str, Any]:
    from designer.cli import json_value

    return {
        "table": table.full_name,
        "location": table.location,
        "format": table.format,
        "options": table.options,
        "description": table.description,
        "row_count": table.row_count,
        "created": table.created,
        "updated": table.updated,
        "version": table.version,
        "revision": table.revision,
        "columns": _columns_json(table.columns),
        "partition_keys": _columns_json(table.partition_keys),
        "schema_versions": [
            {
                "version": version.version,
                "created": version.created,
                "change": version.change,
                "columns": _columns_json(version.columns),
                "partition_keys": _columns_json(version.partition_keys),
            }
            for version in versions
        ],
        "partitions": [
            {"values": p.values, "location": p.location, "row_count": p.row_count} for p in partitions
        ],
        "sample_rows": json_value(sample_rows),
        "sample_error": sample_error,
    }


def _show_lines(table, versions, partitions, sample_names, sample_rows, sample_error) -> list[str]:
    from designer.cli import text_table

    lines = [
        f"Table {table.full_name}",
        f"Location: {table.location}",
        f"Format: {table.format}",
        f"Options: {json.dumps(table.options, sort_keys=True)}",
        f"Rows: {'unknown' if table.row_count is None else table.row_count}",
        f"Schema version: {table.version} (revision {table.revision}, updated {table.updated})",
    ]
    if table.description:
        lines.append(f"Description: {table.description}")
    schema = [
        {
            "column": c.name,
            "type": c.type,
            "partition key": "yes" if c in table.partition_keys else "",
            "comment": c.comment,
        }
        for c in table.schema
    ]
    lines += ["", "Schema:", *text_table(list(schema[0]), schema)] if schema else ["", "Schema: no columns"]
    history = [{"version": v.version, "created": v.created, "change": v.change} for v in versions]
    lines += ["", "Schema versions:", *text_table(list(history[0]), history)]
    if table.partition_keys:
        rows = [
            {
                "partition": "/".join(f"{k}={v}" for k, v in p.values.items()),
                "rows": p.row_count,
                "location": p.location,
            }
            for p in partitions
        ]
        lines += ["", f"Partitions ({len(rows)}):", *(text_table(list(rows[0]), rows) if rows else ["none"])]
    lines += ["", f"Sample rows (first {SAMPLE_ROWS}):"]
    if sample_error:
        lines.append(f"not available: {sample_error}")
    else:
        lines += text_table(sample_names, sample_rows) if sample_names else ["none"]
    return lines


class _ProgressBar:
    """A one-line progress bar redrawn in place on a terminal."""

    def __init__(self, stream):
        self.stream = stream
        self.drawn = False

    def __call__(self, done: int, total: int, message: str) -> None:
        fraction = done / total if total else 1.0
        filled = int(fraction * PROGRESS_WIDTH)
        bar = "#" * filled + "-" * (PROGRESS_WIDTH - filled)
        name = Path(message).name if message else ""
        self.stream.write(f"\r[{bar}] {done}/{total} {name[:40]:<40}")
        self.stream.flush()
        self.drawn = True

    def close(self) -> None:
        if self.drawn:
            self.stream.write("\n")
            self.stream.flush()
