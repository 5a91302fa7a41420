"""Throw-away databases for the store tests: SQLite files, MariaDB and PostgreSQL.

A :class:`DatabaseServer` connects as an administrator, creates uniquely named databases
(``runyard_test_<random>_<n>``) on demand and drops every one of them on ``close()``.

Servers are found at their usual local addresses or at the admin URLs in
``RUNYARD_TEST_MYSQL_URL`` / ``RUNYARD_TEST_POSTGRES_URL``. When a server cannot be reached the
tests are skipped locally and fail on CI (``CI=true``), where the workflow must start it.

MariaDB: when root may not log in over TCP (the Debian default, unix_socket authentication),
we log in as root over the unix socket once and create the dedicated user ``runyard``@
``127.0.0.1``, allowed to manage the ``runyard_test_*`` databases only.
"""

from __future__ import annotations

import abc
import os
import secrets
from pathlib import Path

import pytest
from sqlalchemy import URL, Engine, create_engine, make_url, text
from sqlalchemy.exc import DBAPIError

KINDS = ("sqlite", "mariadb", "postgresql")

MYSQL_ENV = "RUNYARD_TEST_MYSQL_URL"
POSTGRES_ENV = "RUNYARD_TEST_POSTGRES_URL"
DEFAULT_MYSQL_URL = "mysql+pymysql://root@127.0.0.1:3306/"
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"

MYSQL_TEST_USER = "runyard"
MYSQL_TEST_PASSWORD = "runyard-test-only"
MYSQL_SOCKETS = ("/run/mysqld/mysqld.sock", "/var/run/mysqld/mysqld.sock",
                 "/tmp/mysql.sock", "/var/lib/mysql/mysql.sock")
MYSQL_ACCESS_DENIED = (1045, 1698)  # ER_ACCESS_DENIED_ERROR, ER_ACCESS_DENIED_NO_PASSWORD
CONNECT_TIMEOUT = 5


class Unreachable(Exception):
    """The database server cannot be used; the message says why and how to fix it."""


def on_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def unavailable(reason: str) -> None:
    """Skip locally; fail on CI, where a missing database means a broken workflow."""
    if on_ci():
        pytest.fail(f"{reason} (CI=true: the CI workflow must start this database server)",
                    pytrace=False)
    pytest.skip(reason)


class DatabaseServer(abc.ABC):
    kind: str

    @abc.abstractmethod
    def create_database(self) -> str:
        """A new, empty database; returns its SQLAlchemy URL (with password)."""

    @abc.abstractmethod
    def drop_database(self, url: str) -> None: ...

    @abc.abstractmethod
    def close(self) -> None:
        """Drop every database this object created and release connections."""


class SqliteServer(DatabaseServer):
    kind = "sqlite"

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self._created: list[Path] = []

    def create_database(self) -> str:
        path = self.directory / f"runyard_test_{secrets.token_hex(4)}.sqlite3"
        self._created.append(path)
        return f"sqlite:///{path}"

    def drop_database(self, url: str) -> None:
        database = make_url(url).database or ""
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(database + suffix).unlink(missing_ok=True)

    def close(self) -> None:
        for path in self._created:
            self.drop_database(f"sqlite:///{path}")
        self._created.clear()


class ServerDatabase(DatabaseServer):
    """MariaDB/MySQL or PostgreSQL reached through an admin URL."""

    def __init__(self, kind: str, admin_url: URL) -> None:
        self.kind = kind
        self.admin_url = admin_url
        self.prefix = f"runyard_test_{secrets.token_hex(4)}"
        self._count = 0
        self._created: list[str] = []
        self._admin: Engine = _engine(admin_url, isolation_level="AUTOCOMMIT")

    def _quote(self, name: str) -> str:
        return self._admin.dialect.identifier_preparer.quote_identifier(name)

    def create_database(self) -> str:
        self._count += 1
        name = f"{self.prefix}_{self._count}"
        with self._admin.connect() as conn:
            if self.kind == "mariadb":
                conn.execute(text(f"CREATE DATABASE {self._quote(name)} CHARACTER SET utf8mb4"))
            else:
                conn.execute(text(f"CREATE DATABASE {self._quote(name)} ENCODING 'UTF8' "
                                  "TEMPLATE template0"))
        self._created.append(name)
        url = self.admin_url.set(database=name)
        if self.kind == "mariadb":
            url = url.update_query_dict({"charset": "utf8mb4"})
        return url.render_as_string(hide_password=False)

    def drop_database(self, url: str) -> None:
        name = make_url(url).database or ""
        if not name.startswith(self.prefix):
            raise ValueError(f"refusing to drop a database this session did not create: {name}")
        with self._admin.connect() as conn:
            if self.kind == "postgresql":
                conn.execute(
                    text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                         "WHERE datname = :name AND pid <> pg_backend_pid()"),
                    {"name": name},
                )
            conn.execute(text(f"DROP DATABASE IF EXISTS {self._quote(name)}"))
        if name in self._created:
            self._created.remove(name)

    def close(self) -> None:
        try:
            for name in list(self._created):
                self.drop_database(self.admin_url.set(database=name).render_as_string(False))
        finally:
            self._admin.dispose()


