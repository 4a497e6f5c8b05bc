"""A facility's ready day from its tech transfer, the critical path and each slack."""

from __future__ import annotations

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from chainsight.domain import (
    Milestone,
    Scenario,
    TechTransfer,
    facility_ready_day,
    parse_scenario,
    schedule_transfer,
)
from tests.domain.factory import scenario_data

TODAY = dt.date(2027, 1, 4)


def _transfer(*milestones: Milestone) -> TechTransfer:
    return TechTransfer(id="TT", facility="F", milestones=list(milestones))


def test_rule_of_the_format() -> None:
    # kickoff done; docs starts today (its predecessor finished long ago); eng and qa
    # run in parallel after docs; gmp waits for the later of the two.
    scenario = parse_scenario(scenario_data())
    schedule = schedule_transfer(scenario.transfer("TT-B"), scenario.today)
    docs = schedule.milestone("docs")
    assert docs.start == TODAY
    assert docs.finish == TODAY + dt.timedelta(days=60)
    eng, qa, gmp = (schedule.milestone(m) for m in ("eng", "qa", "gmp"))
    assert eng.finish == docs.finish + dt.timedelta(days=40)
    assert qa.finish == docs.finish + dt.timedelta(days=10)
    assert gmp.start == eng.finish
    assert schedule.ready == gmp.finish == TODAY + dt.timedelta(days=60 + 40 + 14)
    assert facility_ready_day(scenario, "CDMO-B") == schedule.ready
    assert facility_ready_day(scenario, "CDMO-A") == dt.date(2026, 3, 1)


def test_critical_path_and_slack() -> None:
    scenario = parse_scenario(scenario_data())
    schedule = schedule_transfer(scenario.transfer("TT-B"), scenario.today)
    assert [m.id for m in schedule.critical_path] == ["docs", "eng", "gmp"]
    assert schedule.milestone("qa").slack_days == 30
    assert not schedule.milestone("kickoff").critical  # done: nothing can slip


def test_planned_start_delays_a_milestone() -> None:
    transfer = _transfer(
        Milestone(id="a", name="A", duration_days=5),
        Milestone(id="b", name="B", duration_days=5, after=["a"],
                  planned_start=TODAY + dt.timedelta(days=30)),
    )
    schedule = schedule_transfer(transfer, TODAY)
    assert schedule.milestone("b").start == TODAY + dt.timedelta(days=30)
    assert schedule.milestone("a").slack_days == 25
    assert schedule.ready == TODAY + dt.timedelta(days=35)


def test_never_before_today() -> None:
    transfer = _transfer(
        Milestone(id="a", name="A", duration_days=5, planned_start=dt.date(2026, 1, 1))
    )
    assert schedule_transfer(transfer, TODAY).ready == TODAY + dt.timedelta(days=5)


def test_all_done_means_ready_on_last_done() -> None:
    transfer = _transfer(
        Milestone(id="a", name="A", duration_days=5, done=dt.date(2026, 5, 1)),
        Milestone(id="b", name="B", duration_days=5, after=["a"], done=dt.date(2026, 6, 1)),
    )
    schedule = schedule_transfer(transfer, TODAY)
    assert schedule.ready == dt.date(2026, 6, 1)
    assert schedule.critical_path == []


@st.composite
def transfers(draw: st.DrawFn) -> TechTransfer:
    """Random milestone DAGs: each milestone may come after any earlier one."""
    count = draw(st.integers(1, 8))
    milestones = []
    for i in range(count):
        after = draw(st.lists(st.sampled_from([f"m{j}" for j in range(i)]), unique=True)
                     if i else st.just([]))
        offset = draw(st.none() | st.integers(-60, 120))
        milestones.append(Milestone(
            id=f"m{i}", name=f"M{i}", duration_days=draw(st.integers(0, 90)), after=after,
            planned_start=None if offset is None else TODAY + dt.timedelta(days=offset),
        ))
    return _transfer(*milestones)


@settings(max_examples=150, deadline=None)
@given(transfers())
def test_schedule_invariants(transfer: TechTransfer) -> None:
    schedule = schedule_transfer(transfer, TODAY)
    finishes = {m.id: m.finish for m in schedule.milestones}
    assert schedule.ready == max(finishes.values())
    for m, spec in zip(sorted(schedule.milestones, key=lambda m: m.id),
                       sorted(transfer.milestones, key=lambda m: m.id), strict=True):
        assert m.start >= TODAY
        assert m.finish == m.start + dt.timedelta(days=spec.duration_days)
        for before in spec.after:
            assert m.start >= finishes[before]
        assert m.slack_days >= 0
    assert schedule.critical_path, "some open milestone always sets the ready day"


@settings(max_examples=150, deadline=None)
@given(transfers(), st.data())
def test_slack_is_exactly_the_room_to_slip(transfer: TechTransfer, data: st.DataObject) -> None:
    schedule = schedule_transfer(transfer, TODAY)
    target = data.draw(st.sampled_from([m.id for m in schedule.milestones]))
    slack = schedule.milestone(target).slack_days
    within = schedule_transfer(transfer, TODAY, delays={target: slack})
    assert within.ready == schedule.ready
    beyond = schedule_transfer(transfer, TODAY, delays={target: slack + 1})
    assert beyond.ready == schedule.ready + dt.timedelta(days=1)


def test_reference_scenarios_ready_days(demo: Scenario) -> None:
    # CART-DEMO: docs done 2026-11-06, so engineering starts on today (2027-01-04);
    # 40 + 75 + 14 days later CDMO-B is ready.
    assert facility_ready_day(demo, "CDMO-B") == dt.date(2027, 1, 4) + dt.timedelta(days=129)
    schedule = schedule_transfer(demo.transfer("TT-B"), demo.today)
    assert [m.id for m in schedule.critical_path] == ["eng", "ppq", "gmp"]
