"""``watchfloor reports``: retention and forwarding jobs of the reporting service."""

from __future__ import annotations

import time
from datetime import timedelta

import httpx
import typer

from watchfloor.cli._app import console, new_app, print_json
from watchfloor.errors import ConfigurationError
from watchfloor.services.reports import anonymise_closed_reports, deliver_outbox
from watchfloor.services.reports.forwarding import forward_auth
from watchfloor.settings import load_settings
from watchfloor.storage.db import open_database, upgrade_database

__all__ = ["app"]

app = new_app("Public reports: retention and forwarding.")


@app.command("retention")
def retention(
    days: int | None = typer.Option(
        None,
        "--days",
        min=1,
        help="Anonymise reports closed this many days ago (default: setting).",
    ),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Anonymise closed reports older than the retention period."""
    settings = load_settings()
    options = settings.reporting
    upgrade_database(settings)
    database = open_database(settings)
    period = days or options.retention_days
    try:
        with database.sessions() as session:
            count = anonymise_closed_reports(session, older_than=timedelta(days=period))
    finally:
        database.dispose()
    if json_out:
        print_json({"anonymised": count, "retention_days": period})
        return
    console.print(f"anonymised {count} report(s) closed more than {period} days ago")


@app.command("forward")
def forward(
    loop: bool = typer.Option(False, "--loop", help="Keep forwarding every few seconds."),
    interval_s: float = typer.Option(5.0, "--interval", min=0.5, help="Seconds between passes."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """POST due outbox messages to WATCHFLOOR_FORWARD_URL (retries with backoff)."""
    settings = load_settings()
    options = settings.reporting
    if not options.forward_url:
        msg = "WATCHFLOOR_FORWARD_URL is not set; set it to the receiving system's address"
        raise ConfigurationError(msg)
    upgrade_database(settings)
    database = open_database(settings)
    try:
        with httpx.Client() as client:
            while True:
                result = deliver_outbox(
                    database,
                    options.forward_url,
                    client=client,
                    stuck_after=options.forward_stuck_after,
                    auth=forward_auth(options),
                )
                if not loop:
                    break
                time.sleep(interval_s)
    finally:
        database.dispose()
    if json_out:
        print_json({"sent": result.sent, "failed": result.failed, "stuck": result.stuck})
        return
    console.print(f"sent {result.sent}, failed {result.failed}, stuck {result.stuck}")
