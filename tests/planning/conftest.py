"""Shared helpers for planner tests."""

from __future__ import annotations

from chainsight.domain import Scenario
from chainsight.planning import Plan
from tests.planning.checker import check_plan


def assert_feasible(scenario: Scenario, plan: Plan) -> None:
    """The independent checker finds nothing wrong with the plan."""
    problems = check_plan(scenario, plan.to_json())
    assert problems == [], "\n".join(problems)
