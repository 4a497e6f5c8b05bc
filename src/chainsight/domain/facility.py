"""CDMO facilities: suites, start weekdays, readiness and other clients' reservations."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import Field, model_validator

from chainsight.domain.common import Identifier, NonNegativeInt, Strict, Weekdays
from chainsight.domain.process import ProcessOverride

FacilityKind = Literal["drug_product", "vector"]


class Reservation(Strict):
    """Suites held by someone else (another client, a shutdown); both end days included."""

    suites: NonNegativeInt
    start: dt.date
    end: dt.date
    label: str = ""

    @model_validator(mode="after")
    def _ends_after_start(self) -> Reservation:
        if self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")
        return self

    def holds(self, day: dt.date) -> bool:
        """Whether this reservation holds its suites on ``day``."""
        return self.start <= day <= self.end


class Facility(Strict):
    """A manufacturer: drug product CDMO (suites for runs) or vector manufacturer."""

    id: Identifier
    name: str = Field(min_length=1)
    kind: FacilityKind
    country: str = Field(min_length=2, max_length=3)
    suites: NonNegativeInt
    start_weekdays: Weekdays
    ready: dt.date | None = None
    tech_transfer: Identifier | None = None
    process: ProcessOverride = Field(default_factory=ProcessOverride)
    reservations: list[Reservation] = Field(default_factory=list)

    def suites_reserved(self, day: dt.date) -> int:
        """Suites other clients or shutdowns hold on ``day``."""
        return sum(r.suites for r in self.reservations if r.holds(day))

    def suites_free(self, day: dt.date) -> int:
        """Suites this trial may use on ``day`` (never below zero)."""
        return max(0, self.suites - self.suites_reserved(day))
