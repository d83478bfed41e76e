"""The scan of a region's stored incidents: alerts, levels and the series behind them.

:func:`run_scan` reads as its five steps: **load** the region's areas,
incidents, located public reports and liaison notes (:func:`_load`);
**count** them by area and day, or month for data.police.uk data
(:func:`_count`); **detect**: fit the baseline once and call every detector of
:data:`watchfloor.tension.detect.DETECTORS` in order on one
:class:`~watchfloor.tension.detect.DetectInput`; turn the alerts and recent
notes into **levels**; **store** the report. :func:`event_window_report`
compares each area's count after a declared event with its baseline.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal, NamedTuple, TypedDict

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from watchfloor.errors import InvalidInputError, NotFoundError
from watchfloor.ingest.areas import AreaSet, assign_points
from watchfloor.services.tension.notes import NOTE_DAYS, liaison_notes
from watchfloor.services.tension.store import (
    alert_to_json,
    check_region,
    database,
    public_reports,
    stored_areas,
)
from watchfloor.settings import Settings
from watchfloor.storage.db import Database
from watchfloor.storage.tension_models import TensionIncidentRow, TensionScanRow
from watchfloor.tension.alerts import Alert, LiaisonNote, tension_levels_from_alerts
from watchfloor.tension.baseline import event_window, fit_daily_baseline
from watchfloor.tension.detect import (
    DETECTORS,
    DetectInput,
    add_months,
    baseline_scan_status,
    fit_baseline,
    month_end,
)
from watchfloor.tension.scan import chord_distance_km
from watchfloor.types import FloatArray

__all__ = [
    "EventWindowArea",
    "EventWindowJson",
    "ScanParameters",
    "TensionReport",
    "event_window_report",
    "run_scan",
]

log = logging.getLogger(__name__)

_KIND_WORDS = {
    "public_order": "public order",
    "violence": "violence",
    "criminal_damage": "criminal damage",
    "asb": "anti-social behaviour",
    "hate": "hate",
    "suspicious": "suspicious activity",
}


class ScanParameters(TypedDict):
    """The parameters a scan ran with, stored and printed with its report."""

    max_periods: int
    max_share: float
    max_radius_km: float | None
    min_cases: int
    replicates: int
    seed: int | None
    alpha: float
    kinds: list[str]
    poisson_baseline_scan: str
    """Whether the Poisson scan against the baseline ran, or why not."""


@dataclass(frozen=True)
class TensionReport:
    """Result of a scan of stored incidents: alerts, levels and the series behind them."""

    region: str
    resolution: Literal["day", "month"]
    start: date
    end: date
    area_codes: tuple[str, ...]
    area_names: tuple[str, ...]
    area_lon: FloatArray
    area_lat: FloatArray
    counts: FloatArray
    """(areas, periods) counts behind the analysis."""
    expected: FloatArray
    """(areas, periods) baseline expected counts (NaN where none)."""
    alerts: tuple[Alert, ...]
    levels: dict[str, tuple[int, str]]
    parameters: ScanParameters
    n_incidents: int
    n_public_reports: int

    def period_starts(self) -> list[date]:
        """Return the first day of every period (column of ``counts``)."""
        n = self.counts.shape[1]
        if self.resolution == "day":
            return [self.start + timedelta(days=i) for i in range(n)]
        return [add_months(self.start, i) for i in range(n)]

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
            "alerts": [alert_to_json(a) for a in self.alerts],
            "levels": {k: {"level": v[0], "reason": v[1]} for k, v in self.levels.items()},
        }


class _Incident(NamedTuple):
    day: date
    resolution: str
    kind: str
    weight: float
    area_code: str


@dataclass(frozen=True)
class _Loaded:
    """What a scan reads from the store."""

    areas: AreaSet
    incidents: list[_Incident]
    """Stored incidents in an area, and located public reports, of the kinds asked for."""
    n_public_reports: int
    notes: list[LiaisonNote]


@dataclass(frozen=True)
class _Series:
    """Counts by area and period, and the period they cover."""

    resolution: Literal["day", "month"]
    start: date
    end: date
    counts: FloatArray
    n_incidents: int
    kinds: tuple[str, ...]
    """The kinds counted."""


def _load(session: Session, region: str, kinds: Sequence[str] | None) -> _Loaded:
    """The region's areas, incidents (and located public reports) and liaison notes."""
    areas = stored_areas(session, region)
    if areas is None:
        msg = f"region {region!r} has no tension data; run 'watchfloor tension ingest' first"
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
    # area_code is never None here (the query); str() says so to the type checker
    rows = [_Incident(d, res, k, w, str(code)) for d, res, k, w, code in session.execute(q).all()]
    reports = public_reports(session)
    if reports and (not kinds or {"hate", "suspicious"} & set(kinds)):
        r_idx = assign_points(
            areas, np.array([r.lon for r in reports]), np.array([r.lat for r in reports])
        )
        for r, i in zip(reports, r_idx, strict=True):
            if i >= 0 and (not kinds or r.label in kinds):
                rows.append(_Incident(r.day, "day", r.label, 1.0, areas.codes[i]))
    return _Loaded(areas, rows, len(reports), liaison_notes(session, region))


