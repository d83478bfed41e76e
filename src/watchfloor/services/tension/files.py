"""The file-mode scan: a cases CSV (and a locations CSV) scanned alone, no database.

:func:`scan_files` reads the cases (:func:`read_cases`), builds the study
period and runs the space-time permutation scan (prospective or
retrospective) or the Poisson scan against a daily baseline, and returns the
clusters as a :class:`FileScanJson` document. This module imports only the
scans (:mod:`watchfloor.tension`) and the foundation: never the database
(:mod:`watchfloor.storage`), the web or matplotlib, so ``watchfloor tension
scan --incidents`` loads none of them.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Literal, TypedDict

import numpy as np

from watchfloor.errors import IngestError, InvalidInputError
from watchfloor.tension.baseline import fit_daily_baseline
from watchfloor.tension.scan import (
    ScanResult,
    chord_distance_km,
    poisson_scan,
    space_time_permutation_scan,
)
from watchfloor.types import BoolArray, FloatArray, IntArray

__all__ = ["ClusterJson", "FileCases", "FileScanJson", "read_cases", "scan_files"]


@dataclass(frozen=True)
class FileCases:
    """Cases read from CSV: one record per row, locations numbered from 0."""

    location_ids: list[str]
    lon: FloatArray
    lat: FloatArray
    loc: IntArray
    day: np.ndarray[tuple[int], np.dtype[np.datetime64]]
    count: IntArray


class ClusterJson(TypedDict):
    """One cluster of a file-mode scan, as printed with ``--json``."""

    locations: list[str]
    start: str
    end: str
    observed: int
    expected: float
    relative_risk: float
    llr: float
    p_value: float
    recurrence_days: float
    radius_km: float
    centre: str


class FileScanJson(TypedDict):
    """The outcome of :func:`scan_files`, as printed with ``--json``."""

    model: str
    analysis: str
    study_start: str
    study_end: str
    n_cases: int
    cases_outside_study_period: int
    n_locations: int
    max_days: int
    max_share: float
    max_radius_km: float | None
    min_cases: int
    replicates: int
    seed: int | None
    status: str
    clusters: list[ClusterJson]


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


def _read_locations(
    locations_path: Path, keys: Sequence[str], cases_name: str
) -> tuple[list[str], FloatArray, FloatArray]:
    """The ids, lon and lat of a locations CSV that must name every case's location."""
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
    unknown = sorted(set(keys) - set(ids))
    if unknown:
        msg = (
            f"{len(unknown)} location_id(s) of {cases_name} are not in "
            f"{locations_path.name}: {', '.join(unknown[:5])}"
        )
        raise IngestError(msg)
    return ids, np.array(lons), np.array(lats)


def read_cases(cases_path: Path, locations_path: Path | None) -> FileCases:
    """Return the cases of ``cases_path`` (with locations from ``locations_path`` if given).

    ``cases.csv`` has ``occurred_at`` and either ``lon, lat`` or ``location_id``
    (then ``locations.csv`` has ``location_id, lat, lon``), optional ``count``.
    Every bad row is reported at once (the first five shown).
    """
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
        ids, lon, lat = _read_locations(locations_path, keys, cases_path.name)
    index = {k: i for i, k in enumerate(ids)}
    return FileCases(
        location_ids=list(ids),
        lon=lon,
        lat=lat,
        loc=np.array([index[k] for k in keys], dtype=np.int64),
        day=np.array(days, dtype="datetime64[D]"),
        count=np.array(counts, dtype=np.int64),
    )


def _cluster_json(
    result: ScanResult, ids: Sequence[str], start: date, *, unit_days: int = 1
) -> list[ClusterJson]:
    out: list[ClusterJson] = []
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


@dataclass(frozen=True)
class _ScanOptions:
    max_days: int
    max_share: float
    max_radius_km: float | None
    min_cases: int
    replicates: int


def _permutation(
    cases: FileCases,
    day: IntArray,
    inside: BoolArray,
    n_days: int,
    options: _ScanOptions,
    *,
    rng: np.random.Generator,
    analysis: Literal["prospective", "retrospective"],
) -> ScanResult:
    """The space-time permutation scan of the cases inside the study period."""
    return space_time_permutation_scan(
        cases.loc[inside],
        day[inside],
        chord_distance_km(cases.lon, cases.lat),
        n_days=n_days,
        max_days=options.max_days,
        max_share=options.max_share,
        max_radius_km=options.max_radius_km,
        min_cases=options.min_cases,
        replicates=options.replicates,
        rng=rng,
        case_count=cases.count[inside],
        analysis=analysis,
    )


def _poisson(  # noqa: PLR0917 (the study period's pieces, as scan_files has them)
    cases: FileCases,
    day: IntArray,
    inside: BoolArray,
    n_days: int,
    first: date,
    options: _ScanOptions,
    *,
    rng: np.random.Generator,
) -> ScanResult:
    """The Poisson scan against a daily baseline fitted before the longest window."""
    dist = chord_distance_km(cases.lon, cases.lat)
    counts = np.zeros((len(cases.location_ids), n_days), dtype=np.int64)
    np.add.at(counts, (cases.loc[inside], day[inside]), cases.count[inside])
    max_days = options.max_days
    if max_days > n_days:
        msg = f"the maximum window of {max_days} days is longer than the {n_days} days of data"
        raise InvalidInputError(msg)
    base = fit_daily_baseline(
        counts,
        first_weekday=first.weekday(),
        train_days=n_days - max_days,
        harmonics=1 if n_days >= 365 else 0,
    )
    return poisson_scan(
        counts,
        base.expected,
        dist,
        max_days=max_days,
        max_share=options.max_share,
        max_radius_km=options.max_radius_km,
        min_cases=options.min_cases,
        replicates=options.replicates,
        rng=rng,
    )


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
) -> FileScanJson:
    """Return the clusters of a scan of a cases CSV, as a JSON-ready document.

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
    cases = read_cases(Path(cases_path), Path(locations_path) if locations_path else None)
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
    rng = np.random.default_rng(seed)
    options = _ScanOptions(max_days, max_share, max_radius_km, min_cases, replicates)
    if model == "space-time-permutation":
        result = _permutation(cases, day, inside, n_days, options, rng=rng, analysis=analysis)
    else:
        result = _poisson(cases, day, inside, n_days, first, options, rng=rng)
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
