"""Tension levels for posture: the level (1-5) and reason per area, or per site.

:func:`tension_levels` reads the alerts of the region's latest stored scan and
the liaison notes of the ``NOTE_DAYS`` days up to the day asked for, so a note
entered after the scan counts at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from typing import Protocol

import numpy as np
import numpy.typing as npt
from sqlalchemy import select

from watchfloor.ingest.areas import assign_points
from watchfloor.services.tension.notes import NOTE_DAYS, liaison_notes
from watchfloor.services.tension.store import (
    alert_from_json,
    check_region,
    database,
    stored_areas,
)
from watchfloor.settings import Settings
from watchfloor.storage.tension_models import TensionScanRow
from watchfloor.tension.alerts import tension_levels_from_alerts
from watchfloor.tension.detect import month_end

__all__ = ["SitePoints", "tension_levels"]


class SitePoints(Protocol):
    """Sites with an id and a position (a :class:`~watchfloor.sites.register.SiteRegister`)."""

    @property
    def site_id(self) -> Sequence[str]:
        """Site ids, one per site."""

    @property
    def lon(self) -> npt.ArrayLike:
        """Longitudes (degrees), one per site."""

    @property
    def lat(self) -> npt.ArrayLike:
        """Latitudes (degrees), one per site."""


def tension_levels(
    settings: Settings,
    region: str,
    *,
    sites: SitePoints | None = None,
    on: date | None = None,
) -> dict[str, tuple[int, str]]:
    """Return the tension level (1-5) and reason per area, or per site when given sites.

    Levels come from the alerts of the latest stored scan and the liaison notes
    of the ``NOTE_DAYS`` days up to ``on`` (default: the scan's end), so a
    note entered after the scan counts at once. With ``sites`` (a
    :class:`~watchfloor.sites.register.SiteRegister` or anything with
    ``site_id``, ``lon``, ``lat``) the keys are site ids and each site takes its
    area's level; sites outside every area are left out. Empty when the region
    has no tension data.
    """
    check_region(region)
    db = database(settings)
    try:
        with db.session() as session:
            areas = stored_areas(session, region)
            if areas is None:
                return {}
            scan = session.scalars(
                select(TensionScanRow)
                .where(TensionScanRow.region == region)
                .order_by(TensionScanRow.created_at.desc(), TensionScanRow.id.desc())
                .limit(1)
            ).first()
            alerts = [alert_from_json(a) for a in (scan.body.get("alerts", []) if scan else [])]
            ref = on or (date.fromisoformat(scan.body["end"]) if scan else date.today())
            if scan is not None and scan.body.get("resolution") == "month" and on is None:
                ref = month_end(ref)
            notes = liaison_notes(session, region, after=ref - timedelta(days=NOTE_DAYS), until=ref)
    finally:
        db.dispose()
    levels = tension_levels_from_alerts(
        areas.codes, alerts, notes, area_names=dict(zip(areas.codes, areas.names, strict=True))
    )
    by_area = {k: (v.level, v.reason) for k, v in levels.items()}
    if sites is None:
        return by_area
    idx = assign_points(areas, np.asarray(sites.lon), np.asarray(sites.lat))
    return {
        sid: by_area[areas.codes[i]] for sid, i in zip(sites.site_id, idx, strict=True) if i >= 0
    }
