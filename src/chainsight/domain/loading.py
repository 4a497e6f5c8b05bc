"""Reading and writing scenario files (YAML or JSON), checked on the way in."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from chainsight.domain.errors import Problem, ScenarioInvalid
from chainsight.domain.scenario import Scenario
from chainsight.domain.validation import parse_scenario


class _Loader(yaml.SafeLoader):
    """YAML without implicit dates: pydantic parses them, so that an impossible date
    (2027-02-30) is a field error rather than a crash of the YAML parser."""


_Loader.yaml_implicit_resolvers = {
    key: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def read_data(text: str, source: str = "<text>") -> Any:
    """Parse YAML or JSON text (JSON is YAML) into plain data."""
    try:
        return yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or str(error)
        raise ScenarioInvalid([Problem("", f"{source} is not valid YAML/JSON{where}: {problem}")])\
            from None


def load_scenario(path: str | Path) -> Scenario:
    """Read and check a scenario file; raises ScenarioInvalid with every problem."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioInvalid([Problem("", f"{file}: no such file")]) from None
    except (IsADirectoryError, PermissionError, UnicodeDecodeError) as error:
        raise ScenarioInvalid([Problem("", f"{file}: cannot be read ({error})")]) from None
    return parse_scenario(read_data(text, str(file)))


def scenario_data(scenario: Scenario) -> dict[str, Any]:
    """The scenario as plain JSON-compatible data in the file format."""
    return scenario.model_dump(mode="json", by_alias=True)


def dump_scenario(scenario: Scenario, fmt: str = "yaml") -> str:
    """The scenario as YAML or JSON text in the file format."""
    data = scenario_data(scenario)
    if fmt == "json":
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    if fmt == "yaml":
        return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    raise ValueError(f"format must be 'yaml' or 'json', not {fmt!r}")
