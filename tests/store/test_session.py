"""Where the store lives, and what happens when it cannot be opened."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from chainsight.domain import Scenario
from chainsight.store.errors import StoreUnavailable
from chainsight.store.repository import save_scenario
from chainsight.store.session import (
    close_stores,
    create_store_engine,
    database_url,
    load_trial_scenario,
    open_store,
    unit_of_work,
)


def test_default_store_is_a_sqlite_file_in_the_user_data_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CHAINSIGHT_DATABASE_URL", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    url = database_url()
    assert url == f"sqlite:///{tmp_path / 'data' / 'chainsight' / 'chainsight.db'}"
    assert (tmp_path / "data" / "chainsight").is_dir()


def test_the_environment_picks_the_database(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHAINSIGHT_DATABASE_URL", "sqlite:////somewhere/else.db")
    assert database_url() == "sqlite:////somewhere/else.db"


def test_plain_postgresql_urls_use_psycopg_3() -> None:
    engine = create_store_engine("postgresql://user:secret@127.0.0.1:1/db")
    assert engine.dialect.driver == "psycopg"
    engine.dispose()


def test_sqlite_connections_enforce_foreign_keys(tmp_path: Path) -> None:
    engine = create_store_engine(f"sqlite:///{tmp_path / 'fk.db'}")
    with engine.connect() as connection:
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
    engine.dispose()


def test_sqlite_readers_do_not_hold_off_a_writer(tmp_path: Path) -> None:
    # Write-ahead logging: a read transaction stays open while another connection
    # writes and commits, and the reader keeps its snapshot until it ends.
    engine = create_store_engine(f"sqlite:///{tmp_path / 'wal.db'}")
    with engine.begin() as setup:
        assert setup.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        setup.execute(text("CREATE TABLE t (x INTEGER)"))
        setup.execute(text("INSERT INTO t VALUES (1)"))
    with engine.connect() as reader, reader.begin():
        assert reader.execute(text("SELECT count(*) FROM t")).scalar() == 1
        with engine.connect() as writer, writer.begin():
            writer.execute(text("INSERT INTO t VALUES (2)"))  # commits at once, no lock wait
        assert reader.execute(text("SELECT count(*) FROM t")).scalar() == 1
    with engine.connect() as later:
        assert later.execute(text("SELECT count(*) FROM t")).scalar() == 2
    engine.dispose()


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql+psycopg://who:secret@127.0.0.1:9/nothing", "connection"),
        ("sqlite:////no/such/folder/chainsight.db", "unable to open database file"),
        ("nosuchdb://x", "is not a database URL"),
    ],
    ids=["postgres-down", "sqlite-no-folder", "unknown-scheme"],
)
def test_a_store_that_cannot_be_opened_says_why(url: str, expected: str) -> None:
    with pytest.raises(StoreUnavailable) as caught:
        open_store(url)
    message = str(caught.value)
    assert expected in message
    assert "secret" not in message
    assert "\n" not in message


def test_a_database_from_a_newer_chainsight_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'newer.db'}"
    open_store(url)
    close_stores()
    engine = create_store_engine(url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = 'f00dcafe'"))
    engine.dispose()
    with pytest.raises(StoreUnavailable, match="upgrade ChainSight"):
        open_store(url)


def test_load_trial_scenario_reads_the_configured_store(
    store_env: str, demo: Scenario
) -> None:
    with unit_of_work(store_env) as session:
        save_scenario(session, demo)
    assert load_trial_scenario(demo.trial.id) == demo
    assert load_trial_scenario("NOT-THERE") is None


def test_processes_opening_a_new_store_at_once_migrate_it_once(database_url: str) -> None:
    # Separate processes, as in production: Alembic's context is global to a process.
    code = "import sys; from chainsight.store.session import open_store; open_store(sys.argv[1])"
    processes = [
        subprocess.Popen([sys.executable, "-c", code, database_url], stderr=subprocess.PIPE,
                         text=True)
        for _ in range(2)
    ]
    failures = [p.stderr.read() if p.stderr else "" for p in processes if p.wait(60) != 0]
    assert failures == []
    with unit_of_work(database_url) as session:
        assert session.scalar(text("SELECT count(*) FROM alembic_version")) == 1
