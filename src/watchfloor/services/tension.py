"""Tension monitoring use-cases: ingest, liaison notes, scans, levels for posture.

* :func:`ingest_file` reads data.police.uk street-level or plain incident CSVs,
  assigns incidents to areas (LSOA/ward GeoJSON, or H3 hexagons) and stores
  areas, incidents and the ingest counts in one transaction.
* :func:`add_note` stores a community liaison note.
* :func:`run_scan` builds area x day (or month) counts from stored incidents
  and public reports (hate incidents and suspicious activity, when the
  reporting tables hold any), runs the prospective space-time permutation scan
  and the single-area charts (EARS C2 and CUSUM for daily data, the Farrington
  detector for monthly data), turns the results into alerts and tension levels
  and stores them.
* :func:`tension_levels` gives posture the level (1-5) and reason per area, or
  per site when a site register is passed.
* :func:`scan_files` runs the scan on CSV files alone (no database).
"""

from __future__ import annotations

import csv
import logging
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import shapely
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from scipy.stats import poisson
from shapely.geometry import shape
from sqlalchemy import delete, func, insert, or_, select
from sqlalchemy.exc import OperationalError, ProgrammingError

from watchfloor.errors import IngestError, InvalidInputError, NotFoundError
from watchfloor.ingest.areas import AreaSet, areas_from_geojson, assign_points, h3_areas
from watchfloor.ingest.policeuk import (
    Incidents,
    read_incidents_csv,
    read_street_crime,
    sniff_kind,
)
from watchfloor.settings import Settings
from watchfloor.storage.db import open_database, upgrade_database
from watchfloor.storage.models import Report
from watchfloor.storage.tension_models import (
    TensionAreaRow,
    TensionIncidentRow,
    TensionIngestRow,
    TensionNoteRow,
    TensionScanRow,
)
from watchfloor.tension.alerts import (
    Alert,
    LiaisonNote,
    reason_sentence,
    tension_levels_from_alerts,
)
from watchfloor.tension.baseline import event_window, farrington, fit_daily_baseline
from watchfloor.tension.charts import cusum, ears
from watchfloor.tension.scan import (
    ScanCluster,
    ScanResult,
    chord_distance_km,
    poisson_scan,
    space_time_permutation_scan,
)

__all__ = [
    "NOTE_INDICATORS",
    "TensionReport",
    "add_note",
    "alerts_geojson",
    "event_window_report",
    "ingest_file",
    "plot_report",
    "run_scan",
    "scan_files",
    "tension_levels",
]

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
_REGION = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_KIND_WORDS = {
    "public_order": "public order",
    "violence": "violence",
    "criminal_damage": "criminal damage",
    "asb": "anti-social behaviour",
    "hate": "hate",
    "suspicious": "suspicious activity",
}
NOTE_DAYS = 14
"""Liaison notes of the last 14 days count towards the tension level."""


def _check_region(name: str) -> str:
    if not _REGION.match(name or ""):
        msg = f"region name {name!r} is not allowed; use lower-case letters, digits, '-' and '_'"
        raise InvalidInputError(msg)
    return name


# ---------------------------------------------------------------------------- files


@dataclass(frozen=True)
class _FileCases:
    location_ids: list[str]
    lon: npt.NDArray[np.float64]
    lat: npt.NDArray[np.float64]
    loc: npt.NDArray[np.int64]
    day: npt.NDArray[np.datetime64]
    count: npt.NDArray[np.int64]


def _read_csv(path: Path, required: Sequence[str]) -> tuple[list[str], list[list[str]]]:
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            reader = csv.reader(fh)
            header = [h.strip() for h in next(reader, [])]
            rows = [r for r in reader if any(c.strip() for c in r)]
    except FileNotFoundError:
        msg = f"{path} does not exist"
        raise IngestError(msg) from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        msg = f"{path.name} is not a readable CSV ({exc.__class__.__name__})"
        raise IngestError(msg) from None
    missing = [c for c in required if c not in header]
    if missing:
        msg = (
            f"{path.name} lacks column(s) {', '.join(missing)}; found {', '.join(header) or 'none'}"
        )
        raise IngestError(msg)
    return header, rows


def _parse_iso_day(text: str) -> date | None:
    s = text.strip().replace("/", "-")
    try:
        if len(s) <= 10:
            y, m, d = (int(p) for p in s.split("-"))
            return date(y, m, d)
        return datetime.fromisoformat(s.replace("Z", "+00:00")).date()
    except ValueError:
        return None


def _bad_rows(path: Path, what: str, bad: list[tuple[int, str]]) -> IngestError:
    shown = ", ".join(f"row {r} ({v!r})" for r, v in bad[:5])
    more = f" and {len(bad) - 5} more" if len(bad) > 5 else ""
    return IngestError(f"{path.name}: {len(bad)} {what}: {shown}{more}")


