"""User commands: add a user (printing its API token once) and the demo logins."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from argon2 import PasswordHasher

from chainsight.api.auth import service as auth
from chainsight.api.auth.secrets import password_hasher
from chainsight.api.settings import Settings
from chainsight.cli.app import app
from chainsight.cli.common import EXIT_CONFLICT, EXIT_NOT_FOUND, console, fail, store_errors
from chainsight.record.audit import default_actor
from chainsight.store.repository import get_scenario
from chainsight.store.session import unit_of_work

user_app = typer.Typer(help="Users of the service: people and systems, with roles.",
                       no_args_is_help=True)
app.add_typer(user_app, name="user")


def _hasher() -> PasswordHasher:
    settings = Settings.from_env()
    return password_hasher(time_cost=settings.argon2_time_cost,
                           memory_kib=settings.argon2_memory_kib,
                           parallelism=settings.argon2_parallelism)


@user_app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="Login name (letters, digits, _ . @ -).")],
    role: Annotated[str, typer.Option("--role",
                                      help="sponsor | site | cdmo | courier | auditor")],
    site: Annotated[str | None, typer.Option("--site", help="Site id (role site).")] = None,
    facility: Annotated[str | None, typer.Option("--facility",
                                                 help="Facility id (role cdmo).")] = None,
    courier: Annotated[str | None, typer.Option(
        "--courier", help="Courier name as it signs hand-overs (role courier).")] = None,
    password_stdin: Annotated[bool, typer.Option(
        "--password-stdin", help="Read a password for logins from standard input.")] = False,
) -> None:
    """Add a user and print its API token (shown this once; only a hash is kept)."""
    password = None
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            fail("--password-stdin: no password on standard input")
    with store_errors(), unit_of_work() as session:
        try:
            created = auth.create_user(session, hasher=_hasher(),
                                       name=name, role=role, site=site, facility=facility,
                                       courier=courier, password=password,
                                       created_by=default_actor())
        except auth.UserInvalid as error:
            code = EXIT_CONFLICT if "already exists" in error.message else EXIT_NOT_FOUND \
                if "no stored trial" in error.message else 2
            fail(f"--{error.field}: {error.message}" if error.field != "name"
                 else f"{error.field}: {error.message}", code)
    console.print(f"user [bold]{name}[/] added as {role} ({created.principal.organisation})",
                  highlight=False)
    # The token alone on stdout's last line, so scripts can take it with `tail -n 1`.
    sys.stdout.write(created.token + "\n")


@user_app.command("list")
def list_() -> None:
    """List the users with their roles and organisations."""
    with store_errors(), unit_of_work() as session:
        for principal in auth.list_users(session):
            console.print(f"{principal.name}\t{principal.role}\t{principal.organisation}",
                          highlight=False)


DEMO_PASSWORD = "chainsight-demo"


def demo_logins(trial_id: str) -> list[tuple[str, str, dict[str, str]]]:
    """The demo users of a trial: one per role, for its first site, first drug-product
    facility, and a courier."""
    with unit_of_work() as session:
        scenario = get_scenario(session, trial_id)
    if scenario is None:
        fail(f"no stored trial named {trial_id!r}: import it first", EXIT_NOT_FOUND)
    dp = [f for f in scenario.facilities if f.kind == "drug_product"] or scenario.facilities
    logins: list[tuple[str, str, dict[str, str]]] = [
        ("sponsor", "sponsor", {}),
        ("auditor", "auditor", {}),
    ]
    if scenario.sites:
        logins.append(("site", "site", {"site": scenario.sites[0].id}))
    if dp:
        logins.append(("cdmo", "cdmo", {"facility": dp[0].id}))
    logins.append(("courier", "courier", {"courier": "Demo Courier"}))
    return logins


@app.command("demo-users")
def demo_users(
    trial_id: Annotated[str, typer.Argument(help="The stored demo trial.")],
) -> None:
    """Create the demo logins (one per role, password `chainsight-demo`) if missing."""
    hasher = _hasher()
    with store_errors():
        for name, role, org in demo_logins(trial_id):
            login = f"demo-{name}"
            with unit_of_work() as session:
                if auth.find_user(session, login) is not None:
                    console.print(f"{login}: already there", highlight=False)
                    continue
                auth.create_user(session, hasher=hasher,
                                 name=login, role=role, password=DEMO_PASSWORD,
                                 created_by=default_actor(), **org)
            where = ", ".join(f"{k} {v}" for k, v in org.items())
            console.print(f"{login} / {DEMO_PASSWORD}: {role}{' (' + where + ')' if where else ''}",
                          highlight=False)
