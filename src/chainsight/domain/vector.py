"""Viral vector: released lots with expiry and shelf-life extensions, bookable campaigns."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import Field

from chainsight.domain.common import Identifier, NonNegativeInt, PositiveInt, Probability, Strict

ExtensionStatus = Literal["pending", "granted", "refused"]


class Extension(Strict):
    """A shelf-life extension that stability data may support from its readout day."""

    expires: dt.date
    readout: dt.date
    probability: Probability
    status: ExtensionStatus = "pending"


class Lot(Strict):
    """A released (or to-be-released) vector lot on hand for this trial."""

    id: Identifier
    facility: Identifier | None = None
    units: NonNegativeInt
    released: dt.date
    expires: dt.date
    extension: Extension | None = None

    @property
    def effective_expiry(self) -> dt.date:
        """The last day a run may start on this lot, counting a granted extension only."""
        if self.extension is not None and self.extension.status == "granted":
            return self.extension.expires
        return self.expires

    @property
    def optimistic_expiry(self) -> dt.date:
        """The last start day if a pending extension is granted."""
        if self.extension is not None and self.extension.status != "refused":
            return max(self.expires, self.extension.expires)
        return self.expires

    def valid_window(self) -> tuple[dt.date, dt.date]:
        """First and last day (both included) a run may start on this lot."""
        return self.released, self.effective_expiry

    def usable_on(self, day: dt.date) -> bool:
        """Whether a run may start on ``day`` with this lot."""
        first, last = self.valid_window()
        return first <= day <= last


class Campaign(Strict):
    """A vector campaign the sponsor can still book at a vector manufacturer."""

    id: Identifier | None = None
    facility: Identifier
    earliest_start: dt.date
    lead_time_days: NonNegativeInt
    units: PositiveInt
    shelf_life_days: PositiveInt

    def release_if_started(self, start: dt.date) -> dt.date:
        """Release day of the campaign's lot if the campaign starts on ``start``."""
        return start + dt.timedelta(days=self.lead_time_days)

    @property
    def earliest_release(self) -> dt.date:
        """The earliest day its lot can be released."""
        return self.release_if_started(self.earliest_start)


class Vector(Strict):
    """All vector for the trial: lots on hand and campaigns that can be booked."""

    lots: list[Lot] = Field(default_factory=list)
    campaigns: list[Campaign] = Field(default_factory=list)
