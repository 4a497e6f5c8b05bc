"""Drug product manufacturing process parameters, with per-facility overrides."""

from __future__ import annotations

from chainsight.domain.common import NonNegativeInt, PositiveInt, Probability, Strict


class Process(Strict):
    """How one DP run or batch is made and released."""

    manufacturing_days: PositiveInt
    qc_release_days: NonNegativeInt
    success_rate: Probability
    vector_units_per_batch: NonNegativeInt = 1
    doses_per_batch: PositiveInt = 1
    dp_shelf_life_days: NonNegativeInt


class ProcessOverride(Strict):
    """A facility's own values for some process fields; unset fields keep the trial's."""

    manufacturing_days: PositiveInt | None = None
    qc_release_days: NonNegativeInt | None = None
    success_rate: Probability | None = None
    vector_units_per_batch: NonNegativeInt | None = None
    doses_per_batch: PositiveInt | None = None
    dp_shelf_life_days: NonNegativeInt | None = None

    def apply_to(self, base: Process) -> Process:
        """The process at a facility: ``base`` with this override's set fields."""
        changes = {k: v for k, v in self.model_dump().items() if v is not None}
        return base.model_copy(update=changes)
