"""Each role's scope, through the HTTP API: what it sees, what it may not see (404) and
what it may not do (403); and requests without credentials (401)."""

from __future__ import annotations

import base64
import json

from tests.api.conftest import COURIER, PASSWORD, TRIAL, Api
from tests.api.helpers import coi_of, collected, post_event, schedule, shipped

T = f"/api/trials/{TRIAL}"
PROBLEM = "application/problem+json"


def test_without_valid_credentials_every_api_request_is_401(api: Api) -> None:
    client = api.client
    basic = base64.b64encode(b"sponsor:wrong password").decode()
    for headers in ({}, {"Authorization": "Bearer cs_not-a-token"},
                    {"Authorization": f"Basic {basic}"}, {"Authorization": "Digest x"}):
        for path in ("/api/trials", f"{T}/patients", "/api/audit", "/api/stream",
                     "/api/webhooks"):
            response = client.get(path, headers=headers)
            assert response.status_code == 401, (path, headers)
            assert response.headers["content-type"].startswith(PROBLEM)
            assert "WWW-Authenticate" in response.headers
            assert response.json()["status"] == 401
    response = client.post(f"{T}/events", json=schedule())
    assert response.status_code == 401


def test_password_login_and_browser_session(api: Api) -> None:
    client = api.client
    basic = base64.b64encode(f"sponsor:{PASSWORD}".encode()).decode()
    assert client.get("/api/me", headers={"Authorization": f"Basic {basic}"}).json()[
        "role"] == "sponsor"
    assert client.post("/api/session", json={"name": "sponsor", "password": "nope"}
                       ).status_code == 401
    response = client.post("/api/session", json={"name": "sponsor", "password": PASSWORD})
    assert response.status_code == 200
    assert "httponly" in response.headers["set-cookie"].lower()
    assert client.get("/api/me").json()["name"] == "sponsor"
    # A write from a browser session needs the header a cross-site form cannot send.
    assert client.post(f"{T}/events", json=schedule()).status_code == 403
    ok = client.post(f"{T}/events", json=schedule(), headers={"X-Requested-With": "fetch"})
    assert ok.status_code == 201, ok.text
    assert client.delete("/api/session").status_code == 204
    client.cookies.clear()
    assert client.get("/api/me").status_code == 401


def test_sponsor_sees_everything(api: Api) -> None:
    patients = api.get("sponsor", f"{T}/patients").json()
    assert {p["site"] for p in patients} == {"S01", "S02", "S03"}
    assert len(api.get("sponsor", f"{T}/sites").json()) == 3
    assert api.get("sponsor", T).json()["trial"]["id"] == TRIAL
    assert api.get("sponsor", f"{T}/forecast", params={"runs": 50}).status_code == 200


def test_site_user_sees_only_its_own_site_and_patients(api: Api) -> None:
    patients = api.get("site1", f"{T}/patients").json()
    assert patients
    assert {p["site"] for p in patients} == {"S01"}
    assert [s["id"] for s in api.get("site1", f"{T}/sites").json()] == ["S01"]
    # Another site's patient, site, or the whole scenario: as if they did not exist.
    assert api.get("site1", f"{T}/patients/P003").status_code == 404
    assert api.get("site1", f"{T}/patients/{coi_of(api, 'P003')}").status_code == 404
    assert api.get("site1", f"{T}/sites/S02").status_code == 404
    assert api.get("site2", f"{T}/patients/P003").status_code == 200
    assert api.get("site1", f"{T}/lots").json() == []
    assert api.get("site1", f"{T}/facilities").json() == []
    assert api.get("site1", T).status_code == 403
    assert api.get("site1", f"{T}/forecast").status_code == 403
    assert api.get("site1", "/api/audit").status_code == 403
    # Writes: its own patient yes, another site's patient no.
    assert post_event(api, "site1", schedule()).status_code == 201
    other = schedule("P005", "2027-01-12")
    refused = post_event(api, "site1", other)
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith(PROBLEM)
    assert post_event(api, "site2", other).status_code == 201
    kinds = [(e["kind"], e["patient"]) for e in api.get("site1", f"{T}/events").json()]
    assert kinds == [("apheresis_scheduled", "P004")]


