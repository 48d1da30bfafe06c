"""The Data Catalog page's session state: messages for the next run and the copies of entries it loaded.

An edit is saved with the revision of the copy the page loaded, not of the entry as it is now,
so a change made meanwhile by another user or process is rejected by the catalog instead of being
overwritten.
"""

from __future__ import annotations

import streamlit as st

from catalog.model import Connection, Table

NOTICES = "catalog_notices"
LOADED_TABLES = "catalog_loaded_tables"
LOADED_CONNECTIONS = "catalog_loaded_connections"
CONFLICTS = "catalog_conflicts"
CONFIRM = "catalog_confirm"


def notify(level: str, message: str) -> None:
    """Queue a message shown once at the top of the next run: level is success, info, warning or error."""
    st.session_state.setdefault(NOTICES, []).append((level, message))


def pop_notices() -> list[tuple[str, str]]:
    notices = list(st.session_state.get(NOTICES, []))
    st.session_state[NOTICES] = []
    return notices


def loaded_table(full_name: str) -> Table | None:
    return st.session_state.setdefault(LOADED_TABLES, {}).get(full_name)


def remember_table(table: Table) -> None:
    """Keep `table` as the copy the page shows and edits, and forget any conflict on it."""
    st.session_state.setdefault(LOADED_TABLES, {})[table.full_name] = table
    st.session_state.setdefault(CONFLICTS, {}).pop(table.full_name, None)


def forget_tables() -> None:
    """Drop every loaded copy, after a change such as a crawl that can touch many tables."""
    st.session_state[LOADED_TABLES] = {}
    st.session_state[CONFLICTS] = {}


def loaded_connection(name: str) -> Connection | None:
    return st.session_state.setdefault(LOADED_CONNECTIONS, {}).get(name)


def remember_connection(connection: Connection) -> None:
    st.session_state.setdefault(LOADED_CONNECTIONS, {})[connection.name] = connection


def forget_connection(name: str) -> None:
    st.session_state.setdefault(LOADED_CONNECTIONS, {}).pop(name, None)


def record_conflict(full_name: str, message: str) -> None:
    st.session_state.setdefault(CONFLICTS, {})[full_name] = message


def conflict(full_name: str) -> str | None:
    return st.session_state.setdefault(CONFLICTS, {}).get(full_name)


def request_confirmation(action: dict) -> None:
    """Ask for a confirmation of `action` (a deletion) in the next run."""
    st.session_state[CONFIRM] = action
    st.rerun()


def pending_confirmation() -> dict | None:
    return st.session_state.get(CONFIRM)


def clear_confirmation() -> None:
    st.session_state[CONFIRM] = None
