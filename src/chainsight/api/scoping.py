"""What a principal may see and do: the one place that decides it.

Routes, the stream and the webhooks never filter on their own; they ask here.

- sponsor: everything, and every write.
- auditor: everything, read-only (the audit trail included).
- site: the trials that have its site; its site, its patients and their events; it
  records the events that happen at a site for its own patients.
- cdmo: the trials that have its facility; its facility, the lots made there or used by
  its patients, its patients as chain-of-identity (COI) ids only (no patient id, no
  enrolment site), and the events of its manufacturing; it records those.
- courier: trial names; the hand-overs it is a party to (patients as COI ids); it records
  hand-overs it takes part in.

Reads outside the scope answer 404 (whether the thing exists elsewhere is not told);
writes outside it answer 403.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from chainsight.api.auth.principal import Principal
from chainsight.api.problems import ApiProblem, FieldError, forbidden
from chainsight.domain import Lot, Patient, Scenario
from chainsight.domain.journey import Journey

FULL_VIEW = frozenset({"sponsor", "auditor"})
IDENTIFYING = frozenset({"sponsor", "auditor", "site"})
"""Roles that may see who a patient is (patient id, enrolment site, enrolment date)."""

HANDOVERS = frozenset({"material_shipped", "material_received", "dp_shipped", "dp_received"})
SITE_EVENTS = frozenset({"patient_enrolled", "apheresis_scheduled", "apheresis_done",
                         "material_shipped", "material_received", "dp_received", "infused",
                         "withdrawn", "site_activated"})
CDMO_EVENTS = frozenset({"material_received", "run_started", "run_failed", "qc_released",
                         "qc_out_of_spec", "dp_shipped", "reservation_added", "milestone_done",
                         "lot_released", "extension_granted", "extension_refused",
                         "lot_quarantined"})
LOT_EVENTS = frozenset({"lot_released", "extension_granted", "extension_refused",
                        "lot_quarantined"})

# Actions decided by role alone (what may be done to a trial the principal can see).
ROLE_ACTIONS: dict[str, frozenset[str]] = {
    "import_trial": frozenset({"sponsor"}),
    "replace_trial": frozenset({"sponsor"}),
    "export_trial": frozenset({"sponsor", "auditor"}),
    "replan": frozenset({"sponsor"}),
    "read_plan": frozenset({"sponsor", "auditor", "site", "cdmo"}),
    "read_forecast": frozenset({"sponsor", "auditor"}),
    "read_audit": frozenset({"sponsor", "auditor"}),
    "record_event": frozenset({"sponsor", "site", "cdmo", "courier"}),
    "acknowledge_alert": frozenset({"sponsor", "site", "cdmo", "courier"}),
    "manage_webhooks": frozenset({"sponsor", "site", "cdmo", "courier"}),
}

_WHY_NOT = {
    "import_trial": "only the sponsor imports trials",
    "replace_trial": "only the sponsor replaces a trial",
    "export_trial": "only the sponsor and auditors export whole trials",
    "replan": "only the sponsor re-plans",
    "read_plan": "couriers see their shipments, not the plan",
    "read_forecast": "the forecast is for the sponsor and auditors",
    "read_audit": "the audit trail is for the sponsor and auditors",
    "record_event": "auditors read only",
    "acknowledge_alert": "auditors read only",
    "manage_webhooks": "auditors read only",
}


def may(principal: Principal, action: str) -> bool:
    """Whether the principal's role allows ``action`` at all."""
    return principal.role in ROLE_ACTIONS[action]


def require(principal: Principal, action: str) -> None:
    """403 unless the principal's role allows ``action``."""
    if not may(principal, action):
        raise forbidden(_WHY_NOT[action])


