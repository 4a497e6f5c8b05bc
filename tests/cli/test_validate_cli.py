"""`chainsight validate` and `chainsight schema` from the command line."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from chainsight.cli.main import app

runner = CliRunner()


def test_valid_reference_file(reference_file: Path) -> None:
    result = runner.invoke(app, ["validate", str(reference_file)])
    assert result.exit_code == 0, result.output
    assert "is valid" in result.output


def test_invalid_file_lists_every_problem_without_traceback(tmp_path: Path) -> None:
    text = (Path(__file__).parents[2] / "examples" / "demo-cart-phase1.yaml").read_text()
    text = text.replace("weekdays: [Tue, Thu], per_day: 1}", "weekdays: [Tue, Funday], per_day: 1}")
    text = text.replace("success_rate: 0.92", "success_rate: 1.92")
    broken = tmp_path / "broken.yaml"
    broken.write_text(text)
    result = runner.invoke(app, ["validate", str(broken)])
    assert result.exit_code == 2
    assert "sites[1].apheresis.weekdays[1]: 'Funday' is not a weekday" in result.output
    assert "process.success_rate" in result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_missing_file_is_a_clear_error() -> None:
    result = runner.invoke(app, ["validate", "nowhere.yaml"])
    assert result.exit_code == 2
    assert "no such file" in result.output


def test_schema_is_json_schema_of_the_format(tmp_path: Path) -> None:
    result = runner.invoke(app, ["schema", "scenario"])
    assert result.exit_code == 0
    schema = json.loads(result.output)
    assert schema["type"] == "object"
    assert {"trial", "process"} <= set(schema["required"])
    assert "from" in json.dumps(schema["$defs"]["Lane"])


def test_unknown_schema_kind() -> None:
    result = runner.invoke(app, ["schema", "nonsense"])
    assert result.exit_code == 2
    assert "unknown schema" in result.output
