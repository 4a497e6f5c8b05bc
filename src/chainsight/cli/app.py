"""The Typer application every command module registers on."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="chainsight",
    help="ChainSight: plan, forecast and oversee the value chain of a cell & gene therapy trial.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)