@dataclass
class TrialContext:
    """A trial as the scoping rules need it: the scenario, each patient's journey (COI id,
    state, facility), and for couriers the parties of each patient's hand-overs."""

    scenario: Scenario
    journeys: dict[str, Journey] = field(default_factory=dict)
    carriers: dict[str, set[str]] = field(default_factory=dict)

    @property
    def trial(self) -> str:
        """The trial's id."""
        return self.scenario.trial.id

    def patient(self, patient_id: str) -> Patient | None:
        """The scenario's patient, or None."""
        try:
            return self.scenario.patient(patient_id)
        except KeyError:
            return None

    def coi(self, patient_id: str) -> str | None:
        """The patient's chain-of-identity id, if one was issued."""
        journey = self.journeys.get(patient_id)
        return journey.coi if journey is not None else None

    def state(self, patient_id: str) -> str | None:
        """Where the patient's journey stands, if the record has it."""
        journey = self.journeys.get(patient_id)
        return journey.state.value if journey is not None else None

    def facility_of(self, patient_id: str) -> str | None:
        """The facility making the patient's product (record first, then scenario)."""
        journey = self.journeys.get(patient_id)
        if journey is not None and journey.facility is not None:
            return journey.facility
        patient = self.patient(patient_id)
        return patient.facility if patient is not None else None

    def patient_by_coi(self, coi: str) -> str | None:
        """The patient a COI id belongs to in this trial, or None."""
        for patient_id, journey in self.journeys.items():
            if journey.coi == coi:
                return patient_id
        return None


# ---------------------------------------------------------------- trials and resources


def sees_trial(principal: Principal, scenario: Scenario) -> bool:
    """Whether the trial is visible at all (else: 404)."""
    role = principal.role
    if role in FULL_VIEW or role == "courier":
        return True
    if role == "site":
        return any(s.id == principal.site for s in scenario.sites)
    return any(f.id == principal.facility for f in scenario.facilities)


def sees_patient(principal: Principal, ctx: TrialContext, patient_id: str) -> bool:
    """Whether the principal may see this patient (by id or by COI id)."""
    role = principal.role
    if role in FULL_VIEW:
        return True
    patient = ctx.patient(patient_id)
    if role == "site":
        return patient is not None and patient.site == principal.site
    if role == "cdmo":
        return ctx.facility_of(patient_id) == principal.facility and ctx.coi(patient_id) is not None
    courier = (principal.courier or "").casefold()
    return courier in ctx.carriers.get(patient_id, set()) and ctx.coi(patient_id) is not None


def identifies_patients(principal: Principal) -> bool:
    """Whether the principal may see patient ids and enrolment sites (else COI ids only)."""
    return principal.role in IDENTIFYING


def sees_site(principal: Principal, site_id: str) -> bool:
    """Sites are seen by the sponsor, auditors and the site itself."""
    return principal.role in FULL_VIEW or (principal.role == "site" and principal.site == site_id)


def sees_facility(principal: Principal, facility_id: str) -> bool:
    """Facilities are seen by the sponsor, auditors and the CDMO itself."""
    return principal.role in FULL_VIEW or (
        principal.role == "cdmo" and principal.facility == facility_id)


def sees_lot(principal: Principal, ctx: TrialContext, lot: Lot) -> bool:
    """A CDMO sees the lots made at its facility or used by its patients' runs."""
    if principal.role in FULL_VIEW:
        return True
    if principal.role != "cdmo":
        return False
    if lot.facility == principal.facility:
        return True
    return any(p.vector_lot == lot.id and ctx.facility_of(p.id) == principal.facility
               for p in ctx.scenario.patients)


def visible_patients(principal: Principal, ctx: TrialContext) -> list[str]:
    """Ids of the patients the principal may see, in scenario order."""
    return [p.id for p in ctx.scenario.patients if sees_patient(principal, ctx, p.id)]


def resolve_patient(principal: Principal, ctx: TrialContext, ref: str) -> str | None:
    """The patient a reference names, by patient id (where ids may be seen) or COI id,
    and only if the principal may see that patient."""
    if identifies_patients(principal) and ctx.patient(ref) is not None:
        patient_id: str | None = ref
    else:
        patient_id = ctx.patient_by_coi(ref)
    if patient_id is None or not sees_patient(principal, ctx, patient_id):
        return None
    return patient_id


# ---------------------------------------------------------------- redaction