def _read_cases(cases_path: Path, locations_path: Path | None) -> _FileCases:
    header, rows = _read_csv(cases_path, ["occurred_at"])
    has_xy = "lon" in header and "lat" in header
    has_id = "location_id" in header
    if not has_xy and not has_id:
        msg = (
            f"{cases_path.name} needs lon and lat columns, or location_id with --locations; "
            f"found {', '.join(header)}"
        )
        raise IngestError(msg)
    i_t = header.index("occurred_at")
    i_c = header.index("count") if "count" in header else -1
    days: list[date] = []
    counts: list[int] = []
    keys: list[str] = []
    bad_t: list[tuple[int, str]] = []
    bad_v: list[tuple[int, str]] = []
    coords: dict[str, tuple[float, float]] = {}
    for n, raw in enumerate(rows, start=2):
        row = raw + [""] * (len(header) - len(raw))
        d = _parse_iso_day(row[i_t])
        if d is None:
            bad_t.append((n, row[i_t]))
            continue
        try:
            c = int(row[i_c]) if i_c >= 0 and row[i_c].strip() else 1
            if c < 0:
                raise ValueError
            if has_id and (locations_path is not None or not has_xy):
                key = row[header.index("location_id")].strip()
                if not key:
                    raise ValueError
            else:
                x = float(row[header.index("lon")])
                y = float(row[header.index("lat")])
                if not (-180 <= x <= 180 and -90 <= y <= 90):
                    raise ValueError
                key = f"{x:.6f},{y:.6f}"
                coords[key] = (x, y)
        except ValueError:
            bad_v.append((n, ",".join(row)))
            continue
        days.append(d)
        counts.append(c)
        keys.append(key)
    if bad_t:
        raise _bad_rows(cases_path, "rows whose occurred_at is not a date", bad_t)
    if bad_v:
        raise _bad_rows(cases_path, "rows with a bad count or location", bad_v)
    if not days:
        msg = f"{cases_path.name} has no cases"
        raise IngestError(msg)
    if coords:
        ids = sorted(coords)
        lon = np.array([coords[k][0] for k in ids])
        lat = np.array([coords[k][1] for k in ids])
    else:
        if locations_path is None:
            msg = f"{cases_path.name} gives location_id: pass --locations locations.csv"
            raise InvalidInputError(msg)
        lh, lrows = _read_csv(locations_path, ["location_id", "lat", "lon"])
        ids, lons, lats = [], [], []
        bad_l: list[tuple[int, str]] = []
        for n, raw in enumerate(lrows, start=2):
            row = raw + [""] * (len(lh) - len(raw))
            try:
                x, y = float(row[lh.index("lon")]), float(row[lh.index("lat")])
            except ValueError:
                bad_l.append((n, ",".join(row)))
                continue
            if not (-180 <= x <= 180 and -90 <= y <= 90):
                bad_l.append((n, ",".join(row)))
                continue
            ids.append(row[lh.index("location_id")].strip())
            lons.append(x)
            lats.append(y)
        if bad_l:
            raise _bad_rows(locations_path, "rows with bad lat/lon", bad_l)
        if len(set(ids)) != len(ids):
            msg = f"{locations_path.name}: location_id values are not unique"
            raise IngestError(msg)
        lon, lat = np.array(lons), np.array(lats)
        unknown = sorted(set(keys) - set(ids))
        if unknown:
            msg = (
                f"{len(unknown)} location_id(s) of {cases_path.name} are not in "
                f"{locations_path.name}: {', '.join(unknown[:5])}"
            )
            raise IngestError(msg)
    index = {k: i for i, k in enumerate(ids)}
    return _FileCases(
        location_ids=list(ids),
        lon=lon,
        lat=lat,
        loc=np.array([index[k] for k in keys], dtype=np.int64),
        day=np.array(days, dtype="datetime64[D]"),
        count=np.array(counts, dtype=np.int64),
    )


def _cluster_json(
    result: ScanResult, ids: Sequence[str], start: date, *, unit_days: int = 1
) -> list[dict[str, Any]]:
    out = []
    for c in result.clusters:
        out.append(
            {
                "locations": [ids[i] for i in c.locations],
                "start": (start + timedelta(days=c.start_day * unit_days)).isoformat(),
                "end": (start + timedelta(days=c.end_day * unit_days)).isoformat(),
                "observed": c.observed,
                "expected": c.expected,
                "relative_risk": c.relative_risk,
                "llr": c.llr,
                "p_value": c.p_value,
                "recurrence_days": c.recurrence_days,
                "radius_km": c.radius_km,
                "centre": ids[c.centre],
            }
        )
    return out


