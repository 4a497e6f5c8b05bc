"""Alembic environment: migrates the connection the store hands over, or the configured URL
(developers: ``alembic -c src/chainsight/store/migrations/alembic.ini revision --autogenerate``).

Logging is left alone here (no fileConfig): the store migrates on every open, and the
command line's output must not change because of it.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, MetaData, text

from chainsight.store.models import import_all_models
from chainsight.store.session import create_store_engine, database_url, sqlite_foreign_keys

# Any fixed number: with the schema's name, it names the lock that keeps two processes
# from migrating the same schema at once (other schemas of the database need not wait).
_MIGRATION_LOCK = 730_511

config = context.config


def _configure(connection: Connection, metadata: MetaData | None) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:key, hashtext(current_schema()))"),
                {"key": _MIGRATION_LOCK},
            )
        context.run_migrations()


def run_offline() -> None:
    """Write the SQL of the migrations instead of running them (``alembic upgrade --sql``)."""
    context.configure(
        url=config.get_main_option("sqlalchemy.url") or database_url(),
        target_metadata=import_all_models(),
        render_as_batch=True,
        literal_binds=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    """Migrate the store's connection, or open the configured database."""
    connection = config.attributes.get("connection")
    if connection is not None:
        # The store opening itself: upgrading needs no models, and importing every
        # package's models here would drag the layers above the store into each open.
        _configure(connection, None)
        return
    engine = create_store_engine(config.get_main_option("sqlalchemy.url") or None)
    try:
        with engine.connect() as own:
            if own.dialect.name == "sqlite":
                # as in chainsight.store.session.migrate: batch rebuilds must not cascade
                sqlite_foreign_keys(own, enforce=False)
            _configure(own, import_all_models())
            own.commit()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
