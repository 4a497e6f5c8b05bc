"""The constraints of the joint plan, one method per family (rules 1-8 of the format).

Each method adds one family to the model, so that a family can be read, tested and
switched off on its own. Capacity held by others (reservations, runs already started,
procedures already booked) enters the cumulative constraints as fixed intervals.
"""

from __future__ import annotations

from ortools.sat.python import cp_model

from chainsight.planning.cpsat.variables import Interval, IntVar, Variables
from chainsight.planning.data import Problem
from chainsight.planning.schedule import BatchRun, Booking


def fixed_profile(model: cp_model.CpModel, usage: dict[int, int] | list[int],
                  capacity: int, name: str) -> tuple[list[Interval], list[int]]:
    """Fixed intervals (and demands) for a day-by-day usage, one per run of equal days."""
    days = dict(enumerate(usage)) if isinstance(usage, list) else dict(usage)
    intervals: list[Interval] = []
    demands: list[int] = []

    def flush(first: int, last: int, value: int) -> None:
        intervals.append(model.new_fixed_size_interval_var(first, last - first + 1,
                                                           f"{name}[{first}]"))
        demands.append(value)

    run: tuple[int, int, int] | None = None
    for d in sorted(days):
        value = min(capacity, days[d])
        if run is not None and d == run[1] + 1 and value == run[2]:
            run = (run[0], d, value)
            continue
        if run is not None:
            flush(*run)
        run = (d, d, value) if value > 0 else None
    if run is not None:
        flush(*run)
    return intervals, demands


