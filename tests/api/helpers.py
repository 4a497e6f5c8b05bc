"""Events of the demo trial used across the API tests."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import COURIER, TRIAL, Api


def coi_of(api: Api, patient: str) -> str:
    """The COI id the record issued for a patient (as the sponsor sees it)."""
    response = api.get("sponsor", f"/api/trials/{TRIAL}/patients/{patient}")
    assert response.status_code == 200, response.text
    coi: str = response.json()["coi"]
    return coi


def schedule(patient: str = "P004", day: str = "2027-01-11") -> dict[str, Any]:
    """Book an apheresis for a patient of S01."""
    return {"kind": "apheresis_scheduled", "patient": patient, "occurred_on": "2027-01-04",
            "day": day}


def collected(coi: str, patient: str = "P004", on: str = "2027-01-05") -> dict[str, Any]:
    """The apheresis happened."""
    return {"kind": "apheresis_done", "patient": patient, "coi": coi, "occurred_on": on}


def shipped(coi: str, patient: str = "P004", to: str = COURIER,
            on: str = "2027-01-05") -> dict[str, Any]:
    """Material handed from the site to a courier."""
    return {"kind": "material_shipped", "patient": patient, "coi": coi, "occurred_on": on,
            "facility": "CDMO-A",
            "custody": {"from": "Boston Cancer Center", "to": to, "by": "nurse",
                        "where": "loading dock", "at": f"{on}T15:00:00+00:00"}}


def post_event(api: Api, user: str, event: dict[str, Any], key: str | None = None) -> Any:
    """Record an event as a user."""
    headers = {"Idempotency-Key": key} if key else {}
    return api.post(user, f"/api/trials/{TRIAL}/events", event, **headers)
