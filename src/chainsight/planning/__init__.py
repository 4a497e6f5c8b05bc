"""The joint scheduler: every patient's apheresis, slot, vector lot, release and infusion.

Layers: ``data`` (scenario -> day-offset problem), ``fcfs`` (baseline), ``cpsat``
(the optimiser; the only OR-Tools user), ``objective`` (one yardstick), ``plan`` (the
``chainsight-plan/1`` document), ``explain`` (reasons), ``replan`` (events).
"""

from chainsight.planning.plan import Plan
from chainsight.planning.solve import POLICIES, Policy, plan

__all__ = ["POLICIES", "Plan", "Policy", "plan"]
