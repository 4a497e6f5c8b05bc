"""Courier lanes, door to door, in whole days."""

from __future__ import annotations

from pydantic import Field

from chainsight.domain.common import Identifier, NonNegativeInt, Strict


class Lane(Strict):
    """A courier lane from one place (site or facility) to another."""

    from_: Identifier = Field(alias="from")
    to: Identifier
    days: NonNegativeInt
