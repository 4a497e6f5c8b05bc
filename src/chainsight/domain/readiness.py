"""When a facility may start runs for the trial: its tech transfer, critical path and slack."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from graphlib import TopologicalSorter

from chainsight.domain.scenario import Scenario
from chainsight.domain.tech_transfer import Milestone, TechTransfer

_DAY = dt.timedelta(days=1)


@dataclass(frozen=True)
class MilestoneDates:
    """A milestone's scheduled dates and the room it has before it delays readiness."""

    id: str
    name: str
    start: dt.date
    finish: dt.date
    latest_finish: dt.date
    done: bool

    @property
    def slack_days(self) -> int:
        """Days this milestone can finish later without moving the ready day."""
        return (self.latest_finish - self.finish).days

    @property
    def critical(self) -> bool:
        """An open milestone with no slack: any slip moves the ready day."""
        return not self.done and self.slack_days == 0


@dataclass(frozen=True)
class TransferSchedule:
    """A tech transfer scheduled by the format's rule, as of ``today``."""

    transfer: str
    facility: str
    ready: dt.date
    milestones: tuple[MilestoneDates, ...]

    @property
    def critical_path(self) -> list[MilestoneDates]:
        """Open milestones whose slip moves the ready day, in order."""
        return [m for m in self.milestones if m.critical]

    def milestone(self, milestone_id: str) -> MilestoneDates:
        """The dates of one milestone (KeyError if none)."""
        for m in self.milestones:
            if m.id == milestone_id:
                return m
        raise KeyError(milestone_id)


def schedule_transfer(
    transfer: TechTransfer, today: dt.date, delays: dict[str, int] | None = None
) -> TransferSchedule:
    """Schedule a tech transfer's milestones.

    A milestone finishes on ``done`` where given; otherwise at start + duration, where
    start is the latest of its predecessors' finishes, its ``planned_start`` and
    ``today``. The facility is ready on the latest finish. ``delays`` adds days to open
    milestones' durations (the forecast draws them from ``slip_risk_days``).
    """
    delays = delays or {}
    by_id: dict[str, Milestone] = {m.id: m for m in transfer.milestones}
    order = list(TopologicalSorter({m.id: m.after for m in transfer.milestones}).static_order())
    start: dict[str, dt.date] = {}
    finish: dict[str, dt.date] = {}
    for mid in order:
        m = by_id[mid]
        candidates = [today] + [finish[a] for a in m.after]
        if m.planned_start is not None:
            candidates.append(m.planned_start)
        begin = max(candidates)
        if m.done is not None:
            finish[mid] = m.done
            start[mid] = m.done - m.duration_days * _DAY
        else:
            start[mid] = begin
            finish[mid] = begin + (m.duration_days + delays.get(mid, 0)) * _DAY
    ready = max(finish.values())
    successors: dict[str, list[str]] = {mid: [] for mid in by_id}
    for m in transfer.milestones:
        for a in m.after:
            successors[a].append(m.id)
    latest: dict[str, dt.date] = {}
    for mid in reversed(order):
        later = [latest[s] - (finish[s] - start[s]) for s in successors[mid]]
        latest[mid] = min([ready, *later])
    dates = tuple(
        MilestoneDates(mid, by_id[mid].name, start[mid], finish[mid], latest[mid],
                       by_id[mid].done is not None)
        for mid in order
    )
    return TransferSchedule(transfer.id, transfer.facility, ready, dates)


def facility_ready_day(scenario: Scenario, facility_id: str) -> dt.date | None:
    """First day the facility may start a run for this trial (None if it never will)."""
    facility = scenario.facility(facility_id)
    if facility.tech_transfer is not None:
        return schedule_transfer(scenario.transfer(facility.tech_transfer), scenario.today).ready
    return facility.ready
