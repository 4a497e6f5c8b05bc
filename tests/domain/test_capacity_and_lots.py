"""Suites free on a day, a lot's valid window, lane look-ups."""

from __future__ import annotations

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from chainsight.domain import Extension, Facility, Lot, Reservation, Scenario, parse_scenario
from tests.domain.factory import scenario_data

BASE_DAY = dt.date(2027, 1, 1)


def _facility(suites: int, reservations: list[Reservation]) -> Facility:
    return Facility(id="F", name="F", kind="drug_product", country="US", suites=suites,
                    start_weekdays=["Mon"], ready=BASE_DAY, reservations=reservations)


def test_suites_free_with_overlapping_reservations() -> None:
    facility = _facility(4, [
        Reservation(suites=2, start=dt.date(2027, 3, 1), end=dt.date(2027, 3, 10)),
        Reservation(suites=1, start=dt.date(2027, 3, 10), end=dt.date(2027, 3, 20)),
    ])
    assert facility.suites_free(dt.date(2027, 2, 28)) == 4
    assert facility.suites_free(dt.date(2027, 3, 1)) == 2  # start day held
    assert facility.suites_free(dt.date(2027, 3, 10)) == 1  # both held
    assert facility.suites_free(dt.date(2027, 3, 20)) == 3  # end day held
    assert facility.suites_free(dt.date(2027, 3, 21)) == 4


reservation = st.builds(
    lambda suites, start, length: Reservation(
        suites=suites, start=BASE_DAY + dt.timedelta(days=start),
        end=BASE_DAY + dt.timedelta(days=start + length)),
    st.integers(0, 3), st.integers(0, 60), st.integers(0, 30),
)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 6), st.lists(reservation, max_size=5), st.integers(-5, 100))
def test_suites_free_matches_day_by_day_count(suites: int, held: list[Reservation],
                                              offset: int) -> None:
    facility = _facility(suites, held)
    day = BASE_DAY + dt.timedelta(days=offset)
    taken = sum(r.suites for r in held if r.start <= day <= r.end)
    assert facility.suites_free(day) == max(0, suites - taken)
    assert 0 <= facility.suites_free(day) <= suites


def _lot(status: str | None) -> Lot:
    extension = None if status is None else Extension(
        expires=dt.date(2027, 8, 15), readout=dt.date(2027, 2, 1), probability=0.8,
        status=status)  # type: ignore[arg-type]
    return Lot(id="L", units=3, released=dt.date(2026, 2, 10), expires=dt.date(2027, 2, 15),
               extension=extension)


def test_lot_window_counts_only_granted_extension() -> None:
    assert _lot(None).valid_window() == (dt.date(2026, 2, 10), dt.date(2027, 2, 15))
    assert _lot("pending").valid_window()[1] == dt.date(2027, 2, 15)
    assert _lot("refused").valid_window()[1] == dt.date(2027, 2, 15)
    assert _lot("granted").valid_window()[1] == dt.date(2027, 8, 15)
    assert _lot("pending").optimistic_expiry == dt.date(2027, 8, 15)
    assert _lot("refused").optimistic_expiry == dt.date(2027, 2, 15)


def test_lot_usable_on_both_ends() -> None:
    lot = _lot(None)
    assert lot.usable_on(dt.date(2026, 2, 10))
    assert lot.usable_on(dt.date(2027, 2, 15))
    assert not lot.usable_on(dt.date(2026, 2, 9))
    assert not lot.usable_on(dt.date(2027, 2, 16))


def test_lane_lookups(demo: Scenario) -> None:
    assert demo.lane_days("S03", "CDMO-B") == 1
    assert demo.lane_days("CDMO-B", "S03") == 2
    assert demo.lane_days("S03", "VEC-1") is None
    assert demo.lanes_from("S01") == {"CDMO-A": 1, "CDMO-B": 2}


def test_process_override_at_a_facility() -> None:
    data = scenario_data()
    data["facilities"][1]["process"] = {"manufacturing_days": 7, "success_rate": 0.97}
    scenario = parse_scenario(data)
    assert scenario.process_at("CDMO-B").manufacturing_days == 7
    assert scenario.process_at("CDMO-B").success_rate == 0.97
    assert scenario.process_at("CDMO-B").qc_release_days == 14
    assert scenario.process_at("CDMO-A").manufacturing_days == 10


def test_site_activity() -> None:
    scenario = parse_scenario(scenario_data())
    s01, s02 = scenario.site("S01"), scenario.site("S02")
    assert s01.is_active_on(dt.date(2026, 9, 20), scenario.today)
    assert not s01.is_active_on(dt.date(2026, 9, 19), scenario.today)
    assert not s02.is_active_on(dt.date(2027, 1, 31), scenario.today)
    assert s02.is_active_on(dt.date(2027, 2, 1), scenario.today)
