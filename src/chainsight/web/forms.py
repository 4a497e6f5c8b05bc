"""Event entry forms: which fields each kind of event has, turning a posted form into the
event the API's service records, and the service's errors back into messages per field.

The form does no validation of its own beyond shaping: the event goes through the same
code as ``POST /api/trials/{id}/events`` (scoping, the event model, the journey rules), so
the browser sees exactly the API's verdict, placed next to the field it names.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from chainsight.api.auth.principal import Principal
from chainsight.api.scoping import CDMO_EVENTS, HANDOVERS, SITE_EVENTS, identifies_patients
from chainsight.domain.events import EVENT_KINDS

KIND_LABELS: dict[str, str] = {
    "patient_enrolled": "Patient enrolled", "apheresis_scheduled": "Apheresis scheduled",
    "apheresis_done": "Apheresis done", "material_shipped": "Apheresis material shipped",
    "material_received": "Apheresis material received at CDMO",
    "run_started": "Manufacturing run started", "run_failed": "Manufacturing run failed",
    "qc_released": "QC released", "qc_out_of_spec": "QC out of specification",
    "dp_shipped": "Drug product shipped", "dp_received": "Drug product received at site",
    "infused": "Patient infused", "withdrawn": "Patient withdrawn",
    "lot_released": "Vector lot released", "extension_granted": "Shelf-life extension granted",
    "extension_refused": "Shelf-life extension refused",
    "lot_quarantined": "Vector lot quarantined", "reservation_added": "Suites reserved by others",
    "milestone_done": "Tech-transfer milestone done", "site_activated": "Site activated",
}


@dataclass(frozen=True)
class Field:
    """One input of a form: its name is the event field's path (``custody.at``)."""

    name: str
    label: str
    kind: str = "text"  # text | date | datetime | number | select | checkbox | textarea
    required: bool = False
    help: str = ""
    choices: tuple[tuple[str, str], ...] = ()
    step: str | None = None


PATIENT_EVENTS = frozenset({
    "patient_enrolled", "apheresis_scheduled", "apheresis_done", "material_shipped",
    "material_received", "run_started", "run_failed", "qc_released", "qc_out_of_spec",
    "dp_shipped", "dp_received", "infused", "withdrawn"})
MATERIAL_EVENTS = PATIENT_EVENTS - {"patient_enrolled", "apheresis_scheduled", "withdrawn"}
REASON_REQUIRED = frozenset({"run_failed", "qc_out_of_spec", "withdrawn", "lot_quarantined"})


def kinds_for(principal: Principal) -> list[str]:
    """The kinds of event the principal's role may record (none for auditors)."""
    allowed = {"sponsor": frozenset(EVENT_KINDS), "site": SITE_EVENTS, "cdmo": CDMO_EVENTS,
               "courier": HANDOVERS}.get(principal.role, frozenset())
    return [k for k in EVENT_KINDS if k in allowed]


@dataclass
class Choices:
    """What the selects offer: the patients (or COI ids), sites, facilities, lots... the
    user may see."""

    patients: list[tuple[str, str]] = field(default_factory=list)
    sites: list[tuple[str, str]] = field(default_factory=list)
    facilities: list[tuple[str, str]] = field(default_factory=list)
    lots: list[tuple[str, str]] = field(default_factory=list)
    transfers: list[tuple[str, str]] = field(default_factory=list)


