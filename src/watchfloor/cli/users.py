"""``watchfloor users``: staff accounts: add, list, disable, enable, set-password,
set-role and end-sessions (each change audited; a disable, a new password or a new
role ends the account's sessions)."""

from __future__ import annotations

import sys
from collections.abc import Callable

import typer
from rich.table import Table

from watchfloor.cli._app import console, new_app, print_json
from watchfloor.errors import InvalidInputError
from watchfloor.services.auth import (
    AccountChange,
    create_user,
    end_user_sessions,
    list_users,
    set_account_active,
    set_account_password,
    set_account_role,
)
from watchfloor.settings import load_settings
from watchfloor.storage.db import open_database, upgrade_database
from watchfloor.types import Role

__all__ = ["app"]

app = new_app("Staff accounts: add, list, disable, enable, set-password, set-role, end-sessions.")


@app.command("add")
def add(
    username: str = typer.Argument(..., help="Login name (a-z, 0-9, '.', '_', '-')."),
    role: str = typer.Option(..., "--role", help=f"One of: {', '.join(Role)}."),
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="Read the password from the first line of stdin."
    ),
) -> None:
    """Add a staff account; the password is asked for (or read from stdin)."""
    password = _read_password(password_stdin=password_stdin)
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


def _read_password(*, password_stdin: bool) -> str:
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    if not password:
        msg = "no password given; type one or pipe it with --password-stdin"
        raise InvalidInputError(msg)
    return password


def _change(apply: Callable[..., AccountChange], *args: object, **kwargs: object) -> None:
    settings = load_settings()
    upgrade_database(settings)
    database = open_database(settings)
    try:
        with database.session() as session:
            change = apply(session, *args, **kwargs)
    finally:
        database.dispose()
    state = "active" if change.active else "disabled"
    console.print(
        f"[bold]{change.username}[/]: {change.role}, {state}; "
        f"{change.sessions_ended} session(s) ended"
    )


USERNAME = typer.Argument(..., help="Login name of the account.")


@app.command("disable")
def disable(username: str = USERNAME) -> None:
    """Disable an account and end its sessions (it can no longer log in)."""
    _change(set_account_active, username, active=False)


@app.command("enable")
def enable(username: str = USERNAME) -> None:
    """Enable an account again (also lifts a lock after failed log-ins)."""
    _change(set_account_active, username, active=True)


@app.command("set-password")
def set_password(
    username: str = USERNAME,
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="Read the password from the first line of stdin."
    ),
) -> None:
    """Give an account a new password; its sessions end."""
    password = _read_password(password_stdin=password_stdin)
    _change(set_account_password, username, password)


@app.command("set-role")
def set_role(
    username: str = USERNAME,
    role: str = typer.Option(..., "--role", help=f"One of: {', '.join(Role)}."),
) -> None:
    """Give an account another role; its sessions end."""
    _change(set_account_role, username, role)


@app.command("end-sessions")
def end_sessions(username: str = USERNAME) -> None:
    """End every session of an account (it must log in again)."""
    _change(end_user_sessions, username)