def _count(
    loaded: _Loaded,
    *,
    region: str,
    end: date | None,
    kinds: Sequence[str] | None,
    history_days: int,
) -> _Series:
    """Counts by area and day (the last ``history_days`` days) or by month (all months)."""
    daily = [r for r in loaded.incidents if r.resolution == "day"]
    resolution: Literal["day", "month"] = "day" if daily else "month"
    use = daily or loaded.incidents
    if not use:
        which = f" of kind {', '.join(kinds)}" if kinds else ""
        msg = f"region {region!r} has no incidents{which}"
        raise NotFoundError(msg)
    end_day = end or max(r.day for r in use)
    if resolution == "day":
        start = end_day - timedelta(days=history_days - 1)
        n_periods = history_days
        per = np.array([(r.day - start).days for r in use])
    else:
        end_day = date(end_day.year, end_day.month, 1)
        start = min(date(r.day.year, r.day.month, 1) for r in use)
        n_periods = (end_day.year - start.year) * 12 + end_day.month - start.month + 1
        per = np.array([(r.day.year - start.year) * 12 + r.day.month - start.month for r in use])
    code_index = {c: i for i, c in enumerate(loaded.areas.codes)}
    ai = np.array([code_index[r.area_code] for r in use])
    w = np.array([float(r.weight) for r in use])
    ok = (per >= 0) & (per < n_periods)
    counts = np.zeros((len(loaded.areas), n_periods))
    np.add.at(counts, (ai[ok], per[ok]), w[ok])
    kinds_counted = tuple(kinds or sorted({str(r.kind) for r in use}))
    return _Series(resolution, start, end_day, counts, int(ok.sum()), kinds_counted)


def _kind_words(kinds: Sequence[str]) -> str:
    """What was counted, in words ("public order or violence"); "" for more than two kinds."""
    words = " or ".join(_KIND_WORDS.get(k, k.replace("_", " ")) for k in kinds)
    return "" if len(words.split(" or ")) > 2 else words


def _detect_input(
    series: _Series,
    areas: AreaSet,
    *,
    max_days: int | None,
    max_share: float,
    max_radius_km: float | None,
    min_cases: int,
    replicates: int,
    alpha: float,
    seed: int | None,
) -> DetectInput:
    """The detectors' input: the counts, their baseline and the scan's parameters."""
    n_periods = series.counts.shape[1]
    win = max_days or (7 if series.resolution == "day" else 1)
    if n_periods < 2 * win:
        msg = (
            f"the window of {win} {series.resolution}s is longer than half the "
            f"{n_periods} {series.resolution}s of data; shorten --max-days or ingest more history"
        )
        raise InvalidInputError(msg)
    baseline = fit_baseline(
        series.counts, resolution=series.resolution, start=series.start, max_periods=win
    )
    return DetectInput(
        counts=series.counts,
        expected=baseline.expected,
        resolution=series.resolution,
        start=series.start,
        area_codes=areas.codes,
        area_names=areas.names,
        distance_km=chord_distance_km(areas.lon, areas.lat),
        kind_words=_kind_words(series.kinds),
        max_periods=win,
        max_share=max_share,
        max_radius_km=max_radius_km,
        min_cases=min_cases,
        replicates=replicates,
        alpha=alpha,
        rng=np.random.default_rng(seed),
        farrington=baseline.farrington,
    )


