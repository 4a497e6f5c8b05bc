"""Scenario files load as they are, and come back unchanged."""

from __future__ import annotations

from pathlib import Path

import pytest

from chainsight.domain import ScenarioInvalid, dump_scenario, load_scenario, read_data
from chainsight.domain.validation import parse_scenario


def test_reference_scenarios_load(reference_file: Path) -> None:
    scenario = load_scenario(reference_file)
    assert scenario.patients
    assert scenario.sites
    assert scenario.facilities


@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_dump_and_reload_is_identical(reference_file: Path, fmt: str) -> None:
    scenario = load_scenario(reference_file)
    again = parse_scenario(read_data(dump_scenario(scenario, fmt)))
    assert again == scenario


def test_impossible_date_is_a_field_error_not_a_crash(tmp_path: Path) -> None:
    text = (Path(__file__).parents[2] / "examples" / "demo-cart-phase1.yaml").read_text()
    broken = tmp_path / "broken.yaml"
    broken.write_text(text.replace("today: 2027-01-04", "today: 2027-02-30"))
    with pytest.raises(ScenarioInvalid) as caught:
        load_scenario(broken)
    assert any(p.path == "trial.today" for p in caught.value.problems)


def test_invalid_yaml_names_the_line(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("trial:\n  id: [unclosed\n")
    with pytest.raises(ScenarioInvalid, match="line"):
        load_scenario(broken)


def test_missing_file() -> None:
    with pytest.raises(ScenarioInvalid, match="no such file"):
        load_scenario("does/not/exist.yaml")
