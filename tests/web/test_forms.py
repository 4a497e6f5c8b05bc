"""Event forms without a browser: which kinds each role gets, how a posted form becomes the
event the API's service checks, and where the service's error paths land on the form."""

from __future__ import annotations

import pytest

from chainsight.api.auth.principal import Principal
from chainsight.domain.events import EventInvalid, parse_event
from chainsight.web import forms

SITE = Principal(user_id=1, name="s", role="site", site="S01")
COURIER = Principal(user_id=2, name="c", role="courier", courier="Demo Courier")
AUDITOR = Principal(user_id=3, name="a", role="auditor")


def test_each_role_gets_the_kinds_the_api_lets_it_record() -> None:
    """Auditors get none; couriers hand-overs only; sites no manufacturing events."""
    assert forms.kinds_for(AUDITOR) == []
    assert set(forms.kinds_for(COURIER)) == {"material_shipped", "material_received",
                                             "dp_shipped", "dp_received"}
    assert "run_started" not in forms.kinds_for(SITE)
    assert "patient_enrolled" in forms.kinds_for(SITE)


def test_a_hand_over_form_becomes_an_event_with_its_custody() -> None:
    """Dotted names nest under ``custody``; the datetime input gets its UTC zone; an
    unticked box is false; blank inputs are left out."""
    fields = forms.fields_for("material_received", COURIER, forms.Choices())
    names = [f.name for f in fields]
    assert "patient" not in names  # couriers name the patient by COI id only
    event = forms.event_from_form("material_received", fields, {
        "coi": "CHA000026000002", "occurred_on": "2026-11-20", "facility": "CDMO-A",
        "custody.from": "Demo Courier", "custody.to": "CDMO-A", "custody.by": "Demo Courier",
        "custody.where": "Philadelphia", "custody.at": "2026-11-20T09:30",
        "custody.excursion.description": "", "reason": " "})
    assert event["custody"] == {"from": "Demo Courier", "to": "CDMO-A", "by": "Demo Courier",
                                "where": "Philadelphia", "at": "2026-11-20T09:30:00Z",
                                "temperature_ok": False}
    assert "reason" not in event


def test_a_number_that_is_not_one_is_passed_on_for_the_model_to_name() -> None:
    """Form text is not second-guessed: the event model reports the field."""
    fields = forms.fields_for("reservation_added", SITE, forms.Choices())
    event = forms.event_from_form("reservation_added", fields, {
        "trial": "T", "occurred_on": "2026-11-20", "facility": "CDMO-A", "suites": "two",
        "start": "2027-01-01", "end": "2027-01-02"})
    with pytest.raises(EventInvalid) as caught:
        parse_event({**event, "trial": "T"})
    assert [p.path for p in caught.value.problems] == ["suites"]


@pytest.mark.parametrize(("path", "field"), [
    ("body.custody.at", "custody.at"), ("custody", None), ("coi", "coi"),
    ("body.day", "day"), ("custody.excursion.description", "custody.excursion.description"),
    ("body.patient", "patient"), ("body", None),
])
def test_error_paths_land_on_their_field(path: str, field: str | None) -> None:
    """An error path names the form input it belongs to, or none (shown above the form)."""
    names = {"coi", "day", "patient", "custody.at", "custody.excursion.description"}
    assert forms.field_of(path, names) == field
