"""The worklist: for each patient the user sees, the next thing to do, by whom, by when,
read off the journey's state and the plan's dates."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from chainsight.api.auth.principal import Principal
from chainsight.api.scoping import TrialContext, visible_patients
from chainsight.web.board import label_of

LYMPHODEPLETION_START = 5  # days before infusion: 3 days of chemo ending 2 days before


@dataclass(frozen=True)
class Task:
    """One thing to do for one patient."""

    patient: str  # as the user may name it (patient id or COI id)
    ref: str  # what the event form takes for the patient (id or COI id)
    owner: str  # site | cdmo
    action: str
    due: dt.date | None
    kind: str | None  # the event that records it done
    state: str

    def overdue(self, today: dt.date) -> bool:
        """Whether its day has passed."""
        return self.due is not None and self.due < today


def _d(value: Any) -> dt.date | None:
    return dt.date.fromisoformat(value) if isinstance(value, str) else value


def task_for(state: str, row: dict[str, Any], scenario_today: dt.date, due_apheresis: dt.date |
             None) -> tuple[str, str, dt.date | None, str | None] | None:
    """(owner, action, due, event kind) for a patient in ``state`` with plan ``row``."""
    aph, start = _d(row.get("apheresis")), _d(row.get("manufacturing_start"))
    release, arrival = _d(row.get("release")), _d(row.get("dp_arrival"))
    infusion = _d(row.get("infusion"))
    facility, lot = row.get("facility") or "the CDMO", row.get("vector_lot") or "?"
    if state == "enrolled":
        return ("site", f"Book apheresis (plan: {aph or 'not planned'})", aph or due_apheresis,
                "apheresis_scheduled")
    if state == "apheresis_scheduled":
        return ("site", "Collect apheresis", aph, "apheresis_done")
    if state == "collected":
        return ("site", f"Ship fresh material to {facility}", aph, "material_shipped")
    if state == "in_transit_to_cdmo":
        return ("cdmo", "Receive apheresis material", start, "material_received")
    if state == "at_cdmo":
        return ("cdmo", f"Start the run with vector lot {lot}", start, "run_started")
    if state in ("manufacturing", "qc"):
        return ("cdmo", f"QC release due (run ends {row.get('manufacturing_end')})", release,
                "qc_released")
    if state == "released":
        return ("cdmo", "Ship the drug product to the site", release, "dp_shipped")
    if state == "dp_in_transit":
        return ("site", "Receive the drug product", arrival, "dp_received")
    if state == "dp_received":
        chemo = infusion - dt.timedelta(days=LYMPHODEPLETION_START) if infusion else None
        return ("site", f"Lymphodepletion from {chemo}, infuse on {infusion}", chemo or infusion,
                "infused")
    if state == "needs_reapheresis":
        return ("site", "Book a new apheresis", scenario_today, "apheresis_scheduled")
    return None


def worklist(principal: Principal, ctx: TrialContext, plan: dict[str, Any] | None
             ) -> list[Task]:
    """The open tasks the principal's organisation owns (the sponsor sees all), soonest
    first."""
    rows: dict[str, dict[str, Any]] = {}
    for row in (plan or {}).get("patients") or []:
        key = row.get("patient") or ctx.patient_by_coi(str(row.get("coi")))
        if key:
            rows[str(key)] = row
    protocol = ctx.scenario.trial.protocol
    tasks = []
    for patient_id in visible_patients(principal, ctx):
        state = ctx.state(patient_id) or "expected"
        row = rows.get(patient_id, {"patient": patient_id})
        patient = ctx.scenario.patient(patient_id)
        due_aph = patient.enrolled + dt.timedelta(days=protocol.apheresis_latest_days)
        found = task_for(state, row, ctx.scenario.trial.today, due_aph)
        if found is None:
            continue
        owner, action, due, kind = found
        if principal.role in ("site", "cdmo") and owner != principal.role:
            continue
        label = label_of(principal, ctx, {**row, "patient": patient_id,
                                          "coi": ctx.coi(patient_id)})
        tasks.append(Task(patient=label, ref=label, owner=owner, action=action, due=due,
                          kind=kind, state=state))
    tasks.sort(key=lambda t: (t.due or dt.date.max, t.patient))
    return tasks
