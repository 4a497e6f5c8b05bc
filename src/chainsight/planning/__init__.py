"""The joint scheduler: every patient's apheresis, slot, vector lot, release and infusion.

Layers: ``data`` (scenario -> day-offset problem), ``fcfs`` (baseline and the greedy
decoder of any booking order), ``settle`` (apheresis days and lots for fixed runs),
``relaxation`` (time-indexed LP: the bound and an order), ``local_search`` (iterated
greedy over the order), ``cpsat`` (the optimiser; the only OR-Tools user), ``objective``
(one yardstick), ``plan`` (the ``chainsight-plan/1`` document), ``explain`` (reasons),
``replan`` (events). ``solve`` chains them: FCFS, LP, warm start, CP-SAT.
"""

from chainsight.planning.plan import Plan
from chainsight.planning.solve import POLICIES, Policy, plan

__all__ = ["POLICIES", "Plan", "Policy", "plan"]
