"""The trial's plan: the current one, and planning again (optionally after an event)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from chainsight.api import repository as repo
from chainsight.api.dependencies import (
    CurrentUser,
    Db,
    ServicesDep,
    Trial,
    load_context,
    mark_changed,
)
from chainsight.api.engines import run_planner
from chainsight.api.idempotency import Idempotency, KeyHeader, request_fingerprint
from chainsight.api.models import PlanRow
from chainsight.api.problems import ApiProblem
from chainsight.api.routers import api_router
from chainsight.api.routers.events import record_one
from chainsight.api.schemas import PlanDocument, PlanOut, ReplanIn
from chainsight.api.scoping import TrialContext, plan_view, require

router = api_router("plan")


def plan_out(row: PlanRow, document: dict[str, Any]) -> PlanOut:
    """A stored plan as the API shows it."""
    return PlanOut(id=row.id, trial=row.trial, created_at=repo.aware(row.created_at),
                   created_by=row.created_by, reason=row.reason,
                   plan=PlanDocument.model_validate(document))


@router.get("/trials/{trial_id}/plan", response_model=PlanOut)
def get_plan(ctx: Trial, principal: CurrentUser, session: Db) -> PlanOut:
    """The current plan, as much of it as the caller may see (404 before the first plan)."""
    require(principal, "read_plan")
    row = repo.latest_plan(session, ctx.trial)
    if row is None:
        raise ApiProblem(404, "Not found", f"trial {ctx.trial} has no plan yet: POST to plan",
                         kind="no-plan")
    return plan_out(row, plan_view(principal, ctx, json.loads(row.plan)))


@router.post("/trials/{trial_id}/plan", status_code=201, response_model=PlanOut,
             responses={200: {"description": "replayed answer of an earlier request",
                              "model": PlanOut}})
def replan(ctx: Trial, body: ReplanIn, request: Request, principal: CurrentUser, session: Db,
           services: ServicesDep, idempotency_key: KeyHeader = None) -> Any:
    """Plan the trial again from its stored scenario (sponsor), after recording
    ``event`` if one is given; the new plan becomes the current one."""
    require(principal, "replan")
    idem = Idempotency(session, principal, idempotency_key, "POST", request.url.path,
                       request_fingerprint("POST", request.url.path, body.model_dump()))
    earlier = idem.earlier()
    if earlier is not None:
        return earlier
    current: TrialContext | None = ctx
    reason = body.reason
    if body.event is not None:
        recorded = record_one(session, services, ctx, principal, body.event, None)
        current = load_context(session, ctx.trial)
        reason = f"{reason} after event #{recorded.sequence} {recorded.kind}"
    assert current is not None
    limit = body.time_limit_seconds or services.settings.plan_time_limit_seconds
    document = run_planner(current.scenario, time_limit_seconds=limit)
    row = repo.add_plan(session, trial=ctx.trial, plan=document, by=principal.actor,
                        reason=reason)
    mark_changed(session)
    result = plan_out(row, document)
    idem.remember(201, result)
    return JSONResponse(result.model_dump(mode="json"), status_code=201)
