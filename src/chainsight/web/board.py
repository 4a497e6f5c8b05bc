"""What a page shows, read through the API's own services and scoping: the trial in scope,
its current plan (as much as the user may see), the forecast, the radar's alerts and the
record's events. Nothing here decides visibility: ``chainsight.api.scoping`` does.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from chainsight.api import repository as repo
from chainsight.api.auth.principal import Principal
from chainsight.api.dependencies import Services, load_context
from chainsight.api.engines import run_forecast, run_planner
from chainsight.api.routers.events import event_item
from chainsight.api.routers.risks import alert_rank, current_alerts, visible_incidents
from chainsight.api.scoping import (
    TrialContext,
    alert_view,
    event_view,
    identifies_patients,
    may,
    plan_view,
    sees_trial,
    visible_patients,
)
from chainsight.domain import Scenario
from chainsight.forecast import simulate
from chainsight.planning.plan import scenario_digest
from chainsight.record import repository as record_repo
from chainsight.record.service import load_ledger
from chainsight.store.repository import get_scenario, list_trials
from chainsight.web.session import PageError

# Views of the control tower, in menu order, and the roles each is for.
VIEWS: tuple[tuple[str, str], ...] = (
    ("overview", "Overview"),
    ("patients", "Patient journeys"),
    ("worklist", "Worklist"),
    ("capacity", "CDMO capacity"),
    ("vector", "Vector"),
    ("enrolment", "Enrolment"),
    ("risks", "Risk radar"),
    ("whatif", "What-if"),
    ("shipments", "Shipments"),
    ("events", "Events"),
    ("audit", "Audit trail"),
)
ROLE_VIEWS: dict[str, frozenset[str]] = {
    "sponsor": frozenset(name for name, _ in VIEWS),
    "auditor": frozenset({"overview", "patients", "capacity", "vector", "enrolment", "risks",
                          "shipments", "events", "audit"}),
    "site": frozenset({"overview", "patients", "worklist", "risks", "shipments", "events"}),
    "cdmo": frozenset({"overview", "patients", "worklist", "capacity", "vector", "risks",
                       "shipments", "events"}),
    "courier": frozenset({"shipments", "risks", "events"}),
}
HOME: dict[str, str] = {"courier": "shipments"}
RECORD_OPENER = "system:control-tower"

STAGES: tuple[tuple[str, str], ...] = (
    ("expected", "Expected"), ("enrolled", "Enrolled"),
    ("apheresis_scheduled", "Apheresis booked"), ("collected", "Collected"),
    ("in_transit_to_cdmo", "To CDMO"), ("at_cdmo", "At CDMO"),
    ("manufacturing", "Manufacturing"), ("qc", "QC"), ("released", "Released"),
    ("dp_in_transit", "DP in transit"), ("dp_received", "DP at site"),
    ("needs_reapheresis", "Needs re-apheresis"), ("infused", "Infused"),
    ("withdrawn", "Withdrawn"),
)


def env_days(name: str, default: int) -> int:
    """A whole number of days from the environment, or the default."""
    raw = os.environ.get(name, "").strip()
    return int(raw) if raw.isdigit() else default


def targets() -> dict[str, int]:
    """The targets the overview measures the plan against (days)."""
    return {"time_to_treatment": env_days("CHAINSIGHT_TARGET_TIME_TO_TREATMENT_DAYS", 42),
            "vein_to_vein": env_days("CHAINSIGHT_TARGET_VEIN_TO_VEIN_DAYS", 28)}


def views_for(principal: Principal) -> list[tuple[str, str]]:
    """The views of the principal's role, in menu order."""
    allowed = ROLE_VIEWS[principal.role]
    return [(name, label) for name, label in VIEWS if name in allowed]


def home_view(principal: Principal) -> str:
    """Where the principal lands in a trial."""
    return HOME.get(principal.role, "overview")


def require_view(principal: Principal, view: str) -> None:
    """PageError(403) unless the view is one of the role's."""
    if view not in ROLE_VIEWS[principal.role]:
        raise PageError(403, f"The {view} view is not part of the {principal.role} role.")


def visible_trials(session: Session, principal: Principal) -> list[Scenario]:
    """The stored trials the principal may see."""
    found = []
    for listing in list_trials(session):
        scenario = get_scenario(session, listing.id)
        if scenario is not None and sees_trial(principal, scenario):
            found.append(scenario)
    return found


def trial_in_scope(session: Session, principal: Principal, trial_id: str) -> TrialContext:
    """The trial with its journeys, if the principal may see it; PageError(404) otherwise."""
    ctx = load_context(session, trial_id)
    if ctx is None or not sees_trial(principal, ctx.scenario):
        raise PageError(404, f"Trial {trial_id} was not found.")
    if record_repo.ledger_row(session, trial_id) is None:
        # A trial stored by `chainsight import` has no record yet, so no chain-of-identity
        # ids: CDMOs and couriers would see none of its patients. Open it as the API's
        # import does (audited, once).
        load_ledger(session, ctx.scenario, user=RECORD_OPENER, now=dt.datetime.now(dt.UTC))
        session.flush()
        ctx = load_context(session, trial_id)
        assert ctx is not None
    return ctx


# ---------------------------------------------------------------- plan


@dataclass
class PlanInfo:
    """The plan a page shows: the document (as the user may see it) and where it is from."""

    document: dict[str, Any]
    stored: bool
    created_at: dt.datetime | None = None
    created_by: str | None = None
    reason: str | None = None
    stale_stored: bool = False
    """A stored plan exists but the record changed since: this plan was made afresh."""


