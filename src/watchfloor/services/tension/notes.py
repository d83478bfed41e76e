"""Community liaison notes: stored by area and day, counted towards tension levels.

:func:`add_note` validates and stores one note; :func:`liaison_notes` reads a
region's notes back (optionally between two days) as
:class:`~watchfloor.tension.alerts.LiaisonNote` for the level mapping.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime
from typing import TypedDict

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from watchfloor.errors import InvalidInputError, NotFoundError
from watchfloor.services.tension.store import check_region, database
from watchfloor.settings import Settings
from watchfloor.storage.tension_models import TensionAreaRow, TensionNoteRow
from watchfloor.tension.alerts import LiaisonNote

__all__ = ["NOTE_DAYS", "NOTE_INDICATORS", "StoredNote", "add_note", "liaison_notes"]

log = logging.getLogger(__name__)

NOTE_INDICATORS = (
    "graffiti",
    "leaflets",
    "protest_planned",
    "online_threats",
    "fear_reported",
    "community_event",
    "other",
)
"""What a liaison note may report (``--indicator``)."""

NOTE_DAYS = 14
"""Liaison notes of the last 14 days count towards the tension level."""


class StoredNote(TypedDict):
    """A stored liaison note, as printed with ``--json``."""

    id: int
    region: str
    area: str
    day: str
    indicator: str
    severity: int


def liaison_notes(
    session: Session, region: str, *, after: date | None = None, until: date | None = None
) -> list[LiaisonNote]:
    """Return the region's notes of the days after ``after`` up to ``until`` (inclusive)."""
    q = select(TensionNoteRow).where(TensionNoteRow.region == region)
    if after is not None:
        q = q.where(TensionNoteRow.day > after)
    if until is not None:
        q = q.where(TensionNoteRow.day <= until)
    return [
        LiaisonNote(n.area_code, n.day.isoformat(), n.indicator, n.severity, n.text)
        for n in session.scalars(q).all()
    ]


def add_note(
    settings: Settings,
    *,
    region: str,
    area_code: str,
    day: date,
    indicator: str,
    severity: int,
    text: str,
    created_by: str = "cli",
) -> StoredNote:
    """Return the stored liaison note (id, area, day, indicator, severity).

    Raises
    ------
    InvalidInputError
        Severity outside 1-5, an unknown indicator or empty text.
    NotFoundError
        When the area is not one of the region's areas.
    """
    check_region(region)
    if not 1 <= int(severity) <= 5:
        msg = f"severity {severity} is outside 1-5"
        raise InvalidInputError(msg)
    ind = indicator.strip().lower().replace(" ", "_").replace("-", "_")
    if ind not in NOTE_INDICATORS:
        msg = f"indicator {indicator!r} is not one of {', '.join(NOTE_INDICATORS)}"
        raise InvalidInputError(msg)
    if not text.strip():
        msg = "the note needs some text: what was seen or heard"
        raise InvalidInputError(msg)
    db = database(settings)
    try:
        with db.session() as session:
            known = session.scalar(
                select(func.count())
                .select_from(TensionAreaRow)
                .where(TensionAreaRow.region == region, TensionAreaRow.code == area_code)
            )
            if not known:
                msg = (
                    f"area {area_code!r} is not an area of region {region!r}; "
                    "ingest its boundaries first"
                )
                raise NotFoundError(msg)
            row = TensionNoteRow(
                region=region,
                area_code=area_code,
                day=day,
                indicator=ind,
                severity=int(severity),
                text=text.strip(),
                created_at=datetime.now(UTC),
                created_by=created_by,
            )
            session.add(row)
            session.flush()
            out: StoredNote = {
                "id": row.id,
                "region": region,
                "area": area_code,
                "day": day.isoformat(),
                "indicator": ind,
                "severity": int(severity),
            }
    finally:
        db.dispose()
    log.info(
        "liaison note %s stored for %s/%s (severity %d)", out["id"], region, area_code, severity
    )
    return out
