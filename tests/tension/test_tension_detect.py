"""Detectors behind one signature: hand-made inputs, and the registry run_scan loops over."""

from __future__ import annotations

import csv
import math
import subprocess
import sys
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import numpy as np

from watchfloor.ingest.areas import areas_from_geojson
from watchfloor.services.tension.ingest import ingest_file
from watchfloor.services.tension.stored import run_scan
from watchfloor.settings import load_settings
from watchfloor.tension.alerts import Alert
from watchfloor.tension.detect import (
    DETECTORS,
    DetectInput,
    area_alert,
    ears_c2_cusum,
    farrington_monthly,
    fit_baseline,
)


def _input(counts: np.ndarray, expected: np.ndarray, *, resolution: str = "day") -> DetectInput:
    n = counts.shape[0]
    return DetectInput(
        counts=counts.astype(float),
        expected=expected.astype(float),
        resolution="day" if resolution == "day" else "month",
        start=date(2024, 1, 1),
        area_codes=tuple(f"A{i}" for i in range(n)),
        area_names=tuple(f"Area {i}" for i in range(n)),
        distance_km=np.zeros((n, n)),
        kind_words="hate",
        max_periods=7,
        max_share=0.5,
        max_radius_km=None,
        min_cases=2,
        replicates=0,
        alpha=0.05,
        rng=np.random.default_rng(0),
    )


def test_the_registry_runs_the_four_detectors_in_order() -> None:
    assert list(DETECTORS) == [
        "space-time-permutation",
        "poisson-baseline",
        "ears-c2-cusum",
        "farrington",
    ]


def test_span_gives_days_and_whole_months() -> None:
    daily = _input(np.zeros((1, 40)), np.zeros((1, 40)))
    assert daily.span(0, 2) == ("2024-01-01", "2024-01-03")
    monthly = _input(np.zeros((1, 40)), np.zeros((1, 40)), resolution="month")
    # periods 1..2 from January 2024: February 1 to March 31 (2024 is a leap year)
    assert monthly.span(1, 2) == ("2024-02-01", "2024-03-31")


def test_ears_c2_alarms_on_a_spike_in_one_area_only() -> None:
    # Two areas, 40 quiet days alternating 2 and 3 incidents; area 1 has 20 on the
    # last day: EARS C2 (mean and sd of days t-9..t-3) alarms there and nowhere else.
    counts = np.tile([2.0, 3.0], (2, 20))
    counts[1, -1] = 20
    alerts = ears_c2_cusum(_input(counts, np.full_like(counts, 2.5)))
    assert [(a.method, a.area_codes) for a in alerts] == [("ears-c2", ("A1",))]
    a = alerts[0]
    assert (a.start, a.end, a.observed) == ("2024-02-09", "2024-02-09", 20)
    assert math.isclose(a.expected, 17 / 7)  # the mean of days t-9..t-3: 2, 3, 2, 3, 2, 3, 2
    assert a.reason


def test_single_area_detectors_leave_the_other_resolution_alone() -> None:
    counts = np.ones((2, 40))
    assert farrington_monthly(_input(counts, counts)) == []
    assert ears_c2_cusum(_input(counts, counts, resolution="month")) == []


def test_area_alert_states_its_window_and_numbers() -> None:
    counts = np.zeros((1, 10))
    counts[0, -1] = 6
    a = area_alert(_input(counts, counts), "toy", 0, 9, mean=2.0)
    assert (a.start, a.end, a.observed, a.expected, a.relative_risk) == (
        "2024-01-10",
        "2024-01-10",
        6,
        2.0,
        3.0,
    )
    assert math.isclose(
        a.p_value, 1 - sum(math.exp(-2) * 2**k / math.factorial(k) for k in range(6))
    )


def _toy(inp: DetectInput) -> list[Alert]:
    # one alert on the first area, last period, whatever the data
    return [area_alert(inp, "toy", 0, inp.n_periods - 1, mean=1.0)]


def test_a_registered_detector_reaches_run_scans_report(
    home: Path, data_dir: Path, tmp_path: Path
) -> None:
    geo = data_dir / "bedfordshire-wards2013.geojson.gz"
    areas = areas_from_geojson(geo)
    end = date(2024, 4, 30)
    rng = np.random.default_rng(4)
    path = tmp_path / "incidents.csv"
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["occurred_at", "lon", "lat", "kind"])
        for d in range(60):
            for i in rng.integers(0, len(areas), 5):
                day = end - timedelta(days=d)
                w.writerow([day.isoformat(), areas.lon[i], areas.lat[i], "hate"])
    settings = load_settings()
    ingest_file(settings, path, region="toy", areas_path=geo)
    DETECTORS["toy"] = _toy
    try:
        report = run_scan(settings, region="toy", replicates=9, seed=1, history_days=60)
    finally:
        del DETECTORS["toy"]
    toy = [a for a in report.alerts if a.method == "toy"]
    assert len(toy) == 1
    assert toy[0].area_codes == (areas.codes[0],)
    assert toy[0].end == end.isoformat()
    assert report.alerts[-1] is toy[0]  # registered last, reported last
    assert report.levels[areas.codes[0]][0] >= 2
    assert "toy" not in DETECTORS


def test_the_file_mode_scan_loads_no_database_web_or_plotting() -> None:
    # a fresh interpreter: what importing the file-mode scan pulls in
    code = (
        "import sys, watchfloor.services.tension.files\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in {'matplotlib', 'sqlalchemy',"
        " 'alembic', 'fastapi'} or m.startswith(('watchfloor.storage', 'watchfloor.web'))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip() == "[]"


def test_farrington_alarms_on_a_month_far_above_earlier_years() -> None:
    # Two areas, 40 months of 8-12 incidents; area 0 has 45 in the last month.
    counts = np.tile([8.0, 10.0, 12.0, 10.0], (2, 10))
    counts[0, -1] = 45
    monthly = _input(counts, np.full_like(counts, np.nan), resolution="month")
    alerts = farrington_monthly(monthly)
    assert [(a.method, a.area_codes, a.observed) for a in alerts] == [("farrington", ("A0",), 45)]
    # periods count from January 2024: the 40th month is April 2027
    assert (alerts[0].start, alerts[0].end) == ("2027-04-01", "2027-04-30")
    # the baseline's own fits give the same alerts without refitting
    base = fit_baseline(counts, resolution="month", start=monthly.start, max_periods=1)
    assert np.isfinite(base.expected[:, -1]).all()
    assert farrington_monthly(replace(monthly, farrington=base.farrington)) == alerts
