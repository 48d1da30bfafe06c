"""The Tables tab of the Data Catalog page: databases, tables, and one table's schema, data and edits."""

from __future__ import annotations

import logging

import streamlit as st

from catalog.errors import CatalogConflictError, CatalogError
from catalog.model import Column, Table
from designer.schema import SIMPLE_TYPES, normalize_type
from designer.ui import catalog_sample
from designer.ui import catalog_state as page_state
from designer.ui.feedback import guard

logger = logging.getLogger(__name__)

DATABASE_CHOICE = "catalog_database_choice"
TABLE_CHOICE = "catalog_table_choice"
SAMPLE_ROWS = 100
OTHER_TYPE = "other (type it below)"
TYPE_CHOICES = (*SIMPLE_TYPES, "decimal(10,0)", "decimal(38,18)")


def render(catalog) -> None:
    tables = catalog.list_tables()
    databases = catalog.list_databases()
    if not databases:
        st.info("The catalog has no databases yet. Open the Crawl tab to crawl a folder or the example data.")
        return
    database = _choose_database(databases, tables)
    in_database = [table for table in tables if table.database == database]
    _table_list(database, in_database)
    if not in_database:
        _empty_database(catalog, database)
        return
    listed = _choose_table(database, in_database)
    table = _loaded(catalog, listed)
    if table is not None:
        _table_view(catalog, table, listed)


# --- databases and the table list --------------------------------------------------------------------


def _choose_database(databases: list[str], tables: list[Table]) -> str:
    counts = {name: sum(1 for table in tables if table.database == name) for name in databases}

    def label(name: str) -> str:
        noun = "table" if counts[name] == 1 else "tables"
        return f"{name} ({counts[name]} {noun})"

    return st.selectbox("Database", databases, key=DATABASE_CHOICE, format_func=label)


def _table_list(database: str, tables: list[Table]) -> None:
    if not tables:
        return
    rows = [
        {
            "Table": table.name,
            "Format": table.format,
            "Location": table.location,
            "Rows": table.row_count,
            "Schema version": table.version,
            "Updated": table.updated,
        }
        for table in tables
    ]
    st.dataframe(rows, hide_index=True)


def _empty_database(catalog, database: str) -> None:
    st.info(f"The database {database!r} has no tables.")
    action = {"kind": "database", "database": database}
    if page_state.pending_confirmation() == action:
        _confirm_database_deletion(catalog, database)
    elif st.button("Delete database", key=f"catalog_delete_database:{database}"):
        page_state.request_confirmation(action)


def _confirm_database_deletion(catalog, database: str) -> None:
    st.warning(f"Delete the empty database {database!r} from the catalog?")
    delete, cancel = st.columns(2)
    if delete.button("Delete", key="catalog_confirm_delete_database", type="primary"):
        page_state.clear_confirmation()
        with guard(f"Deleting database {database!r}"):
            catalog.drop_database(database)
            logger.info("deleted database %s from the Catalog page", database)
            page_state.notify("success", f"Deleted the database {database!r}.")
            st.rerun()
    if cancel.button("Cancel", key="catalog_cancel_delete_database"):
        page_state.clear_confirmation()
        st.rerun()


def _choose_table(database: str, tables: list[Table]) -> Table:
    names = [table.name for table in tables]
    name = st.selectbox("Table", names, key=f"{TABLE_CHOICE}:{database}")
    return tables[names.index(name)] if name in names else tables[0]


def _loaded(catalog, listed: Table) -> Table | None:
    """Return the copy of the table the page loaded earlier, or load it now."""
    table = page_state.loaded_table(listed.full_name)
    if table is not None:
        return table
    with guard(f"Loading table {listed.full_name}"):
        table = catalog.get_table(listed.database, listed.name)
        page_state.remember_table(table)
        return table
    return None


# --- one table -------------------------------------------------------------------------------------


def _table_view(catalog, table: Table, listed: Table) -> None:
    st.subheader(table.full_name)
    if table.description:
        st.caption(table.description)
    st.caption(
        f"{table.format} at `{table.location}` · schema version {table.version} · "
        f"revision {table.revision} · updated {table.updated or 'never'}"
    )
    _staleness(table, listed)
    if st.button("Reload table", key=f"catalog_reload:{table.full_name}", icon=":material/refresh:"):
        _reload(catalog, table)
    schema_tab, versions_tab, sample_tab, partitions_tab, edit_tab = st.tabs(
        ["Schema", "Schema versions", "Sample rows", "Partitions", "Edit"]
    )
    with schema_tab:
        _schema(table)
    with versions_tab:
        _versions(catalog, table)
    with sample_tab:
        _sample(table)
    with partitions_tab:
        _partitions(catalog, table)
    with edit_tab:
        _column_editor(catalog, table)
        st.divider()
        _delete_table(catalog, table)


def _staleness(table: Table, listed: Table) -> None:
    message = page_state.conflict(table.full_name)
    if message:
        st.error(message)
    elif listed.revision != table.revision:
        st.warning(
            f"Table {table.full_name} changed in the catalog after this page loaded it (revision "
            f"{table.revision}, now {listed.revision}). Click Reload table to see the changes before editing."
        )


def _reload(catalog, table: Table) -> None:
    with guard(f"Reloading table {table.full_name}"):
        page_state.remember_table(catalog.get_table(table.database, table.name))
        st.rerun()


def _schema(table: Table) -> None:
    keys = {column.name for column in table.partition_keys}
    rows = [
        {
            "Column": column.name,
            "Type": column.type,
            "Comment": column.comment,
            "Partition key": column.name in keys,
        }
        for column in table.schema
    ]
    st.dataframe(rows, hide_index=True)