def scan_files(
    cases_path: str | Path,
    *,
    locations_path: str | Path | None = None,
    model: Literal["space-time-permutation", "poisson"] = "space-time-permutation",
    start: date | None = None,
    end: date | None = None,
    max_days: int = 7,
    max_share: float = 0.5,
    max_radius_km: float | None = None,
    min_cases: int = 2,
    replicates: int = 999,
    seed: int | None = None,
    analysis: Literal["prospective", "retrospective"] = "prospective",
) -> dict[str, Any]:
    """Return the clusters of a scan of a cases CSV, as a JSON-ready dict.

    ``analysis="prospective"`` (the default) looks only at windows that end on
    the last day; ``"retrospective"`` at windows anywhere in the study period
    (space-time permutation model only, as in SaTScan).

    ``cases.csv`` has ``occurred_at`` and either ``lon, lat`` or ``location_id``
    (then ``locations.csv`` has ``location_id, lat, lon``), optional ``count``.
    The study period runs from ``start`` (default: the first case) to ``end``
    (default: the last case); cases outside it are left out and counted.
    For the Poisson model the expected counts come from a daily baseline
    (weekday, trend and, with a year or more, season) fitted on the days before
    the longest window.
    """
    cases = _read_cases(Path(cases_path), Path(locations_path) if locations_path else None)
    first = start or cases.day.min().astype(date)
    last = end or cases.day.max().astype(date)
    if last < first:
        msg = f"the end {last} is before the start {first}"
        raise InvalidInputError(msg)
    n_days = (last - first).days + 1
    day = (cases.day - np.datetime64(first, "D")).astype(np.int64)
    inside = (day >= 0) & (day < n_days)
    outside = int(cases.count[~inside].sum())
    if model not in {"space-time-permutation", "poisson"}:
        msg = f"model {model!r} is not space-time-permutation or poisson"
        raise InvalidInputError(msg)
    if analysis not in {"prospective", "retrospective"}:
        msg = f"analysis {analysis!r} is not prospective or retrospective"
        raise InvalidInputError(msg)
    if analysis == "retrospective" and model != "space-time-permutation":
        msg = "the retrospective analysis is available for the space-time permutation model only"
        raise InvalidInputError(msg)
    dist = chord_distance_km(cases.lon, cases.lat)
    rng = np.random.default_rng(seed)
    if model == "space-time-permutation":
        result = space_time_permutation_scan(
            cases.loc[inside],
            day[inside],
            dist,
            n_days=n_days,
            max_days=max_days,
            max_share=max_share,
            max_radius_km=max_radius_km,
            min_cases=min_cases,
            replicates=replicates,
            rng=rng,
            case_count=cases.count[inside],
            analysis=analysis,
        )
    else:
        counts = np.zeros((len(cases.location_ids), n_days), dtype=np.int64)
        np.add.at(counts, (cases.loc[inside], day[inside]), cases.count[inside])
        if max_days > n_days:
            msg = f"the maximum window of {max_days} days is longer than the {n_days} days of data"
            raise InvalidInputError(msg)
        base = fit_daily_baseline(
            counts,
            first_weekday=first.weekday(),
            train_days=n_days - max_days,
            harmonics=1 if n_days >= 365 else 0,
        )
        result = poisson_scan(
            counts,
            base.expected,
            dist,
            max_days=max_days,
            max_share=max_share,
            max_radius_km=max_radius_km,
            min_cases=min_cases,
            replicates=replicates,
            rng=rng,
        )
    return {
        "model": model,
        "analysis": analysis,
        "study_start": first.isoformat(),
        "study_end": last.isoformat(),
        "n_cases": result.n_cases,
        "cases_outside_study_period": outside,
        "n_locations": result.n_locations,
        "max_days": max_days,
        "max_share": max_share,
        "max_radius_km": max_radius_km,
        "min_cases": min_cases,
        "replicates": replicates,
        "seed": seed,
        "status": result.status,
        "clusters": _cluster_json(result, cases.location_ids, first),
    }


# ---------------------------------------------------------------------------- ingest


def _database(settings: Settings) -> Any:
    upgrade_database(settings)
    return open_database(settings)


def _stored_areas(session: Any, region: str) -> AreaSet | None:
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


