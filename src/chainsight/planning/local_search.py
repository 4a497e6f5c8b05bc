"""Iterated greedy: search over the order in which the greedy books patients.

The greedy (``fcfs.greedy_schedule``) builds a feasible plan from any order of patients;
``settle`` then re-chooses its apheresis days and lots for the runs it booked.
Moving a few patients a few places up or down the queue and re-running it explores plans
that CP-SAT's neighbourhood search rarely reaches in seconds on a long queue (a global
reordering), while every candidate stays feasible by construction. The best order found
becomes the solver's warm start.
"""

from __future__ import annotations

import random
import time
from collections.abc import Collection
from dataclasses import dataclass

from chainsight.planning.data import PatientData, Problem
from chainsight.planning.fcfs import greedy_schedule
from chainsight.planning.objective import evaluate
from chainsight.planning.schedule import Schedule
from chainsight.planning.settle import settle

# How far one move shifts a patient in the queue, and how many moves one step makes.
MAX_SHIFT = 8
MAX_MOVES = 4
# Steps without a strictly better plan after which the search stops before its budget:
# a short queue has few orders worth trying, and the solver should get the time.
STALL_BASE = 50
STALL_PER_PATIENT = 5


@dataclass(frozen=True)
class SearchResult:
    """The best order found, its schedule and cost, and how much searching it took."""

    order: list[PatientData]
    schedule: Schedule
    cost: int
    iterations: int
    feasible: bool
    """Whether the schedule plans every required patient and keeps within ``max_expiring``
    (a start order that breaks either is repaired first, if the budget allows)."""


def improve_order(problem: Problem, order: list[PatientData], *,
                  required: Collection[str] = (), budget_seconds: float, seed: int = 0,
                  max_expiring: int | None = None) -> SearchResult:
    """Improve a greedy order within a time budget, for plans that plan every patient in
    ``required`` and leave at most ``max_expiring`` vector units to expire.

    Orders are ranked by required patients left out, then units over the cap, then cost,
    so a start order that breaks a limit is repaired before it is improved. Each step
    moves one to four patients by up to eight places and keeps the new order if it ranks
    no worse (ties are accepted, so the search can cross plateaus). It stops early once
    ``STALL_BASE + STALL_PER_PATIENT * len(order)`` steps in a row found nothing strictly
    better.
    """
    cap = max_expiring
    needed = frozenset(required)

    def rank(schedule: Schedule) -> tuple[int, int, int]:
        found = evaluate(problem, schedule)
        over = max(0, found.vector_units_expiring - cap) if cap is not None else 0
        missing = sum(1 for pid in needed if pid not in schedule.bookings)
        return missing, over, found.scaled_total

    rng = random.Random(seed)
    best_order = list(order)
    best = settle(problem, greedy_schedule(problem, best_order))
    best_rank = rank(best)
    deadline = time.perf_counter() + max(0.0, budget_seconds)
    iterations = stalled = 0
    patience = STALL_BASE + STALL_PER_PATIENT * len(order)
    while len(best_order) > 1 and stalled < patience and time.perf_counter() < deadline:
        iterations += 1
        stalled += 1
        candidate = list(best_order)
        for _ in range(rng.randint(1, MAX_MOVES)):
            i = rng.randrange(len(candidate))
            j = min(len(candidate) - 1, max(0, i + rng.randint(-MAX_SHIFT, MAX_SHIFT)))
            candidate.insert(j, candidate.pop(i))
        schedule = settle(problem, greedy_schedule(problem, candidate))
        found = rank(schedule)
        if found < best_rank:
            stalled = 0
        if found <= best_rank:
            best_order, best, best_rank = candidate, schedule, found
    return SearchResult(best_order, best, best_rank[2], iterations,
                        feasible=best_rank[:2] == (0, 0))
