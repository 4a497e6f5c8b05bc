"""Types shared by every concept of the value chain."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal, get_args

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

WeekdayName = Literal["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
WEEKDAYS: tuple[str, ...] = get_args(WeekdayName)


def _check_weekday(value: Any) -> Any:
    if isinstance(value, str) and value in WEEKDAYS:
        return value
    raise ValueError(f"{value!r} is not a weekday (one of {', '.join(WEEKDAYS)})")


Weekday = Annotated[WeekdayName, BeforeValidator(_check_weekday)]


def _unique_weekdays(days: list[str]) -> list[str]:
    if len(set(days)) != len(days):
        raise ValueError("a weekday is listed twice")
    return days


Weekdays = Annotated[list[Weekday], Field(min_length=1), AfterValidator(_unique_weekdays)]

Identifier = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]
Probability = Annotated[float, Field(ge=0.0, le=1.0)]
NonNegativeInt = Annotated[int, Field(ge=0)]
PositiveInt = Annotated[int, Field(ge=1)]
NonNegativeFloat = Annotated[float, Field(ge=0.0)]


def weekday_name(day: dt.date) -> str:
    """The scenario's name of the weekday of ``day`` (``Mon`` ... ``Sun``)."""
    return WEEKDAYS[day.weekday()]


def weekday_numbers(names: list[str]) -> frozenset[int]:
    """Weekday names as ``date.weekday()`` numbers (Mon = 0)."""
    return frozenset(WEEKDAYS.index(n) for n in names)


class Strict(BaseModel):
    """Base of every scenario element: unknown fields are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
