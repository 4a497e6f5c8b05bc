"""Shared fixtures: the reference scenarios shipped in examples/, and a fresh database
(SQLite, and PostgreSQL where configured) for each test that asks for one."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from chainsight.domain import Scenario, load_scenario
from chainsight.store.session import close_stores, create_store_engine

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
REFERENCE_FILES = sorted(EXAMPLES.glob("*.yaml"))


@pytest.fixture(scope="session")
def demo() -> Scenario:
    """The demo trial: small autologous CAR-T phase 1."""
    return load_scenario(EXAMPLES / "demo-cart-phase1.yaml")


@pytest.fixture(scope="session")
def multicdmo() -> Scenario:
    """The congested phase 2 CAR-T trial with two CDMOs."""
    return load_scenario(EXAMPLES / "cart-phase2-multicdmo.yaml")


@pytest.fixture(scope="session")
def aav() -> Scenario:
    """The batch-modality AAV trial."""
    return load_scenario(EXAMPLES / "aav-batch.yaml")


@pytest.fixture(params=REFERENCE_FILES, ids=lambda p: p.stem)
def reference_file(request: pytest.FixtureRequest) -> Path:
    """Each reference scenario file in turn."""
    path: Path = request.param
    return path


# ---------------------------------------------------------------- databases

POSTGRES_ENV = "CHAINSIGHT_TEST_POSTGRES_URL"


@pytest.fixture(scope="session")
def _postgres_admin() -> Iterator[Engine | None]:
    """One connection pool to the test PostgreSQL server for the whole run (None if unset)."""
    url = os.environ.get(POSTGRES_ENV, "").strip()
    if not url:
        yield None
        return
    engine = create_store_engine(url)
    yield engine
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(
    request: pytest.FixtureRequest, tmp_path: Path, _postgres_admin: Engine | None
) -> Iterator[str]:
    """The URL of a fresh, empty database, once per backend.

    SQLite: a file in the test's temporary folder. PostgreSQL: a schema of its own in the
    database ``$CHAINSIGHT_TEST_POSTGRES_URL`` (the URL's search_path points at it), dropped
    afterwards. Without that variable the PostgreSQL case is skipped, except on CI
    (``CI=true``), where it fails: there the suite must run on both databases.
    """
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'chainsight.db'}"
        close_stores()
        return
    if _postgres_admin is None:
        message = f"{POSTGRES_ENV} is not set: no PostgreSQL to test on"
        if os.environ.get("CI", "").strip().lower() in ("1", "true", "yes"):
            pytest.fail(f"{message} (required on CI; .ci/run sets it)")
        pytest.skip(message)
    schema = f"test_{uuid.uuid4().hex[:16]}"
    with _postgres_admin.begin() as connection:
        connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    url = _postgres_admin.url.update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        close_stores()
        with _postgres_admin.begin() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture
def store_env(database_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """``database_url`` made the configured store (``CHAINSIGHT_DATABASE_URL``)."""
    monkeypatch.setenv("CHAINSIGHT_DATABASE_URL", database_url)
    return database_url
