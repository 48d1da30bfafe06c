"""The Connections tab of the Data Catalog page: PostgreSQL connections, and a test of each.

The page has no password field. A connection names where the password is read at run time:
an environment variable or a file.
"""

from __future__ import annotations

import logging

import streamlit as st

from catalog.errors import CatalogConflictError
from catalog.model import Connection
from designer.ui import catalog_state as page_state
from designer.ui.feedback import guard

logger = logging.getLogger(__name__)

CHOICE = "catalog_connection_choice"
NEXT_CHOICE = "catalog_connection_next_choice"
NEW = "New connection"
FROM_VARIABLE = "Environment variable"
FROM_FILE = "File"


def render(catalog) -> None:
    connections = catalog.list_connections()
    _connection_list(connections)
    names = [connection.name for connection in connections]
    # A widget's value can only be set before the widget is drawn, so a save or delete leaves it here.
    if NEXT_CHOICE in st.session_state:
        st.session_state[CHOICE] = st.session_state.pop(NEXT_CHOICE)
    choice = st.selectbox("Connection", [NEW, *names], key=CHOICE)
    current = _loaded(connections[names.index(choice)]) if choice in names else None
    if current is not None and st.button("Reload connection", key="catalog_connection_reload"):
        page_state.forget_connection(current.name)
        st.rerun()
    edited = _form(current)
    save, test = st.columns(2)
    if save.button("Save connection", key="catalog_connection_save", type="primary"):
        _save(catalog, edited, current, names)
    if test.button("Test connection", key="catalog_connection_test"):
        _test(edited)
    if current is not None:
        _delete(catalog, current)


def _loaded(listed: Connection) -> Connection:
    """Return the copy of the connection the page loaded first, so a save carries that copy's revision."""
    loaded = page_state.loaded_connection(listed.name)
    if loaded is None:
        page_state.remember_connection(listed)
        return listed
    if loaded.revision != listed.revision:
        st.warning(
            f"Connection {listed.name!r} changed in the catalog after this page loaded it (revision "
            f"{loaded.revision}, now {listed.revision}). Click Reload connection to see the changes."
        )
    return loaded


def _connection_list(connections: list[Connection]) -> None:
    if not connections:
        st.caption("No connections yet. Fill in the form below to add one.")
        return
    rows = [
        {
            "Name": connection.name,
            "Host": connection.host,
            "Port": connection.port,
            "Database": connection.database,
            "User": connection.user,
            "Password from": _password_source(connection),
            "Description": connection.description,
        }
        for connection in connections
    ]
    st.dataframe(rows, hide_index=True)


def _password_source(connection: Connection) -> str:
    if connection.password_env:
        return f"environment variable {connection.password_env}"
    return f"file {connection.password_file}"


def _form(current: Connection | None) -> Connection:
    """Draw the connection's fields and return the connection they describe, saved or not."""
    base = current or Connection(name="")
    # The keys include the name and revision, so the fields show the saved values after a save.
    prefix = f"catalog_connection:{base.name}:{base.revision}"
    name = st.text_input(
        "Name",
        base.name,
        key=f"{prefix}:name",
        disabled=current is not None,
        help="Letters, digits and underscores. Jobs refer to the connection by this name.",
    )
    host_column, port_column = st.columns([3, 1])
    host = host_column.text_input("Host", base.host, key=f"{prefix}:host")
    port = port_column.number_input("Port", 1, 65535, int(base.port), step=1, key=f"{prefix}:port")
    database = st.text_input("Database", base.database, key=f"{prefix}:database")
    user = st.text_input("User", base.user, key=f"{prefix}:user")
    password_env, password_file = _password_fields(base, prefix)
    description = st.text_input("Description", base.description, key=f"{prefix}:description")
    return Connection(
        name=name.strip(),
        host=host.strip(),
        port=int(port),
        database=database.strip(),
        user=user.strip(),
        password_env=password_env,
        password_file=password_file,
        description=description,
        revision=base.revision,
    )


def _password_fields(base: Connection, prefix: str) -> tuple[str, str]:
    """Return (password_env, password_file): where the password is read, never the password itself."""
    sources = [FROM_VARIABLE, FROM_FILE]
    index = 1 if base.password_file else 0
    source = st.radio("Read the password from", sources, index=index, horizontal=True, key=f"{prefix}:source")
    if source == FROM_VARIABLE:
        variable = st.text_input(
            "Environment variable",
            base.password_env,
            key=f"{prefix}:password_env",
            help="The name of the variable that contains the password, such as PGPASSWORD. It must be set "
            "where the designer and the runs start.",
        )
        return variable.strip(), ""
    path = st.text_input(
        "Password file",
        base.password_file,
        key=f"{prefix}:password_file",
        help="The path of a file whose first line is the password. Keep it readable by you only.",
    )
    return "", path.strip()


def _save(catalog, edited: Connection, current: Connection | None, names: list[str]) -> None:
    if current is None and edited.name in names:
        st.error(
            f"A connection named {edited.name!r} already exists. Choose it above to edit it, or pick "
            "another name."
        )
        return
    # Revision 0 means that the connection must not exist yet.
    expected = current.revision if current is not None else 0
    with guard(f"Saving connection {edited.name!r}"):
        try:
            catalog.save_connection(edited, expected_revision=expected)
        except CatalogConflictError as error:
            logger.info("save of connection %s rejected: %s", edited.name, error)
            st.error(f"Connection {edited.name!r} was not saved: {error}. Click Reload connection first.")
            return
        page_state.forget_connection(edited.name)
        logger.info("saved connection %s from the Catalog page", edited.name)
        page_state.notify("success", f"Saved connection {edited.name!r}.")
        st.session_state[NEXT_CHOICE] = edited.name
        st.rerun()


def _test(edited: Connection) -> None:
    with guard(f"Testing connection {edited.name or '(unnamed)'!r}", value=f"{edited.host}:{edited.port}"):
        from catalog import postgres

        version = postgres.test_connection(edited)
        st.success(f"Connected to {edited.host}:{edited.port}: {version}")


def _delete(catalog, current: Connection) -> None:
    action = {"kind": "connection", "name": current.name}
    if page_state.pending_confirmation() != action:
        if st.button("Delete connection", key="catalog_connection_delete", icon=":material/delete:"):
            page_state.request_confirmation(action)
        return
    st.warning(f"Delete connection {current.name!r}? Jobs that use it fail until you add it again.")
    delete, cancel = st.columns(2)
    if delete.button("Delete", key="catalog_confirm_delete_connection", type="primary"):
        page_state.clear_confirmation()
        with guard(f"Deleting connection {current.name!r}"):
            catalog.delete_connection(current.name)
            page_state.forget_connection(current.name)
            logger.info("deleted connection %s from the Catalog page", current.name)
            page_state.notify("success", f"Deleted connection {current.name!r}.")
            st.session_state[NEXT_CHOICE] = NEW
            st.rerun()
    if cancel.button("Cancel", key="catalog_cancel_delete_connection"):
        page_state.clear_confirmation()
        st.rerun()