class Redactor:
    """Replaces patient ids by COI ids and enrolment sites by ``[site]`` in free data, for
    principals who may not see who a patient is."""

    def __init__(self, ctx: TrialContext) -> None:
        self._map: dict[str, str] = {}
        for p in ctx.scenario.patients:
            self._map[p.id] = ctx.coi(p.id) or "[patient]"
        for s in ctx.scenario.sites:
            self._map[s.id] = "[site]"
            self._map[s.name] = "[site]"
        keys = sorted(self._map, key=len, reverse=True)
        self._pattern = re.compile(
            r"(?<![A-Za-z0-9_-])(" + "|".join(re.escape(k) for k in keys) + r")(?![A-Za-z0-9_-])"
        ) if keys else None

    def text(self, value: str) -> str:
        """A string with every patient id and site replaced."""
        if self._pattern is None:
            return value
        return self._pattern.sub(lambda m: self._map[m.group(1)], value)

    def data(self, value: Any) -> Any:
        """JSON-like data with every string redacted (keys too)."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.text(str(k)): self.data(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.data(v) for v in value]
        return value


# ---------------------------------------------------------------- events


def _event_patient(event: dict[str, Any], ctx: TrialContext) -> str | None:
    patient = event.get("patient")
    if isinstance(patient, str):
        return patient
    coi = event.get("coi")
    return ctx.patient_by_coi(coi) if isinstance(coi, str) else None


def _party(event: dict[str, Any], courier: str | None) -> bool:
    custody = event.get("custody")
    if not isinstance(custody, dict) or not courier:
        return False
    parties = {str(custody.get("from", "")).casefold(), str(custody.get("to", "")).casefold()}
    return courier.casefold() in parties


def sees_event(principal: Principal, ctx: TrialContext, kind: str, event: dict[str, Any]
               ) -> bool:
    """Whether a recorded (or about to be recorded) event is in the principal's scope."""
    role = principal.role
    if role in FULL_VIEW:
        return True
    patient = _event_patient(event, ctx)
    if role == "courier":
        return kind in HANDOVERS and _party(event, principal.courier)
    if role == "site":
        if kind == "site_activated":
            return event.get("site") == principal.site
        if kind == "patient_enrolled" and ctx.patient(patient or "") is None:
            return event.get("site") == principal.site
        return patient is not None and sees_patient(principal, ctx, patient)
    # cdmo
    if kind in ("reservation_added",):
        return event.get("facility") == principal.facility
    if kind == "milestone_done":
        transfer = str(event.get("transfer", ""))
        return any(t.id == transfer and t.facility == principal.facility
                   for t in ctx.scenario.tech_transfer)
    if kind in LOT_EVENTS:
        lot_id = str(event.get("lot", ""))
        lots = [lot for lot in ctx.scenario.vector.lots if lot.id == lot_id]
        return (bool(lots) and sees_lot(principal, ctx, lots[0])) or (
            event.get("facility") == principal.facility)
    # A patient's events are the CDMO's once the material is on its way there (the
    # shipment sets the journey's facility): before that it does not know the patient.
    return patient is not None and sees_patient(principal, ctx, patient)


def event_view(principal: Principal, ctx: TrialContext, item: dict[str, Any]
               ) -> dict[str, Any] | None:
    """A recorded event (``record.service.event_list`` shape) as the principal may see it,
    or None when it is out of scope."""
    payload = item.get("event") or {}
    if not sees_event(principal, ctx, str(item.get("kind")), payload):
        return None
    if identifies_patients(principal):
        return item
    redactor = Redactor(ctx)
    view = {k: v for k, v in item.items() if k not in ("patient", "event")}
    view["patient"] = None
    view["event"] = redactor.data({k: v for k, v in payload.items() if k != "patient"})
    return view


def authorize_event(principal: Principal, ctx: TrialContext, data: dict[str, Any]
                    ) -> dict[str, Any]:
    """The event as it will be recorded, if the principal may record it; 403 otherwise.

    The trial comes from the path. CDMO and courier users, who do not know patient ids,
    name the patient by ``coi``; the patient id is filled in here.
    """
    require(principal, "record_event")
    trial = data.get("trial")
    if trial is not None and trial != ctx.trial:
        raise ApiProblem(422, "Invalid input", "the event's trial is not the trial in the path",
                         kind="validation",
                         errors=[FieldError(field="body.trial",
                                            message=f"must be {ctx.trial!r} or left out")])
    event = {**data, "trial": ctx.trial}
    kind = str(event.get("kind", ""))
    if not identifies_patients(principal) and "patient" in event:
        raise ApiProblem(422, "Invalid input", "name the patient by its COI id",
                         kind="validation",
                         errors=[FieldError(field="body.patient",
                                            message="not accepted from this role: give `coi`")])
    if not identifies_patients(principal) and isinstance(event.get("coi"), str):
        patient = ctx.patient_by_coi(event["coi"])
        if patient is None:
            raise forbidden("you may not record events for this COI id")
        event["patient"] = patient
    if principal.role == "sponsor":
        return event
    allowed = {"site": SITE_EVENTS, "cdmo": CDMO_EVENTS, "courier": HANDOVERS}[principal.role]
    if kind not in allowed or not sees_event(principal, ctx, kind, event):
        raise forbidden(f"a {principal.role} user may not record this {kind or 'event'}")
    return event


