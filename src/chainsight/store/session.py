"""Where the store lives and how to open it: URL, engine, migrations, units of work."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import platformdirs
from alembic import command
from alembic.config import Config
from alembic.util.exc import CommandError
from sqlalchemy import Connection, Engine, create_engine, event, make_url
from sqlalchemy.engine import URL
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError
from sqlalchemy.orm import Session, sessionmaker

from chainsight.domain import Scenario
from chainsight.store.errors import StoreUnavailable
from chainsight.store.repository import get_scenario

ENV_VAR = "CHAINSIGHT_DATABASE_URL"
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
CONNECT_TIMEOUT_SECONDS = 10
SQLITE_LOCK_WAIT_SECONDS = 15.0
SQLITE_BEGIN = "chainsight_sqlite_begin"
"""Execution option: how a SQLite transaction begins (DEFERRED, IMMEDIATE, EXCLUSIVE)."""

_factories: dict[str, tuple[Engine, sessionmaker[Session]]] = {}


def database_url() -> str:
    """The configured database: ``$CHAINSIGHT_DATABASE_URL``, else a SQLite file
    ``chainsight.db`` in the user's data folder (created if missing)."""
    configured = os.environ.get(ENV_VAR, "").strip()
    if configured:
        return configured
    folder = Path(platformdirs.user_data_dir("chainsight", appauthor=False))
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder / 'chainsight.db'}"


def safe_url(url: str | URL) -> str:
    """The URL as it may be shown to a user: the password hidden."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<not a URL>"


def _normalised(url: str) -> URL:
    parsed = make_url(url)
    # `postgresql://` would pick psycopg2, which is not a dependency: use psycopg 3.
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def create_store_engine(url: str | None = None) -> Engine:
    """An engine for ``url`` (default: :func:`database_url`); SQLite enforces foreign keys."""
    text = url or database_url()
    try:
        parsed = _normalised(text)
        options: dict[str, Any] = {}
        if parsed.get_backend_name() == "postgresql" and "connect_timeout" not in parsed.query:
            options["connect_args"] = {"connect_timeout": CONNECT_TIMEOUT_SECONDS}
        if parsed.get_backend_name() == "sqlite":
            # How long a writer waits for the file's write lock before "database is
            # locked" (the service answers 503): long enough for a queue of writers.
            options["connect_args"] = {"timeout": SQLITE_LOCK_WAIT_SECONDS}
        engine = create_engine(parsed, **options)
    except (ArgumentError, NoSuchModuleError, ImportError) as error:
        raise StoreUnavailable(
            f"{ENV_VAR}: {safe_url(text)!s} is not a database URL ChainSight can use "
            f"({_first_line(error)}); use sqlite:///PATH or postgresql+psycopg://..."
        ) from None
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_on_begin)
    return engine


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # The sqlite3 module would open transactions itself, and only before DML; taking
    # that over makes DDL transactional and lets a migration lock the file from the start.
    dbapi_connection.isolation_level = None
    dbapi_connection.execute("PRAGMA foreign_keys=ON")
    # Write-ahead logging: readers no longer hold off a writer's commit (in the default
    # rollback journal, a write waits for every open read and concurrent requests end in
    # "database is locked"). It stays on in the file; in-memory databases ignore it.
    dbapi_connection.execute("PRAGMA journal_mode=WAL")


def _sqlite_on_begin(connection: Connection) -> None:
    mode = connection.get_execution_options().get(SQLITE_BEGIN, "DEFERRED")
    connection.exec_driver_sql(f"BEGIN {mode}")


def alembic_config() -> Config:
    """Alembic's configuration for the migrations shipped in the package."""
    config = Config(str(MIGRATIONS / "alembic.ini"))
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the database's schema to ``revision`` (default: the newest), in one transaction.

    Concurrent callers wait for each other: PostgreSQL through an advisory lock taken in
    the migration environment, SQLite by locking the file for writing from the start.
    On SQLite, foreign keys are off while migrating, because batch mode rebuilds a table
    by copying and dropping it, and the drop would cascade to the rows pointing at it;
    they are checked once the migration is done.
    """
    config = alembic_config()
    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as connection:
        if sqlite:
            sqlite_foreign_keys(connection, enforce=False)
            connection = connection.execution_options(**{SQLITE_BEGIN: "IMMEDIATE"})
        try:
            with connection.begin():
                config.attributes["connection"] = connection
                command.upgrade(config, revision)
                if sqlite:
                    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                    if broken:
                        raise StoreUnavailable(
                            f"the migration left rows pointing nowhere: {broken[:5]!r}"
                        )
        finally:
            if sqlite:
                sqlite_foreign_keys(connection, enforce=True)


def sqlite_foreign_keys(connection: Connection, *, enforce: bool) -> None:
    """Switch SQLite's foreign key enforcement; only possible outside a transaction."""
    if connection.in_transaction():
        raise RuntimeError("SQLite ignores PRAGMA foreign_keys inside a transaction")
    # Straight to the driver: a statement through SQLAlchemy would begin a transaction.
    driver = connection.connection.driver_connection
    assert driver is not None, "the connection is closed"
    driver.execute(f"PRAGMA foreign_keys={'ON' if enforce else 'OFF'}")


def open_store(url: str | None = None) -> sessionmaker[Session]:
    """The session factory of the store at ``url``, its schema migrated to the newest.

    Opened once per URL and process; :func:`close_stores` releases them. Raises
    :class:`StoreUnavailable` with a one-line reason when the database cannot be used.
    """
    text = url or database_url()
    if text in _factories:
        return _factories[text][1]
    engine = create_store_engine(text)
    try:
        migrate(engine)
    except DBAPIError as error:
        engine.dispose()
        raise StoreUnavailable(
            f"cannot open the database {safe_url(text)} ({_origin(text)}): "
            f"{_first_line(error.orig or error)}"
        ) from None
    except CommandError as error:
        engine.dispose()
        raise StoreUnavailable(
            f"the database {safe_url(text)} has a schema this version of ChainSight does not "
            f"know ({_first_line(error)}); upgrade ChainSight"
        ) from None
    factory = sessionmaker(engine, expire_on_commit=False)
    _factories[text] = (engine, factory)
    return factory


def close_stores() -> None:
    """Release every store opened in this process (pooled connections closed)."""
    while _factories:
        _, (engine, _factory) = _factories.popitem()
        engine.dispose()


@contextmanager
def unit_of_work(url: str | None = None) -> Iterator[Session]:
    """A session whose work is committed together at the end, or not at all on error."""
    factory = open_store(url)
    with factory() as session, session.begin():
        yield session


def load_trial_scenario(trial_id: str) -> Scenario | None:
    """The stored scenario of the trial ``trial_id`` in the configured store, or None."""
    with unit_of_work() as session:
        return get_scenario(session, trial_id)


def _origin(url: str) -> str:
    if os.environ.get(ENV_VAR, "").strip() == url:
        return f"from {ENV_VAR}"
    return "the default store" if url == database_url() else "given explicitly"


def _first_line(error: BaseException | Any) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
