"""Show errors from the core in the page, so bad input never stops the app."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import streamlit as st

from designer.errors import SparkCanvasError

logger = logging.getLogger(__name__)


def describe(node_id: str | None = None, parameter: str | None = None, value=None) -> str:
    """Return 'node 'x', parameter 'y', value 'z'' for the parts that are given."""
    parts = []
    if node_id is not None:
        parts.append(f"node {node_id!r}")
    if parameter is not None:
        parts.append(f"parameter {parameter!r}")
    if value is not None:
        parts.append(f"value {_short(value)}")
    return ", ".join(parts)


def _short(value, limit: int = 120) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


@contextmanager
def guard(
    action: str, node_id: str | None = None, parameter: str | None = None, value=None
) -> Iterator[None]:
    """Run a block and show any exception it raises as st.error naming the node, parameter and value.

    SparkCanvasError messages are written for users and are shown as they are. Any other
    exception is a bug in the core, so it is also logged with its traceback.
    """
    try:
        yield
    except SparkCanvasError as error:
        logger.info("%s failed (%s): %s", action, describe(node_id, parameter, value), error)
        st.error(_message(action, node_id, parameter, value, error))
    except Exception as error:  # noqa: BLE001 - the page must survive any bug in the core
        logger.exception("%s failed (%s)", action, describe(node_id, parameter, value))
        st.error(
            _message(action, node_id, parameter, value, error)
            + " This is a bug in SparkCanvas; the server log has the traceback."
        )


def _message(action: str, node_id, parameter, value, error: Exception) -> str:
    where = describe(node_id, parameter, value)
    prefix = f"{action} failed" + (f" ({where})" if where else "")
    if isinstance(error, SparkCanvasError):
        return f"{prefix}: {error}"
    return f"{prefix}: {type(error).__name__}: {error}"
