"""Hospital sites: activation, enrolment assumption, apheresis and infusion capacity."""

from __future__ import annotations

import datetime as dt

from pydantic import Field

from chainsight.domain.common import (
    Identifier,
    NonNegativeFloat,
    NonNegativeInt,
    Strict,
    Weekdays,
    weekday_numbers,
)


class Activation(Strict):
    """When a site opens for enrolment: planned, and actual once it happened."""

    planned: dt.date
    actual: dt.date | None = None

    @property
    def day(self) -> dt.date:
        """The activation day that counts: actual where known, else planned."""
        return self.actual if self.actual is not None else self.planned


class DayCapacity(Strict):
    """Weekdays a procedure can happen at a site and how many a day."""

    weekdays: Weekdays
    per_day: NonNegativeInt

    def allows(self, day: dt.date) -> bool:
        """Whether the procedure can be done on ``day`` at all."""
        return self.per_day > 0 and day.weekday() in weekday_numbers(list(self.weekdays))


class Site(Strict):
    """A hospital that enrols, collects (apheresis) and infuses patients."""

    id: Identifier
    name: str = Field(min_length=1)
    country: str = Field(min_length=2, max_length=3)
    activation: Activation
    enrollment_rate_per_month: NonNegativeFloat
    apheresis: DayCapacity | None = None
    infusion: DayCapacity

    def is_active_on(self, day: dt.date, today: dt.date) -> bool:
        """Whether the site may enrol on ``day``, as known on ``today``.

        A planned activation day still in the past on ``today`` has not happened.
        """
        if self.activation.actual is not None:
            return day >= self.activation.actual
        return day >= max(self.activation.planned, today)
