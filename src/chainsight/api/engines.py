"""The planner, the forecaster and the radar as the service calls them.

The engines are pure and can be slow; what they return for the same inputs is the same,
so forecasts are cached by the scenario's digest, runs and seed.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from chainsight.domain import Scenario
from chainsight.forecast import forecast
from chainsight.forecast.model import scenario_digest
from chainsight.planning import plan
from chainsight.risks import RadarInputs, radar_json, scan

_CACHE_SIZE = 32
_cache: OrderedDict[tuple[str, int, int], dict[str, Any]] = OrderedDict()
_cache_lock = threading.Lock()


def run_forecast(scenario: Scenario, *, runs: int, seed: int) -> dict[str, Any]:
    """The ``chainsight-forecast/1`` document for the scenario (cached)."""
    key = (scenario_digest(scenario), runs, seed)
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    result = forecast(scenario, runs=runs, seed=seed)
    with _cache_lock:
        _cache[key] = result
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return result


def run_planner(scenario: Scenario, *, time_limit_seconds: float) -> dict[str, Any]:
    """Plan the scenario: the ``chainsight-plan/1`` document."""
    return plan_document(plan(scenario, time_limit=time_limit_seconds))


def plan_document(result: Any) -> dict[str, Any]:
    """The planner's result as plain ``chainsight-plan/1`` data."""
    for name in ("as_json", "to_json", "as_dict", "plan_json"):
        method = getattr(result, name, None)
        if callable(method):
            data = method()
            if isinstance(data, dict):
                return data
    if isinstance(result, dict):
        return result
    raise TypeError(f"the planner returned {type(result).__name__}, not a plan document")


def radar(scenario: Scenario, *, plan: dict[str, Any] | None,
          forecast_data: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The radar's alerts as plain data, most severe first."""
    alerts = scan(RadarInputs(scenario, plan=plan, forecast=forecast_data))
    found: list[dict[str, Any]] = radar_json(alerts)["alerts"]
    return found