class Constraints:
    """Adds every constraint family of the joint plan to a CP-SAT model."""

    def __init__(self, model: cp_model.CpModel, problem: Problem, v: Variables) -> None:
        self.model = model
        self.problem = problem
        self.v = v
        self.batch_match: dict[int, list[IntVar]] = {}
        """Re-planning, batch modality: per kept batch, which slot holds it."""

    def add_all(self, min_planned: int = 0) -> None:
        """Every family, in the order of the format's rules."""
        if self.problem.is_batch:
            self.batch_slots()
            self.batch_assignment()
        else:
            self.facility_choice()
            self.apheresis_capacity()
            self.collection_to_start()
        self.suite_capacity()
        self.vector_lots()
        self.release_and_arrival()
        self.infusion()
        self.soft_windows()
        self.planned_at_least(min_planned)

    # ---- rule 1 ----
    def apheresis_capacity(self) -> None:
        """At most ``per_day`` apheresis a day at each site (booked history included)."""
        by_site: dict[str, list[Interval]] = {}
        for p in self.v.modelled:
            pv = self.v.patients[p.id]
            if p.apheresis is None and pv.apheresis is not None:
                day = self.model.new_optional_fixed_size_interval_var(
                    pv.apheresis, 1, pv.present, f"apheresis_day[{p.id}]")
                by_site.setdefault(p.site, []).append(day)
        for site, intervals in by_site.items():
            cap = self.problem.sites[site].apheresis_per_day
            fixed, demands = fixed_profile(self.model, self.problem.apheresis_history.get(site, {}),
                                           cap, f"apheresis_held[{site}]")
            self._capacity(intervals, fixed, demands, cap)

    # ---- rule 2 ----
    def collection_to_start(self) -> None:
        """Start >= apheresis + lane; fresh material: start <= apheresis + max days."""
        for p in self.v.modelled:
            pv = self.v.patients[p.id]
            if pv.start is None or pv.apheresis is None:
                continue
            for f, x in pv.facility.items():
                lane = self.problem.lane(p.site, f)
                assert lane is not None
                self.model.add(pv.start >= pv.apheresis + lane).only_enforce_if(x)
            if self.problem.fresh:
                self.model.add(pv.start <= pv.apheresis + self.problem.fresh_max_days_to_start
                               ).only_enforce_if(pv.present)

    # ---- rule 3 (weekdays and ready day are in the start domains) ----
    def facility_choice(self) -> None:
        """A planned patient is made at exactly one facility."""
        for p in self.v.modelled:
            pv = self.v.patients[p.id]
            if len(pv.facility) > 1:
                self.model.add(sum(pv.facility.values()) == pv.present)

    # ---- rule 4 ----
    def suite_capacity(self) -> None:
        """Runs in progress <= suites minus reservations and runs already started."""
        runs: dict[str, list[Interval]] = {f: [] for f in self.problem.facilities}
        for pv in self.v.patients.values():
            for f, interval in pv.runs.items():
                runs[f].append(interval)
        for slot in self.v.slots:
            for f, interval in slot.runs.items():
                runs[f].append(interval)
        for f, intervals in runs.items():
            if not intervals:
                continue
            fac = self.problem.facilities[f]
            fixed, demands = fixed_profile(self.model, list(fac.held), fac.suites, f"held[{f}]")
            self._capacity(intervals, fixed, demands, fac.suites)

    def _capacity(self, intervals: list[Interval], fixed: list[Interval], demands: list[int],
                  capacity: int) -> None:
        if capacity == 1 and all(d == 1 for d in demands):
            self.model.add_no_overlap(intervals + fixed)
        else:
            self.model.add_cumulative(intervals + fixed, [1] * len(intervals) + demands, capacity)

    # ---- rule 5 ----
    def vector_lots(self) -> None:
        """One valid lot per run or batch, started inside its window; units <= lot units."""
        usage: dict[str, list[tuple[int, IntVar]]] = {lot: [] for lot in self.problem.lots}
        holders: list[tuple[IntVar, IntVar, dict[str, IntVar], dict[str, IntVar], str]] = []
        for p in self.v.modelled:
            pv = self.v.patients[p.id]
            if pv.start is not None and pv.lot:
                holders.append((pv.present, pv.start, pv.lot, pv.facility, p.id))
        for k, slot in enumerate(self.v.slots):
            if slot.lot:
                holders.append((slot.used, slot.start, slot.lot, slot.facility, f"batch{k}"))
            else:
                needs = [x for f, x in slot.facility.items()
                         if self.problem.facilities[f].units_per_batch > 0]
                for x in needs:
                    self.model.add(x == 0)
        for present, start, lots, facilities, name in holders:
            self.model.add(sum(lots.values()) == present)
            for lot_id, y in lots.items():
                lot = self.problem.lots[lot_id]
                self.model.add_linear_constraint(start, lot.first, lot.last).only_enforce_if(y)
            units = {self.problem.facilities[f].units_per_batch for f in facilities}
            for lot_id, y in lots.items():
                if len(units) == 1:
                    usage[lot_id].append((next(iter(units)), y))
                    continue
                # Facilities run the process with different vector doses: pay per pair.
                for f, x in facilities.items():
                    z = self.model.new_bool_var(f"uses[{name},{f},{lot_id}]")
                    self.model.add_bool_and([x, y]).only_enforce_if(z)
                    self.model.add_bool_or([~x, ~y, z])
                    usage[lot_id].append((self.problem.facilities[f].units_per_batch, z))
        self.lot_usage = usage
        for lot_id, terms in usage.items():
            terms = [(c, y) for c, y in terms if c > 0]
            if terms:
                self.model.add(sum(c * y for c, y in terms) <= self.problem.lots[lot_id].units)

    # ---- rule 6 ----
    def release_and_arrival(self) -> None:
        """Arrival = start + manufacturing + QC + lane; infusion within the DP shelf life."""
        for p in self.v.modelled:
            pv = self.v.patients[p.id]
            if pv.start is None:
                continue
            for f, x in pv.facility.items():
                fac = self.problem.facilities[f]
                lane = self.problem.lane(f, p.site)
                assert lane is not None
                self.model.add(pv.arrival == pv.start + fac.release_lag + lane).only_enforce_if(x)
                self.model.add(pv.infusion <= pv.start + fac.release_lag + fac.dp_shelf_life_days
                               ).only_enforce_if(x)
            if p.stage == "manufactured":
                assert p.facility is not None
                assert p.start is not None
                fac = self.problem.facilities[p.facility]
                self.model.add(pv.infusion <= p.start + fac.release_lag + fac.dp_shelf_life_days)

    # ---- rule 7 ----
    def infusion(self) -> None:
        """Infusion on or after arrival, at most ``per_day`` a day at each site."""
        by_site: dict[str, list[Interval]] = {}
        for p in self.v.modelled:
            pv = self.v.patients[p.id]
            self.model.add(pv.infusion >= pv.arrival).only_enforce_if(pv.present)
            if p.infusion is None:
                day = self.model.new_optional_fixed_size_interval_var(
                    pv.infusion, 1, pv.present, f"infusion_day[{p.id}]")
                by_site.setdefault(p.site, []).append(day)
        for site, intervals in by_site.items():
            cap = self.problem.sites[site].infusion_per_day
            fixed, demands = fixed_profile(self.model, self.problem.infusion_history.get(site, {}),
                                           cap, f"infusion_held[{site}]")
            self._capacity(intervals, fixed, demands, cap)

    # ---- soft windows and time to treatment ----
    def soft_windows(self) -> None:
        """Days beyond the apheresis and infusion windows, and enrolment-to-infusion days."""
        latest = self.problem.infusion_latest_days_after_arrival
        for p in self.v.modelled:
            pv = self.v.patients[p.id]
            on = pv.present
            self.model.add(pv.ttt >= pv.infusion - p.enrolled).only_enforce_if(on)
            if pv.apheresis is not None and pv.dev_apheresis is not None:
                self.model.add(pv.dev_apheresis >= pv.apheresis - self.problem.apheresis_due(p)
                               ).only_enforce_if(on)
            base = pv.window_start if pv.window_start is not None else pv.arrival
            if pv.window_start is not None:
                self.model.add_max_equality(pv.window_start, [pv.arrival, p.enrolled])
            self.model.add(pv.dev_infusion >= pv.infusion - base - latest).only_enforce_if(on)

    def keep_batches(self, kept: dict[int, BatchRun]) -> None:
        """Re-planning, batch modality: each kept batch (by its index in the previous
        schedule) is one used slot with the same facility, start and lot."""
        slots = self.v.slots
        for i, run in kept.items():
            match = [self.model.new_bool_var(f"kept[{i},{k}]") for k in range(len(slots))]
            self.batch_match[i] = match
            self.model.add_exactly_one(match)
            for k, m in enumerate(match):
                slot = slots[k]
                x = slot.facility.get(run.facility)
                if x is None or (run.lot is not None and run.lot not in slot.lot):
                    self.model.add(m == 0)
                    continue
                self.model.add_implication(m, x)
                self.model.add(slot.start == run.start).only_enforce_if(m)
                if run.lot is not None:
                    self.model.add_implication(m, slot.lot[run.lot])
        for k in range(len(slots)):
            self.model.add_at_most_one(match[k] for match in self.batch_match.values())

    def keep_bookings(self, fixed: dict[str, Booking]) -> None:
        """Re-planning: bookings inside the freeze window stay exactly as they were (in
        the batch modality, dosed from the same kept batch: see :meth:`keep_batches`)."""
        for pid, booking in fixed.items():
            pv = self.v.patients.get(pid)
            if pv is None:
                continue
            self.model.add(pv.present == 1)
            self.model.add(pv.infusion == booking.infusion)
            if booking.batch is not None and booking.batch in self.batch_match:
                for k, m in enumerate(self.batch_match[booking.batch]):
                    self.model.add(pv.batch[k] == m)
            if pv.apheresis is not None and booking.apheresis is not None:
                self.model.add(pv.apheresis == booking.apheresis)
            if pv.start is not None and booking.start is not None:
                self.model.add(pv.start == booking.start)
            if booking.facility in pv.facility:
                self.model.add(pv.facility[booking.facility] == 1)
            if booking.lot is not None and booking.lot in pv.lot:
                self.model.add(pv.lot[booking.lot] == 1)

    def planned_at_least(self, count: int) -> None:
        """Plan at least ``count`` patients (the baseline's count: never plan fewer)."""
        if count > 0:
            self.model.add(sum(pv.present for pv in self.v.patients.values()) >= count)

    # ---- batch modality ----
    def batch_slots(self) -> None:
        """Each used slot is one batch at one facility; used slots first, by start."""
        slots = self.v.slots
        for k, slot in enumerate(slots):
            self.model.add(sum(slot.facility.values()) == slot.used)
            for f, x in slot.facility.items():
                fac = self.problem.facilities[f]
                self.model.add(slot.release == slot.start + fac.release_lag).only_enforce_if(x)
                self.model.add(slot.expiry == slot.release + fac.dp_shelf_life_days
                               ).only_enforce_if(x)
            self.model.add(slot.expiry >= self.problem.horizon + 1).only_enforce_if(
                ~slot.expires_in_horizon)
            if k + 1 < len(slots):
                # Interchangeable slots: order them so that the search sees each plan once.
                self.model.add(slot.used >= slots[k + 1].used)
                self.model.add(slot.start <= slots[k + 1].start).only_enforce_if(slots[k + 1].used)

    def batch_assignment(self) -> None:
        """Each planned patient takes all its doses from one batch of its facilities."""
        slots = self.v.slots
        doses_in: list[list[tuple[int, IntVar]]] = [[] for _ in slots]
        for p in self.v.modelled:
            pv = self.v.patients[p.id]
            self.model.add(sum(pv.batch.values()) == pv.present)
            for k, w in pv.batch.items():
                slot = slots[k]
                self.model.add_implication(w, slot.used)
                doses_in[k].append((p.doses, w))
                self.model.add(pv.infusion <= slot.expiry).only_enforce_if(w)
                for f, x in slot.facility.items():
                    lane = self.problem.lane(f, p.site)
                    if f not in p.facilities or lane is None \
                            or self.problem.facilities[f].doses_per_batch < p.doses:
                        self.model.add_bool_or([~w, ~x])
                        continue
                    self.model.add(pv.arrival == slot.release + lane).only_enforce_if([w, x])
        for k, slot in enumerate(slots):
            size = sum(self.problem.facilities[f].doses_per_batch * x
                       for f, x in slot.facility.items())
            used = sum(d * w for d, w in doses_in[k])
            self.model.add(used <= size)
            big = max((f.doses_per_batch for f in self.problem.facilities.values()), default=0)
            self.model.add(slot.doses_expired >= size - used - big * (1 - slot.expires_in_horizon))
