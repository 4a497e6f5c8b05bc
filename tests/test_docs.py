"""The user documentation stays in step with the code."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from chainsight.cli.main import app

DOCS = Path(__file__).resolve().parent.parent / "docs"


def test_committed_schema_is_the_generated_one() -> None:
    result = CliRunner().invoke(app, ["schema", "scenario"])
    assert result.exit_code == 0
    committed = (DOCS / "scenario.schema.json").read_text(encoding="utf-8")
    assert committed == result.stdout, "docs/scenario.schema.json is stale: run `make docs`"


def _property_names(node: Any) -> set[str]:
    names: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "properties" and isinstance(value, dict):
                names |= set(value)
            names |= _property_names(value)
    elif isinstance(node, list):
        for item in node:
            names |= _property_names(item)
    return names


def test_format_page_explains_every_field() -> None:
    schema = json.loads((DOCS / "scenario.schema.json").read_text(encoding="utf-8"))
    page = (DOCS / "scenario-format.md").read_text(encoding="utf-8")
    written = {
        part.removesuffix("[]")
        for path in re.findall(r"`([a-z_.\[\]]+)`", page)
        for part in path.split(".")
    }
    missing = sorted(_property_names(schema) - written)
    assert missing == [], f"fields the format page does not explain: {missing}"
    assert "(scenario.schema.json)" in page
