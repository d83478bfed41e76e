"""``watchfloor serve``: apply migrations and run the web app with uvicorn."""

from __future__ import annotations

import typer

from watchfloor.settings import load_settings

__all__ = ["register"]


def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8000, "--port", min=1, max=65535, help="TCP port."),
    workers: int = typer.Option(1, "--workers", min=1, max=32, help="Worker processes."),
    forwarded_allow_ips: str | None = typer.Option(
        None,
        "--forwarded-allow-ips",
        help="Proxy addresses whose X-Forwarded-For/-Proto are believed "
        "(default: WATCHFLOOR_FORWARDED_ALLOW_IPS; unset: none).",
    ),
) -> None:
    """Apply database migrations, then serve the public pages, staff pages and API."""
    from watchfloor.web.server import run_server  # noqa: PLC0415 (heavy; only serve needs it)

    run_server(
        load_settings(),
        host=host,
        port=port,
        workers=workers,
        forwarded_allow_ips=forwarded_allow_ips,
    )


def register(app: typer.Typer) -> None:
    """Add the top-level ``serve`` command to ``app``."""
    app.command("serve")(serve)
