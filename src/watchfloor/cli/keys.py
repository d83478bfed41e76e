"""``watchfloor keys``: create and rotate the encryption keys of contact details and photos."""

from __future__ import annotations

import typer

from watchfloor.cli._app import console, new_app, print_json
from watchfloor.errors import ConfigurationError
from watchfloor.services.reports.retention import rotate_keys
from watchfloor.settings import load_settings
from watchfloor.storage.db import open_database, upgrade_database
from watchfloor.storage.keys import (
    KeyRing,
    check_keyring,
    key_ids_in_use,
    load_keyring,
    new_keyring,
)

__all__ = ["app"]

app = new_app("Encryption keys of reporter contact details and photos.")


@app.callback()
def _keys() -> None:
    """Encryption keys of reporter contact details and photos."""


@app.command("init")
def init(json_out: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Create the key file of a new installation (refused when one exists or data needs another)."""
    settings = load_settings()
    if settings.reporting.report_keys:
        msg = "WATCHFLOOR_REPORT_KEYS is set: the keys come from it, there is no key file to create"
        raise ConfigurationError(msg)
    upgrade_database(settings)
    database = open_database(settings)
    try:
        with database.engine.connect() as conn:
            in_use = key_ids_in_use(conn)
    finally:
        database.dispose()
    # A new key opens none of what is stored: refuse, naming the keys to restore.
    check_keyring(KeyRing({}, ""), in_use, source="a new key file")
    ring = new_keyring(settings.home)
    if json_out:
        print_json({"key_id": ring.current_id, "path": str(ring.path)})
        return
    console.print(f"created key file {ring.path} with key {ring.current_id}; back it up")


@app.command("rotate")
def rotate(
    grace_s: float = typer.Option(
        2.0,
        "--grace",
        min=0.0,
        help="Seconds to let running servers finish writes under the old key before it is retired.",
    ),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Create a new key, re-encrypt every contact detail and photo, retire unused old keys.

    Safe while servers run: they pick up the new key file on their next use.
    Items that cannot be opened are listed (exit code 1) and their keys kept.
    """
    settings = load_settings()
    upgrade_database(settings)
    database = open_database(settings)
    try:
        ring = load_keyring(
            settings.home, setting=settings.reporting.report_keys, database=database
        )
        outcome = rotate_keys(database, ring, grace_s=grace_s)
    finally:
        database.dispose()
    unreadable = [
        {"table": u.table, "id": u.row_id, "key_id": u.key_id, "reason": u.reason}
        for u in outcome.unreadable
    ]
    if json_out:
        print_json(
            {
                "key_id": outcome.key_id,
                "reencrypted": outcome.reencrypted,
                "retired": list(outcome.retired),
                "kept": list(outcome.kept),
                "unreadable": unreadable,
            }
        )
    else:
        console.print(
            f"new key {outcome.key_id}; re-encrypted {outcome.reencrypted} item(s); "
            f"retired {len(outcome.retired)} old key(s)"
        )
        if outcome.kept:
            console.print(f"kept old key(s) still in use: {', '.join(outcome.kept)}")
        for u in unreadable:
            console.print(f"cannot open {u['table']} {u['id']} (key {u['key_id']}): {u['reason']}")
    if unreadable:
        raise typer.Exit(code=1)
