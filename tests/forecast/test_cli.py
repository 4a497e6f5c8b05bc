"""`chainsight forecast`: JSON, reproducibility, what-if, slot advice, HTML, errors."""

from __future__ import annotations

import json
import re
from pathlib import Path

from typer.testing import CliRunner

from chainsight.cli.main import app
from tests.conftest import EXAMPLES

DEMO = str(EXAMPLES / "demo-cart-phase1.yaml")
runner = CliRunner()


def test_json_is_the_forecast_and_reproducible() -> None:
    a = runner.invoke(app, ["forecast", DEMO, "--runs", "200", "--seed", "3", "--json"])
    b = runner.invoke(app, ["forecast", DEMO, "--runs", "200", "--seed", "3", "--json"])
    assert a.exit_code == 0, a.output
    assert a.stdout == b.stdout
    data = json.loads(a.stdout)
    assert data["format"] == "chainsight-forecast/1"
    assert data["runs"] == 200
    assert data["seed"] == 3


def test_summary_shows_quantiles() -> None:
    result = runner.invoke(app, ["forecast", DEMO, "--runs", "200"])
    assert result.exit_code == 0, result.output
    assert "P50" in result.stdout
    assert "enrolment complete" in result.stdout


def test_bad_runs_is_a_clear_error() -> None:
    result = runner.invoke(app, ["forecast", DEMO, "--runs", "0"])
    assert result.exit_code == 2
    assert "--runs" in result.output
    assert "Traceback" not in result.output


def test_what_if_side_by_side(tmp_path: Path) -> None:
    file = tmp_path / "w.yaml"
    file.write_text("label: extra suite\nsuites: [{facility: CDMO-A, from: 2027-02-01}]\n")
    result = runner.invoke(app, ["forecast", DEMO, "--runs", "200", "--what-if", str(file),
                                 "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert set(data) >= {"base", "what_if", "difference"}
    table = runner.invoke(app, ["forecast", DEMO, "--runs", "200", "--what-if", str(file)])
    assert "difference" in table.stdout


def test_what_if_errors_name_the_field(tmp_path: Path) -> None:
    file = tmp_path / "w.yaml"
    file.write_text("suites: [{facility: NOPE, from: 2027-02-01}]\n")
    result = runner.invoke(app, ["forecast", DEMO, "--what-if", str(file)])
    assert result.exit_code == 2
    assert "suites[0].facility" in result.output
    missing = runner.invoke(app, ["forecast", DEMO, "--what-if", str(tmp_path / "none.yaml")])
    assert missing.exit_code == 2
    assert "--what-if" in missing.output


def test_slot_advice_json() -> None:
    result = runner.invoke(app, ["forecast", DEMO, "--runs", "150", "--advise-slots",
                                 "--within-days", "14", "--share", "0.8", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["within_days"] == 14
    assert set(data["slots_per_month"]) == {"CDMO-A", "CDMO-B"}


def test_html_report_is_self_contained(tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    result = runner.invoke(app, ["forecast", DEMO, "--runs", "150", "--html", str(out)])
    assert result.exit_code == 0, result.output
    html = out.read_text()
    assert not re.search(r"<script[^>]*\bsrc=", html)  # nothing fetched from a CDN
    assert "Vector units on hand" in html
    assert len(html) > 1_000_000  # plotly.js is inside
