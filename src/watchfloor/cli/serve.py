"""``watchfloor serve``: apply migrations and run the web app with uvicorn."""

from __future__ import annotations

import logging

import typer

from watchfloor.settings import load_settings
from watchfloor.storage.db import upgrade_database

__all__ = ["register"]

log = logging.getLogger(__name__)


def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8000, "--port", min=1, max=65535, help="TCP port."),
    workers: int = typer.Option(1, "--workers", min=1, max=32, help="Worker processes."),
) -> None:
    """Apply database migrations, then serve the public pages, staff pages and API."""
    import uvicorn  # noqa: PLC0415 (heavy; only this command needs it)

    from watchfloor.web.app import create_app  # noqa: PLC0415

    settings = load_settings()
    upgrade_database(settings)
    # Build once here so that a missing secret key fails before the port opens.
    app = create_app(settings)
    log.info("serving on http://%s:%d", host, port)
    if workers == 1:
        uvicorn.run(
            app,
            host=host,
            port=port,
            access_log=False,
            server_header=False,
            proxy_headers=False,
            log_config=None,
        )
        return
    uvicorn.run(
        "watchfloor.web.asgi:build",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=False,
        server_header=False,
        proxy_headers=False,
        log_config=None,
    )


def register(app: typer.Typer) -> None:
    """Add the top-level ``serve`` command to ``app``."""
    app.command("serve")(serve)
