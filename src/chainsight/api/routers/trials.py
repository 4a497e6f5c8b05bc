"""Trials: list, import a scenario, export it, replace it."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import Body, Request
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from chainsight.api.auth.principal import Principal
from chainsight.api.dependencies import CurrentUser, Db, ServicesDep, Trial, mark_changed
from chainsight.api.idempotency import Idempotency, KeyHeader, request_fingerprint
from chainsight.api.problems import ApiProblem, invalid
from chainsight.api.routers import api_router
from chainsight.api.schemas import TrialOut
from chainsight.api.scoping import require, sees_trial
from chainsight.domain import Problem, Scenario, parse_scenario
from chainsight.record.audit import set_context
from chainsight.record.service import load_ledger
from chainsight.store.errors import TrialExists
from chainsight.store.repository import get_scenario, save_scenario
from chainsight.store.repository import list_trials as stored_trials

router = api_router("trials")

ScenarioBody = Annotated[dict[str, Any], Body(
    description="a scenario in the chainsight/1 format (see the scenario format document)")]


def _summary(scenario: Scenario) -> TrialOut:
    trial = scenario.trial
    return TrialOut(id=trial.id, name=trial.name, modality=trial.modality, today=trial.today,
                    patients=len(scenario.patients), sites=len(scenario.sites))


@router.get("/trials", response_model=list[TrialOut])
def list_trials(principal: CurrentUser, session: Db) -> list[TrialOut]:
    """The trials the caller may see."""
    found = []
    for listing in stored_trials(session):
        scenario = get_scenario(session, listing.id)
        if scenario is not None and sees_trial(principal, scenario):
            found.append(_summary(scenario))
    return found


def _store(session: Session, principal: Principal, scenario: Scenario, *, replace: bool,
           reason: str, now: dt.datetime) -> None:
    set_context(session, actor=principal.actor, reason=reason)
    save_scenario(session, scenario, replace=replace)
    # Open the trial's record now, so every patient has a chain-of-identity id from the
    # start: CDMO and courier users know patients by nothing else.
    load_ledger(session, scenario, user=principal.actor, now=now)
    mark_changed(session)


@router.post("/trials", status_code=201, response_model=TrialOut,
             responses={200: {"description": "replayed answer of an earlier import",
                              "model": TrialOut}})
def import_trial(body: ScenarioBody, request: Request, principal: CurrentUser, session: Db,
                 services: ServicesDep, idempotency_key: KeyHeader = None) -> Any:
    """Import a scenario as a new trial (409 if the trial id is taken)."""
    require(principal, "import_trial")
    idem = Idempotency(session, principal, idempotency_key, "POST", request.url.path,
                       request_fingerprint("POST", request.url.path, body))
    earlier = idem.earlier()
    if earlier is not None:
        return earlier
    scenario = parse_scenario(body)
    try:
        _store(session, principal, scenario, replace=False,
               reason=f"trial {scenario.trial.id} imported", now=services.clock())
    except TrialExists as error:
        raise ApiProblem(409, "Trial exists", str(error) + ": PUT it to replace it",
                         kind="trial-exists") from None
    result = _summary(scenario)
    idem.remember(201, result)
    return JSONResponse(result.model_dump(mode="json"), status_code=201,
                        headers={"Location": f"/api/trials/{scenario.trial.id}"})


@router.get("/trials/{trial_id}", response_model=Scenario, response_model_by_alias=True)
def export_trial(ctx: Trial, principal: CurrentUser) -> Scenario:
    """The whole scenario of the trial, exactly as stored (sponsor and auditors)."""
    require(principal, "export_trial")
    return ctx.scenario


@router.put("/trials/{trial_id}", response_model=TrialOut)
def replace_trial(ctx: Trial, body: ScenarioBody, principal: CurrentUser,
                  session: Db, services: ServicesDep) -> TrialOut:
    """Replace the trial's scenario (its id must stay the same)."""
    require(principal, "replace_trial")
    scenario = parse_scenario(body)
    if scenario.trial.id != ctx.trial:
        raise invalid([Problem("trial.id", f"must be {ctx.trial!r}, the trial in the path")])
    _store(session, principal, scenario, replace=True, reason=f"trial {ctx.trial} replaced",
           now=services.clock())
    return _summary(scenario)
