"""Run the web app: apply migrations, then serve it with uvicorn.

``watchfloor serve`` calls :func:`run_server`; ``python -m watchfloor.web`` does
the same without loading every command of the CLI (a faster start).
"""

from __future__ import annotations

import logging

import uvicorn

from watchfloor.settings import Settings
from watchfloor.storage.db import upgrade_database
from watchfloor.web.app import create_app

__all__ = ["run_server"]

log = logging.getLogger(__name__)


class _TypeOnlyTracebacks(logging.Filter):
    """Reduce logged exceptions to their type: their text may quote what a reporter sent."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[0] is not None:
            record.msg = f"{record.msg} ({record.exc_info[0].__name__})"
            record.exc_info = None
            record.exc_text = None
        return True


def run_server(
    settings: Settings, *, host: str = "127.0.0.1", port: int = 8000, workers: int = 1
) -> None:
    """Apply migrations and serve until stopped; access logs are off (no client addresses).

    Raises
    ------
    ConfigurationError
        Without ``WATCHFLOOR_SECRET_KEY`` outside demo mode, before the port opens.
    """
    # Built first: a missing secret key is reported before anything is touched.
    app = create_app(settings, prepare_dashboard=True)
    upgrade_database(settings)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.asgi"):
        logging.getLogger(name).addFilter(_TypeOnlyTracebacks())
    common = {
        "host": host,
        "port": port,
        "access_log": False,
        "server_header": False,
        "proxy_headers": False,
        "log_config": None,
    }
    if workers == 1:
        log.info("serving on http://%s:%d", host, port)
        uvicorn.run(app, **common)  # type: ignore[arg-type]
        return
    log.info("serving on http://%s:%d with %d workers", host, port, workers)
    uvicorn.run("watchfloor.web.asgi:build", factory=True, workers=workers, **common)  # type: ignore[arg-type]
