"""What-if: a small file of changes to the scenario, forecast side by side with the base.

A what-if is applied to the scenario itself (and the result checked like any scenario),
so the simulation needs no special cases:

* ``suites``: ``{facility, from, suites: 1}`` another suite (or more) from a date; before
  that date the new suites are held by a reservation labelled "what-if";
* ``campaigns``: ``{campaign, start}`` books a scenario campaign (its id, or its 1-based
  position) to start on a date instead of its earliest start; ``{facility, start,
  lead_time_days, units, shelf_life_days}`` books a new one;
* ``sites``: ``{site, activation}`` a site not yet active activates on another planned day
  (the activation delay distribution still applies: it is still a plan);
* ``success_rate``: ``{rate, facility: null}`` a higher success rate everywhere, or at one
  facility.

Base and what-if run on the same seed, so they share their random draws (common random
numbers) and their difference is mostly the change's effect, not noise.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import Field, ValidationError, field_validator

from chainsight.domain import Problem, Scenario, ScenarioInvalid, parse_scenario, scenario_data
from chainsight.domain.common import Identifier, PositiveInt, Probability, Strict
from chainsight.domain.errors import problems_from_validation_error
from chainsight.domain.loading import read_data
from chainsight.forecast.config import ForecastConfig
from chainsight.forecast.forecaster import Simulation, simulate, summarise


class ExtraSuites(Strict):
    """More suites at a drug product facility from a date on."""

    facility: Identifier
    from_: dt.date = Field(alias="from")
    suites: PositiveInt = 1


class CampaignBooking(Strict):
    """A vector campaign booked to start on a date (an existing one, or a new one)."""

    campaign: Identifier | int | None = None
    start: dt.date
    facility: Identifier | None = None
    lead_time_days: PositiveInt | None = None
    units: PositiveInt | None = None
    shelf_life_days: PositiveInt | None = None


class SiteActivation(Strict):
    """A site that is not active yet, planned to activate on another day."""

    site: Identifier
    activation: dt.date


class SuccessRate(Strict):
    """A manufacturing success rate, everywhere (facility null) or at one facility."""

    rate: Probability
    facility: Identifier | None = None


class WhatIf(Strict):
    """A named set of changes to forecast against the base case."""

    label: str = "what-if"
    suites: list[ExtraSuites] = Field(default_factory=list)
    campaigns: list[CampaignBooking] = Field(default_factory=list)
    sites: list[SiteActivation] = Field(default_factory=list)
    success_rate: list[SuccessRate] = Field(default_factory=list)

    @field_validator("campaigns")
    @classmethod
    def _new_campaigns_complete(cls, value: list[CampaignBooking]) -> list[CampaignBooking]:
        for booking in value:
            if booking.campaign is None and None in (
                booking.facility, booking.lead_time_days, booking.units, booking.shelf_life_days
            ):
                raise ValueError("a new campaign needs facility, lead_time_days, units and "
                                 "shelf_life_days (or name an existing one with `campaign`)")
        return value


def load_what_if(path: str | Path) -> WhatIf:
    """Read a what-if file (YAML or JSON); ScenarioInvalid names the field at fault."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ScenarioInvalid([Problem("", f"{file}: cannot be read ({error})")]) from None
    return parse_what_if(read_data(text, str(file)))


def parse_what_if(data: Any) -> WhatIf:
    """Check plain data as a what-if."""
    try:
        return WhatIf.model_validate(data)
    except ValidationError as error:
        raise ScenarioInvalid(problems_from_validation_error(error)) from None


def apply_what_if(scenario: Scenario, what_if: WhatIf) -> Scenario:
    """The scenario with the what-if's changes, checked; ScenarioInvalid names the field."""
    data = scenario_data(scenario)
    problems: list[Problem] = []
    facilities = {f["id"]: f for f in data["facilities"]}
    today = scenario.today
    for k, extra in enumerate(what_if.suites):
        fac = facilities.get(extra.facility)
        if fac is None or fac["kind"] != "drug_product":
            problems.append(Problem(f"suites[{k}].facility",
                                    f"no drug product facility {extra.facility!r}"))
            continue
        fac["suites"] += extra.suites
        if extra.from_ > today:
            fac["reservations"].append({
                "suites": extra.suites, "start": today.isoformat(),
                "end": (extra.from_ - dt.timedelta(days=1)).isoformat(),
                "label": "what-if: suite not there yet",
            })
    campaigns = data["vector"]["campaigns"]
    for k, booking in enumerate(what_if.campaigns):
        if booking.campaign is None:
            if booking.facility not in facilities:
                problems.append(Problem(f"campaigns[{k}].facility",
                                        f"no facility {booking.facility!r}"))
                continue
            campaigns.append({
                "facility": booking.facility, "earliest_start": booking.start.isoformat(),
                "lead_time_days": booking.lead_time_days, "units": booking.units,
                "shelf_life_days": booking.shelf_life_days,
            })
            continue
        target = _find_campaign(campaigns, booking.campaign)
        if target is None:
            problems.append(Problem(f"campaigns[{k}].campaign",
                                    f"no campaign {booking.campaign!r} in the scenario"))
            continue
        if booking.start < today:
            problems.append(Problem(f"campaigns[{k}].start",
                                    f"{booking.start} is before today ({today})"))
            continue
        target["earliest_start"] = booking.start.isoformat()
    sites = {s["id"]: s for s in data["sites"]}
    for k, change in enumerate(what_if.sites):
        site = sites.get(change.site)
        if site is None:
            problems.append(Problem(f"sites[{k}].site", f"no site {change.site!r}"))
        elif site["activation"]["actual"] is not None:
            problems.append(Problem(f"sites[{k}].site",
                                    f"site {change.site!r} is already active"))
        else:
            site["activation"]["planned"] = change.activation.isoformat()
    for k, rate in enumerate(what_if.success_rate):
        if rate.facility is None:
            data["process"]["success_rate"] = rate.rate
            for fac in data["facilities"]:
                fac["process"]["success_rate"] = None
        elif rate.facility not in facilities:
            problems.append(Problem(f"success_rate[{k}].facility",
                                    f"no facility {rate.facility!r}"))
        else:
            facilities[rate.facility]["process"]["success_rate"] = rate.rate
    if problems:
        raise ScenarioInvalid(problems)
    return parse_scenario(data)


