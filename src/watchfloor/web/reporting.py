"""The reporting service's state in the web app and its request dependencies."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Annotated, Any

import numpy as np
from fastapi import Depends, Request

from watchfloor.errors import NotFoundError, TooManyRequestsError
from watchfloor.services.report_intake import ReportWriter
from watchfloor.services.reports import ReportingOptions, SiteIndex
from watchfloor.settings import Settings
from watchfloor.storage.db import Database
from watchfloor.storage.keys import KeyRing, load_keyring
from watchfloor.web.security import RateLimiter

__all__ = [
    "HIGH_RISK_KINDS",
    "Reporting",
    "ReportingDep",
    "WriterDep",
    "build_reporting",
    "load_site_index",
    "rate_limit",
    "report_writer",
    "stop_report_writer",
]

log = logging.getLogger(__name__)

#: Site kinds whose closeness raises a report's priority.
HIGH_RISK_KINDS = frozenset({"place_of_worship", "crowded_place", "nte_zone"})


@dataclass(frozen=True)
class Reporting:
    """Keys, options and the site index the report routes need."""

    keyring: KeyRing
    options: ReportingOptions
    sites: SiteIndex
    secret: bytes


def load_site_index(settings: Settings, region: str | None) -> SiteIndex:
    """Return the high-risk sites of ``region`` (empty when none is set or built)."""
    if not region:
        return SiteIndex.empty()
    # Imported here: region loading pulls in scipy and pyarrow, which most starts never need.
    from watchfloor.services.regions import open_region  # noqa: PLC0415

    try:
        loaded = open_region(region, settings)
    except NotFoundError:
        log.warning("report region %s is not built; priorities ignore site closeness", region)
        return SiteIndex.empty()
    register = loaded.sites
    keep = [i for i, kind in enumerate(register.kind) if kind in HIGH_RISK_KINDS]
    index = SiteIndex(
        site_id=[register.site_id[i] for i in keep],
        name=[register.name[i] or register.category[i] for i in keep],
        kind=[register.kind[i] for i in keep],
        lon=np.asarray(register.lon, dtype=np.float64)[keep],
        lat=np.asarray(register.lat, dtype=np.float64)[keep],
    )
    log.info("report triage uses %d high-risk sites of %s", len(keep), region)
    return index


def build_reporting(settings: Settings, secret: bytes) -> Reporting:
    """Return the reporting state for ``settings`` (creates the key file on first start)."""
    options = ReportingOptions()
    keyring = load_keyring(settings.home, setting=options.report_keys)
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


def report_writer(state: Any) -> ReportWriter:
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


def stop_report_writer(state: Any) -> None:
    """Store what the app's report writer holds, then stop it (when it was started)."""
    writer: ReportWriter | None = getattr(state, "report_writer", None)
    if writer is not None:
        writer.close()


async def get_writer(request: Request) -> ReportWriter:
    """Return the app's report writer."""
    return report_writer(request.app.state)


WriterDep = Annotated[ReportWriter, Depends(get_writer)]


async def rate_limit(request: Request) -> None:
    """Refuse the request with 429 when its client is over the limit (address not stored).

    Raises
    ------
    TooManyRequestsError
        When the client sent too many requests in the current minute.
    """
    limiter: RateLimiter = request.app.state.rate_limiter
    address = request.client.host if request.client else ""
    if not limiter.hit(address):
        msg = "too many reports from this connection in the last minute; wait a minute and retry"
        raise TooManyRequestsError(msg)