_plans: OrderedDict[str, dict[str, Any]] = OrderedDict()
_plans_lock = threading.Lock()


def fresh_plan(scenario: Scenario, services: Services) -> dict[str, Any]:
    """The plan of the scenario as it stands, cached by its digest (planning is pure)."""
    key = scenario_digest(scenario)
    with _plans_lock:
        if key in _plans:
            _plans.move_to_end(key)
            return _plans[key]
    limit = min(services.settings.plan_time_limit_seconds, 10.0)
    document = run_planner(scenario, time_limit_seconds=limit)
    with _plans_lock:
        _plans[key] = document
        while len(_plans) > 16:
            _plans.popitem(last=False)
    return document


def full_plan(session: Session, ctx: TrialContext, services: Services) -> PlanInfo:
    """The current stored plan if it was made on the record as it stands; otherwise a plan
    made now (not stored: only the sponsor stores plans)."""
    row = repo.latest_plan(session, ctx.trial)
    digest = scenario_digest(ctx.scenario)
    if row is not None:
        document = json.loads(row.plan)
        if (document.get("provenance") or {}).get("scenario_sha256") == digest:
            return PlanInfo(document, True, repo.aware(row.created_at), row.created_by,
                            row.reason)
    return PlanInfo(fresh_plan(ctx.scenario, services), False, stale_stored=row is not None)


def scoped_plan(session: Session, principal: Principal, ctx: TrialContext,
                services: Services) -> PlanInfo | None:
    """The plan as the principal may see it, or None if its role does not read plans."""
    if not may(principal, "read_plan"):
        return None
    info = full_plan(session, ctx, services)
    info.document = plan_view(principal, ctx, info.document)
    return info


def label_of(principal: Principal, ctx: TrialContext, row: dict[str, Any]) -> str:
    """How a plan row's patient is named to this principal (patient id or COI id)."""
    if identifies_patients(principal) and row.get("patient"):
        return str(row["patient"])
    return str(row.get("coi") or ctx.coi(str(row.get("patient"))) or "[patient]")


# ---------------------------------------------------------------- forecast


def forecast_of(principal: Principal, ctx: TrialContext, services: Services
                ) -> dict[str, Any] | None:
    """The forecast document, for the roles that may read it."""
    if not may(principal, "read_forecast"):
        return None
    return run_forecast(ctx.scenario, runs=services.settings.forecast_default_runs, seed=0)


_fans: OrderedDict[tuple[str, int], dict[str, Any]] = OrderedDict()


def enrolment_fan(scenario: Scenario, runs: int, seed: int = 0) -> dict[str, Any]:
    """Cumulative enrolment quantiles by week (P10, P25, P50, P75, P90), from the same
    simulation as the forecast, with the enrolment observed so far added."""
    key = (scenario_digest(scenario), runs)
    with _plans_lock:
        if key in _fans:
            return _fans[key]
    sim = simulate(scenario, runs, seed)
    today = scenario.trial.today
    before = sum(1 for p in scenario.patients if p.enrolled < today)
    cumulative = before + np.cumsum(sim.enrolled_weekly, axis=1)
    weeks = [(today + dt.timedelta(days=7 * (k + 1))).isoformat()
             for k in range(cumulative.shape[1])]
    fan: dict[str, Any] = {"weeks": weeks}
    for q in (10, 25, 50, 75, 90):
        fan[f"p{q}"] = [float(v) for v in np.percentile(cumulative, q, axis=0)]
    with _plans_lock:
        _fans[key] = fan
        while len(_fans) > 16:
            _fans.popitem(last=False)
    return fan


# ---------------------------------------------------------------- alerts and events


@dataclass
class Radar:
    """The radar's alerts and the record's incidents the principal may see."""

    alerts: list[dict[str, Any]] = field(default_factory=list)
    incidents: list[dict[str, Any]] = field(default_factory=list)




def radar_of(session: Session, principal: Principal, ctx: TrialContext,
             services: Services) -> Radar:
    """The current alerts (with who acknowledged them) and incidents in the user's scope."""
    rows = current_alerts(session, ctx, services.settings.radar_forecast_runs)
    found = Radar()
    for row in rows.values():
        view = alert_view(principal, ctx, json.loads(row.data))
        if view is None:
            continue
        found.alerts.append({
            **view, "acknowledged_at": repo.aware(row.acknowledged_at)
            if row.acknowledged_at else None,
            "acknowledged_by": row.acknowledged_by, "comment": row.comment,
            "assignee": row.assignee})
    found.alerts.sort(key=alert_rank)
    found.incidents = visible_incidents(session, principal, ctx)[::-1]
    return found


def events_of(session: Session, principal: Principal, ctx: TrialContext,
              patient: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
    """The trial's recorded events the principal may see, newest first."""
    found = []
    for row in record_repo.events(session, ctx.trial, patient):
        view = event_view(principal, ctx, event_item(row))
        if view is not None:
            found.append(view)
    found.reverse()
    return found[:limit]


def stage_counts(principal: Principal, ctx: TrialContext) -> list[tuple[str, str, int]]:
    """Patients the principal sees at each stage of the journey: (state, label, count)."""
    counts: dict[str, int] = {}
    for patient in visible_patients(principal, ctx):
        state = ctx.state(patient) or "expected"
        counts[state] = counts.get(state, 0) + 1
    return [(state, label, counts.get(state, 0)) for state, label in STAGES]
