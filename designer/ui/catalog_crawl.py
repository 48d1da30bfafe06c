"""The Crawl tab of the Data Catalog page: infer tables and partitions from a folder of files."""

from __future__ import annotations

import logging
from pathlib import Path

import streamlit as st

from catalog.crawler import CrawlReport, crawl
from designer.ui import catalog_state as page_state
from designer.ui.feedback import guard

logger = logging.getLogger(__name__)

EXAMPLE_FOLDER = Path(__file__).resolve().parents[2] / "assets" / "data" / "sales_catalog"
EXAMPLE_DATABASE = "examples"
FOLDER = "catalog_crawl_folder"
DATABASE = "catalog_crawl_database"
REPORT = "catalog_crawl_report"
SHOWN_PARTITIONS = 5


def render(catalog) -> None:
    st.markdown("Read every data file under a folder and record each table and partition it finds.")
    folder = st.text_input(
        "Folder",
        key=FOLDER,
        placeholder="/data/sales",
        help="A folder of CSV, JSON or Parquet files, read on this machine.",
    )
    database = st.text_input(
        "Database",
        key=DATABASE,
        placeholder="sales",
        help="The catalog database that receives the tables; created if missing.",
    )
    crawl_column, example_column = st.columns(2)
    if crawl_column.button("Crawl", key="catalog_crawl", type="primary", icon=":material/search:"):
        _crawl(catalog, folder.strip(), database.strip())
    if example_column.button("Crawl the example data", key="catalog_crawl_example"):
        _crawl(catalog, str(EXAMPLE_FOLDER), EXAMPLE_DATABASE)
    report = st.session_state.get(REPORT)
    if report is not None:
        _report(report)


def _crawl(catalog, folder: str, database: str) -> None:
    if not folder or not database:
        st.error("Crawl needs a folder and a database name: fill in both fields.")
        return
    bar = st.progress(0.0, text=f"Crawling {folder}")
    with guard(f"Crawling {folder} into database {database!r}"):
        report = crawl(catalog, folder, database, on_progress=_progress_callback(bar))
        bar.progress(1.0, text=f"Crawled {folder}")
        logger.info("crawled %s into database %s from the Catalog page", folder, database)
        page_state.forget_tables()
        st.session_state[REPORT] = report
        st.rerun()


def _progress_callback(bar):
    def on_progress(done: int, total: int, message: str) -> None:
        fraction = done / total if total else 1.0
        bar.progress(min(max(fraction, 0.0), 1.0), text=f"{done} of {total} files · {message}")

    return on_progress


# --- the report ----------------------------------------------------------------------------------------


def _report(report: CrawlReport) -> None:
    st.subheader("Last crawl")
    st.caption(f"{report.path} into database {report.database!r}")
    _counts(report)
    _new_tables(report)
    _new_partitions(report)
    _schema_changes(report)
    _incompatible_changes(report)
    _missing_tables(report)
    _file_problems(report)


def _counts(report: CrawlReport) -> None:
    figures = {
        "Files read": report.files_read,
        "New tables": len(report.new_tables),
        "New partitions": sum(len(specs) for specs in report.new_partitions.values()),
        "New schema versions": len(report.schema_changes),
        "Incompatible changes": len(report.incompatible_changes),
        "Unreadable files": len(report.unreadable_files),
    }
    for column, (label, value) in zip(st.columns(len(figures)), figures.items(), strict=True):
        column.metric(label, value)


def _new_tables(report: CrawlReport) -> None:
    if report.new_tables:
        st.markdown("**New tables**")
        st.markdown("\n".join(f"- `{name}`" for name in report.new_tables))


def _new_partitions(report: CrawlReport) -> None:
    rows = [
        {"Table": name, "New partitions": len(specs), "Partitions": ", ".join(specs[:SHOWN_PARTITIONS])}
        for name, specs in report.new_partitions.items()
        if specs
    ]
    if rows:
        st.markdown("**New partitions**")
        st.dataframe(rows, hide_index=True)


def _schema_changes(report: CrawlReport) -> None:
    if report.schema_changes:
        st.markdown("**New schema versions**")
        rows = [
            {"Table": change.table, "Version": change.version, "Change": change.change}
            for change in report.schema_changes
        ]
        st.dataframe(rows, hide_index=True)


def _incompatible_changes(report: CrawlReport) -> None:
    for change in report.incompatible_changes:
        st.warning(
            f"Incompatible change in table {change.table}, not merged: {change.change}. Fix the files, or "
            "delete the table and crawl again to catalog the new schema."
        )


def _missing_tables(report: CrawlReport) -> None:
    for name in report.missing_tables:
        st.info(f"Table {name} has no files under {report.path} any more.")


def _file_problems(report: CrawlReport) -> None:
    if report.unreadable_files:
        st.markdown("**Unreadable files**")
        rows = [{"File": problem.path, "Reason": problem.reason} for problem in report.unreadable_files]
        st.dataframe(rows, hide_index=True)
    if report.skipped_files:
        count = len(report.skipped_files)
        with st.expander(f"{count} {'file' if count == 1 else 'files'} skipped"):
            rows = [{"File": problem.path, "Reason": problem.reason} for problem in report.skipped_files]
            st.dataframe(rows, hide_index=True)
