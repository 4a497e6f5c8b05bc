"""Idempotent creation, problem details on bad input, and planning through the API."""

from __future__ import annotations

from tests.api.conftest import TRIAL, Api, demo_data
from tests.api.helpers import post_event, schedule

T = f"/api/trials/{TRIAL}"
PROBLEM = "application/problem+json"


def test_same_key_same_body_gives_the_same_answer_and_one_event(api: Api) -> None:
    first = post_event(api, "site1", schedule(), key="book-P004")
    assert first.status_code == 201, first.text
    again = post_event(api, "site1", schedule(), key="book-P004")
    assert again.status_code == first.status_code
    assert again.json() == first.json()
    events = api.get("sponsor", f"{T}/events").json()
    assert [e["kind"] for e in events] == ["apheresis_scheduled"]
    other = post_event(api, "site1", schedule(day="2027-01-13"), key="book-P004")
    assert other.status_code == 422
    assert other.headers["content-type"].startswith(PROBLEM)
    assert other.json()["errors"][0]["field"] == "header.Idempotency-Key"
    # The same key for a different kind of request is a different request too.
    assert api.post("sponsor", "/api/webhooks", {"url": "http://127.0.0.1:9/x"},
                    **{"Idempotency-Key": "hook-1"}).status_code == 201
    assert api.post("sponsor", "/api/webhooks", {"url": "http://127.0.0.1:9/x"},
                    **{"Idempotency-Key": "hook-1"}).status_code == 201
    assert len(api.get("sponsor", "/api/webhooks").json()) == 1


def test_bad_input_is_a_4xx_naming_each_field(api: Api) -> None:
    data = demo_data()
    data["sites"][0]["apheresis"]["per_day"] = -1
    data["trial"]["today"] = "2027-02-30"
    data["trial"]["id"] = "NEW-TRIAL"
    response = api.post("sponsor", "/api/trials", data)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith(PROBLEM)
    fields = {e["field"] for e in response.json()["errors"]}
    assert "body.sites[0].apheresis.per_day" in fields
    assert "body.trial.today" in fields
    bad_event = post_event(api, "sponsor", {"kind": "apheresis_scheduled", "patient": "P004"})
    assert bad_event.status_code == 422
    assert {"body.occurred_on", "body.day"} <= {e["field"] for e in bad_event.json()["errors"]}
    unknown = post_event(api, "sponsor", {"kind": "teleported", "occurred_on": "2027-01-04"})
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["field"] == "body.kind"
    malformed = api.client.post(f"{T}/events", content=b"{not json",
                                headers=api.headers("sponsor",
                                                    **{"Content-Type": "application/json"}))
    assert malformed.status_code == 400
    assert api.get("sponsor", f"{T}/forecast", params={"runs": 10**9}).json()[
        "errors"][0]["field"] == "query.runs"
    refused = post_event(api, "sponsor", schedule(day="2027-01-08"))  # a Friday
    assert refused.status_code == 409
    assert refused.json()["errors"][0]["field"] == "body.day"
    assert api.post("sponsor", "/api/trials", demo_data()).status_code == 409
    assert api.client.get("/api/nothing-here", headers=api.headers("sponsor")
                          ).headers["content-type"].startswith(PROBLEM)


def test_plan_is_made_by_the_sponsor_and_scoped_for_the_others(api: Api) -> None:
    assert api.get("sponsor", f"{T}/plan").status_code == 404
    assert api.post("site1", f"{T}/plan", {}).status_code == 403
    made = api.post("sponsor", f"{T}/plan", {"event": schedule(), "reason": "weekly"})
    assert made.status_code == 201, made.text
    plan = made.json()["plan"]
    assert plan["format"] == "chainsight-plan/1"
    assert plan["patients"]
    assert "after event" in made.json()["reason"]
    site_rows = api.get("site1", f"{T}/plan").json()["plan"]["patients"]
    assert site_rows
    assert {r["site"] for r in site_rows} == {"S01"}
    cdmo_rows = api.get("cdmo", f"{T}/plan").json()["plan"]["patients"]
    assert all(r["patient"] is None and r["site"] is None and r["coi"] for r in cdmo_rows)
