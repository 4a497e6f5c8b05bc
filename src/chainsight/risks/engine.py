"""Run the radar on a scenario: plan it, forecast it, and scan the result."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chainsight.domain import Scenario
from chainsight.forecast import forecast
from chainsight.forecast.whatif import apply_what_if, parse_what_if
from chainsight.planning import plan
from chainsight.risks.inputs import ForecastData, Forecaster, RadarInputs, RadarSettings

Step = Callable[[str], None]


def what_if_forecaster(runs: int, seed: int) -> Forecaster:
    """A forecaster that applies a what-if (the what-if file format) before forecasting.

    The same seed as the base forecast gives common random numbers, so a difference is
    the change's effect rather than noise.
    """

    def run(scenario: Scenario, what_if: dict[str, Any]) -> ForecastData:
        changed = apply_what_if(scenario, parse_what_if(what_if)) if what_if else scenario
        return forecast(changed, runs=runs, seed=seed)

    return run


def assess(scenario: Scenario, *, runs: int = 1000, seed: int = 0, time_limit: float = 10.0,
           settings: RadarSettings | None = None, step: Step | None = None) -> RadarInputs:
    """Everything the radar reads about ``scenario``: its plan, forecast and supply view."""
    say = step or (lambda _: None)
    say("planning")
    plan_data = plan(scenario, time_limit=time_limit).model_dump(mode="json")
    say("forecasting")
    forecaster = what_if_forecaster(runs, seed)
    inputs = RadarInputs(scenario, plan=plan_data, forecaster=forecaster,
                         settings=settings or RadarSettings())
    inputs.forecast = forecast(scenario, runs=runs, seed=seed)
    if scenario.vector.campaigns:
        say("forecasting the vector supply without new campaigns")
        inputs.supply_forecast = forecast(inputs.without_campaigns(), runs=runs, seed=seed)
    else:
        inputs.supply_forecast = inputs.forecast
    return inputs
