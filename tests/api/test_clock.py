"""A service whose record clock starts at a set instant: a demo of a trial set in the future."""

from __future__ import annotations

import datetime as dt

from fastapi.testclient import TestClient

from chainsight.api.app import create_app
from chainsight.api.settings import Settings
from tests.api.conftest import TRIAL, demo_data, make_users, make_users_sponsor_only
from tests.api.helpers import schedule


def test_record_clock_runs_from_its_start() -> None:
    settings = Settings(clock_start=dt.datetime(2027, 1, 4, 9, 0))
    clock = settings.record_clock()
    assert clock is not None
    now = clock()
    assert now.tzinfo is not None
    assert dt.timedelta(0) <= now - dt.datetime(2027, 1, 4, 9, 0, tzinfo=dt.UTC) \
        < dt.timedelta(seconds=5)
    assert Settings().record_clock() is None
    from_env = Settings.from_env({"CHAINSIGHT_CLOCK_START": "2027-01-04"})
    assert from_env.clock_start is not None
    assert from_env.clock_start.date() == dt.date(2027, 1, 4)


def test_events_on_the_shifted_clock_are_recorded_and_later_ones_refused(
        settings: Settings) -> None:
    shifted = settings.model_copy(update={"clock_start": dt.datetime(2027, 1, 4, 12, 0)})
    assert shifted.database_url is not None
    app = create_app(shifted)
    with TestClient(app) as client:
        sponsor = make_users_sponsor_only(shifted.database_url)
        auth = {"Authorization": f"Bearer {sponsor}"}
        assert client.post("/api/trials", json=demo_data(), headers=auth).status_code == 201
        site = make_users(shifted.database_url)["site1"]
        headers = {"Authorization": f"Bearer {site}"}
        ok = client.post(f"/api/trials/{TRIAL}/events", json=schedule(), headers=headers)
        assert ok.status_code == 201, ok.text
        later = schedule(patient="P006") | {"occurred_on": "2027-02-01"}
        refused = client.post(f"/api/trials/{TRIAL}/events", json=later, headers=headers)
        assert refused.status_code in (409, 422), refused.text
        assert "2027-02-01" in refused.text or "future" in refused.text
