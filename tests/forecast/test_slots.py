"""Slot advice: the fewest slots a month per CDMO that meet the target share."""

from __future__ import annotations

import pytest

from chainsight.domain import Scenario
from chainsight.forecast import simulate
from chainsight.forecast.engine import Overrides
from chainsight.forecast.slots import advise_slots

RUNS = 200


def _share(scenario: Scenario, caps: dict[int, int], within: int) -> float:
    return simulate(scenario, RUNS, 0, overrides=Overrides(monthly_caps=caps),
                    within_days=within).share_within


def test_advice_meets_the_target_and_one_slot_less_does_not(demo: Scenario) -> None:
    advice = advise_slots(demo, within_days=14, share=0.8, runs=RUNS, seed=0)
    assert advice["feasible"]
    assert advice["achieved_share"] >= 0.8
    caps = {j: v for j, v in enumerate(advice["slots_per_month"].values()) if v is not None}
    assert caps, advice
    assert _share(demo, caps, 14) >= 0.8
    for j, v in caps.items():
        if v > 0:
            assert _share(demo, {**caps, j: v - 1}, 14) < 0.8


def test_caps_bind(demo: Scenario) -> None:
    free = _share(demo, {}, 14)
    starved = _share(demo, {0: 1, 1: 0}, 14)
    assert starved < free


def test_an_unreachable_target_is_reported(multicdmo: Scenario) -> None:
    advice = advise_slots(multicdmo, within_days=0, share=1.0, runs=100)
    assert advice["feasible"] is False
    assert advice["achieved_share"] < 1.0


def test_bad_parameters_are_refused(demo: Scenario) -> None:
    with pytest.raises(ValueError, match="share"):
        advise_slots(demo, share=0.0)
    with pytest.raises(ValueError, match="within_days"):
        advise_slots(demo, within_days=-1)
