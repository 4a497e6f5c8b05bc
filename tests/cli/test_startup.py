"""The command line starts without loading the engines it does not need."""

from __future__ import annotations

import subprocess
import sys


def test_loading_the_command_line_leaves_the_solvers_unloaded() -> None:
    # The planner (OR-Tools, SciPy) and the forecaster are imported by their commands
    # only: `chainsight --help`, `record`, `summary` and friends start in about a second.
    heavy = ("ortools", "scipy", "chainsight.planning", "chainsight.forecast",
             "chainsight.risks")
    code = ("import sys, chainsight.cli.main\n"
            f"print(','.join(m for m in {heavy!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == ""