def _find_campaign(campaigns: list[dict[str, Any]], ref: str | int) -> dict[str, Any] | None:
    if isinstance(ref, int):
        return campaigns[ref - 1] if 1 <= ref <= len(campaigns) else None
    return next((c for c in campaigns if c.get("id") == ref), None)


# Figures compared between base and what-if: (path in the JSON, label).
_HEADLINES = (
    ("enrollment_complete", "dates"), ("last_infusion", "dates"),
    ("vector_units_expired", "counts"), ("patients_lost_waiting", "counts"),
    ("time_to_treatment_days", "counts"), ("patients_infused", "counts"),
)


def difference(base: dict[str, Any], other: dict[str, Any]) -> dict[str, Any]:
    """What-if minus base for the headline figures (days for dates; null if either is)."""
    out: dict[str, Any] = {}
    for key, kind in _HEADLINES:
        a, b = base.get(key) or {}, other.get(key) or {}
        diff: dict[str, Any] = {}
        for q in a:
            va, vb = a[q], b.get(q)
            if va is None or vb is None:
                diff[q] = None
            elif kind == "dates":
                diff[q] = (dt.date.fromisoformat(vb) - dt.date.fromisoformat(va)).days
            else:
                diff[q] = vb - va
        out[key + ("_days" if kind == "dates" else "")] = diff
    out["vector_stockout_probability"] = round(
        other["vector_stockout_probability"]["by_horizon_end"]
        - base["vector_stockout_probability"]["by_horizon_end"], 4)
    return out


def paired(base: Simulation, other: Simulation) -> dict[str, float]:
    """Mean per-run differences (what-if minus base): runs share their draws."""

    def mean_diff(a: Any, b: Any) -> float:
        d = np.asarray(b, dtype=float) - np.asarray(a, dtype=float)
        d = d[np.isfinite(d)]
        return round(float(d.mean()), 4) if d.size else 0.0

    return {
        "patients_infused": mean_diff(base.infused, other.infused),
        "patients_lost_waiting": mean_diff(base.lost, other.lost),
        "vector_units_expired": mean_diff(base.expired_units, other.expired_units),
        "mean_time_to_treatment_days": mean_diff(base.ttt_mean, other.ttt_mean),
    }


def compare(
    scenario: Scenario, what_if: WhatIf, runs: int, seed: int,
    config: ForecastConfig | None = None,
) -> dict[str, Any]:
    """Base and what-if forecasts on the same seed, and their difference."""
    changed = apply_what_if(scenario, what_if)
    base_sim = simulate(scenario, runs, seed, config)
    other_sim = simulate(changed, runs, seed, config)
    return comparison(what_if, base_sim, other_sim)


def comparison(what_if: WhatIf, base_sim: Simulation, other_sim: Simulation) -> dict[str, Any]:
    """The side-by-side JSON of two simulations run on the same seed."""
    base = summarise(base_sim)
    other = summarise(other_sim)
    diff = difference(base, other)
    diff["paired_mean"] = paired(base_sim, other_sim)
    return {"label": what_if.label, "what_if_changes": what_if.model_dump(mode="json",
                                                                          by_alias=True),
            "base": base, "what_if": other, "difference": diff}


def _sweep_one(args: tuple[Scenario, WhatIf, int, int, ForecastConfig | None]
               ) -> dict[str, Any]:
    scenario, what_if, runs, seed, config = args
    return compare(scenario, what_if, runs, seed, config)


def forecast_sweep(
    scenario: Scenario, what_ifs: Sequence[WhatIf], runs: int, seed: int,
    config: ForecastConfig | None = None, workers: int | None = None,
) -> list[dict[str, Any]]:
    """Compare several what-ifs with the base case, one per process (same seed each).

    The results come back in the order of ``what_ifs`` whatever finishes first. Each
    worker also simulates the base case: that costs one base run per what-if but keeps
    the workers independent, and the base is identical in each (same seed).
    """
    for what_if in what_ifs:  # fail fast, in this process, with the field at fault
        apply_what_if(scenario, what_if)
    workers = workers or min(len(what_ifs), os.cpu_count() or 1)
    jobs = [(scenario, w, runs, seed, config) for w in what_ifs]
    if workers <= 1 or len(jobs) <= 1:
        return [_sweep_one(job) for job in jobs]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(_sweep_one, jobs))
