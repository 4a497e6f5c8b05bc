"""The trial: identity, modality, planning day, horizon and protocol windows."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import Field

from chainsight.domain.common import NonNegativeInt, PositiveInt, Probability, Strict

Modality = Literal["autologous", "batch"]
Material = Literal["fresh", "cryopreserved"]


class Protocol(Strict):
    """Protocol windows of the patient journey, in days."""

    apheresis_earliest_days: NonNegativeInt = 3
    apheresis_latest_days: NonNegativeInt = 28
    material: Material = "cryopreserved"
    fresh_max_days_to_start: NonNegativeInt = 3
    infusion_latest_days_after_arrival: NonNegativeInt = 21
    dropout_per_week_waiting: Probability = 0.0


class Trial(Strict):
    """One clinical trial as it stands on its planning day ``today``."""

    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    name: str = Field(min_length=1)
    modality: Modality
    today: dt.date
    horizon_days: PositiveInt
    target_enrollment: NonNegativeInt
    protocol: Protocol = Field(default_factory=Protocol)

    @property
    def horizon_end(self) -> dt.date:
        """The last day the plan and the forecast look at."""
        return self.today + dt.timedelta(days=self.horizon_days)