# ---------------------------------------------------------------- plan and alerts


def plan_view(principal: Principal, ctx: TrialContext, plan: dict[str, Any]) -> dict[str, Any]:
    """The plan as the principal may see it: all of it, or its own patients' rows."""
    require(principal, "read_plan")
    if principal.role in FULL_VIEW:
        return plan
    rows = []
    for row in plan.get("patients") or []:
        patient = str(row.get("patient"))
        if principal.role == "site":
            if row.get("site") == principal.site:
                rows.append(row)
        elif row.get("facility") == principal.facility and ctx.coi(patient) is not None:
            rows.append({**row, "patient": None, "site": None, "enrolled": None,
                         "coi": ctx.coi(patient)})
    view = {**plan, "patients": rows, "kpis": None}
    if principal.role == "site":
        view["batches"] = []
        view["vector_lots"] = []
        view["unplanned"] = [u for u in plan.get("unplanned") or []
                             if sees_patient(principal, ctx, str(u.get("patient")))]
    else:
        view["batches"] = [b for b in plan.get("batches") or []
                           if b.get("facility") == principal.facility]
        visible = {lot.id for lot in ctx.scenario.vector.lots if sees_lot(principal, ctx, lot)}
        visible |= {str(r.get("vector_lot")) for r in rows if r.get("vector_lot")}
        view["vector_lots"] = [v for v in plan.get("vector_lots") or []
                               if v.get("lot") in visible]
        view["unplanned"] = []
    return view


def alert_view(principal: Principal, ctx: TrialContext, alert: dict[str, Any]
               ) -> dict[str, Any] | None:
    """A radar alert as the principal may see it, or None when it is not theirs."""
    if principal.role in FULL_VIEW:
        return alert
    patients = [str(p) for p in alert.get("patients") or []]
    mine = [p for p in patients if sees_patient(principal, ctx, p)]
    if principal.role == "site":
        if principal.site not in (alert.get("sites") or []) and not mine:
            return None
        return {**alert, "patients": mine,
                "sites": [s for s in alert.get("sites") or [] if s == principal.site]}
    if principal.role == "cdmo":
        lots = {lot.id for lot in ctx.scenario.vector.lots if sees_lot(principal, ctx, lot)}
        if (principal.facility not in (alert.get("facilities") or []) and not mine
                and not lots.intersection(alert.get("lots") or [])):
            return None
    elif not mine:  # courier: alerts about shipments it carries
        return None
    redacted: dict[str, Any] = Redactor(ctx).data(
        {**alert, "patients": mine, "sites": [],
         "facilities": [f for f in alert.get("facilities") or [] if f == principal.facility]})
    return redacted


def incident_view(principal: Principal, ctx: TrialContext, incident: dict[str, Any]
                  ) -> dict[str, Any] | None:
    """An alert of the record (a refused event, an excursion...) as the principal may see it."""
    if principal.role in FULL_VIEW:
        return incident
    patient = incident.get("patient")
    if not isinstance(patient, str) or not sees_patient(principal, ctx, patient):
        return None
    if identifies_patients(principal):
        return incident
    view: dict[str, Any] = Redactor(ctx).data({**incident, "patient": None})
    return view


def filter_visible(items: Iterable[dict[str, Any] | None]) -> list[dict[str, Any]]:
    """The items that are not None."""
    return [item for item in items if item is not None]


def sees_shipment(principal: Principal, ctx: TrialContext, patient_id: str,
                  parties: Iterable[str]) -> bool:
    """A hand-over is seen by those who see its patient, and by the courier that is a
    party to it (only those hand-overs of the patient)."""
    if principal.role == "courier":
        courier = (principal.courier or "").casefold()
        return bool(courier) and courier in {p.casefold() for p in parties}
    return sees_patient(principal, ctx, patient_id)