def test_cdmo_sees_its_patients_by_coi_only(api: Api) -> None:
    patients = api.get("cdmo", f"{T}/patients").json()
    assert patients, "CDMO-A makes the product of P001-P003"
    for patient in patients:
        assert set(patient) >= {"coi", "state"}
        assert not {"id", "site", "enrolled", "infusion", "priority"} & set(patient)
    text = json.dumps(patients)
    for secret in ("P00", "S01", "S02", "Boston", "Houston"):
        assert secret not in text
    coi = patients[0]["coi"]
    assert api.get("cdmo", f"{T}/patients/{coi}").status_code == 200
    assert api.get("cdmo", f"{T}/patients/P001").status_code == 404
    assert api.get("cdmo", f"{T}/sites").json() == []
    assert [f["id"] for f in api.get("cdmo", f"{T}/facilities").json()] == ["CDMO-A"]
    assert api.get("cdmo", f"{T}/facilities/CDMO-B").status_code == 404
    assert api.get("cdmo_b", f"{T}/patients").json() == []
    # Events it sees carry no patient id, even inside the payload.
    coi4 = coi_of(api, "P004")
    for event in (schedule(), collected(coi4), shipped(coi4)):
        assert post_event(api, "sponsor", event).status_code == 201, event
    # Once the material is on its way to CDMO-A, the CDMO sees that patient's journey.
    seen = api.get("cdmo", f"{T}/events").json()
    assert "material_shipped" in [e["kind"] for e in seen]
    assert all(e["patient"] is None for e in seen)
    assert "P004" not in json.dumps(seen)
    assert "Boston Cancer" not in json.dumps(seen)
    assert api.get("cdmo_b", f"{T}/events").json() == []
    # It records by COI id; a patient id is not accepted from it.
    received = {"kind": "material_received", "coi": coi4, "occurred_on": "2027-01-06",
                "facility": "CDMO-A",
                "custody": {"from": COURIER, "to": "CDMO-A", "by": "receiving",
                            "where": "Philadelphia", "at": "2027-01-06T09:00:00+00:00"}}
    response = post_event(api, "cdmo", received)
    assert response.status_code == 201, response.text
    assert response.json()["patient"] is None
    assert response.json()["coi"] == coi4
    assert post_event(api, "cdmo", {**received, "patient": "P004"}).status_code == 422
    # Another CDMO may not record for it.
    assert post_event(api, "cdmo_b", {**received, "facility": "CDMO-B"}).status_code == 403


def test_courier_sees_only_its_shipments(api: Api) -> None:
    assert api.get("courier", f"{T}/patients").json() == []
    coi4 = coi_of(api, "P004")
    for event in (schedule(), collected(coi4), shipped(coi4)):
        assert post_event(api, "site1", event).status_code == 201
    coi5 = coi_of(api, "P005")
    for event in (schedule("P005", "2027-01-12"), collected(coi5, "P005", "2027-01-12"),
                  shipped(coi5, "P005", to="Other Logistics", on="2027-01-12")):
        assert post_event(api, "sponsor", event).status_code == 201, event
    shipments = api.get("courier", f"{T}/shipments").json()
    assert [s["coi"] for s in shipments] == [coi4]
    assert shipments[0]["patient"] is None
    events = api.get("courier", f"{T}/events").json()
    assert [e["kind"] for e in events] == ["material_shipped"]
    assert "P004" not in json.dumps(events)
    assert [p["coi"] for p in api.get("courier", f"{T}/patients").json()] == [coi4]
    assert api.get("courier", f"{T}/patients/{coi5}").status_code == 404
    assert api.get("courier", f"{T}/plan").status_code == 403
    assert len(api.get("sponsor", f"{T}/shipments").json()) == 2


def test_auditor_reads_everything_and_writes_nothing(api: Api) -> None:
    assert len(api.get("auditor", f"{T}/patients").json()) == 10
    trail = api.get("auditor", "/api/audit", params={"trial": TRIAL, "limit": 5})
    assert trail.status_code == 200
    assert trail.json()
    verify = api.get("auditor", "/api/audit/verify").json()
    assert verify["ok"] is True
    assert verify["entries"] > 0
    assert post_event(api, "auditor", schedule()).status_code == 403
    assert api.post("auditor", "/api/trials", {"format": "chainsight/1"}).status_code == 403
    assert api.post("auditor", f"{T}/plan", {}).status_code == 403
    assert api.post("auditor", "/api/webhooks",
                    {"url": "http://127.0.0.1:9/hook"}).status_code == 403
    alerts = api.get("auditor", f"{T}/risks").json()["alerts"]
    assert alerts
    ack = api.post("auditor", f"{T}/risks/{alerts[0]['id']}/acknowledge", {"comment": "seen"})
    assert ack.status_code == 403


def test_unknown_trial_is_404_for_everyone(api: Api) -> None:
    for user in ("sponsor", "site1", "cdmo"):
        response = api.get(user, "/api/trials/NOPE/patients")
        assert response.status_code == 404
        assert response.json()["type"].endswith("not-found")


def test_risks_are_scoped_and_acknowledged(api: Api) -> None:
    alerts = api.get("sponsor", f"{T}/risks").json()["alerts"]
    assert alerts
    first = alerts[0]["id"]
    ack = api.post("sponsor", f"{T}/risks/{first}/acknowledge",
                   {"comment": "booked an expedited release", "assignee": "supply lead"})
    assert ack.status_code == 200, ack.text
    assert ack.json()["assignee"] == "supply lead"
    again = {a["id"]: a for a in api.get("sponsor", f"{T}/risks").json()["alerts"]}
    assert again[first]["acknowledged_by"] == "user:sponsor"
    assert api.post("sponsor", f"{T}/risks/nope/acknowledge", {"comment": "x"}
                    ).status_code == 404
    for alert in api.get("site1", f"{T}/risks").json()["alerts"]:
        assert alert["sites"] in ([], ["S01"])
    cdmo_view = json.dumps(api.get("cdmo", f"{T}/risks").json())
    assert "Boston" not in cdmo_view
    assert "P00" not in cdmo_view
    assert api.get("courier", f"{T}/risks").json()["alerts"] == []
