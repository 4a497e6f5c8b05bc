"""What the radar looks at: the scenario, its plan and its forecast (in the file formats)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from chainsight.domain import Scenario

# The radar reads plans and forecasts in their published JSON formats
# (chainsight-plan/1, chainsight-forecast/1): a stable contract, independent of how the
# engines represent them inside.
PlanData = dict[str, Any]
ForecastData = dict[str, Any]
Forecaster = Callable[[Scenario, dict[str, Any]], ForecastData]


@dataclass(frozen=True)
class RadarSettings:
    """Thresholds the detectors use; each has the default a supply-chain lead would expect."""

    dry_shipper_hold_days: int = 10
    stockout_probability_floor: float = 0.05
    capacity_wait_floor: float = 0.5
    campaign_warning_days: int = 60
    activation_grace_days: int = 0


@dataclass
class RadarInputs:
    """Everything a detector may read.

    ``supply_forecast`` is the forecast with no listed vector campaign booked (the
    forecast proper counts each as booked at its earliest start); the campaign deadline
    is read from it. ``forecaster`` re-forecasts a scenario with a what-if applied.
    """

    scenario: Scenario
    plan: PlanData | None = None
    forecast: ForecastData | None = None
    supply_forecast: ForecastData | None = None
    forecaster: Forecaster | None = None
    settings: RadarSettings = field(default_factory=RadarSettings)

    @property
    def today(self) -> dt.date:
        return self.scenario.today

    def without_campaigns(self) -> Scenario:
        """The scenario as it stands if no listed vector campaign is booked."""
        vector = self.scenario.vector.model_copy(update={"campaigns": []})
        return self.scenario.model_copy(update={"vector": vector})

    def planned_patients(self) -> list[dict[str, Any]]:
        """The plan's patient rows (empty without a plan)."""
        return list(self.plan["patients"]) if self.plan else []


def parse_day(value: Any) -> dt.date | None:
    """A date from the JSON formats (ISO string or null)."""
    if value is None:
        return None
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))