def _versions(catalog, table: Table) -> None:
    with guard(f"Listing the schema versions of table {table.full_name}"):
        versions = catalog.schema_versions(table.database, table.name)
        rows = [
            {
                "Version": version.version,
                "Created": version.created,
                "Change": version.change,
                "Columns": _columns_text(version.columns),
                "Partition keys": _columns_text(version.partition_keys),
            }
            for version in versions
        ]
        st.dataframe(rows, hide_index=True)


def _columns_text(columns: list[Column]) -> str:
    return ", ".join(f"{column.name} {column.type}" for column in columns)


def _sample(table: Table) -> None:
    try:
        rows = catalog_sample.read_sample(table, SAMPLE_ROWS)
    except CatalogError as error:
        st.warning(str(error))
        return
    with guard(f"Showing sample rows of table {table.full_name}"):
        st.caption(f"The first {rows.num_rows} rows, at most {SAMPLE_ROWS}, read with DuckDB.")
        st.dataframe(rows.to_pandas(), hide_index=True)


def _partitions(catalog, table: Table) -> None:
    if not table.partition_keys:
        st.caption("This table has no partition keys.")
        return
    with guard(f"Listing the partitions of table {table.full_name}"):
        partitions = catalog.list_partitions(table.database, table.name)
        rows = [
            {**partition.values, "Location": partition.location, "Rows": partition.row_count}
            for partition in partitions
        ]
        st.caption(f"{len(rows)} {'partition' if len(rows) == 1 else 'partitions'}")
        st.dataframe(rows, hide_index=True)


# --- editing a column ----------------------------------------------------------------------------------


def _column_editor(catalog, table: Table) -> None:
    st.markdown("**Edit a column**")
    names = [column.name for column in table.schema]
    if not names:
        st.caption("This table has no columns.")
        return
    name = st.selectbox("Column", names, key=f"catalog_edit_column:{table.full_name}")
    column = table.schema[names.index(name)]
    # The keys include the revision, so the fields show the saved values again after each save or reload.
    prefix = f"catalog_edit:{table.full_name}:{table.revision}:{column.name}"
    choices = list(dict.fromkeys([column.type, *TYPE_CHOICES])) + [OTHER_TYPE]
    chosen = st.selectbox("Type", choices, key=f"{prefix}:type")
    typed = st.text_input(
        "Other type",
        key=f"{prefix}:other",
        disabled=chosen != OTHER_TYPE,
        help="Any Spark type, for example decimal(12,2), array<string> or struct<id:int,name:string>.",
    )
    comment = st.text_input("Comment", column.comment, key=f"{prefix}:comment")
    if st.button("Save column", key=f"{prefix}:save", type="primary"):
        new_type = _checked_type(table, column, typed if chosen == OTHER_TYPE else chosen)
        if new_type is not None:
            _save_column(catalog, table, column, new_type, comment)


def _checked_type(table: Table, column: Column, text: str) -> str | None:
    """Return the canonical Spark type typed for a column, or None after showing why it is invalid."""
    try:
        return normalize_type(text)
    except ValueError as error:
        st.error(f"Table {table.full_name}, column {column.name!r}, type {text!r}: {error}.")
        return None


def _save_column(catalog, table: Table, column: Column, new_type: str, comment: str) -> None:
    if new_type == column.type and comment == column.comment:
        st.info(f"Column {column.name!r} of table {table.full_name} already has this type and comment.")
        return
    action = f"Saving column {column.name!r} of table {table.full_name}"
    with guard(action, parameter="type", value=new_type):
        try:
            saved = catalog.update_column(
                table.database,
                table.name,
                column.name,
                type=new_type if new_type != column.type else None,
                comment=comment if comment != column.comment else None,
                expected_revision=table.revision,
            )
        except CatalogConflictError as error:
            _conflict(table, column, error)
            return
        page_state.remember_table(saved)
        logger.info("saved column %s of %s at revision %s", column.name, table.full_name, saved.revision)
        changes = [f"type {new_type}"] if new_type != column.type else []
        changes += ["comment"] if comment != column.comment else []
        what = " and ".join(changes)
        message = f"Saved the {what} of column {column.name!r} of table {table.full_name}."
        page_state.notify("success", message)
        st.rerun()


def _conflict(table: Table, column: Column, error: CatalogConflictError) -> None:
    logger.info("edit of %s rejected at revision %s: %s", table.full_name, table.revision, error)
    message = f"Your edit of column {column.name!r} was not saved: {error}. Click Reload table first."
    page_state.record_conflict(table.full_name, message)
    st.rerun()


# --- deleting a table ------------------------------------------------------------------------------------


def _delete_table(catalog, table: Table) -> None:
    action = {"kind": "table", "database": table.database, "name": table.name}
    if page_state.pending_confirmation() == action:
        _confirm_table_deletion(catalog, table)
    elif st.button("Delete table", key=f"catalog_delete_table:{table.full_name}", icon=":material/delete:"):
        page_state.request_confirmation(action)


def _confirm_table_deletion(catalog, table: Table) -> None:
    st.warning(
        f"Delete table {table.full_name} from the catalog? Its files at {table.location} are not deleted."
    )
    delete, cancel = st.columns(2)
    if delete.button("Delete", key="catalog_confirm_delete_table", type="primary"):
        page_state.clear_confirmation()
        with guard(f"Deleting table {table.full_name}"):
            catalog.delete_table(table.database, table.name)
            logger.info("deleted table %s from the Catalog page", table.full_name)
            page_state.notify("success", f"Deleted table {table.full_name} from the catalog.")
            st.rerun()
    if cancel.button("Cancel", key="catalog_cancel_delete_table"):
        page_state.clear_confirmation()
        st.rerun()
