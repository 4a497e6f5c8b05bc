"""The trial's forecast (Monte Carlo), with a bounded number of runs."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query

from chainsight.api.dependencies import CurrentUser, ServicesDep, Trial
from chainsight.api.engines import run_forecast
from chainsight.api.problems import ApiProblem, FieldError
from chainsight.api.routers import api_router
from chainsight.api.schemas import ForecastOut
from chainsight.api.scoping import require

router = api_router("forecast")


@router.get("/trials/{trial_id}/forecast", response_model=ForecastOut)
def get_forecast(
    ctx: Trial, principal: CurrentUser, services: ServicesDep,
    runs: Annotated[int | None, Query(ge=1, description="Monte Carlo runs (bounded)")] = None,
    seed: Annotated[int, Query(ge=0, le=2**32 - 1)] = 0,
) -> dict[str, Any]:
    """The ``chainsight-forecast/1`` document of the trial as stored (sponsor, auditors)."""
    require(principal, "read_forecast")
    settings = services.settings
    chosen = runs if runs is not None else settings.forecast_default_runs
    if chosen > settings.forecast_max_runs:
        raise ApiProblem(422, "Invalid input", "too many runs", kind="validation",
                         errors=[FieldError(field="query.runs",
                                            message=f"at most {settings.forecast_max_runs}")])
    return run_forecast(ctx.scenario, runs=chosen, seed=seed)
