"""`chainsight risks` from the command line."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from chainsight.cli.main import app
from tests.risks.test_radar_engine import _congested

runner = CliRunner()
DEMO = str(Path(__file__).parents[2] / "examples" / "demo-cart-phase1.yaml")


def test_risks_json_has_every_alert_field() -> None:
    result = runner.invoke(app, ["risks", DEMO, "--json", "--runs", "200", "--time-limit", "3"])
    assert result.exit_code == 0, result.output
    alerts = json.loads(result.stdout)["alerts"]
    assert alerts
    required = {"id", "kind", "severity", "title", "owner", "due", "action", "evidence",
                "patients", "lots", "facilities", "sites"}
    for alert in alerts:
        assert required <= set(alert)
        assert alert["severity"] in ("info", "warning", "high", "critical")


def test_risks_try_all_reports_effects(tmp_path: Path) -> None:
    congested = tmp_path / "congested.json"
    congested.write_text(json.dumps(_congested()))
    result = runner.invoke(app, ["risks", str(congested), "--json", "--runs", "300",
                                 "--time-limit", "3", "--try", "all"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["effects"]
    assert {"alert", "measure", "before", "after", "improves"} <= set(data["effects"][0])
    shortfall = [a["id"] for a in data["alerts"] if a["kind"] == "capacity_shortfall"]
    assert [e["improves"] for e in data["effects"] if e["alert"] in shortfall] == [True]


def test_risks_table_and_bad_arguments() -> None:
    result = runner.invoke(app, ["risks", DEMO, "--runs", "100", "--time-limit", "2"])
    assert result.exit_code == 0
    assert "Bottleneck radar" in result.stdout
    bad = runner.invoke(app, ["risks", DEMO, "--runs", "0"])
    assert bad.exit_code == 2
    assert "--runs" in bad.output
    unknown = runner.invoke(app, ["risks", DEMO, "--runs", "100", "--try", "nope"])
    assert unknown.exit_code == 2
    assert "no alert 'nope'" in unknown.output
