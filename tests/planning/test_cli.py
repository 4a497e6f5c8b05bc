"""`chainsight plan` from the command line."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from chainsight.cli.main import app
from chainsight.domain import load_scenario
from tests.planning.checker import check_plan

runner = CliRunner()
DEMO = Path(__file__).parents[2] / "examples" / "demo-cart-phase1.yaml"


def test_plan_json_is_the_format_and_feasible() -> None:
    result = runner.invoke(app, ["plan", str(DEMO), "--json", "--time-limit", "3"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["format"] == "chainsight-plan/1"
    assert data["trial"] == "CART-DEMO"
    assert check_plan(load_scenario(DEMO), data) == []


def test_plan_fcfs_policy() -> None:
    result = runner.invoke(app, ["plan", str(DEMO), "--json", "--policy", "fcfs"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["solver"]["name"] == "fcfs"


def test_plan_table_shows_patients_kpis_and_solver() -> None:
    result = runner.invoke(app, ["plan", str(DEMO), "--time-limit", "2"])
    assert result.exit_code == 0, result.output
    assert "P004" in result.stdout
    assert "KPIs" in result.stdout
    assert "Solver cp-sat" in result.stdout


def test_bad_policy_names_the_option() -> None:
    result = runner.invoke(app, ["plan", str(DEMO), "--policy", "random"])
    assert result.exit_code == 2
    assert "--policy" in result.output
    assert "Traceback" not in result.output


def test_bad_time_limit_and_workers() -> None:
    result = runner.invoke(app, ["plan", str(DEMO), "--time-limit", "-1"])
    assert result.exit_code == 2
    assert "--time-limit" in result.output
    result = runner.invoke(app, ["plan", str(DEMO), "--workers", "0"])
    assert result.exit_code == 2
    assert "--workers" in result.output


def test_missing_scenario_file() -> None:
    result = runner.invoke(app, ["plan", "nowhere.yaml"])
    assert result.exit_code == 2
    assert "no such file" in result.output
