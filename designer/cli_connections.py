"""The `sparkcanvas connection` commands: add, list, test and delete PostgreSQL connections.

A connection names where its password is (an environment variable or a file); no command
takes or prints a password.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from catalog.model import Connection


def add_connection_commands(commands, port_type) -> None:
    """Add `connection` and its subcommands to the top-level subparsers."""
    connection = commands.add_parser(
        "connection",
        help="add, list, test and delete PostgreSQL connections of the catalog",
        description="Manage the catalog's PostgreSQL connections. The catalog stores where the "
        "password is, never the password.",
    )
    actions = connection.add_subparsers(dest="connection_command", required=True, metavar="ACTION")
    _add_add(actions, port_type)
    _add_list(actions)
    name_help = "name of the connection"
    test = actions.add_parser(
        "test",
        help="connect and print the server's version",
        description="Connect to the server and print its version; exits 1 with the reason when that fails.",
    )
    test.add_argument("name", metavar="NAME", help=name_help)
    test.set_defaults(handler=command_connection_test)
    delete = actions.add_parser(
        "delete",
        help="remove a connection from the catalog",
        description="Remove a connection from the catalog.",
    )
    delete.add_argument("name", metavar="NAME", help=name_help)
    delete.set_defaults(handler=command_connection_delete)


def _add_add(actions, port_type) -> None:
    add = actions.add_parser(
        "add",
        help="add or replace a PostgreSQL connection",
        description="Add a PostgreSQL connection to the catalog, or replace the one with that name. "
        "Give the password's source with --password-env or --password-file.",
    )
    add.add_argument("name", metavar="NAME", help="name of the connection: letters, digits and underscores")
    add.add_argument("--host", required=True, help="server host name or address")
    add.add_argument("--port", type=port_type, default=5432, help="server TCP port (default 5432)")
    add.add_argument("--database", required=True, help="database name")
    add.add_argument("--user", required=True, help="user name")
    source = add.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--password-env", metavar="VAR", help="environment variable that contains the password"
    )
    source.add_argument(
        "--password-file",
        metavar="FILE",
        help="file whose first line is the password (chmod 600); stored as an absolute path",
    )
    add.add_argument("--description", default="", help="a note shown in listings")
    add.set_defaults(handler=command_connection_add)


def _add_list(actions) -> None:
    listing = actions.add_parser(
        "list", help="list the connections", description="List the catalog's connections."
    )
    listing.add_argument(
        "--format", choices=("table", "json"), default="table", help="output format (default table)"
    )
    listing.set_defaults(handler=command_connection_list)


def command_connection_add(args: argparse.Namespace) -> int:
    from catalog.store import open_catalog

    password_file = str(Path(args.password_file).expanduser().resolve()) if args.password_file else ""
    conn = Connection(
        name=args.name,
        host=args.host,
        port=args.port,
        database=args.database,
        user=args.user,
        password_env=args.password_env or "",
        password_file=password_file,
        description=args.description,
    )
    stored = open_catalog().save_connection(conn)
    print(f"saved connection {stored.name}: {_server(stored)}, password from {_password_source(stored)}")
    return 0


def command_connection_list(args: argparse.Namespace) -> int:
    from catalog.store import open_catalog

    connections = open_catalog().list_connections()
    if args.format == "json":
        print(json.dumps([connection_to_dict(conn) for conn in connections], indent=2))
        return 0
    from designer.cli import text_table

    rows = [
        {
            "name": c.name,
            "server": _server(c),
            "password from": _password_source(c),
            "description": c.description,
        }
        for c in connections
    ]
    names = ["name", "server", "password from", "description"]
    print("\n".join(text_table(names, rows)))
    print(f"({len(rows)} connection{'' if len(rows) == 1 else 's'})")
    return 0


def connection_to_dict(conn: Connection) -> dict:
    return {
        "name": conn.name,
        "kind": conn.kind,
        "host": conn.host,
        "port": conn.port,
        "database": conn.database,
        "user": conn.user,
        "password_env": conn.password_env,
        "password_file": conn.password_file,
        "description": conn.description,
    }


def command_connection_test(args: argparse.Namespace) -> int:
    from catalog.postgres import describe_server, test_connection
    from catalog.store import open_catalog

    conn = open_catalog().get_connection(args.name)
    version = test_connection(conn)
    print(f"connection {conn.name} OK: {version} at {describe_server(conn)}")
    return 0


def command_connection_delete(args: argparse.Namespace) -> int:
    from catalog.store import open_catalog

    open_catalog().delete_connection(args.name)
    print(f"deleted connection {args.name}")
    return 0


def _server(conn: Connection) -> str:
    from catalog.postgres import describe_server

    return describe_server(conn)


def _password_source(conn: Connection) -> str:
    if conn.password_env:
        return f"environment variable {conn.password_env}"
    return f"file {conn.password_file}"