def ingest_file(
    settings: Settings,
    paths: str | Path | Iterable[str | Path],
    *,
    region: str,
    areas_path: str | Path | None = None,
    h3_resolution: int = 8,
    groups: Mapping[str, str] | None = None,
) -> dict[str, Any]:
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
    _check_region(region)
    files = [Path(paths)] if isinstance(paths, str | Path) else [Path(p) for p in paths]
    if not files:
        msg = "give at least one incident CSV"
        raise InvalidInputError(msg)
    kinds = {sniff_kind(p) for p in files}
    if kinds == {"policeuk"}:
        incidents: Incidents = read_street_crime(files, groups=groups)
    elif kinds == {"incidents"} and len(files) == 1:
        incidents = read_incidents_csv(files[0])
    else:
        msg = "give either data.police.uk street-level CSVs or one incidents CSV, not a mix"
        raise InvalidInputError(msg)
    new_areas = areas_from_geojson(areas_path) if areas_path is not None else None
    db = _database(settings)
    try:
        with db.session() as session:
            areas = new_areas or _stored_areas(session, region)
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
            now = datetime.now(UTC)
            batch = TensionIngestRow(
                region=region,
                source=", ".join(incidents.files),
                resolution=incidents.resolution,
                rows_read=incidents.rows_read,
                kept=len(incidents),
                no_location=incidents.rows_no_location,
                other_kind=incidents.rows_other_kind,
                outside_areas=outside,
                created_at=now,
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
            by_kind: dict[str, int] = {}
            for k in incidents.kind:
                by_kind[k] = by_kind.get(k, 0) + 1
            summary = {
                "region": region,
                "ingest_id": batch.id,
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
    finally:
        db.dispose()
    log.info(
        "ingested %d incidents into %s (%d outside every area, %d without location)",
        summary["stored"], region, outside, incidents.rows_no_location,
    )  # fmt: skip
    return summary


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
) -> dict[str, Any]:
    """Return the stored liaison note (id, area, day, indicator, severity).

    Raises
    ------
    InvalidInputError
        Severity outside 1-5, an unknown indicator or empty text.
    NotFoundError
        When the area is not one of the region's areas.
    """
    _check_region(region)
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
    db = _database(settings)
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
            out = {
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


# ---------------------------------------------------------------------------- scan


@dataclass(frozen=True)
class TensionReport:
    """Result of a scan of stored incidents: alerts, levels and the series behind them."""

    region: str
    resolution: Literal["day", "month"]
    start: date
    end: date
    area_codes: tuple[str, ...]
    area_names: tuple[str, ...]
    area_lon: npt.NDArray[np.float64]
    area_lat: npt.NDArray[np.float64]
    counts: npt.NDArray[np.float64]
    """(areas, periods) counts behind the analysis."""
    expected: npt.NDArray[np.float64]
    """(areas, periods) baseline expected counts (NaN where none)."""
    alerts: tuple[Alert, ...]
    levels: dict[str, tuple[int, str]]
    parameters: dict[str, Any]
    n_incidents: int
    n_public_reports: int

    def period_starts(self) -> list[date]:
        """Return the first day of every period (column of ``counts``)."""
        n = self.counts.shape[1]
        if self.resolution == "day":
            return [self.start + timedelta(days=i) for i in range(n)]
        return [_add_months(self.start, i) for i in range(n)]

    def to_json(self) -> dict[str, Any]:
        """Return the report as a JSON-ready dict (without the count matrices)."""
        return {
            "region": self.region,
            "resolution": self.resolution,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "n_incidents": self.n_incidents,
            "n_public_reports": self.n_public_reports,
            "parameters": self.parameters,
            "alerts": [_alert_json(a) for a in self.alerts],
            "levels": {k: {"level": v[0], "reason": v[1]} for k, v in self.levels.items()},
        }


def _alert_json(a: Alert) -> dict[str, Any]:
    d = asdict(a)
    d["area_codes"] = list(a.area_codes)
    d["area_names"] = list(a.area_names)
    for key in ("expected", "relative_risk", "p_value", "recurrence_days", "llr"):
        v = d[key]
        d[key] = None if v is None or not math.isfinite(v) else v
    return d


def _alert_from_json(d: Mapping[str, Any]) -> Alert:
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


def _add_months(d: date, n: int) -> date:
    m = d.month - 1 + n
    return date(d.year + m // 12, m % 12 + 1, 1)


def _month_end(d: date) -> date:
    return _add_months(d, 1) - timedelta(days=1)


def _public_reports(session: Any) -> list[tuple[date, float, float, str]]:
    """Hate-incident and suspicious-activity reports with a time and place, if any."""
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
                    Report.queue.in_(("hate_crime", "ct")),
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
        if when is None:
            continue
        label = "hate" if (queue == "hate_crime" or str(kind).startswith("hate")) else "suspicious"
        out.append((when.date(), float(lon), float(lat), label))
    return out


def _kind_words(kinds: Sequence[str] | None) -> str:
    if not kinds:
        return ""
    return " or ".join(_KIND_WORDS.get(k, k.replace("_", " ")) for k in kinds)


def _baseline_reason(alert: Alert) -> str:
    """The usual reason, saying what the expected count is: the area's own usual pattern."""
    head, sep, tail = reason_sentence(alert).partition(" expected")
    return f"{head}{sep} for the day of week, time of year and trend{tail}"


#: The unconditional Poisson scan alerts at ``alpha`` times this: its p-values assume
#: Poisson counts around the baseline, and real counts vary more (a county at its
#: normal level gave such an alert about one day in 20 at p <= 0.05 in the tests).
BASELINE_SCAN_ALPHA_SHARE = 0.2

#: Below this many incidents a day in the whole region over the training days the
#: baseline is too thin to say what is unusual (e.g. a monitor started days ago),
#: and the unconditional scan is not run; the report says so.
BASELINE_SCAN_MIN_DAILY = 1.0


def _cluster_alert(
    method: str,
    c: ScanCluster,
    areas: AreaSet,
    kind_words: str,
    period_span: Callable[[int, int], tuple[str, str]],
) -> Alert:
    """An alert (without its reason yet) for a scan cluster of ``method``."""
    s, e = period_span(c.start_day, c.end_day)
    return Alert(
        method=method,
        area_codes=tuple(areas.codes[i] for i in c.locations),
        area_names=tuple(areas.names[i] for i in c.locations),
        start=s,
        end=e,
        observed=c.observed,
        expected=c.expected,
        relative_risk=c.relative_risk,
        p_value=c.p_value,
        recurrence_days=c.recurrence_days,
        kind=kind_words,
        llr=c.llr,
    )


def _baseline_scan_alerts(
    counts: npt.NDArray[np.int64],
    expected: npt.NDArray[np.float64],
    dist: npt.NDArray[np.float64],
    areas: AreaSet,
    *,
    win: int,
    max_share: float,
    max_radius_km: float | None,
    min_cases: int,
    replicates: int,
    rng: np.random.Generator,
    alpha: float,
    kind_words: str,
    period_span: Callable[[int, int], tuple[str, str]],
) -> list[Alert]:
    """Alerts of the unconditional Poisson scan against the daily baseline.

    The baseline was fitted on the days before the longest window; the expected
    counts are not rescaled to the observed total, so a rise of the whole region
    (which the permutation scan cannot see) is found too.
    """
    result = poisson_scan(
        counts,
        expected,
        dist,
        max_days=win,
        max_share=max_share,
        max_radius_km=max_radius_km,
        min_cases=min_cases,
        replicates=replicates,
        rng=rng,
        conditional=False,
    )
    out = []
    for c in result.clusters:
        if not c.p_value <= alpha * BASELINE_SCAN_ALPHA_SHARE:
            continue
        a = _cluster_alert("poisson-baseline", c, areas, kind_words, period_span)
        out.append(replace(a, reason=_baseline_reason(a)))
    return out


def run_scan(
    settings: Settings,
    *,
    region: str,
    end: date | None = None,
    kinds: Sequence[str] | None = None,
    max_days: int | None = None,
    max_share: float = 0.5,
    max_radius_km: float | None = None,
    min_cases: int = 2,
    replicates: int = 999,
    seed: int | None = None,
    alpha: float = 0.05,
    history_days: int = 365,
    store: bool = True,
) -> TensionReport:
    """Return (and store) the alerts and tension levels of a region's incidents.

    Daily data: the last ``history_days`` days up to ``end``; a prospective
    space-time permutation scan with windows of up to ``max_days`` (7) days,
    an unconditional Poisson scan against the daily GLM baseline fitted on the
    days before the longest window ("poisson-baseline": also a rise of the whole
    region), EARS C2 and a CUSUM against that baseline, alarms on the last day.
    Monthly data (data.police.uk): all months up to ``end``; the scan with
    windows of up to ``max_days`` months (1) and the Farrington detector per
    area on the last month. Scan clusters are alerts when ``p <= alpha``.
    """
    _check_region(region)
    db = _database(settings)
    try:
        with db.session() as session:
            areas = _stored_areas(session, region)
            if areas is None:
                msg = (
                    f"region {region!r} has no tension data; run 'watchfloor tension ingest' first"
                )
                raise NotFoundError(msg)
            q = select(
                TensionIncidentRow.day,
                TensionIncidentRow.resolution,
                TensionIncidentRow.kind,
                TensionIncidentRow.weight,
                TensionIncidentRow.area_code,
            ).where(TensionIncidentRow.region == region, TensionIncidentRow.area_code.is_not(None))
            if kinds:
                q = q.where(TensionIncidentRow.kind.in_(list(kinds)))
            rows = session.execute(q).all()
            reports = _public_reports(session)
            notes = session.scalars(
                select(TensionNoteRow).where(TensionNoteRow.region == region)
            ).all()
            note_list = [
                LiaisonNote(n.area_code, n.day.isoformat(), n.indicator, n.severity, n.text)
                for n in notes
            ]
        code_index = {c: i for i, c in enumerate(areas.codes)}
        if reports and (not kinds or {"hate", "suspicious"} & set(kinds)):
            r_idx = assign_points(
                areas, np.array([r[1] for r in reports]), np.array([r[2] for r in reports])
            )
            for (d, _x, _y, label), i in zip(reports, r_idx, strict=True):
                if i >= 0 and (not kinds or label in kinds):
                    rows.append((d, "day", label, 1.0, areas.codes[i]))
        daily = [r for r in rows if r[1] == "day"]
        resolution: Literal["day", "month"] = "day" if daily else "month"
        use = daily if daily else rows
        if not use:
            which = f" of kind {', '.join(kinds)}" if kinds else ""
            msg = f"region {region!r} has no incidents{which}"
            raise NotFoundError(msg)
        last_day = max(r[0] for r in use)
        end_day = end or last_day
        if resolution == "day":
            start = end_day - timedelta(days=history_days - 1)
            n_periods = history_days
            per = np.array([(r[0] - start).days for r in use])
        else:
            end_day = date(end_day.year, end_day.month, 1)
            start = min(date(r[0].year, r[0].month, 1) for r in use)
            n_periods = (end_day.year - start.year) * 12 + end_day.month - start.month + 1
            per = np.array([(r[0].year - start.year) * 12 + r[0].month - start.month for r in use])
        ai = np.array([code_index[r[4]] for r in use])
        w = np.array([float(r[3]) for r in use])
        ok = (per >= 0) & (per < n_periods)
        counts = np.zeros((len(areas), n_periods))
        np.add.at(counts, (ai[ok], per[ok]), w[ok])
        n_inc = int(ok.sum())
        win = max_days or (7 if resolution == "day" else 1)
        if n_periods < 2 * win:
            msg = (
                f"the window of {win} {resolution}s is longer than half the "
                f"{n_periods} {resolution}s of data; shorten --max-days or ingest more history"
            )
            raise InvalidInputError(msg)
        rng = np.random.default_rng(seed)
        dist = chord_distance_km(areas.lon, areas.lat)
        int_counts = np.rint(counts).astype(np.int64)
        loc_idx, per_idx = np.nonzero(int_counts)
        kind_words = _kind_words(kinds or sorted({str(r[2]) for r in use}))
        if len(kind_words.split(" or ")) > 2:
            kind_words = ""
        unit_days = 1 if resolution == "day" else 30.44
        alerts: list[Alert] = []

        def period_span(first: int, last: int) -> tuple[str, str]:
            if resolution == "day":
                return (
                    (start + timedelta(days=first)).isoformat(),
                    (start + timedelta(days=last)).isoformat(),
                )
            return _add_months(start, first).isoformat(), _month_end(
                _add_months(start, last)
            ).isoformat()

        if int_counts.sum() > 0:
            result = space_time_permutation_scan(
                loc_idx,
                per_idx,
                dist,
                n_days=n_periods,
                max_days=win,
                max_share=max_share,
                max_radius_km=max_radius_km,
                min_cases=min_cases,
                replicates=replicates,
                rng=rng,
                case_count=int_counts[loc_idx, per_idx],
                analysis_interval_days=unit_days,
            )
            for c in result.clusters:
                if not c.p_value <= alpha:
                    continue
                a = _cluster_alert("space-time-permutation", c, areas, kind_words, period_span)
                alerts.append(_with_reason(a))
        expected = np.full_like(counts, np.nan)
        baseline_scan = "not run: monthly data (Farrington per area instead)"
        if resolution == "day":
            c2 = ears(counts, method="C2")
            train = n_periods - win
            base = fit_daily_baseline(
                counts,
                first_weekday=start.weekday(),
                train_days=train,
                harmonics=1 if train >= 365 else 0,
            )
            expected = base.expected
            per_day = float(counts[:, :train].sum()) / max(train, 1)
            baseline_scan = "not run: no incidents to scan"
            if per_day < BASELINE_SCAN_MIN_DAILY:
                baseline_scan = (
                    f"not run: {per_day:.2f} incidents a day over the {train} days before the "
                    f"window, under {BASELINE_SCAN_MIN_DAILY:g}; too few to say what is unusual"
                )
            elif int_counts.sum() > 0 and expected.sum() > 0:
                baseline_scan = f"run, alerts at p <= {alpha * BASELINE_SCAN_ALPHA_SHARE:g}"
                alerts.extend(
                    _baseline_scan_alerts(
                        int_counts,
                        expected,
                        dist,
                        areas,
                        win=win,
                        max_share=max_share,
                        max_radius_km=max_radius_km,
                        min_cases=min_cases,
                        replicates=replicates,
                        rng=rng,
                        alpha=alpha,
                        kind_words=kind_words,
                        period_span=period_span,
                    )
                )
            cs = cusum(counts[:, train:], expected[:, train:])
            last = n_periods - 1
            for i in np.flatnonzero(c2.alarm[:, last] | cs.alarm[:, -1]):
                method = "ears-c2" if c2.alarm[i, last] else "cusum"
                mean = (
                    float(counts[i, last - 9 : last - 2].mean())
                    if method == "ears-c2"
                    else float(expected[i, last])
                )
                s, e = period_span(last, last)
                obs = round(float(counts[i, last]))
                alerts.append(
                    _with_reason(
                        Alert(
                            method=method,
                            area_codes=(areas.codes[i],),
                            area_names=(areas.names[i],),
                            start=s,
                            end=e,
                            observed=obs,
                            expected=max(mean, 1e-9),
                            relative_risk=obs / mean if mean > 0 else math.inf,
                            p_value=_poisson_p(obs, mean),
                            recurrence_days=math.nan,
                            kind=kind_words,
                        )
                    )
                )
        else:
            years_back = min(3, (n_periods - 2) // 12)
            if years_back >= 1:
                for i in range(len(areas)):
                    fr = farrington(
                        counts[i], period=12, years_back=years_back, window=1, alpha=0.01
                    )
                    expected[i] = fr.expected
                    t = n_periods - 1
                    if fr.alarm[t]:
                        s, e = period_span(t, t)
                        obs = round(float(counts[i, t]))
                        mu = float(fr.expected[t])
                        alerts.append(
                            _with_reason(
                                Alert(
                                    method="farrington",
                                    area_codes=(areas.codes[i],),
                                    area_names=(areas.names[i],),
                                    start=s,
                                    end=e,
                                    observed=obs,
                                    expected=mu,
                                    relative_risk=obs / mu if mu > 0 else math.inf,
                                    p_value=_poisson_p(obs, mu),
                                    recurrence_days=math.nan,
                                    kind=kind_words,
                                )
                            )
                        )
        recent = [
            n
            for n in note_list
            if end_day - timedelta(days=NOTE_DAYS)
            < date.fromisoformat(n.day)
            <= _period_end(end_day, resolution)
        ]
        levels = tension_levels_from_alerts(
            areas.codes, alerts, recent, area_names=dict(zip(areas.codes, areas.names, strict=True))
        )
        report = TensionReport(
            region=region,
            resolution=resolution,
            start=start,
            end=end_day,
            area_codes=areas.codes,
            area_names=areas.names,
            area_lon=areas.lon,
            area_lat=areas.lat,
            counts=counts,
            expected=expected,
            alerts=tuple(alerts),
            levels={k: (v.level, v.reason) for k, v in levels.items()},
            parameters={
                "max_periods": win,
                "max_share": max_share,
                "max_radius_km": max_radius_km,
                "min_cases": min_cases,
                "replicates": replicates,
                "seed": seed,
                "alpha": alpha,
                "kinds": list(kinds or []),
                "poisson_baseline_scan": baseline_scan,
            },
            n_incidents=n_inc,
            n_public_reports=len(reports),
        )
        if store:
            with db.session() as session:
                session.add(
                    TensionScanRow(
                        region=region,
                        created_at=datetime.now(UTC),
                        end_day=end_day,
                        body=report.to_json(),
                    )
                )
    finally:
        db.dispose()
    log.info(
        "tension scan of %s: %d incidents, %d areas, %d alerts",
        region,
        n_inc,
        len(areas),
        len(alerts),
    )
    return report


def event_window_report(
    settings: Settings,
    *,
    region: str,
    event_day: date,
    days: int = 7,
    kinds: Sequence[str] | None = None,
    confidence: float = 0.95,
) -> dict[str, Any]:
    """Return observed against expected per area in the window after a declared event.

    Daily data: expected from the daily baseline (weekday, trend, season) fitted
    on the year before ``event_day``, summed over ``days`` days from it. Monthly
    data: the event's month against its Farrington expectation. Ratios carry
    exact (Garwood) limits; areas are sorted by their one-sided Poisson p-value.
    """
    if days < 1:
        msg = f"--days {days} must be at least 1"
        raise InvalidInputError(msg)
    report = run_scan(
        settings,
        region=region,
        end=event_day + timedelta(days=days - 1),
        kinds=kinds,
        max_days=1,
        replicates=0,
        store=False,
    )
    if report.resolution == "day":
        n = report.counts.shape[1]
        train = n - days
        base = fit_daily_baseline(
            report.counts,
            first_weekday=report.start.weekday(),
            train_days=train,
            harmonics=1 if train >= 365 else 0,
        )
        observed = report.counts[:, train:].sum(axis=1)
        expected = base.expected[:, train:].sum(axis=1)
        start, end = event_day, event_day + timedelta(days=days - 1)
    else:
        observed = report.counts[:, -1]
        expected = report.expected[:, -1]
        if not np.isfinite(expected).all():
            msg = "monthly data need more than a year of history before the event"
            raise InvalidInputError(msg)
        start, end = report.end, _month_end(report.end)
    res = event_window(observed, np.maximum(expected, 1e-9), confidence=confidence)
    order = np.argsort(res.p_value, kind="stable")
    return {
        "region": region,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "confidence": confidence,
        "observed": float(observed.sum()),
        "expected": float(expected.sum()),
        "areas": [
            {
                "code": report.area_codes[i],
                "name": report.area_names[i],
                "observed": float(res.observed[i]),
                "expected": float(res.expected[i]),
                "ratio": float(res.ratio[i]),
                "ratio_lower": float(res.ratio_lower[i]),
                "ratio_upper": float(res.ratio_upper[i]),
                "p_value": float(res.p_value[i]),
            }
            for i in order
        ],
    }


def _period_end(d: date, resolution: str) -> date:
    return d if resolution == "day" else _month_end(d)


def _poisson_p(observed: int, expected: float) -> float:
    if expected <= 0:
        return 0.0 if observed > 0 else 1.0
    return float(poisson.sf(observed - 1, expected))


def _with_reason(alert: Alert) -> Alert:
    return replace(alert, reason=reason_sentence(alert))


def tension_levels(
    settings: Settings,
    region: str,
    *,
    sites: Any | None = None,
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
    _check_region(region)
    db = _database(settings)
    try:
        with db.session() as session:
            areas = _stored_areas(session, region)
            if areas is None:
                return {}
            scan = session.scalars(
                select(TensionScanRow)
                .where(TensionScanRow.region == region)
                .order_by(TensionScanRow.created_at.desc(), TensionScanRow.id.desc())
                .limit(1)
            ).first()
            alerts = [_alert_from_json(a) for a in (scan.body.get("alerts", []) if scan else [])]
            ref = on or (date.fromisoformat(scan.body["end"]) if scan else date.today())
            if scan is not None and scan.body.get("resolution") == "month" and on is None:
                ref = _month_end(ref)
            notes = session.scalars(
                select(TensionNoteRow).where(
                    TensionNoteRow.region == region,
                    TensionNoteRow.day > ref - timedelta(days=NOTE_DAYS),
                    TensionNoteRow.day <= ref,
                )
            ).all()
    finally:
        db.dispose()
    levels = tension_levels_from_alerts(
        areas.codes,
        alerts,
        [
            LiaisonNote(n.area_code, n.day.isoformat(), n.indicator, n.severity, n.text)
            for n in notes
        ],
        area_names=dict(zip(areas.codes, areas.names, strict=True)),
    )
    by_area = {k: (v.level, v.reason) for k, v in levels.items()}
    if sites is None:
        return by_area
    idx = assign_points(areas, np.asarray(sites.lon), np.asarray(sites.lat))
    return {
        sid: by_area[areas.codes[i]] for sid, i in zip(sites.site_id, idx, strict=True) if i >= 0
    }


# ---------------------------------------------------------------------------- outputs


def alerts_geojson(settings: Settings, report: TensionReport) -> dict[str, Any]:
    """Return the alerted areas as a GeoJSON FeatureCollection (one feature per area and alert)."""
    db = _database(settings)
    try:
        with db.session() as session:
            rows = session.scalars(
                select(TensionAreaRow).where(TensionAreaRow.region == report.region)
            ).all()
            geom = {r.code: r.geometry for r in rows}
    finally:
        db.dispose()
    features = []
    for n, a in enumerate(report.alerts, start=1):
        for code, name in zip(a.area_codes, a.area_names, strict=True):
            features.append(
                {
                    "type": "Feature",
                    "geometry": geom.get(code),
                    "properties": {
                        "alert": n,
                        "code": code,
                        "name": name,
                        "level": report.levels.get(code, (1, ""))[0],
                        **{
                            k: v
                            for k, v in _alert_json(a).items()
                            if k not in {"area_codes", "area_names"}
                        },
                    },
                }
            )
    return {"type": "FeatureCollection", "features": features}


def plot_report(report: TensionReport, out_dir: str | Path, *, max_areas: int = 12) -> list[Path]:
    """Return the PNGs written: a time series per alerted area and one map of levels.

    Areas are taken alert by alert (strongest first, centre of a cluster first),
    at most ``max_areas`` of them; the map shows every area.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    idx = {c: i for i, c in enumerate(report.area_codes)}
    starts = _mpl_days(np.array(report.period_starts(), dtype="datetime64[D]"))
    alerted = list(dict.fromkeys(c for a in report.alerts for c in a.area_codes))
    if len(alerted) > max_areas:
        log.info("plotting %d of %d alerted areas", max_areas, len(alerted))
        alerted = alerted[:max_areas]
    for code in alerted:
        i = idx[code]
        fig = Figure(figsize=(8, 3))
        FigureCanvasAgg(fig)
        ax = fig.subplots()
        ax.plot(starts, report.counts[i], lw=1, label="incidents")
        if np.isfinite(report.expected[i]).any():
            ax.plot(starts, report.expected[i], lw=1, ls="--", label="expected")
        for a in report.alerts:
            if code in a.area_codes:
                ax.axvspan(
                    float(_mpl_days(np.datetime64(a.start, "D"))),
                    float(_mpl_days(np.datetime64(a.end, "D")) + 1),
                    color="red",
                    alpha=0.2,
                )
        ax.set_title(f"{report.area_names[i]} ({code}): level {report.levels[code][0]}")
        ax.xaxis_date()
        ax.set_ylabel(f"incidents per {report.resolution}")
        ax.legend(loc="upper left")
        fig.autofmt_xdate()
        path = out / f"tension-{_safe(code)}.png"
        fig.savefig(path, dpi=100, bbox_inches="tight")
        written.append(path)
    fig = Figure(figsize=(7, 7))
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    lv = np.array([report.levels[c][0] for c in report.area_codes])
    sc = ax.scatter(report.area_lon, report.area_lat, c=lv, cmap="YlOrRd", vmin=1, vmax=5, s=12)
    fig.colorbar(sc, ax=ax, label="tension level")
    ax.set_title(f"{report.region}: tension levels to {report.end.isoformat()}")
    ax.set_xlabel("longitude")
    ax.set_ylabel("latitude")
    ax.set_aspect(1 / math.cos(math.radians(float(np.mean(report.area_lat)))))
    path = out / "tension-map.png"
    fig.savefig(path, dpi=100, bbox_inches="tight")
    written.append(path)
    return written


def _mpl_days(d: Any) -> Any:
    """Matplotlib date numbers (days since 1970-01-01) of datetime64[D] values."""
    return (np.asarray(d, dtype="datetime64[D]") - np.datetime64("1970-01-01", "D")).astype(float)


def _safe(code: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", code)
