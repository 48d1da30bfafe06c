"""A throwaway PostgreSQL server for the tests, started from Debian's packages.

The server lives in a temporary folder, listens on 127.0.0.1 only (its unix socket stays in
that folder) and accepts only scram-sha-256 password logins. When the tests run as root,
initdb and pg_ctl run as the `postgres` system user, because PostgreSQL refuses to run as
root.
"""

from __future__ import annotations

import glob
import logging
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

SERVER_GLOB = "/usr/lib/postgresql/*/bin"
SERVICE_USER = "postgres"
ADMIN_USER = "sparkcanvas_admin"
TEST_USER = "sparkcanvas_test"
TEST_DATABASE = "sparkcanvas_test"
START_TIMEOUT_SECONDS = 60
INSTALL_HINT = (
    "run scripts/install-system-packages (as root or with sudo), which installs Debian's "
    "postgresql and libpostgresql-jdbc-java packages"
)


class PostgresServerError(RuntimeError):
    """The test server could not be found, started or stopped."""


@dataclass(frozen=True)
class PostgresServer:
    """A running test server: where it listens and the generated credentials of its users."""

    host: str
    port: int
    database: str
    user: str
    password: str
    admin_user: str
    admin_password: str
    folder: Path

    def conninfo(self, *, admin: bool = False) -> str:
        """Return a libpq connection string for the test user, or for the superuser."""
        from psycopg.conninfo import make_conninfo

        user, password = (self.admin_user, self.admin_password) if admin else (self.user, self.password)
        return make_conninfo(
            host=self.host, port=self.port, dbname=self.database, user=user, password=password
        )


def find_server_binaries() -> Path:
    """Return the bin folder of the newest PostgreSQL installed from Debian's packages."""
    folders = [Path(path) for path in glob.glob(SERVER_GLOB) if (Path(path) / "initdb").is_file()]
    if not folders:
        raise PostgresServerError(f"PostgreSQL's initdb was not found under {SERVER_GLOB}; {INSTALL_HINT}")
    return max(folders, key=lambda folder: _version_key(folder.parent.name))


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split(".") if part.isdigit())


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class ServerProcess:
    """Creates, starts and stops one PostgreSQL cluster in a temporary folder."""

    def __init__(self) -> None:
        self.bin = find_server_binaries()
        self.as_service_user = os.geteuid() == 0
        self.folder = Path(tempfile.mkdtemp(prefix="sparkcanvas-postgres-"))
        self.data = self.folder / "data"
        self.log = self.folder / "server.log"
        self.port = free_port()
        self.admin_password = secrets.token_urlsafe(24)
        self.password = secrets.token_urlsafe(24)
        self.started = False

    def start(self) -> PostgresServer:
        """Create the cluster, start the server and create the test user and database."""
        try:
            return self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> PostgresServer:
        self._hand_folder_to_service_user()
        self._initdb()
        self._configure()
        self._pg_ctl("start", "-w", "-t", str(START_TIMEOUT_SECONDS), "-l", str(self.log))
        self.started = True
        server = PostgresServer(
            host="127.0.0.1",
            port=self.port,
            database=TEST_DATABASE,
            user=TEST_USER,
            password=self.password,
            admin_user=ADMIN_USER,
            admin_password=self.admin_password,
            folder=self.folder,
        )
        self._create_test_user(server)
        logger.info("PostgreSQL test server listening on 127.0.0.1:%d", self.port)
        return server

    def stop(self) -> None:
        """Stop the server through pg_ctl, which signals the pid in its postmaster.pid, then clean up."""
        try:
            if self.started:
                self._pg_ctl("stop", "-m", "fast", "-w")
                self.started = False
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)

    def _hand_folder_to_service_user(self) -> None:
        if not self.as_service_user:
            return
        try:
            account = pwd.getpwnam(SERVICE_USER)
        except KeyError:
            raise PostgresServerError(
                f"the tests run as root, and PostgreSQL must run as the {SERVICE_USER!r} system user, "
                f"which does not exist; {INSTALL_HINT}"
            ) from None
        os.chown(self.folder, account.pw_uid, account.pw_gid)

    def _initdb(self) -> None:
        password_file = self.folder / "admin-password"
        password_file.write_text(self.admin_password + "\n", encoding="utf-8")
        password_file.chmod(0o600)
        if self.as_service_user:
            account = pwd.getpwnam(SERVICE_USER)
            os.chown(password_file, account.pw_uid, account.pw_gid)
        try:
            self._run(
                "initdb",
                "-D",
                str(self.data),
                "-U",
                ADMIN_USER,
                f"--pwfile={password_file}",
                "--auth=scram-sha-256",
                "--encoding=UTF8",
                "--locale=C",
            )
        finally:
            password_file.unlink(missing_ok=True)

    def _configure(self) -> None:
        settings = {
            "listen_addresses": "'127.0.0.1'",
            "port": str(self.port),
            "unix_socket_directories": f"'{self.folder}'",
            "password_encryption": "'scram-sha-256'",
            # A throwaway server: durability costs time and buys nothing here.
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
        }
        lines = "".join(f"{name} = {value}\n" for name, value in settings.items())
        with open(self.data / "postgresql.conf", "a", encoding="utf-8") as config:
            config.write("\n# Test server settings\n" + lines)

    def _pg_ctl(self, *arguments: str) -> None:
        self._run("pg_ctl", "-D", str(self.data), *arguments)

    def _run(self, program: str, *arguments: str) -> None:
        command = [str(self.bin / program), *arguments]
        if self.as_service_user:
            command = ["runuser", "-u", SERVICE_USER, "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, cwd=self.folder)
        if result.returncode != 0:
            log_tail = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise PostgresServerError(
                f"{program} failed with exit code {result.returncode}: "
                f"{result.stderr.strip() or result.stdout.strip()}\n{log_tail}"
            )

    def _create_test_user(self, server: PostgresServer) -> None:
        import psycopg
        from psycopg import sql

        admin = psycopg.conninfo.make_conninfo(
            host=server.host,
            port=server.port,
            dbname="postgres",
            user=ADMIN_USER,
            password=self.admin_password,
        )
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(
                sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                    sql.Identifier(TEST_USER), sql.Literal(self.password)
                )
            )
            connection.execute(
                sql.SQL("CREATE DATABASE {} OWNER {}").format(
                    sql.Identifier(TEST_DATABASE), sql.Identifier(TEST_USER)
                )
            )