def _levels(
    loaded: _Loaded, series: _Series, alerts: Sequence[Alert]
) -> dict[str, tuple[int, str]]:
    """Level and reason per area from the alerts and the notes of the last ``NOTE_DAYS`` days."""
    last = series.end if series.resolution == "day" else month_end(series.end)
    recent = [
        n
        for n in loaded.notes
        if series.end - timedelta(days=NOTE_DAYS) < date.fromisoformat(n.day) <= last
    ]
    areas = loaded.areas
    levels = tension_levels_from_alerts(
        areas.codes, alerts, recent, area_names=dict(zip(areas.codes, areas.names, strict=True))
    )
    return {k: (v.level, v.reason) for k, v in levels.items()}


def _store(db: Database, report: TensionReport) -> None:
    """Store the report as the region's latest scan."""
    with db.session() as session:
        session.add(
            TensionScanRow(
                region=report.region,
                created_at=datetime.now(UTC),
                end_day=report.end,
                body=report.to_json(),
            )
        )


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
    area on the last month. Scan clusters are alerts when ``p <= alpha``. The
    detectors are those of :data:`~watchfloor.tension.detect.DETECTORS`, in order.
    """
    check_region(region)
    db = database(settings)
    try:
        with db.session() as session:
            loaded = _load(session, region, kinds)
        series = _count(loaded, region=region, end=end, kinds=kinds, history_days=history_days)
        inp = _detect_input(
            series, loaded.areas, max_days=max_days, max_share=max_share,
            max_radius_km=max_radius_km, min_cases=min_cases, replicates=replicates, alpha=alpha,
            seed=seed,
        )  # fmt: skip
        alerts = [alert for detect in DETECTORS.values() for alert in detect(inp)]
        report = TensionReport(
            region=region,
            resolution=series.resolution,
            start=series.start,
            end=series.end,
            area_codes=loaded.areas.codes,
            area_names=loaded.areas.names,
            area_lon=loaded.areas.lon,
            area_lat=loaded.areas.lat,
            counts=series.counts,
            expected=inp.expected,
            alerts=tuple(alerts),
            levels=_levels(loaded, series, alerts),
            parameters={
                "max_periods": inp.max_periods,
                "max_share": max_share,
                "max_radius_km": max_radius_km,
                "min_cases": min_cases,
                "replicates": replicates,
                "seed": seed,
                "alpha": alpha,
                "kinds": list(kinds or []),
                "poisson_baseline_scan": (
                    baseline_scan_status(inp)
                    if "poisson-baseline" in DETECTORS
                    else "not run: not in the detector registry"
                ),
            },
            n_incidents=series.n_incidents,
            n_public_reports=loaded.n_public_reports,
        )
        if store:
            _store(db, report)
    finally:
        db.dispose()
    log.info(
        "tension scan of %s: %d incidents, %d areas, %d alerts",
        region, series.n_incidents, len(loaded.areas), len(alerts),
    )  # fmt: skip
    return report


class EventWindowArea(TypedDict):
    """One area's count after an event against its baseline."""

    code: str
    name: str
    observed: float
    expected: float
    ratio: float
    ratio_lower: float
    ratio_upper: float
    p_value: float


class EventWindowJson(TypedDict):
    """The outcome of :func:`event_window_report`, as printed with ``--json``."""

    region: str
    start: str
    end: str
    confidence: float
    observed: float
    expected: float
    areas: list[EventWindowArea]


def event_window_report(
    settings: Settings,
    *,
    region: str,
    event_day: date,
    days: int = 7,
    kinds: Sequence[str] | None = None,
    confidence: float = 0.95,
) -> EventWindowJson:
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
        start, end = report.end, month_end(report.end)
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
