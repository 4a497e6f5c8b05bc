"""The bottleneck radar of a trial: alerts (with acknowledgements) and record incidents."""

from __future__ import annotations

import json
from functools import partial
from typing import Annotated, Any

from fastapi import Path
from sqlalchemy.orm import Session

from chainsight.api import repository as repo
from chainsight.api import webhooks
from chainsight.api.auth.principal import Principal
from chainsight.api.dependencies import CurrentUser, Db, ServicesDep, Trial, mark_changed
from chainsight.api.engines import radar, run_forecast
from chainsight.api.models import AlertStateRow
from chainsight.api.problems import not_found
from chainsight.api.routers import api_router
from chainsight.api.schemas import AcknowledgeIn, AlertOut, IncidentOut, RisksOut
from chainsight.api.scoping import TrialContext, alert_view, incident_view, require
from chainsight.record import repository as record_repo
from chainsight.risks.alerts import SEVERITY_ORDER

router = api_router("risks")
AlertId = Annotated[str, Path(min_length=1, max_length=120)]


def _alert_out(row: AlertStateRow, view: dict[str, Any]) -> AlertOut:
    return AlertOut.model_validate({
        **{k: v for k, v in view.items() if k != "trial"},
        "first_seen_at": repo.aware(row.first_seen_at),
        "acknowledged_at": repo.aware(row.acknowledged_at) if row.acknowledged_at else None,
        "acknowledged_by": row.acknowledged_by, "comment": row.comment,
        "assignee": row.assignee})


def current_alerts(session: Session, ctx: TrialContext, runs: int
                   ) -> dict[str, AlertStateRow]:
    """Scan the trial (its current plan and a forecast) and keep the alerts' states; new
    alerts go to the webhooks that may see them."""
    plan_row = repo.latest_plan(session, ctx.trial)
    plan = json.loads(plan_row.plan) if plan_row is not None else None
    forecast = run_forecast(ctx.scenario, runs=runs, seed=0)
    alerts = radar(ctx.scenario, plan=plan, forecast_data=forecast)
    before = repo.last_alert_id(session)
    rows = repo.sync_alerts(session, ctx.trial, alerts)
    for row in rows.values():
        if row.id > before:
            data = json.loads(row.data)
            webhooks.enqueue(session, ctx=ctx, topic="alert", item=f"{ctx.trial}/{row.alert_id}",
                             view=partial(_alert_for, data))
            mark_changed(session)
    return rows


def alert_rank(alert: dict[str, Any]) -> tuple[int, float, str]:
    """The radar's order: most severe, then most likely times worst, then id."""
    return (-SEVERITY_ORDER.get(alert["severity"], -1),
            -alert["probability"] * alert["impact"], alert["id"])


def visible_incidents(session: Session, principal: Principal, ctx: TrialContext
                      ) -> list[dict[str, Any]]:
    """The record's incidents (refused events, excursions...) the principal may see,
    oldest first."""
    shown = []
    for incident in record_repo.alerts(session, ctx.trial):
        item = {"id": incident.id, "kind": incident.kind, "code": incident.code,
                "patient": incident.patient, "field": incident.field,
                "message": incident.message, "raised_by": incident.raised_by,
                "raised_at": repo.aware(incident.raised_at)}
        view = incident_view(principal, ctx, item)
        if view is not None:
            shown.append(view)
    return shown


def _alert_for(data: dict[str, Any], principal: Principal, ctx: TrialContext
               ) -> dict[str, Any] | None:
    return alert_view(principal, ctx, data)


def _visible(principal: Principal, ctx: TrialContext, row: AlertStateRow
             ) -> dict[str, Any] | None:
    return alert_view(principal, ctx, json.loads(row.data))


@router.get("/trials/{trial_id}/risks", response_model=RisksOut)
def get_risks(ctx: Trial, principal: CurrentUser, session: Db,
              services: ServicesDep) -> RisksOut:
    """The radar's current alerts the caller may see, most severe first, and the record's
    incidents (refused events, excursions, failed runs)."""
    rows = current_alerts(session, ctx, services.settings.radar_forecast_runs)
    alerts = []
    for row in rows.values():
        view = _visible(principal, ctx, row)
        if view is not None:
            alerts.append(_alert_out(row, view))
    alerts.sort(key=lambda a: alert_rank(a.model_dump()))
    incidents = [IncidentOut.model_validate(item)
                 for item in visible_incidents(session, principal, ctx)]
    return RisksOut(trial=ctx.trial, computed_at=repo.now(), alerts=alerts,
                    incidents=incidents)


@router.post("/trials/{trial_id}/risks/{alert_id}/acknowledge", response_model=AlertOut)
def acknowledge_alert(ctx: Trial, alert_id: AlertId, body: AcknowledgeIn,
                      principal: CurrentUser, session: Db) -> AlertOut:
    """Acknowledge an alert the caller can see, with a comment and an assignee."""
    row = repo.alert_state(session, ctx.trial, alert_id)
    view = _visible(principal, ctx, row) if row is not None and row.active else None
    if row is None or view is None:
        raise not_found(f"alert {alert_id}")
    require(principal, "acknowledge_alert")
    repo.acknowledge(session, row, by=principal.actor, comment=body.comment,
                     assignee=body.assignee)
    mark_changed(session)
    fresh = repo.alert_state(session, ctx.trial, alert_id)
    assert fresh is not None
    return _alert_out(fresh, view)
