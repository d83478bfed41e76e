"""Run the web app: apply migrations, then serve it with uvicorn.

``watchfloor serve`` calls :func:`run_server`; ``python -m watchfloor.web`` does
the same without loading every command of the CLI (a faster start).

Behind a reverse proxy, set ``WATCHFLOOR_FORWARDED_ALLOW_IPS`` to the proxy's
address(es) (``--forwarded-allow-ips``): uvicorn then believes that proxy's
``X-Forwarded-For`` and ``X-Forwarded-Proto``, so the client address the rate
limits count is the real client's, and a request that reached the proxy over
HTTPS is HTTPS to the app (HSTS sent, cookies ``Secure``). Unset, no forwarded
header is believed. See docs/deploy-proxy.md.
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
    settings: Settings,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: int = 1,
    forwarded_allow_ips: str | None = None,
) -> None:
    """Apply migrations and serve until stopped; access logs are off (no client addresses).

    ``forwarded_allow_ips`` (default ``WATCHFLOOR_FORWARDED_ALLOW_IPS``) names the
    proxies whose forwarded headers are believed; unset, none are.

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
    trusted = forwarded_allow_ips or settings.web.forwarded_allow_ips
    common: dict[str, object] = {
        "host": host,
        "port": port,
        "access_log": False,
        "server_header": False,
        "proxy_headers": bool(trusted),
        "log_config": None,
    }
    if trusted:
        common["forwarded_allow_ips"] = trusted
        log.info("forwarded headers believed from: %s", trusted)
    if workers == 1:
        log.info("serving on http://%s:%d", host, port)
        uvicorn.run(app, **common)  # type: ignore[arg-type]
        return
    log.info("serving on http://%s:%d with %d workers", host, port, workers)
    uvicorn.run("watchfloor.web.asgi:build", factory=True, workers=workers, **common)  # type: ignore[arg-type]
