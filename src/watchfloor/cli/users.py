"""``watchfloor users``: create and list staff accounts."""

from __future__ import annotations

import sys

import typer
from rich.table import Table

from watchfloor.cli._app import console, new_app, print_json
from watchfloor.errors import InvalidInputError
from watchfloor.services.auth import create_user, list_users
from watchfloor.settings import load_settings
from watchfloor.storage.db import open_database, upgrade_database
from watchfloor.types import Role

__all__ = ["app"]

app = new_app("Staff accounts: add and list.")


@app.command("add")
def add(
    username: str = typer.Argument(..., help="Login name (a-z, 0-9, '.', '_', '-')."),
    role: str = typer.Option(..., "--role", help=f"One of: {', '.join(Role)}."),
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="Read the password from the first line of stdin."
    ),
) -> None:
    """Add a staff account; the password is asked for (or read from stdin)."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    if not password:
        msg = "no password given; type one or pipe it with --password-stdin"
        raise InvalidInputError(msg)
    settings = load_settings()
    upgrade_database(settings)
    database = open_database(settings)
    try:
        with database.session() as session:
            user = create_user(session, username, role=role, password=password)
    finally:
        database.dispose()
    console.print(f"added [bold]{user.username}[/] with role {user.role}")


@app.command("list")
def list_(json_out: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List the active staff accounts and their roles."""
    settings = load_settings()
    upgrade_database(settings)
    database = open_database(settings)
    try:
        with database.session() as session:
            users = list_users(session)
    finally:
        database.dispose()
    if json_out:
        print_json([{"username": u.username, "role": u.role} for u in users])
        return
    table = Table("username", "role")
    for user in users:
        table.add_row(user.username, user.role)
    console.print(table)
