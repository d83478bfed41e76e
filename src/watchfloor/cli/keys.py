"""``watchfloor keys``: rotate the encryption keys of contact details and photos."""

from __future__ import annotations

import typer

from watchfloor.cli._app import console, new_app, print_json
from watchfloor.services.reports import reencrypt_all
from watchfloor.settings import load_settings
from watchfloor.storage.db import open_database, upgrade_database
from watchfloor.storage.keys import load_keyring

__all__ = ["app"]

app = new_app("Encryption keys of reporter contact details and photos.")


@app.callback()
def _keys() -> None:
    """Encryption keys of reporter contact details and photos."""


@app.command("rotate")
def rotate(json_out: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Create a new key, re-encrypt every contact detail and photo, retire the old keys."""
    settings = load_settings()
    options = settings.reporting
    upgrade_database(settings)
    ring = load_keyring(settings.home, setting=options.report_keys)
    new_ring = ring.with_new_key()
    # Save first: the old keys stay in the file until every ciphertext is re-encrypted.
    new_ring.save()
    database = open_database(settings)
    try:
        with database.sessions() as session:
            count = reencrypt_all(session, new_ring)
    finally:
        database.dispose()
    new_ring.without_keys_except_current().save()
    if json_out:
        print_json({"key_id": new_ring.current_id, "reencrypted": count})
        return
    console.print(f"new key {new_ring.current_id}; re-encrypted {count} item(s); old keys retired")
