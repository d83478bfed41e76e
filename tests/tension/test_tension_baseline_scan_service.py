"""run_scan's unconditional Poisson scan against the daily baseline, on stored incidents."""

from __future__ import annotations

import csv
from datetime import date, timedelta
from pathlib import Path

import numpy as np

from watchfloor.ingest.areas import AreaSet, areas_from_geojson
from watchfloor.services.tension.ingest import ingest_file
from watchfloor.services.tension.stored import run_scan
from watchfloor.settings import load_settings

END = date(2024, 4, 30)


def _write(path: Path, areas: AreaSet, *, seed: int, rise: float, per_day: float = 40) -> None:
    # 120 days of ~per_day public order incidents a day spread over the wards; on the
    # last 3 days every ward has (1 + rise) times its usual rate.
    rng = np.random.default_rng(seed)
    rows = []
    for d in range(120):
        day = END - timedelta(days=119 - d)
        rate = per_day * (1 + rise) if d >= 117 else per_day
        for i in rng.integers(0, len(areas), size=rng.poisson(rate)):
            rows.append((day.isoformat(), areas.lon[i], areas.lat[i], "public_order"))
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["occurred_at", "lon", "lat", "kind"])
        w.writerows(rows)


def test_region_wide_rise_gives_a_poisson_baseline_alert(
    home: Path, data_dir: Path, tmp_path: Path
) -> None:
    geo = data_dir / "bedfordshire-wards2013.geojson.gz"
    areas = areas_from_geojson(geo)
    settings = load_settings()
    for region, rise in (("risen", 1.0), ("calm", 0.0)):
        path = tmp_path / f"{region}.csv"
        _write(path, areas, seed=21, rise=rise)
        ingest_file(settings, path, region=region, areas_path=geo)
    # alpha 0.05: this method alerts at p <= 0.01 (BASELINE_SCAN_ALPHA_SHARE), since
    # at 0.05 a county at its baseline alerted on about one day in 20
    risen, calm = (
        run_scan(settings, region=r, replicates=99, seed=3, history_days=120)
        for r in ("risen", "calm")
    )
    assert risen.parameters["poisson_baseline_scan"] == "run, alerts at p <= 0.01"

    found = [a for a in risen.alerts if a.method == "poisson-baseline"]
    assert found, [a.method for a in risen.alerts]
    top = found[0]
    assert top.p_value <= 0.01
    assert top.relative_risk > 1.5
    assert top.start >= (END - timedelta(days=6)).isoformat()
    assert top.end == END.isoformat()
    # a rise of the whole county: the alerts cover many wards, which get a raised level
    covered = {c for a in found for c in a.area_codes}
    assert len(covered) >= len(areas) // 3
    assert all(risen.levels[c][0] >= 2 for c in covered)
    assert "for the day of week, time of year and trend" in top.reason
    assert "public order incidents" in top.reason
    assert top.reason.startswith(top.area_names[0])
    # the permutation scan conditions on each day's total and cannot see it
    assert not [a for a in risen.alerts if a.method == "space-time-permutation"]
    # the same county without the rise: no poisson-baseline alert
    assert not [a for a in calm.alerts if a.method == "poisson-baseline"]


def test_a_thin_baseline_is_not_scanned_and_the_report_says_why(
    home: Path, data_dir: Path, tmp_path: Path
) -> None:
    # A monitor started with a handful of incidents (0.3 a day): every pair of
    # incidents would look unusual against a baseline of almost nothing.
    geo = data_dir / "bedfordshire-wards2013.geojson.gz"
    areas = areas_from_geojson(geo)
    settings = load_settings()
    path = tmp_path / "thin.csv"
    _write(path, areas, seed=5, rise=3.0, per_day=0.3)
    ingest_file(settings, path, region="thin", areas_path=geo)
    report = run_scan(settings, region="thin", replicates=99, seed=3, history_days=120)
    assert not [a for a in report.alerts if a.method == "poisson-baseline"]
    why = report.parameters["poisson_baseline_scan"]
    assert why.startswith("not run: 0.")
    assert "too few to say what is unusual" in why
