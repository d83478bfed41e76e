"""Ingest of incident CSVs into a region's tension store.

:func:`ingest_file` reads data.police.uk street-level CSVs or one plain
incidents CSV (:mod:`watchfloor.ingest.policeuk`), assigns each incident to an
area (LSOA/ward GeoJSON, the stored areas, or H3 hexagons) and stores the
areas, the incidents and the ingest counts in one transaction: nothing is
stored when any file or the boundaries are bad.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Literal, TypedDict

import numpy as np
import shapely
from sqlalchemy import delete, insert
from sqlalchemy.orm import Session

from watchfloor.errors import IngestError, InvalidInputError
from watchfloor.ingest.areas import AreaSet, areas_from_geojson, assign_points, h3_areas
from watchfloor.ingest.policeuk import (
    Incidents,
    read_incidents_csv,
    read_street_crime,
    sniff_kind,
)
from watchfloor.services.tension.store import check_region, database, stored_areas
from watchfloor.settings import Settings
from watchfloor.storage.tension_models import (
    TensionAreaRow,
    TensionIncidentRow,
    TensionIngestRow,
)
from watchfloor.types import IntArray

__all__ = ["IngestSummary", "ingest_file"]

log = logging.getLogger(__name__)


class IngestSummary(TypedDict):
    """The counts of one ingest, as printed with ``--json``."""

    region: str
    ingest_id: int
    files: list[str]
    resolution: Literal["day", "month"]
    rows_read: int
    stored: int
    by_kind: dict[str, int]
    rows_without_location: int
    rows_of_other_crime_types: int
    other_crime_types: dict[str, int]
    outside_every_area: int
    areas: int
    areas_source: str
    first_day: str | None
    last_day: str | None


def _read_incidents(files: list[Path], groups: Mapping[str, str] | None) -> Incidents:
    """The incidents of data.police.uk CSVs or of one plain incidents CSV (not a mix)."""
    if not files:
        msg = "give at least one incident CSV"
        raise InvalidInputError(msg)
    kinds = {sniff_kind(p) for p in files}
    if kinds == {"policeuk"}:
        return read_street_crime(files, groups=groups)
    if kinds == {"incidents"} and len(files) == 1:
        return read_incidents_csv(files[0])
    msg = "give either data.police.uk street-level CSVs or one incidents CSV, not a mix"
    raise InvalidInputError(msg)


def _replace_areas(session: Session, region: str, areas: AreaSet) -> None:
    """Store ``areas`` as the region's areas, in place of any stored before."""
    session.execute(delete(TensionAreaRow).where(TensionAreaRow.region == region))
    session.add_all(
        TensionAreaRow(
            region=region,
            code=c,
            name=n,
            lon=float(x),
            lat=float(y),
            geometry=shapely.geometry.mapping(g),
            source=areas.source,
        )
        for c, n, g, x, y in zip(
            areas.codes,
            areas.names,
            areas.geometries,
            areas.lon,
            areas.lat,
            strict=True,
        )
    )


def _store_incidents(  # noqa: PLR0917 (one ingest's pieces)
    session: Session,
    region: str,
    incidents: Incidents,
    areas: AreaSet,
    idx: IntArray,
    outside: int,
) -> int:
    """Store the ingest's counts and its incidents with their area; return the ingest id."""
    batch = TensionIngestRow(
        region=region,
        source=", ".join(incidents.files),
        resolution=incidents.resolution,
        rows_read=incidents.rows_read,
        kept=len(incidents),
        no_location=incidents.rows_no_location,
        other_kind=incidents.rows_other_kind,
        outside_areas=outside,
        created_at=datetime.now(UTC),
    )
    session.add(batch)
    session.flush()
    codes = np.array(areas.codes, dtype=object)
    days = incidents.day.astype(date)
    session.execute(
        insert(TensionIncidentRow),
        [
            {
                "region": region,
                "ingest_id": batch.id,
                "day": d,
                "resolution": incidents.resolution,
                "kind": k,
                "weight": float(w),
                "lon": float(x),
                "lat": float(y),
                "area_code": codes[i] if i >= 0 else None,
            }
            for d, k, w, x, y, i in zip(
                days,
                incidents.kind,
                incidents.weight,
                incidents.lon,
                incidents.lat,
                idx,
                strict=True,
            )
        ],
    )
    return int(batch.id)


def _summary(
    region: str, ingest_id: int, incidents: Incidents, areas: AreaSet, outside: int
) -> IngestSummary:
    """The counts of an ingest, for the caller and the CLI."""
    days = incidents.day.astype(date)
    by_kind: dict[str, int] = {}
    for k in incidents.kind:
        by_kind[k] = by_kind.get(k, 0) + 1
    return {
        "region": region,
        "ingest_id": ingest_id,
        "files": list(incidents.files),
        "resolution": incidents.resolution,
        "rows_read": incidents.rows_read,
        "stored": len(incidents),
        "by_kind": by_kind,
        "rows_without_location": incidents.rows_no_location,
        "rows_of_other_crime_types": incidents.rows_other_kind,
        "other_crime_types": incidents.kinds_left_out,
        "outside_every_area": outside,
        "areas": len(areas),
        "areas_source": areas.source,
        "first_day": str(days.min()) if len(days) else None,
        "last_day": str(days.max()) if len(days) else None,
    }


def ingest_file(
    settings: Settings,
    paths: str | Path | Iterable[str | Path],
    *,
    region: str,
    areas_path: str | Path | None = None,
    h3_resolution: int = 8,
    groups: Mapping[str, str] | None = None,
) -> IngestSummary:
    """Return the counts of an ingest of incident CSV(s) into a region's store.

    Parameters
    ----------
    settings
        Installation settings (database).
    paths
        data.police.uk street-level CSV(s) or one plain incidents CSV.
    region
        Name the incidents are filed under.
    areas_path
        LSOA/ward GeoJSON; replaces the region's areas. Without it the stored
        areas are used, or H3 cells at ``h3_resolution`` when there are none.
    groups
        Crime type -> group mapping for data.police.uk files.

    Nothing is stored when any file or the boundaries are bad.
    """
    check_region(region)
    files = [Path(paths)] if isinstance(paths, str | Path) else [Path(p) for p in paths]
    incidents = _read_incidents(files, groups)
    new_areas = areas_from_geojson(areas_path) if areas_path is not None else None
    db = database(settings)
    try:
        with db.session() as session:
            areas = new_areas or stored_areas(session, region)
            if areas is None:
                areas = h3_areas(incidents.lon, incidents.lat, resolution=h3_resolution)
                new_areas = areas
            idx = assign_points(areas, incidents.lon, incidents.lat)
            outside = int((idx < 0).sum())
            if outside == len(incidents) and len(incidents):
                msg = (
                    f"none of the {len(incidents)} incidents falls inside the "
                    f"{len(areas)} areas of {areas.source}; are these the boundaries of this force?"
                )
                raise IngestError(msg)
            if new_areas is not None:
                _replace_areas(session, region, areas)
            ingest_id = _store_incidents(session, region, incidents, areas, idx, outside)
            summary = _summary(region, ingest_id, incidents, areas, outside)
    finally:
        db.dispose()
    log.info(
        "ingested %d incidents into %s (%d outside every area, %d without location)",
        summary["stored"], region, outside, incidents.rows_no_location,
    )  # fmt: skip
    return summary
