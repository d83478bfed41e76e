"""The reporting service's state in the web app and its request dependencies.

:func:`build_reporting` gathers, once per app, what the report routes need
(the key ring, ``settings.reporting``, the region's high-risk sites from
:func:`watchfloor.services.reports.load_site_index`, the secret); the
dependencies below hand it, the process's report writer and the rate limit to
the routes.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from starlette.datastructures import State

from watchfloor.services.reports import ReportWriter, SiteIndex, load_site_index
from watchfloor.services.reports.forwarding import check_forward_url
from watchfloor.settings import ReportingOptions, Settings
from watchfloor.storage.db import Database, open_database
from watchfloor.storage.keys import KeyRing, load_keyring
from watchfloor.web.ratelimit import rate_limit_for

__all__ = [
    "Reporting",
    "ReportingDep",
    "WriterDep",
    "build_reporting",
    "rate_limit",
    "report_writer",
    "stop_report_writer",
]


@dataclass(frozen=True)
class Reporting:
    """Keys, options and the site index the report routes need."""

    keyring: KeyRing
    options: ReportingOptions
    sites: SiteIndex
    secret: bytes


def build_reporting(
    settings: Settings, secret: bytes, *, database: Database | None = None
) -> Reporting:
    """Return the reporting state for ``settings``, its key ring checked against the database.

    The key ring follows its key file (a rotation is picked up without a
    restart). The key file is created on first start only when the database
    holds no ciphertext; ``database`` defaults to the one of ``settings``.

    Raises
    ------
    ConfigurationError
        When the database holds contact details or photos under key ids the
        ring lacks (the message names them and says what to restore), or the
        forwarding address is plain http off this machine.
    """
    options = settings.reporting
    if options.forward_url:
        check_forward_url(options.forward_url)
    own = database is None
    db = open_database(settings) if database is None else database
    try:
        keyring = load_keyring(settings.home, setting=options.report_keys, database=db)
    finally:
        if own:
            db.dispose()
    return Reporting(
        keyring=keyring,
        options=options,
        sites=load_site_index(settings, options.report_region),
        secret=secret,
    )


async def get_reporting(request: Request) -> Reporting:
    """Return the app's reporting state."""
    reporting: Reporting = request.app.state.reporting
    return reporting


ReportingDep = Annotated[Reporting, Depends(get_reporting)]

_writer_lock = threading.Lock()


def report_writer(state: State) -> ReportWriter:
    """Return the app's report writer (group commit), started on first use."""
    writer: ReportWriter | None = getattr(state, "report_writer", None)
    if writer is None:
        with _writer_lock:
            writer = getattr(state, "report_writer", None)
            if writer is None:
                reporting: Reporting = state.reporting
                database: Database = state.db
                writer = ReportWriter(
                    database,
                    keyring=reporting.keyring,
                    secret=reporting.secret,
                    options=reporting.options,
                )
                writer.start()
                state.report_writer = writer
    return writer


def stop_report_writer(state: State) -> None:
    """Store what the app's report writer holds, then stop it (when it was started)."""
    writer: ReportWriter | None = getattr(state, "report_writer", None)
    if writer is not None:
        writer.close()


async def get_writer(request: Request) -> ReportWriter:
    """Return the app's report writer."""
    return report_writer(request.app.state)


WriterDep = Annotated[ReportWriter, Depends(get_writer)]


#: The dependency that counts a public submission and refuses it over the limit
#: (429 with ``Retry-After``; the counters are shared by the service's processes).
rate_limit = rate_limit_for("reports")
