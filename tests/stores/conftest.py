"""Fixtures for the port contract tests: every adapter of a port runs the same tests."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import Engine, create_engine

from runyard import registry
from runyard.stores.metadata.base import MetadataStore
from runyard.stores.metadata.sql import schema
from runyard.stores.metadata.sql.models import Base
from tests.stores import databases


@pytest.fixture(scope="session", params=databases.KINDS)
def db_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[databases.DatabaseServer]:
    """An admin connection to one database server (a directory for SQLite)."""
    kind: str = request.param
    try:
        server = databases.connect(kind, tmp_path_factory.mktemp(f"{kind}-databases"))
    except databases.Unreachable as exc:
        databases.unavailable(str(exc))
    try:
        yield server
    finally:
        server.close()


@dataclass
class MigratedDatabase:
    url: str
    engine: Engine

    def clean(self) -> None:
        """Empty every table, children first, so each test starts from nothing."""
        with self.engine.begin() as conn:
            for table in reversed(Base.metadata.sorted_tables):
                conn.execute(table.delete())


@pytest.fixture(scope="session")
def migrated_database(db_server: databases.DatabaseServer) -> Iterator[MigratedDatabase]:
    """One database per server and session, upgraded to the head revision once."""
    url = db_server.create_database()
    engine = create_engine(url)
    try:
        schema.upgrade(engine)
        yield MigratedDatabase(url, engine)
    finally:
        engine.dispose()


@pytest.fixture
def metadata_store(migrated_database: MigratedDatabase) -> Iterator[MetadataStore]:
    """An open metadata store on empty tables, chosen by URL scheme like the server does."""
    migrated_database.clean()
    store = registry.metadata_store(migrated_database.url)
    store.open()
    try:
        yield store
    finally:
        store.close()


@pytest.fixture
def empty_database(db_server: databases.DatabaseServer) -> Iterator[str]:
    """A brand-new database with no tables, dropped after the test."""
    url = db_server.create_database()
    try:
        yield url
    finally:
        db_server.drop_database(url)
