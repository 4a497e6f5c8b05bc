"""Weights of the plan's objective."""

from __future__ import annotations

from chainsight.domain.common import NonNegativeFloat, Strict


class Objective(Strict):
    """What one unit of each cost is worth when plans are compared."""

    time_to_treatment: NonNegativeFloat = 1.0
    protocol_deviation: NonNegativeFloat = 50.0
    vector_units_expired: NonNegativeFloat = 5.0
    batch_fixed_cost: NonNegativeFloat = 0.0
    doses_expired: NonNegativeFloat = 0.0
