"""Alembic migrations: one head, and the migrated schema equals the models on every database."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, inspect

from runyard.stores.metadata.sql import schema
from runyard.stores.metadata.sql.models import Base

TABLES = {t.name for t in Base.metadata.sorted_tables}


@pytest.fixture
def engine(empty_database: str) -> Iterator[Engine]:
    eng = create_engine(empty_database)
    try:
        yield eng
    finally:
        eng.dispose()


def differences(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={
            "compare_type": True, "render_as_batch": engine.dialect.name == "sqlite"})
        return list(compare_metadata(context, Base.metadata))


def user_tables(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names()) - {"alembic_version"}


def test_exactly_one_head() -> None:
    script = ScriptDirectory.from_config(schema.alembic_config())
    heads = script.get_heads()
    assert len(heads) == 1, heads
    assert schema.head_revision() == heads[0]
    bases = script.get_bases()
    assert len(bases) == 1, bases
    # one linear history from base to head
    revisions = list(script.walk_revisions("base", "heads"))
    assert all(len(r._normalized_down_revisions) <= 1 for r in revisions)


def test_upgrade_matches_the_models(engine: Engine) -> None:
    assert schema.current_revision(engine) is None
    assert user_tables(engine) == set()
    schema.upgrade(engine)
    assert schema.current_revision(engine) == schema.head_revision()
    assert user_tables(engine) == TABLES
    assert differences(engine) == []


def test_upgrade_is_idempotent(engine: Engine) -> None:
    schema.upgrade(engine)
    schema.upgrade(engine)
    assert schema.current_revision(engine) == schema.head_revision()
    assert differences(engine) == []


DOWNGRADE_BUG = ("0001 downgrade drops ix_alerts_run_id before the alerts table; MariaDB refuses "
                 "(1553: needed in a foreign key constraint), so downgrade to base fails")


def test_downgrade_to_base_and_upgrade_again(
    engine: Engine, request: pytest.FixtureRequest
) -> None:
    schema.upgrade(engine)
    schema.downgrade(engine, "base")
    assert schema.current_revision(engine) is None
    assert user_tables(engine) == set()
    schema.upgrade(engine)
    assert schema.current_revision(engine) == schema.head_revision()
    assert user_tables(engine) == TABLES
    assert differences(engine) == []


def test_every_revision_steps_down_and_up(
    engine: Engine, request: pytest.FixtureRequest
) -> None:
    script = ScriptDirectory.from_config(schema.alembic_config())
    revisions = [r.revision for r in reversed(list(script.walk_revisions("base", "heads")))]
    for revision in revisions:
        schema.upgrade(engine, revision)
        assert schema.current_revision(engine) == revision
    for revision in reversed(revisions):
        schema.downgrade(engine, "-1")
        below = revisions[revisions.index(revision) - 1] if revisions.index(revision) else None
        assert schema.current_revision(engine) == below
    assert user_tables(engine) == set()
