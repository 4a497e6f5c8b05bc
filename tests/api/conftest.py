"""The service on a fresh database (SQLite and PostgreSQL), the demo trial imported through
the API, and one user per role with a token."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient

from chainsight.api.app import create_app
from chainsight.api.auth import service as auth
from chainsight.api.auth.secrets import password_hasher
from chainsight.api.settings import Settings
from chainsight.store.session import open_store

ROOT = Path(__file__).resolve().parents[2]
DEMO_FILE = ROOT / "examples" / "demo-cart-phase1.yaml"
TRIAL = "CART-DEMO"
PASSWORD = "correct horse battery"
COURIER = "Swift Cold Chain"
NOW = dt.datetime(2027, 1, 15, 12, 0, tzinfo=dt.UTC)

# Cheap argon2 parameters: tests check that hashing is used, not how slow it is.
FAST = {"argon2_time_cost": 1, "argon2_memory_kib": 64, "argon2_parallelism": 1}

ROLES: dict[str, dict[str, str]] = {
    "sponsor": {"role": "sponsor"},
    "auditor": {"role": "auditor"},
    "site1": {"role": "site", "site": "S01"},
    "site2": {"role": "site", "site": "S02"},
    "cdmo": {"role": "cdmo", "facility": "CDMO-A"},
    "cdmo_b": {"role": "cdmo", "facility": "CDMO-B"},
    "courier": {"role": "courier", "courier": COURIER},
}


def demo_data() -> dict[str, Any]:
    """The demo scenario as JSON-ready data."""
    data: dict[str, Any] = yaml.safe_load(DEMO_FILE.read_text(encoding="utf-8"))
    return json.loads(json.dumps(data, default=str))


@dataclass
class Api:
    """The app under test, its client, and a token per user."""

    client: TestClient
    app: Any = None
    tokens: dict[str, str] = field(default_factory=dict)
    settings: Settings | None = None

    def headers(self, user: str, **extra: str) -> dict[str, str]:
        """Authorization (and extra headers) for one of the users."""
        return {"Authorization": f"Bearer {self.tokens[user]}", **extra}

    def get(self, user: str, path: str, **kwargs: Any) -> Any:
        """GET as a user."""
        return self.client.get(path, headers=self.headers(user), **kwargs)

    def post(self, user: str, path: str, body: Any, **headers: str) -> Any:
        """POST JSON as a user."""
        return self.client.post(path, json=body, headers=self.headers(user, **headers))


def make_users(database_url: str) -> dict[str, str]:
    """One user per entry of ROLES (and a password for the sponsor); their tokens."""
    factory = open_store(database_url)
    hasher = password_hasher(time_cost=1, memory_kib=64, parallelism=1)
    tokens = {}
    with factory() as session, session.begin():
        for name, spec in ROLES.items():
            created = auth.create_user(session, hasher=hasher, name=name,
                                       password=PASSWORD if name == "sponsor" else None,
                                       created_by="test", **spec)
            tokens[name] = created.token
    return tokens


@pytest.fixture
def settings(database_url: str) -> Settings:
    """Settings for a fast test service on the fresh database."""
    return Settings(database_url=database_url, webhook_poll_seconds=0.05,
                    webhook_backoff_base_seconds=0.2, webhook_max_attempts=4,
                    stream_poll_seconds=0.2, radar_forecast_runs=50,
                    plan_time_limit_seconds=2.0, **FAST)


def clock() -> dt.datetime:
    """The record's now in the tests: the demo trial is planned on 2027-01-04."""
    return NOW


@pytest.fixture
def api(settings: Settings) -> Iterator[Api]:
    """The service with the demo trial imported by the sponsor and every user made."""
    app = create_app(settings, clock=clock)
    assert settings.database_url is not None
    with TestClient(app) as client:
        # The trial first: site and facility users must name ones that exist.
        sponsor = make_users_sponsor_only(settings.database_url)
        response = client.post("/api/trials", json=demo_data(),
                               headers={"Authorization": f"Bearer {sponsor}"})
        assert response.status_code == 201, response.text
        tokens = make_users(settings.database_url) | {"_bootstrap": sponsor}
        yield Api(client=client, app=app, tokens=tokens, settings=settings)


def make_users_sponsor_only(database_url: str) -> str:
    """A first sponsor, to import the trial with."""
    factory = open_store(database_url)
    hasher = password_hasher(time_cost=1, memory_kib=64, parallelism=1)
    with factory() as session, session.begin():
        return auth.create_user(session, hasher=hasher, name="bootstrap", role="sponsor",
                                created_by="test").token
