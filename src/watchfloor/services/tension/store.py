"""What the tension use-cases share over the database: the region check, areas, alerts.

:func:`database` opens the (migrated) database, :func:`stored_areas` reads a
region's areas back as an :class:`~watchfloor.ingest.areas.AreaSet`,
:func:`public_reports` the located hate-incident and suspicious-activity
reports, and :func:`alert_to_json` / :func:`alert_from_json` turn an
:class:`~watchfloor.tension.alerts.Alert` into the JSON stored with a scan and
back. The file-mode scan (:mod:`watchfloor.services.tension.files`) never
imports this module.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

import numpy as np
from shapely.geometry import shape
from sqlalchemy import or_, select
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.orm import Session

from watchfloor.errors import InvalidInputError
from watchfloor.ingest.areas import AreaSet
from watchfloor.settings import Settings
from watchfloor.storage.db import Database, open_database, upgrade_database
from watchfloor.storage.models import Report
from watchfloor.storage.tension_models import TensionAreaRow
from watchfloor.tension.alerts import Alert
from watchfloor.types import ReportQueue

__all__ = [
    "PublicReport",
    "alert_from_json",
    "alert_to_json",
    "check_region",
    "database",
    "public_reports",
    "stored_areas",
]

_REGION = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


def check_region(name: str) -> str:
    """Return ``name`` when it is a valid region name; raise InvalidInputError otherwise."""
    if not _REGION.match(name or ""):
        msg = f"region name {name!r} is not allowed; use lower-case letters, digits, '-' and '_'"
        raise InvalidInputError(msg)
    return name


def database(settings: Settings) -> Database:
    """Return the installation's database, migrated to the latest schema."""
    upgrade_database(settings)
    return open_database(settings)


def stored_areas(session: Session, region: str) -> AreaSet | None:
    """Return the stored areas of ``region`` in the order they were stored, or None."""
    rows = session.scalars(
        select(TensionAreaRow).where(TensionAreaRow.region == region).order_by(TensionAreaRow.id)
    ).all()
    if not rows:
        return None
    return AreaSet(
        codes=tuple(r.code for r in rows),
        names=tuple(r.name for r in rows),
        geometries=tuple(shape(r.geometry) for r in rows),
        lon=np.array([r.lon for r in rows]),
        lat=np.array([r.lat for r in rows]),
        source=rows[0].source,
    )


@dataclass(frozen=True)
class PublicReport:
    """A located public report as the tension scan counts it."""

    day: date
    lon: float
    lat: float
    label: str
    """"hate" or "suspicious"."""


def public_reports(session: Session) -> list[PublicReport]:
    """Return the hate-incident and suspicious-activity reports with a time and place, if any."""
    try:
        rows = session.execute(
            select(
                Report.kind,
                Report.queue,
                Report.occurred_at,
                Report.received_at,
                Report.lon,
                Report.lat,
            )
            .where(Report.lon.is_not(None), Report.lat.is_not(None))
            .where(
                or_(
                    Report.queue.in_((ReportQueue.HATE_CRIME, ReportQueue.CT)),
                    Report.kind.like("hate%"),
                    Report.kind.like("suspicious%"),
                )
            )
        ).all()
    except (OperationalError, ProgrammingError):
        return []
    out = []
    for kind, queue, occurred, received, lon, lat in rows:
        when = occurred or received
        if when is None or lon is None or lat is None:  # lon, lat: never None (the query)
            continue
        hate = queue == ReportQueue.HATE_CRIME or str(kind).startswith("hate")
        out.append(
            PublicReport(when.date(), float(lon), float(lat), "hate" if hate else "suspicious")
        )
    return out


def alert_to_json(a: Alert) -> dict[str, Any]:
    """Return the alert as a JSON-ready dict (non-finite numbers as None)."""
    d = asdict(a)
    d["area_codes"] = list(a.area_codes)
    d["area_names"] = list(a.area_names)
    for key in ("expected", "relative_risk", "p_value", "recurrence_days", "llr"):
        v = d[key]
        d[key] = None if v is None or not math.isfinite(v) else v
    return d


def alert_from_json(d: Mapping[str, Any]) -> Alert:
    """Return the alert stored as ``d`` by :func:`alert_to_json`."""

    def num(v: Any) -> float:
        return math.nan if v is None else float(v)

    return Alert(
        method=str(d["method"]),
        area_codes=tuple(d["area_codes"]),
        area_names=tuple(d["area_names"]),
        start=str(d["start"]),
        end=str(d["end"]),
        observed=int(d["observed"]),
        expected=num(d["expected"]),
        relative_risk=num(d["relative_risk"]),
        p_value=num(d["p_value"]),
        recurrence_days=num(d["recurrence_days"]),
        kind=str(d.get("kind", "")),
        llr=num(d.get("llr")),
        reason=str(d.get("reason", "")),
    )