def connect(kind: str, tmp_dir: Path) -> DatabaseServer:
    """The server for ``kind``, or Unreachable with the reason."""
    if kind == "sqlite":
        return SqliteServer(tmp_dir)
    if kind == "mariadb":
        return _mariadb()
    if kind == "postgresql":
        return _postgresql()
    raise ValueError(f"unknown database kind {kind!r}")


def _engine(url: URL, **kwargs: object) -> Engine:
    return create_engine(url, connect_args={"connect_timeout": CONNECT_TIMEOUT}, **kwargs)


def _probe(url: URL) -> None:
    """Connect once; raises DBAPIError if the server refuses."""
    engine = _engine(url)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    finally:
        engine.dispose()


def _describe(url: URL) -> str:
    return url.render_as_string(hide_password=True)


def _postgresql() -> DatabaseServer:
    url = make_url(os.environ.get(POSTGRES_ENV) or DEFAULT_POSTGRES_URL)
    try:
        _probe(url)
    except DBAPIError as exc:
        raise Unreachable(f"PostgreSQL is not reachable at {_describe(url)} "
                          f"(set {POSTGRES_ENV} to an admin URL): {exc.orig}") from None
    return ServerDatabase("postgresql", url)


def _mariadb() -> DatabaseServer:
    override = os.environ.get(MYSQL_ENV)
    url = make_url(override or DEFAULT_MYSQL_URL)
    try:
        _probe(url)
        return ServerDatabase("mariadb", url)
    except DBAPIError as exc:
        code = exc.orig.args[0] if exc.orig is not None and exc.orig.args else None
        if override or code not in MYSQL_ACCESS_DENIED:
            raise Unreachable(f"MariaDB is not reachable at {_describe(url)} "
                              f"(set {MYSQL_ENV} to an admin URL): {exc.orig}") from None
        first_error = exc.orig
    # root may not log in over TCP: use the unix socket to set up a dedicated user.
    user_url = url.set(username=MYSQL_TEST_USER, password=MYSQL_TEST_PASSWORD)
    try:
        _ensure_mysql_test_user()
        _probe(user_url)
    except (Unreachable, DBAPIError) as exc:
        raise Unreachable(
            f"MariaDB refused root over TCP at {_describe(url)} ({first_error}) and the "
            f"'{MYSQL_TEST_USER}' user could not be set up over the unix socket: {exc} "
            f"(set {MYSQL_ENV} to an admin URL)"
        ) from None
    return ServerDatabase("mariadb", user_url)


def _ensure_mysql_test_user() -> None:
    """Create (or repair) runyard@127.0.0.1, logged in as root over the unix socket."""
    import pymysql

    errors: list[str] = []
    for socket in MYSQL_SOCKETS:
        if not Path(socket).exists():
            continue
        try:
            conn = pymysql.connect(unix_socket=socket, user="root",
                                   connect_timeout=CONNECT_TIMEOUT, autocommit=True)
        except pymysql.MySQLError as exc:
            errors.append(f"{socket}: {exc}")
            continue
        try:
            with conn.cursor() as cur:
                account = f"'{MYSQL_TEST_USER}'@'127.0.0.1'"
                cur.execute(f"CREATE USER IF NOT EXISTS {account} IDENTIFIED BY %s",
                            (MYSQL_TEST_PASSWORD,))
                cur.execute(f"ALTER USER {account} IDENTIFIED BY %s", (MYSQL_TEST_PASSWORD,))
                cur.execute(f"GRANT ALL PRIVILEGES ON `runyard\\_test\\_%`.* TO {account}")
        finally:
            conn.close()
        return
    raise Unreachable("no usable MariaDB unix socket: " + ("; ".join(errors) or "none found"))
