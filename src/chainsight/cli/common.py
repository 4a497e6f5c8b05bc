"""Helpers every command uses: errors without tracebacks, scenario look-up, output."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import typer
from rich.console import Console
from sqlalchemy.exc import SQLAlchemyError

from chainsight.domain import Scenario, ScenarioInvalid, load_scenario
from chainsight.store.errors import StoreUnavailable
from chainsight.store.session import database_url, load_trial_scenario, safe_url

console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)

EXIT_INVALID = 2
EXIT_NOT_FOUND = 3
EXIT_CONFLICT = 4
EXIT_STORE = 5
"""The database cannot be reached or used."""


def fail(message: str, code: int = EXIT_INVALID) -> NoReturn:
    """Print a clear error on stderr and exit with ``code`` (no traceback)."""
    err_console.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(code)


def report_invalid(error: ScenarioInvalid, source: str) -> NoReturn:
    """List every problem of an invalid scenario and exit 2."""
    count = len(error.problems)
    err_console.print(
        f"[bold red]{source}: {count} problem{'s' if count != 1 else ''}[/]", highlight=False
    )
    for problem in error.problems:
        err_console.print(f"  [red]✗[/] {problem}", highlight=False, soft_wrap=True)
    raise typer.Exit(EXIT_INVALID)


@contextmanager
def store_errors() -> Iterator[None]:
    """Turn a database that cannot be used into a one-line error and exit 5."""
    try:
        yield
    except StoreUnavailable as error:
        fail(str(error), EXIT_STORE)
    except SQLAlchemyError as error:
        reason = str(getattr(error, "orig", None) or error).strip().splitlines()
        fail(f"database error ({safe_url(database_url())}): {reason[0] if reason else error}",
             EXIT_STORE)


def resolve_scenario(source: str) -> Scenario:
    """A scenario from a file path, or else from the store by trial id."""
    path = Path(source)
    if path.suffix.lower() in (".yaml", ".yml", ".json") or path.exists():
        try:
            return load_scenario(path)
        except ScenarioInvalid as error:
            report_invalid(error, source)
    with store_errors():
        scenario = load_trial_scenario(source)
    if scenario is None:
        fail(f"no scenario file and no stored trial named {source!r}", EXIT_NOT_FOUND)
    return scenario


def print_json(data: Any) -> None:
    """Write JSON to stdout exactly (no Rich markup or wrapping)."""
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
