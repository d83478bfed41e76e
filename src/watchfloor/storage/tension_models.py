"""Tables of tension monitoring: areas, incidents, ingest batches, liaison notes, scans.

Incidents are stored one row per record with the area they fell in (``NULL``
when outside every area: kept and counted, never silently dropped). A scan is
stored whole (alerts and levels as JSON) because posture and the dashboard
read the latest one whole.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    DateTime,
    Float,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from watchfloor.storage.db import Base

__all__ = [
    "TensionAreaRow",
    "TensionIncidentRow",
    "TensionIngestRow",
    "TensionNoteRow",
    "TensionScanRow",
]

_Id = BigInteger().with_variant(Integer(), "sqlite")


class TensionAreaRow(Base):
    """An area of a region (LSOA, ward or H3 cell) with its geometry."""

    __tablename__ = "tension_areas"
    __table_args__ = (UniqueConstraint("region", "code", name="uq_tension_areas_region_code"),)

    id: Mapped[int] = mapped_column(_Id, primary_key=True, autoincrement=True)
    region: Mapped[str] = mapped_column(String(100))
    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200))
    lon: Mapped[float] = mapped_column(Float)
    lat: Mapped[float] = mapped_column(Float)
    geometry: Mapped[dict[str, Any]] = mapped_column(JSON)
    source: Mapped[str] = mapped_column(String(200))


class TensionIngestRow(Base):
    """One ingested file: what was read, kept and left out."""

    __tablename__ = "tension_ingests"
    __table_args__ = (Index("ix_tension_ingests_region", "region"),)

    id: Mapped[int] = mapped_column(_Id, primary_key=True, autoincrement=True)
    region: Mapped[str] = mapped_column(String(100))
    source: Mapped[str] = mapped_column(Text)
    resolution: Mapped[str] = mapped_column(String(8))
    rows_read: Mapped[int] = mapped_column(Integer)
    kept: Mapped[int] = mapped_column(Integer)
    no_location: Mapped[int] = mapped_column(Integer)
    other_kind: Mapped[int] = mapped_column(Integer)
    outside_areas: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class TensionIncidentRow(Base):
    """One incident: day, kind, place and the area it fell in."""

    __tablename__ = "tension_incidents"
    __table_args__ = (Index("ix_tension_incidents_region_day", "region", "day"),)

    id: Mapped[int] = mapped_column(_Id, primary_key=True, autoincrement=True)
    region: Mapped[str] = mapped_column(String(100))
    ingest_id: Mapped[int] = mapped_column(_Id)
    day: Mapped[date] = mapped_column(Date)
    resolution: Mapped[str] = mapped_column(String(8))
    kind: Mapped[str] = mapped_column(String(32))
    weight: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    lat: Mapped[float] = mapped_column(Float)
    area_code: Mapped[str | None] = mapped_column(String(32))


class TensionNoteRow(Base):
    """A community liaison note by a neighbourhood or engagement officer."""

    __tablename__ = "tension_notes"
    __table_args__ = (Index("ix_tension_notes_region_day", "region", "day"),)

    id: Mapped[int] = mapped_column(_Id, primary_key=True, autoincrement=True)
    region: Mapped[str] = mapped_column(String(100))
    area_code: Mapped[str] = mapped_column(String(32))
    day: Mapped[date] = mapped_column(Date)
    indicator: Mapped[str] = mapped_column(String(64))
    severity: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str] = mapped_column(String(100))


class TensionScanRow(Base):
    """A completed scan: its parameters, alerts and tension levels."""

    __tablename__ = "tension_scans"
    __table_args__ = (Index("ix_tension_scans_region_created", "region", "created_at"),)

    id: Mapped[int] = mapped_column(_Id, primary_key=True, autoincrement=True)
    region: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    end_day: Mapped[date] = mapped_column(Date)
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
