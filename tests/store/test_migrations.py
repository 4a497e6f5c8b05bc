"""The migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import CheckConstraint, inspect, text
from sqlalchemy.exc import IntegrityError

from chainsight.store.models import import_all_models
from chainsight.store.session import alembic_config, create_store_engine, migrate

METADATA = import_all_models()


def _diff(url: str) -> list[Any]:
    engine = create_store_engine(url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"compare_type": True, "compare_server_default": True}
            )
            return list(compare_metadata(context, METADATA))
    finally:
        engine.dispose()


def test_migrated_schema_matches_the_models(database_url: str) -> None:
    migrate(create_store_engine(database_url))
    assert _diff(database_url) == []


def test_check_constraints_match_the_models(database_url: str) -> None:
    # Alembic's comparison leaves CHECK constraints out; compare their names here.
    engine = create_store_engine(database_url)
    migrate(engine)
    inspector = inspect(engine)
    for table in METADATA.sorted_tables:
        expected = {c.name for c in table.constraints if isinstance(c, CheckConstraint)}
        found = {c["name"] for c in inspector.get_check_constraints(table.name)}
        assert found == expected, table.name
    engine.dispose()


def test_an_empty_database_differs_from_the_models(database_url: str) -> None:
    """The parity check above can fail: without migrations every table is missing."""
    diff = _diff(database_url)
    assert {d[1].name for d in diff if d[0] == "add_table"} == set(METADATA.tables)


def test_migrating_again_changes_nothing_and_stops_at_head(database_url: str) -> None:
    engine = create_store_engine(database_url)
    migrate(engine)
    migrate(engine)
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    with engine.connect() as connection:
        assert MigrationContext.configure(connection).get_current_revision() == head
    engine.dispose()


def test_downgrade_to_nothing_and_up_again(database_url: str) -> None:
    engine = create_store_engine(database_url)
    migrate(engine)
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    migrate(engine)
    assert _diff(database_url) == []
    engine.dispose()


def test_migration_files_are_dated() -> None:
    script = ScriptDirectory.from_config(alembic_config())
    for revision in script.walk_revisions():
        name = revision.path.rsplit("/", 1)[-1]
        assert name[:10].replace("_", "").isdigit(), name


def test_foreign_keys_are_enforced(database_url: str) -> None:
    engine = create_store_engine(database_url)
    migrate(engine)
    with pytest.raises(IntegrityError), engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO reservations (facility_id, ordinal, suites, start_day, end_day, label)"
            " VALUES (12345, 0, 1, '2027-01-01', '2027-01-02', 'nowhere')"
        ))
    engine.dispose()
