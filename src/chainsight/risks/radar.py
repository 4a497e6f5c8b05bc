"""The bottleneck radar: every detector over one scenario, ranked, and actions tried out."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chainsight.risks.alerts import Alert
from chainsight.risks.detectors import capacity, protocol, shipment, site_activation, tech_transfer
from chainsight.risks.detectors import vector as vector_detectors
from chainsight.risks.inputs import ForecastData, RadarInputs

Detector = Callable[[RadarInputs], list[Alert]]

DETECTORS: dict[str, Detector] = {
    "capacity_shortfall": capacity.detect,
    "vector_stockout": vector_detectors.detect_stockout,
    "vector_campaign_deadline": vector_detectors.detect_campaign_deadline,
    "vector_expiry": vector_detectors.detect_expiry,
    "tech_transfer_slip": tech_transfer.detect,
    "site_activation_delay": site_activation.detect,
    "protocol_window": protocol.detect,
    "shipment_stability": shipment.detect,
}


def scan(inputs: RadarInputs) -> list[Alert]:
    """Every alert of every detector, most severe and likely first."""
    alerts = [alert for detect in DETECTORS.values() for alert in detect(inputs)]
    return sorted(alerts, key=lambda a: a.rank)


def radar_json(alerts: list[Alert]) -> dict[str, Any]:
    """The radar's output: ``{"alerts": [...]}`` with dates as ISO strings."""
    return {"alerts": [a.model_dump(mode="json") for a in alerts]}


def _waiting(forecast: ForecastData) -> float:
    return sum(float((w.get("waiting_for_slot") or {}).get("p90", 0))
               for w in forecast.get("weekly", []))


def _stockout(forecast: ForecastData) -> float:
    return float((forecast.get("vector_stockout_probability") or {}).get("by_horizon_end", 0))


def _lost(forecast: ForecastData) -> float:
    return float((forecast.get("patients_lost_waiting") or {}).get("p50", 0))


# What each kind of alert puts at risk, read off a forecast: lower is better.
RISK_MEASURES: dict[str, tuple[str, Callable[[ForecastData], float]]] = {
    "capacity_shortfall": ("patient-weeks waiting for a slot (sum of weekly P90)", _waiting),
    "vector_stockout": ("probability of a vector stock-out by the horizon", _stockout),
    "vector_campaign_deadline": ("probability of a vector stock-out by the horizon", _stockout),
    "site_activation_delay": ("patients lost while waiting (P50)", _lost),
}


@dataclass(frozen=True)
class ActionEffect:
    """The named risk before and after applying an alert's recommended action."""

    alert: str
    measure: str
    before: float
    after: float

    @property
    def improves(self) -> bool:
        return self.after < self.before

    def as_json(self) -> dict[str, Any]:
        return {"alert": self.alert, "measure": self.measure, "before": self.before,
                "after": self.after, "improves": self.improves}


def try_action(inputs: RadarInputs, alert: Alert) -> ActionEffect:
    """Forecast with the alert's action applied as a what-if and compare the risk it names."""
    if inputs.forecaster is None or inputs.forecast is None:
        raise ValueError("trying an action needs a forecast and a forecaster")
    if not alert.what_if:
        raise ValueError(f"alert {alert.id} ({alert.kind}) has no action to try as a what-if")
    measure, read = RISK_MEASURES.get(alert.kind, ("patients lost while waiting (P50)", _lost))
    if alert.kind == "vector_campaign_deadline":
        # The booking is weighed against the supply as it stands with no campaign booked.
        base = inputs.supply_forecast or inputs.forecast
        after = inputs.forecaster(inputs.without_campaigns(), alert.what_if)
    else:
        base = inputs.forecast
        after = inputs.forecaster(inputs.scenario, alert.what_if)
    return ActionEffect(alert.id, measure, read(base), read(after))
