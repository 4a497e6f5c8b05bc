"""The CP-SAT back end of the planner: the only package that imports OR-Tools."""

from chainsight.planning.cpsat.solve import SolveResult, solve

__all__ = ["SolveResult", "solve"]