def fields_for(kind: str, principal: Principal, choices: Choices) -> list[Field]:
    """The inputs of the form for one kind of event."""
    fields: list[Field] = []
    if kind in PATIENT_EVENTS:
        if kind == "patient_enrolled":
            fields.append(Field("patient", "New patient id", required=True,
                                help="the trial's id for the patient, e.g. P011"))
            fields.append(Field("site", "Site", "select", required=True,
                                choices=tuple(choices.sites)))
            fields.append(Field("priority", "Priority", "number", step="0.1",
                                help="weight in the plan; 1 is normal"))
        elif identifies_patients(principal):
            fields.append(Field("patient", "Patient", "select", required=True,
                                choices=tuple(choices.patients)))
        if kind in MATERIAL_EVENTS or (kind == "withdrawn"
                                       and not identifies_patients(principal)):
            fields.append(Field("coi", "Chain-of-identity id", required=True,
                                help="as printed on the label, with its check character"))
    fields.append(Field("occurred_on", "Day it happened", "date", required=True))
    extra: dict[str, list[Field]] = {
        "apheresis_scheduled": [Field("day", "Apheresis day", "date", required=True)],
        "apheresis_done": [Field("donation_id", "Donation id (ISBT 128)",
                                 help="13 characters and the check character; optional")],
        "material_shipped": [Field("facility", "To facility", "select", required=True,
                                   choices=tuple(choices.facilities))],
        "material_received": [Field("facility", "Facility", "select", required=True,
                                    choices=tuple(choices.facilities))],
        "run_started": [Field("facility", "Facility", "select", required=True,
                              choices=tuple(choices.facilities)),
                        Field("vector_lot", "Vector lot", "select", required=True,
                              choices=tuple(choices.lots))],
        "lot_released": [Field("lot", "Lot id", required=True),
                         Field("units", "Units", "number", step="1"),
                         Field("expires", "Expires", "date"),
                         Field("facility", "Made at", "select",
                               choices=(("", "—"), *choices.facilities))],
        "extension_granted": [Field("lot", "Lot", "select", required=True,
                                    choices=tuple(choices.lots)),
                              Field("expires", "New expiry", "date")],
        "extension_refused": [Field("lot", "Lot", "select", required=True,
                                    choices=tuple(choices.lots))],
        "lot_quarantined": [Field("lot", "Lot", "select", required=True,
                                  choices=tuple(choices.lots))],
        "reservation_added": [Field("facility", "Facility", "select", required=True,
                                    choices=tuple(choices.facilities)),
                              Field("suites", "Suites", "number", required=True, step="1"),
                              Field("start", "First day", "date", required=True),
                              Field("end", "Last day", "date", required=True),
                              Field("label", "Label", help="e.g. commercial campaign")],
        "milestone_done": [Field("transfer", "Tech transfer", "select", required=True,
                                 choices=tuple(choices.transfers)),
                           Field("milestone", "Milestone id", required=True)],
        "site_activated": [Field("site", "Site", "select", required=True,
                                 choices=tuple(choices.sites))],
    }
    fields += extra.get(kind, [])
    if kind in HANDOVERS:
        fields += [
            Field("custody.from", "Handed over by (party)", required=True),
            Field("custody.to", "Received by (party)", required=True),
            Field("custody.by", "Signed by", required=True),
            Field("custody.where", "Where", required=True),
            Field("custody.at", "When (UTC)", "datetime", required=True),
            Field("custody.temperature_ok", "Temperature within range", "checkbox"),
            Field("custody.excursion.description", "Excursion: what happened",
                  help="only if the temperature was not within range"),
        ]
    fields.append(Field("reason", "Reason", "textarea", required=kind in REASON_REQUIRED))
    fields.append(Field("comment", "Comment", "textarea"))
    return fields


def _number(text: str) -> int | float | str:
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return text  # left as typed: the event model names the field


def event_from_form(kind: str, fields: list[Field], form: dict[str, str]) -> dict[str, Any]:
    """The event a posted form describes (blank inputs left out, so the model reports
    missing required fields by name)."""
    event: dict[str, Any] = {"kind": kind}
    custody: dict[str, Any] = {}
    for f in fields:
        raw = form.get(f.name)
        if f.kind == "checkbox":
            value: Any = raw is not None and raw not in ("", "off", "false")
        else:
            text = (raw or "").strip()
            if not text:
                continue
            value = text
            if f.kind == "number":
                value = _number(text)
            elif f.kind == "datetime":
                value = text if text.endswith("Z") or "+" in text[10:] else text + "Z"
                if len(text) == 16:  # YYYY-MM-DDTHH:MM from a datetime-local input
                    value = text + ":00Z"
        if f.name.startswith("custody."):
            path = f.name.split(".")[1:]
            if path[0] == "excursion":
                custody.setdefault("excursion", {})[path[1]] = value
            else:
                custody[path[0]] = value
        else:
            event[f.name] = value
    if custody:
        event["custody"] = custody
    return event


def field_of(path: str, names: set[str]) -> str | None:
    """The form field an error path (``body.custody.at``, ``custody``) belongs to."""
    path = path.removeprefix("body.").removeprefix("body")
    if path in names:
        return path
    for name in sorted(names, key=len, reverse=True):
        if path.startswith(name + ".") or path.startswith(name + "["):
            return name
    return None


def default_day(now: dt.datetime) -> str:
    """The record's clock's day (UTC): nothing may be recorded after it."""
    return now.astimezone(dt.UTC).date().isoformat()


def default_time(now: dt.datetime) -> str:
    """The record's clock's time, in UTC, as a datetime-local input wants it."""
    return now.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M")
