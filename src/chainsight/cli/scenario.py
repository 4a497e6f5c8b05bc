"""Scenario commands: validate, schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from chainsight.cli.app import app
from chainsight.cli.common import console, fail, report_invalid
from chainsight.domain import Scenario, ScenarioInvalid, load_scenario


@app.command()
def validate(
    file: Annotated[Path, typer.Argument(help="Scenario file (YAML or JSON).")],
) -> None:
    """Check a scenario file: exit 0 if valid, 2 with every problem listed if not."""
    try:
        scenario = load_scenario(file)
    except ScenarioInvalid as error:
        report_invalid(error, str(file))
    console.print(
        f"[green]✓[/] {file}: trial {scenario.trial.id} is valid "
        f"({len(scenario.sites)} sites, {len(scenario.facilities)} facilities, "
        f"{len(scenario.vector.lots)} lots, {len(scenario.patients)} patients)",
        highlight=False,
    )


@app.command()
def schema(
    kind: Annotated[str, typer.Argument(help="Which schema: 'scenario'.")] = "scenario",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file.")
    ] = None,
) -> None:
    """Print the JSON Schema of a file format."""
    if kind != "scenario":
        fail(f"KIND: unknown schema {kind!r}; known: scenario")
    text = json.dumps(scenario_json_schema(), indent=2) + "\n"
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        console.print(f"[green]✓[/] wrote {output}")


def scenario_json_schema() -> dict[str, object]:
    """JSON Schema of the scenario format, generated from the domain model."""
    schema = Scenario.model_json_schema(by_alias=True, mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "ChainSight scenario (chainsight/1)"
    return schema
